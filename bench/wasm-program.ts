/**
 * Kernels of a functs wasm program run alone, for the benches that time them one by one
 * (wasm-compare's profile, wasm-gemm, wasm-kernels): the program planned for a lazy result,
 * host arrays for its buffers, and each step's arguments copied into the wasm memory.
 */
import type { Tensor } from '../src/index.js';
import { withBackend } from '../src/index.js';
import { programFor, type Program, type ProgramStep } from '../src/fusion/program.js';
import { wasmArena, wasmDevice } from '../src/backends/wasm/index.js';
import type { TypedArray } from '../src/lazy/dtype.js';

/** The wasm program computing `build()`, and each step with its arguments (the leaves' values, zeroed intermediates). */
export function wasmProgramOf(build: () => Tensor): { program: Program; steps: { step: ProgramStep; args: TypedArray[] }[] } {
  const root = withBackend('wasm', () => build().node);
  const { program, leaves } = programFor([root], wasmDevice);
  const slots = [...leaves.map((l) => l.realized!.readSync()), ...program.buffers.map((buf) => new (buf.dtype === 'float64' ? Float64Array : Float32Array)(buf.size))];
  return { program, steps: program.steps.map((step) => ({ step, args: step.slots.map((s) => slots[s]) })) };
}

/** Byte addresses of copies of `args`, each in a block of the wasm memory of its own (kept for the bench's lifetime). */
export function copiesInMemory(args: readonly TypedArray[]): number[] {
  const bases = args.map((a) => wasmArena.alloc(a.byteLength));
  args.forEach((a, i) => wasmArena.write(bases[i], a));
  return bases;
}
