/**
 * Single kernels of the wasm backend against tfjs-backend-wasm 4.22 (its own SIMD build, one
 * thread) and jax-js 0.1.25 (wasm device) where they have the op:
 *
 *  - matmul n x n, n = 64 .. 1024: GFLOP/s (2 n^3 per product), functs on one thread;
 *  - streaming kernels over 4M float32 (16 MB per operand, as [4096, 1024] where 2-D):
 *    elementwise x * 2 + y, row sums, column sums, the full sum, row means, row maxima and a
 *    softmax over rows: GB/s read, functs on 1 and 2 threads beside the hand-written wasm SIMD
 *    yardstick (bench/peers/hand-stream.ts) on 1 and 2 threads, measured in the same run:
 *    the machine's achievable figure for the same kernel.
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
 *   SIZES= PEERS=0 npx tsx bench/wasm-kernels.ts  # only the streaming kernels, no peers
 *   SIZES= PEERS=0 KERNELS=rowsum,colsum npx tsx bench/wasm-kernels.ts
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import type * as Tf from '@tensorflow/tfjs-core';
import type * as Jax from '@jax-js/jax';
import { jit, setThreads, tensor, withBackend, type Tensor } from '../src/index.js';
import { RELAXED_SIMD_SUPPORTED } from '../src/backends/wasm/compile.js';
import { copiesInMemory, wasmProgramOf } from './wasm-program.js';
import { type WasmKernel } from '../src/backends/wasm/index.js';
import { handStream, type HandKernel } from './peers/hand-stream.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const SAMPLES = Number(process.env.SAMPLES ?? 7);
const SAMPLE_MS = Number(process.env.SAMPLE_MS ?? 250);
const MATMUL_SIZES = (process.env.SIZES ?? '64,128,256,512,1024').split(',').filter((n) => n !== '').map(Number);
const PEERS = process.env.PEERS !== '0';
const THREADS = [1, 2];
const STREAM = 4 * 1024 * 1024;
/** The streaming workloads to run (axpy, rowsum, colsum, fullsum, rowmean, rowmax, softmax; default all). */
const KERNELS = process.env.KERNELS ? process.env.KERNELS.split(',') : null;

interface Entry {
  name: string;
  run: () => unknown | Promise<unknown>;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** One sample: wall and CPU milliseconds per call (CPU: the whole process's, every thread's). */
async function sample(run: Entry['run']): Promise<{ wall: number; cpu: number; faults: number }> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const f0 = process.resourceUsage().minorPageFault;
  let iterations = 0;
  let elapsed = 0;
  do {
    await run();
    iterations++;
    elapsed = performance.now() - t0;
  } while (elapsed < SAMPLE_MS);
  const cpu = process.cpuUsage(c0);
  return { wall: elapsed / iterations, cpu: (cpu.user + cpu.system) / 1000 / iterations, faults: (process.resourceUsage().minorPageFault - f0) / iterations };
}

/**
 * Interleaved samples of every entry; prints rate = work / seconds as median (min-max) of the
 * wall clock, and the median rate per CPU-second (work / CPU time of the process: on a loaded
 * machine the wall clock counts time the process waited for a core; on two threads the CPU
 * time counts both threads, and the workers' spin while they wait for the next job), and the
 * minor page faults per call where there are any (memory touched for the first time).
 */
async function measure(title: string, entries: readonly Entry[], work: number, unit: string): Promise<void> {
  for (const e of entries) for (let i = 0; i < 2; i++) await e.run();
  const times = new Map<string, { wall: number; cpu: number; faults: number }[]>(entries.map((e) => [e.name, []]));
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
    const ms = times.get(e.name)!.map((t) => t.wall);
    const cpu = times.get(e.name)!.map((t) => t.cpu);
    const faults = median(times.get(e.name)!.map((t) => t.faults));
    const rate = (t: number) => work / (t / 1000) / 1e9;
    console.log(`  ${e.name.padEnd(34)} ${rate(median(ms)).toFixed(2).padStart(7)} ${unit} (samples ${rate(Math.max(...ms)).toFixed(2)}-${rate(Math.min(...ms)).toFixed(2)}), ${median(ms).toFixed(3)} ms; per CPU-second ${rate(median(cpu)).toFixed(2)}${faults >= 1 ? `; ${faults.toFixed(0)} page faults per call` : ''}`);
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

// The streaming kernels: functs beside the hand-written yardstick (bench/peers/hand-stream.ts)
// on 1 and 2 threads, and the peers; each result first checked against a float64 loop.
{
  const rows = 4096;
  const cols = STREAM / rows;
  const [x, y] = [filledArray(STREAM, 3), filledArray(STREAM, 4)];
  const [fx, fy] = [tensor(x, { shape: [STREAM] }), tensor(y, { shape: [STREAM] })];
  const fm = tensor(x, { shape: [rows, cols] });
  const hands = THREADS.map((t) => {
    const h = handStream(rows, cols, t);
    h.set(x, y);
    return h;
  });
  const [tx, ty] = PEERS ? [tf.tensor1d(x), tf.tensor1d(y)] : [];
  const tm = PEERS ? tf.tensor2d(x, [rows, cols]) : undefined;
  const [jx, jy] = PEERS ? [np.array(x, { shape: [STREAM], dtype: np.float32 }), np.array(y, { shape: [STREAM], dtype: np.float32 })] : [];
  const jm = PEERS ? np.array(x, { shape: [rows, cols], dtype: np.float32 }) : undefined;
  const rowOf = (r: number): Float32Array => x.subarray(r * cols, (r + 1) * cols);
  const rowSum = (r: number): number => rowOf(r).reduce((a, v) => a + v, 0);
  const rowMax = (r: number): number => rowOf(r).reduce((a, v) => Math.max(a, v), -Infinity);
  interface Workload {
    key: string;
    title: string;
    /** Bytes read from memory by one call (GB/s read). */
    bytes: number;
    build: () => Tensor;
    f: (...a: Tensor[]) => Tensor;
    args: Tensor[];
    /** The yardstick's kernels (row sums also with functs' float64 partial sums). */
    hand: HandKernel[];
    /** The float64 value of element i (checked at a spread of elements). */
    reference: (i: number) => number;
    length: number;
    tfjs?: () => Tf.Tensor;
    jax?: () => Jax.Array;
  }
  const HAND_LABEL: Partial<Record<HandKernel, string>> = { rowSumWide: ', f64 sums', colSumDown: ', down columns' };
  const jaxJit = <F extends (...a: Jax.Array[]) => Jax.Array>(g: F): F => (PEERS ? (jax.jit(g) as unknown as F) : g);
  const jaxAxpy = jaxJit((p: Jax.Array, q: Jax.Array) => p.mul(2).add(q));
  const jaxRowSum = jaxJit((p: Jax.Array) => np.sum(p, 1));
  const streams: Workload[] = [
    { key: 'axpy', title: `elementwise x * 2 + y, 4M float32 (GB/s read, 2 x 16 MB)`, bytes: 8 * STREAM, build: () => fx.mul(2).add(fy), f: (p, q) => p.mul(2).add(q), args: [fx, fy], hand: ['axpy'], reference: (i) => x[i] * 2 + y[i], length: STREAM, tfjs: () => tf.add(tf.mul(tx!, 2), ty!), jax: () => jaxAxpy(jx!.ref, jy!.ref) },
    { key: 'rowsum', title: `row sums: sum over the last axis of [${rows}, ${cols}] float32 (GB/s read, 16 MB)`, bytes: 4 * STREAM, build: () => fm.sum({ axis: 1 }), f: (p) => p.sum({ axis: 1 }), args: [fm], hand: ['rowSum', 'rowSumWide'], reference: rowSum, length: rows, tfjs: () => tf.sum(tm!, 1), jax: () => jaxRowSum(jm!.ref) },
    { key: 'colsum', title: `column sums: sum over the first axis of [${rows}, ${cols}] float32 (GB/s read, 16 MB)`, bytes: 4 * STREAM, build: () => fm.sum({ axis: 0 }), f: (p) => p.sum({ axis: 0 }), args: [fm], hand: ['colSum', 'colSumDown'], reference: (j) => { let s = 0; for (let r = 0; r < rows; r++) s += x[r * cols + j]; return s; }, length: cols, tfjs: () => tf.sum(tm!, 0) },
    { key: 'fullsum', title: `full sum of 4M float32 (GB/s read, 16 MB)`, bytes: 4 * STREAM, build: () => fx.sum(), f: (p) => p.sum(), args: [fx], hand: ['fullSum'], reference: () => x.reduce((a, v) => a + v, 0), length: 1, tfjs: () => tf.sum(tx!) },
    { key: 'rowmean', title: `row means of [${rows}, ${cols}] float32 (GB/s read, 16 MB)`, bytes: 4 * STREAM, build: () => fm.mean({ axis: 1 }), f: (p) => p.mean({ axis: 1 }), args: [fm], hand: ['rowMean'], reference: (r) => rowSum(r) / cols, length: rows, tfjs: () => tf.mean(tm!, 1) },
    { key: 'rowmax', title: `row maxima of [${rows}, ${cols}] float32 (GB/s read, 16 MB)`, bytes: 4 * STREAM, build: () => fm.max({ axis: 1 }), f: (p) => p.max({ axis: 1 }), args: [fm], hand: ['rowMax'], reference: rowMax, length: rows, tfjs: () => tf.max(tm!, 1) },
    { key: 'softmax', title: `softmax over the last axis of [${rows}, ${cols}] float32 (GB/s read of x, 16 MB)`, bytes: 4 * STREAM, build: () => fm.softmax({ axis: 1 }), f: (p) => p.softmax({ axis: 1 }), args: [fm], hand: ['softmax'], reference: (i) => { const r = Math.floor(i / cols); const m = rowMax(r); let s = 0; for (const v of rowOf(r)) s += Math.exp(v - m); return Math.exp(x[i] - m) / s; }, length: STREAM, tfjs: () => tf.softmax(tm!) },
  ];
  for (const w of streams.filter((w) => KERNELS === null || KERNELS.includes(w.key))) {
    const fn = jit(w.f);
    // Checked against the float64 loop at up to 4096 elements spread over the result.
    const check = (name: string, actual: Float32Array): void => {
      const stride = Math.max(1, Math.floor(w.length / 4096));
      for (let i = 0; i < w.length; i += stride) {
        const e = w.reference(i);
        if (!(Math.abs(actual[i] - e) <= 1e-4 * Math.abs(e) + 1e-4)) throw new Error(`${w.key}: ${name} gives ${actual[i]} at ${i}, float64 loop ${e}`);
      }
    };
    check('functs', withBackend('wasm', () => fn(...w.args).dataSync() as Float32Array));
    hands.forEach((h, k) => w.hand.forEach((kernel) => {
      h.run(kernel);
      check(`hand ${kernel} ${THREADS[k]}T`, h.result(kernel));
    }));
    await measure(w.title, [
      ...functsEntries(fn, w.args, w.build),
      ...w.hand.flatMap((kernel) => hands.map((h, k): Entry => ({ name: `hand-written wasm ${THREADS[k]}T${HAND_LABEL[kernel] ?? ''}`, run: () => h.run(kernel) }))),
      ...(PEERS && w.tfjs ? [{ name: 'tfjs-backend-wasm', run: () => tf.tidy(w.tfjs!).dataSync() }] : []),
      ...(PEERS && w.jax ? [{ name: 'jax-js wasm', run: async () => await w.jax!().data() }] : []),
    ], w.bytes, 'GB/s');
  }
}
