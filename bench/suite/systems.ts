/**
 * Small builders shared by the workloads: a functs system on one backend variant, a peer
 * system, a hand-written loop, and helpers that flatten several outputs into one array.
 */
import { explain, jit, tensor, type Tensor } from '../../src/index.js';
import { readTensor, type BackendVariant } from './backends.js';
import type { Ready, SystemEntry } from './types.js';

/** Concatenates arrays into one Float32Array (the checked and returned output). */
export function concatF32(parts: readonly ArrayLike<number>[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function f32(data: ArrayLike<number>, shape: readonly number[]): Tensor {
  return tensor(Float32Array.from(data), { shape: [...shape] });
}

async function readAll(variant: BackendVariant, outs: readonly Tensor[]): Promise<Float32Array> {
  const parts: ArrayLike<number>[] = [];
  for (const t of outs) parts.push(await readTensor(variant, t));
  return parts.length === 1 ? (parts[0] as Float32Array) : concatF32(parts);
}

/**
 * functs on one backend variant: `build` makes the jitted function and its arguments (not
 * timed beyond the jit call and first run); each run activates the variant, calls, reads.
 */
export function functsSystem<Args extends unknown[]>(
  variant: BackendVariant,
  method: string,
  build: () => { f: (...args: Args) => Tensor | Tensor[]; args: Args; jitted?: boolean },
  suffix = '',
): SystemEntry {
  return {
    system: `${variant.label}${suffix}`,
    kind: 'functs',
    method: `${method}${variant.note ? ` (${variant.note})` : ''}`,
    async setup(): Promise<Ready> {
      variant.activate();
      const { f, args, jitted = true } = build();
      const t0 = performance.now();
      const fn = jitted ? jit(f) : f;
      const call = () => {
        variant.activate();
        const out = fn(...args);
        return Array.isArray(out) ? out : [out];
      };
      const runOnce = (): Float32Array | Promise<Float32Array> => {
        const outs = call();
        if (variant.syncRead) {
          const parts = outs.map((t) => t.dataSync() as Float32Array);
          return parts.length === 1 ? parts[0] : concatF32(parts);
        }
        return readAll(variant, outs);
      };
      const firstOutput = await runOnce();
      const firstCallMs = performance.now() - t0;
      let plan: Ready['plan'];
      if (jitted) {
        try {
          const p = explain(fn as Parameters<typeof explain>[0], ...(args as unknown as never[]));
          plan = { kernels: p.kernels.length, bytesMoved: p.kernels.reduce((s, k) => s + k.bytesRead + k.bytesWritten, 0) };
        } catch {
          plan = undefined;
        }
      }
      return { run: runOnce, firstOutput, firstCallMs, plan };
    },
  };
}

/** A peer or hand-written system whose setup returns its run function. */
export function peerSystem(
  system: string,
  method: string,
  setup: () => Promise<{ run: () => Float32Array | Promise<Float32Array>; dispose?: () => void }>,
  runtime?: () => Promise<unknown>,
): SystemEntry {
  return {
    system,
    kind: 'peer',
    method,
    async setup(): Promise<Ready> {
      // A runtime's one-time start-up (jax-js, tfjs-wasm) is not part of a first call.
      await runtime?.();
      const t0 = performance.now();
      const { run, dispose } = await setup();
      const firstOutput = await run();
      return { run, firstOutput, firstCallMs: performance.now() - t0, dispose };
    },
  };
}
