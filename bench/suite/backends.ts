/**
 * Which functs backends can run here, found at run time: each name the build registers
 * (and the ones planned, webgpu and gpujs, whichever exist) is tried on a tiny program;
 * what fails is left out with its reason. Where the build offers a thread count for wasm
 * (a `setThreads`-like export), wasm runs as two variants, 1 and 2 threads; otherwise once,
 * labelled as such. Nothing here knows a backend beyond its name.
 */
import * as functs from '../../src/index.js';
import { backendNames, setBackend, tensor, type Tensor } from '../../src/index.js';

export interface BackendVariant {
  /** The row label: "functs js", "functs wasm 2 threads", ... */
  label: string;
  backend: string;
  threads: number | null;
  /** Whether `dataSync()` works here; otherwise results are read with `await data()`. */
  syncRead: boolean;
  /** Makes this variant the active one (backend, and thread count where there is one). */
  activate(): void;
  note: string;
}

/** Names tried beyond those registered, so a backend that arrives later is picked up. */
const PLANNED = ['js', 'wasm', 'webgpu', 'gpujs'];
/** The reference interpreter is the specification, not a contender. */
const NOT_TIMED = new Set(['interp']);
/** Export names a thread option may take (the threads branch decides which). */
const THREAD_SETTERS = ['setThreads', 'setWasmThreads', 'setNumThreads'];

type ThreadSetter = (n: number) => unknown;

function threadSetter(): ThreadSetter | null {
  const exports = functs as unknown as Record<string, unknown>;
  for (const name of THREAD_SETTERS) {
    const f = exports[name];
    if (typeof f === 'function') return f as ThreadSetter;
  }
  return null;
}

async function readAny(t: Tensor): Promise<[ArrayLike<number>, boolean]> {
  try {
    return [t.dataSync(), true];
  } catch (e) {
    const data = (t as unknown as { data?: () => Promise<ArrayLike<number>> }).data;
    if (typeof data !== 'function') throw e;
    return [await data.call(t), false];
  }
}

/** Reads a tensor's values: synchronously where the variant can, else awaiting `data()`. */
export function readTensor(variant: BackendVariant, t: Tensor): Float32Array | Promise<Float32Array> {
  if (variant.syncRead) return t.dataSync() as Float32Array;
  const data = (t as unknown as { data: () => Promise<Float32Array> }).data;
  return data.call(t);
}

/**
 * The functs backends that run here, each checked on `2 * [1, 2, 3] + 1` summed.
 * `only` (e.g. from BENCH_BACKENDS) keeps the named ones.
 */
export async function availableBackends(only: readonly string[] = []): Promise<{ variants: BackendVariant[]; skipped: string[] }> {
  const started = await startGpuBackends(only);
  const registered = backendNames();
  const names = [...new Set([...registered, ...PLANNED])].filter((n) => !NOT_TIMED.has(n));
  const variants: BackendVariant[] = [];
  const skipped: string[] = [...started.skipped];
  const setThreads = threadSetter();
  for (const name of names) {
    if (only.length && !only.includes(name)) continue;
    if (!registered.includes(name)) {
      skipped.push(`${name}: not in this build`);
      continue;
    }
    const previous = setBackend(name);
    try {
      const [values, syncRead] = await readAny(tensor([1, 2, 3]).mul(2).add(1).sum());
      if (values[0] !== 15) throw new Error(`computed ${values[0]} for 15`);
      const threadCounts = name === 'wasm' && setThreads ? [1, 2] : [null];
      for (const threads of threadCounts) {
        variants.push({
          label: threads === null ? `functs ${name}` : `functs ${name} ${threads} thread${threads === 1 ? '' : 's'}`,
          backend: name,
          threads,
          syncRead,
          activate: () => {
            setBackend(name);
            if (threads !== null && setThreads) setThreads(threads);
          },
          note: name === 'wasm' && !setThreads ? 'one thread: this build has no thread option' : '',
        });
      }
    } catch (e) {
      skipped.push(`${name}: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      setBackend(previous);
    }
  }
  return { variants, skipped };
}

/**
 * The GPU backends start only when asked for by name (BENCH_BACKENDS=webgpu,gpujs): on a
 * machine without a GPU, Dawn falls back to software OpenGL ES and gpu.js to its CPU modes,
 * where a full run would take hours and measure the emulation. BENCH_DAWN_FLAGS passes Dawn's
 * flags (e.g. `backend=vulkan,adapter=NVIDIA` on the GPU machine).
 */
async function startGpuBackends(only: readonly string[]): Promise<{ skipped: string[] }> {
  const skipped: string[] = [];
  const exports = functs as unknown as Record<string, unknown>;
  if (only.includes('webgpu') && !backendNames().includes('webgpu') && typeof exports.initWebGPU === 'function') {
    const dawnFlags = (process.env.BENCH_DAWN_FLAGS ?? '').split(',').filter(Boolean);
    try {
      const init = exports.initWebGPU as (o: { dawnFlags?: string[] }) => Promise<{ adapter: string }>;
      const { adapter } = await init(dawnFlags.length ? { dawnFlags } : {});
      console.log(`webgpu: adapter ${adapter}`);
    } catch (e) {
      skipped.push(`webgpu: no device (${(e as Error).message})`);
    }
  }
  if (only.includes('gpujs') && !backendNames().includes('gpujs') && typeof exports.registerGpuJs === 'function') {
    try {
      const { GPU } = (await import('gpu.js')) as unknown as { GPU: unknown };
      const mode = (exports.registerGpuJs as (g: unknown) => string)(GPU);
      console.log(`gpujs: mode ${mode}`);
    } catch (e) {
      skipped.push(`gpujs: gpu.js did not start (${(e as Error).message})`);
    }
  }
  return { skipped };
}
