/**
 * Single kernels of the wasm backend against tfjs-backend-wasm 4.22 (its own SIMD build, one
 * thread) and jax-js 0.1.25 (wasm device) where they have the op:
 *
 *  - matmul n x n, n = 64 .. 1024: GFLOP/s (2 n^3 per product), functs on one thread;
 *  - elementwise x * 2 + y and a row reduction sum(x, axis 1) over 4M float32 (16 MB per
 *    operand): GB/s read, functs on 1 and 2 threads.
 *
 * functs is measured end to end (a jitted call as a user makes it, on tensors made from host
 * arrays: their copies stay in the wasm memory after the first call, so these are inputs
 * already on the device) and the kernel alone (`runAt` on buffers already in the memory:
 * what the generated code does). End to end comes three ways: `+ dataSync, dispose` reads
 * the result (its one copy out) and disposes it; `dispose, no read` only computes it (the
 * result stays in the wasm memory until disposed); `+ dataSync, no dispose` is a loop that
 * drops its results to the garbage collector, whose finalizers never run inside the loop:
 * results then go to host arrays once the memory's room for them is used up (wasm/index.ts,
 * residentLimits). Peers are measured end to end on device-resident inputs (tfjs: dataSync
 * of the result; jax-js: await data()).
 * Samples are interleaved round-robin (the machine is a shared 2-core VM); each sample repeats
 * the call for SAMPLE_MS. Medians with the spread (min-max of the samples).
 *
 *   npx tsx bench/wasm-kernels.ts                 # 7 samples of 250 ms
 *   SAMPLES=11 SAMPLE_MS=400 SIZES=256,512 npx tsx bench/wasm-kernels.ts
 *   SIZES= PEERS=0 npx tsx bench/wasm-kernels.ts  # only the streaming kernels, functs only
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import type * as Tf from '@tensorflow/tfjs-core';
import type * as Jax from '@jax-js/jax';
import { jit, setThreads, tensor, withBackend, type Tensor } from '../src/index.js';
import { RELAXED_SIMD_SUPPORTED } from '../src/backends/wasm/compile.js';
import { copiesInMemory, wasmProgramOf } from './wasm-program.js';
import { type WasmKernel } from '../src/backends/wasm/index.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const SAMPLES = Number(process.env.SAMPLES ?? 7);
const SAMPLE_MS = Number(process.env.SAMPLE_MS ?? 250);
const MATMUL_SIZES = (process.env.SIZES ?? '64,128,256,512,1024').split(',').filter((n) => n !== '').map(Number);
const PEERS = process.env.PEERS !== '0';
const THREADS = [1, 2];
const STREAM = 4 * 1024 * 1024;

interface Entry {
  name: string;
  run: () => unknown | Promise<unknown>;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function sample(run: Entry['run']): Promise<number> {
  const t0 = performance.now();
  let iterations = 0;
  let elapsed = 0;
  do {
    await run();
    iterations++;
    elapsed = performance.now() - t0;
  } while (elapsed < SAMPLE_MS);
  return elapsed / iterations;
}

/** Interleaved samples of every entry; prints rate = work / seconds as median (min-max). */
async function measure(title: string, entries: readonly Entry[], work: number, unit: string): Promise<void> {
  for (const e of entries) for (let i = 0; i < 2; i++) await e.run();
  const times = new Map<string, number[]>(entries.map((e) => [e.name, []]));
  for (let s = 0; s < SAMPLES; s++) {
    for (const e of entries) {
      times.get(e.name)!.push(await sample(e.run));
      // A collection and a turn of the event loop: finalizers free the results the sample
      // dropped (the collector would not run for a while: it cannot see the wasm memory they hold).
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  console.log(title);
  for (const e of entries) {
    const ms = times.get(e.name)!;
    const rate = (t: number) => work / (t / 1000) / 1e9;
    console.log(`  ${e.name.padEnd(34)} ${rate(median(ms)).toFixed(2).padStart(7)} ${unit} (samples ${rate(Math.max(...ms)).toFixed(2)}-${rate(Math.min(...ms)).toFixed(2)}), ${median(ms).toFixed(3)} ms`);
  }
}

function filledArray(size: number, seed: number): Float32Array<ArrayBuffer> {
  const data = new Float32Array(size);
  for (let i = 0; i < size; i++) data[i] = Math.sin(seed + 0.37 * i);
  return data;
}

/** The functs wasm program of a lazy result, its kernels run alone on buffers in the wasm memory. */
function kernelAlone(build: () => Tensor): () => void {
  const calls = wasmProgramOf(build).steps.map(({ step, args }) => {
    if (!('runAt' in step.kernel)) throw new Error(`not a wasm kernel: ${step.kernel.source.slice(0, 80)}`);
    const runAt = (step.kernel as WasmKernel).runAt;
    const bases = copiesInMemory(args);
    return () => runAt(...bases);
  });
  return () => calls.forEach((c) => c());
}

/** functs on 1 and 2 threads: end to end three ways (see the header) and the kernel alone. */
function functsEntries(f: (...args: Tensor[]) => Tensor | Tensor[], args: Tensor[], build: () => Tensor): Entry[] {
  const call = () => withBackend('wasm', () => f(...args) as Tensor);
  const alone = kernelAlone(build);
  return THREADS.flatMap((t): Entry[] => [
    { name: `functs ${t}T + dataSync, dispose`, run: () => { setThreads(t); const y = call(); y.dataSync(); y.dispose(); } },
    { name: `functs ${t}T dispose, no read`, run: () => { setThreads(t); call().dispose(); } },
    { name: `functs ${t}T + dataSync, no dispose`, run: () => { setThreads(t); call().dataSync(); } },
    { name: `functs ${t}T kernel alone`, run: () => { setThreads(t); alone(); } },
  ]);
}

// The peers are loaded only when measured (PEERS=0 runs functs alone, with no peer installed).
let tf = undefined as unknown as typeof Tf;
let jax = undefined as unknown as typeof Jax;
if (PEERS) {
  tf = await import('@tensorflow/tfjs-core');
  const tfWasm = await import('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend('wasm');
  tfWasm.setThreadsCount(1);
  await tf.ready();
  jax = await import('@jax-js/jax');
  const devices = await jax.init('wasm');
  if (!devices.includes('wasm')) throw new Error('jax-js wasm device unavailable');
  jax.defaultDevice('wasm');
}
const np = PEERS ? jax.numpy : (undefined as unknown as typeof Jax.numpy);

console.log(`wasm kernels; relaxed_madd ${RELAXED_SIMD_SUPPORTED ? 'on' : 'off (engine has no relaxed SIMD)'}; ${SAMPLES} interleaved samples of ${SAMPLE_MS} ms${PEERS ? `; tfjs backend ${tf.getBackend()}` : '; functs alone'}`);

for (const n of MATMUL_SIZES) {
  const [a, b] = [filledArray(n * n, 1), filledArray(n * n, 2)];
  const [fa, fb] = [tensor(a, { shape: [n, n] }), tensor(b, { shape: [n, n] })];
  const mm = jit((x: Tensor, y: Tensor) => x.matmul(y));
  const [ta, tb] = PEERS ? [tf.tensor2d(a, [n, n]), tf.tensor2d(b, [n, n])] : [];
  const [ja, jb] = PEERS ? [np.array(a, { shape: [n, n], dtype: np.float32 }), np.array(b, { shape: [n, n], dtype: np.float32 })] : [];
  const jmm = PEERS ? jax.jit((x: Jax.Array, y: Jax.Array) => np.matmul(x, y)) : undefined;
  const alone = kernelAlone(() => fa.matmul(fb));
  await measure(`matmul ${n}x${n} (GFLOP/s), functs on one thread`, [
    { name: 'functs wasm (end to end)', run: () => (setThreads(1), withBackend('wasm', () => (mm(fa, fb) as Tensor).dataSync())) },
    { name: 'functs wasm (kernel alone)', run: () => (setThreads(1), alone()) },
    ...(PEERS ? [
      { name: 'tfjs-backend-wasm', run: () => tf.tidy(() => tf.matMul(ta!, tb!)).dataSync() },
      { name: 'jax-js wasm', run: async () => await jmm!(ja!.ref, jb!.ref).data() },
    ] : []),
  ], 2 * n ** 3, 'GFLOP/s');
}

{
  const [x, y] = [filledArray(STREAM, 3), filledArray(STREAM, 4)];
  const [fx, fy] = [tensor(x, { shape: [STREAM] }), tensor(y, { shape: [STREAM] })];
  const axpy = jit((p: Tensor, q: Tensor) => p.mul(2).add(q));
  const [tx, ty] = PEERS ? [tf.tensor1d(x), tf.tensor1d(y)] : [];
  const [jx, jy] = PEERS ? [np.array(x, { shape: [STREAM], dtype: np.float32 }), np.array(y, { shape: [STREAM], dtype: np.float32 })] : [];
  const jaxpy = PEERS ? jax.jit((p: Jax.Array, q: Jax.Array) => p.mul(2).add(q)) : undefined;
  await measure(`elementwise x * 2 + y, 4M float32 (GB/s read, 2 x 16 MB)`, [
    ...functsEntries(axpy, [fx, fy], () => fx.mul(2).add(fy)),
    ...(PEERS ? [
      { name: 'tfjs-backend-wasm', run: () => tf.tidy(() => tf.add(tf.mul(tx!, 2), ty!)).dataSync() },
      { name: 'jax-js wasm', run: async () => await jaxpy!(jx!.ref, jy!.ref).data() },
    ] : []),
  ], 8 * STREAM, 'GB/s');

  const rows = 4096;
  const cols = STREAM / rows;
  const fm = tensor(x, { shape: [rows, cols] });
  const rowSum = jit((p: Tensor) => p.sum({ axis: 1 }));
  const tm = PEERS ? tf.tensor2d(x, [rows, cols]) : undefined;
  const jm = PEERS ? np.array(x, { shape: [rows, cols], dtype: np.float32 }) : undefined;
  const jsum = PEERS ? jax.jit((p: Jax.Array) => np.sum(p, 1)) : undefined;
  await measure(`reduction sum over rows of [${rows}, ${cols}] float32 (GB/s read, 16 MB)`, [
    ...functsEntries(rowSum, [fm], () => fm.sum({ axis: 1 })),
    ...(PEERS ? [
      { name: 'tfjs-backend-wasm', run: () => tf.tidy(() => tf.sum(tm!, 1)).dataSync() },
      { name: 'jax-js wasm', run: async () => await jsum!(jm!.ref).data() },
    ] : []),
  ], 4 * STREAM, 'GB/s');
}
