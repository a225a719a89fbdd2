/**
 * A hand-written wasm SIMD yardstick for matmul on this machine: what one core and two cores
 * can do with f32x4 mul + add (Node 20: no fused multiply-add), independent of functs' code,
 * on 1 and 2 worker threads of one shared memory (bench/wasm-matmul-threads.ts runs it in the
 * same process as functs' matmul, interleaved). Kernels, each a fixed amount of work split
 * evenly between the threads (every thread on its own data, nothing shared but the job word):
 *
 *  - `peak`: registers only. Six chains x_i <- x_i * m (m = 1 at run time, so nothing folds),
 *    each followed by acc_i <- acc_i + x_i, unrolled twice: 12 f32x4 mul + 12 f32x4 add per
 *    iteration, two multiplies and two adds in flight per cycle at mul latency 3 — the core's
 *    FP peak without memory or a loop body's address work. What two cores give here is what the
 *    VM gives: a second vCPU that shares a physical core, or a host that deschedules it, shows
 *    up as a 2-thread rate under 2x.
 *  - `micro5x2`, `micro4x2`: the GEMM micro-kernel functs generates (src/backends/wasm/gemm.ts),
 *    written by hand: MR rows x two f32x4 columns of accumulators, per step of k one
 *    `v128.load32_splat` of A per row and two loads of B, mul then add; K = 256 steps on a
 *    packed A strip and a packed B tile (5 KB + 8 KB: both stay in L1), the accumulators stored
 *    to C after each pass. The loop ends on B's pointer, as functs' does. This is the ceiling of
 *    a GEMM built on this micro-kernel: functs' full matmul adds packing, edge tiles, the trips
 *    between L2 and L1, and the call.
 *  - `micro5x2u2`: the same with k unrolled twice (offsets in the memargs): TurboFan hoists the
 *    second step's loads and spills (measured slower). `micro5x2bc`: A packed with each float
 *    repeated in four lanes, read with plain `v128.load`s: V8 folds a plain load's memarg offset
 *    into the address, but computes `memory base + offset` with a `lea` of its own before each
 *    `v128.load32_splat` with an offset (4 of the 36 instructions of a 5x2 step, read in
 *    `node --print-wasm-code`), so this variant issues 32.
 *
 * Threads: `threads` workers (the main thread only posts the job and sleeps in Atomics.wait),
 * each timing its own share (`lastThreadMs`): the slower thread of a 2-thread run shows whether
 * one core ran slow or both ran at the 1-thread rate.
 */
import { Worker } from 'node:worker_threads';
import { Code, ModuleBuilder, Op, Simd, type ValType } from '../../src/backends/wasm/encoder.js';

export const HAND_GEMM_KERNELS = ['peak', 'micro5x2', 'micro4x2', 'micro5x2u2', 'micro5x2bc'] as const;
export type HandGemmKernel = (typeof HAND_GEMM_KERNELS)[number];

/** Steps of k per micro-kernel pass. */
const K = 256;
/** Bytes of each thread's data block (A strip, B tile, C); blocks are this far apart. */
const THREAD_BLOCK = 64 * 1024;
/** A packed [k][5] at the block's start; the same A with each float repeated in four lanes at A_BROADCAST_OFFSET. */
const A_BROADCAST_OFFSET = 8 * 1024;
const B_OFFSET = 32 * 1024;
/** C 1 KiB + 64 bytes past a multiple of 4 KiB from A and B (no aliasing in the store buffer). */
const C_OFFSET = 40 * 1024 + 1088;
/** The peak loop's m and six starting x's (distinct, so no two chains are the same expression). */
const PEAK_OFFSET = 48 * 1024;
/** Flops of one unit of work of each kernel (an iteration of `peak`, a pass of a micro-kernel). */
export const FLOPS_PER_UNIT: Record<HandGemmKernel, number> = { peak: 24 * 4, micro5x2: 2 * 5 * 8 * K, micro4x2: 2 * 4 * 8 * K, micro5x2u2: 2 * 5 * 8 * K, micro5x2bc: 2 * 5 * 8 * K };

function emit(shared: boolean): Uint8Array<ArrayBuffer> {
  const builder = new ModuleBuilder({ module: 'env', name: 'memory', shared });
  // peak(base, iterations): x_i <- x_i * m, acc_i <- acc_i + x_i, six chains, unrolled twice.
  {
    const fn = builder.declare({ params: ['i32', 'i32'], results: [] }, 'peak');
    const locals: ValType[] = [];
    const local = (t: ValType) => (locals.push(t), 2 + locals.length - 1);
    const m = local('v128');
    const x = Array.from({ length: 6 }, () => local('v128'));
    const acc = Array.from({ length: 6 }, () => local('v128'));
    const c = new Code();
    // m and the x's from memory (m = 1, x = 1e-3: set by the host), so the compiler knows neither.
    c.get(0).simdMem(Simd.v128_load32_splat, 2, PEAK_OFFSET).set(m);
    for (let i = 0; i < 6; i++) c.get(0).simdMem(Simd.v128_load32_splat, 2, PEAK_OFFSET + 4 + 4 * i).set(x[i]);
    c.open(Op.block).open(Op.loop);
    c.get(1).op(Op.i32_eqz).op(Op.br_if).u32(1);
    for (let u = 0; u < 2; u++) {
      for (let i = 0; i < 6; i++) c.get(x[i]).get(m).simd(Simd.f32x4_mul).set(x[i]);
      for (let i = 0; i < 6; i++) c.get(acc[i]).get(x[i]).simd(Simd.f32x4_add).set(acc[i]);
    }
    c.get(1).i32Const(1).op(Op.i32_sub).set(1);
    c.op(Op.br).u32(0);
    c.op(Op.end).op(Op.end);
    for (let i = 0; i < 6; i++) c.get(0).get(acc[i]).simdMem(Simd.v128_store, 2, C_OFFSET + 256 + 16 * i);
    fn.define(locals, c);
  }
  // microRxN(base, passes): passes of RxN(base) — A packed [k][rows] at base, B packed [k][8] at
  // base + B_OFFSET, C at base + C_OFFSET — a call per pass, as functs calls its micro-kernels
  // (one function with the pass loop around the k loop spilled accumulators: half the rate).
  for (const [rows, name, unroll, broadcastA] of [[5, 'micro5x2', 1, false], [4, 'micro4x2', 1, false], [5, 'micro5x2u2', 2, false], [5, 'micro5x2bc', 1, true]] as const) {
    const pass = builder.declare({ params: ['i32'], results: [] });
    {
      const locals: ValType[] = [];
      const local = (t: ValType) => (locals.push(t), 1 + locals.length - 1);
      const [a, b, bEnd] = [local('i32'), local('i32'), local('i32')];
      const acc = Array.from({ length: rows }, () => [local('v128'), local('v128')]);
      const bv = [local('v128'), local('v128')];
      const s = local('v128');
      const c = new Code();
      for (const row of acc) for (const v of row) c.simd(Simd.v128_const).bytes(new Uint8Array(16)).set(v);
      c.get(0).i32Const(broadcastA ? A_BROADCAST_OFFSET : 0).op(Op.i32_add).set(a);
      c.get(0).i32Const(B_OFFSET).op(Op.i32_add).tee(b).i32Const(K * 32).op(Op.i32_add).set(bEnd);
      c.open(Op.block).open(Op.loop);
      c.get(b).get(bEnd).op(0x4f /* i32.ge_u */).op(Op.br_if).u32(1);
      // A's step: rows floats, or (broadcastA) rows vectors of one float repeated (a plain load with an offset).
      const aStep = broadcastA ? 16 * rows : 4 * rows;
      for (let u = 0; u < unroll; u++) {
        for (let j = 0; j < 2; j++) c.get(b).simdMem(Simd.v128_load, 2, 32 * u + 16 * j).set(bv[j]);
        for (let r = 0; r < rows; r++) {
          if (broadcastA) c.get(a).simdMem(Simd.v128_load, 2, aStep * u + 16 * r).set(s);
          else c.get(a).simdMem(Simd.v128_load32_splat, 2, aStep * u + 4 * r).set(s);
          for (let j = 0; j < 2; j++) c.get(acc[r][j]).get(s).get(bv[j]).simd(Simd.f32x4_mul).simd(Simd.f32x4_add).set(acc[r][j]);
        }
      }
      c.get(a).i32Const(aStep * unroll).op(Op.i32_add).set(a);
      c.get(b).i32Const(32 * unroll).op(Op.i32_add).set(b);
      c.op(Op.br).u32(0);
      c.op(Op.end).op(Op.end);
      for (let r = 0; r < rows; r++) for (let j = 0; j < 2; j++) c.get(0).get(acc[r][j]).simdMem(Simd.v128_store, 2, C_OFFSET + 32 * r + 16 * j);
      pass.define(locals, c);
    }
    const fn = builder.declare({ params: ['i32', 'i32'], results: [] }, name);
    const c = new Code();
    c.open(Op.block).open(Op.loop);
    c.get(1).op(Op.i32_eqz).op(Op.br_if).u32(1);
    c.get(0).call(pass.index);
    c.get(1).i32Const(1).op(Op.i32_sub).set(1);
    c.op(Op.br).u32(0);
    c.op(Op.end).op(Op.end);
    fn.define([], c);
  }
  return builder.encode();
}

/** Control words (Int32 at CTRL): generation, workers done, workers ready, kernel, units per thread, threads in the job. */
const CTRL = 0;
/** Each worker's milliseconds for its share of the last job (Float64, by worker). */
const TIMES = 64;
const DATA = 65536;

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, index, names, dataBase, threadBlock, times } = workerData;
const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
const c = new Int32Array(memory.buffer, 0, 16);
const ms = new Float64Array(memory.buffer, times, 32);
Atomics.add(c, 2, 1);
Atomics.notify(c, 2);
let generation = 0;
for (;;) {
  Atomics.wait(c, 0, generation);
  generation = Atomics.load(c, 0);
  if (index < Atomics.load(c, 5)) {
    const fn = exports[names[Atomics.load(c, 3)]];
    const t0 = performance.timeOrigin + performance.now();
    fn(dataBase + index * threadBlock, Atomics.load(c, 4));
    ms[2 * index] = t0;
    ms[2 * index + 1] = performance.timeOrigin + performance.now();
    Atomics.add(c, 1, 1);
    Atomics.notify(c, 1);
  }
}
`;

export interface HandGemm {
  /** Runs `kernel` for `flops` floating-point operations in all, split evenly over `threads` workers. */
  run(kernel: HandGemmKernel, threads: number, flops: number): void;
  /**
   * Each worker's span in the last run: its start and end (ms, on the process's common clock:
   * performance.timeOrigin + now), so a 2-thread run shows whether the threads ran at once.
   */
  lastSpans(): { start: number; end: number }[];
  /** Runs a 5-row micro-kernel once on worker 0: its C tile, and what a float64 loop gives (the check that it computes the product). */
  check(kernel?: 'micro5x2' | 'micro5x2u2' | 'micro5x2bc'): { got: Float32Array; want: Float64Array };
}

/** Starts `maxThreads` workers on a shared memory holding each worker's packed A strip and B tile. */
export async function handGemm(maxThreads = 2): Promise<HandGemm> {
  const pages = Math.ceil((DATA + maxThreads * THREAD_BLOCK) / 65536);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const module = new WebAssembly.Module(emit(true));
  const f32 = new Float32Array(memory.buffer);
  for (let t = 0; t < maxThreads; t++) {
    const base = (DATA + t * THREAD_BLOCK) / 4;
    f32[base + PEAK_OFFSET / 4] = 1;
    for (let i = 1; i <= 6; i++) f32[base + PEAK_OFFSET / 4 + i] = 1e-3 * i;
    // Packed A [k][5] and B [k][8]: small values, so the sums of 256 products stay moderate.
    for (let i = 0; i < 5 * K; i++) f32[base + i] = Math.sin(i) * 0.1;
    for (let i = 0; i < 5 * K; i++) f32.fill(f32[base + i], base + A_BROADCAST_OFFSET / 4 + 4 * i, base + A_BROADCAST_OFFSET / 4 + 4 * i + 4);
    for (let i = 0; i < 8 * K; i++) f32[base + B_OFFSET / 4 + i] = Math.cos(i) * 0.1;
  }
  const ctrl = new Int32Array(memory.buffer, CTRL, 16);
  const times = new Float64Array(memory.buffer, TIMES, 32);
  for (let index = 0; index < maxThreads; index++) {
    new Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, index, names: HAND_GEMM_KERNELS, dataBase: DATA, threadBlock: THREAD_BLOCK, times: TIMES } }).unref();
  }
  while (Atomics.load(ctrl, 2) < maxThreads) await new Promise((resolve) => setTimeout(resolve, 5));
  let lastThreads = 0;
  const yardstick: HandGemm = {
    run(kernel, threads, flops) {
      if (threads > maxThreads) throw new Error(`hand-gemm: ${threads} threads asked, ${maxThreads} started`);
      Atomics.store(ctrl, 1, 0);
      Atomics.store(ctrl, 3, HAND_GEMM_KERNELS.indexOf(kernel));
      Atomics.store(ctrl, 4, Math.max(1, Math.round(flops / threads / FLOPS_PER_UNIT[kernel])));
      Atomics.store(ctrl, 5, threads);
      Atomics.add(ctrl, 0, 1);
      Atomics.notify(ctrl, 0);
      for (let done; (done = Atomics.load(ctrl, 1)) < threads; ) Atomics.wait(ctrl, 1, done);
      lastThreads = threads;
    },
    lastSpans: () => Array.from({ length: lastThreads }, (_, i) => ({ start: times[2 * i], end: times[2 * i + 1] })),
    check(kernel = 'micro5x2') {
      yardstick.run(kernel, 1, FLOPS_PER_UNIT[kernel]);
      const base = DATA / 4;
      const got = new Float32Array(memory.buffer, DATA + C_OFFSET, 40).slice();
      const want = new Float64Array(40);
      for (let k = 0; k < K; k++) for (let r = 0; r < 5; r++) for (let n = 0; n < 8; n++) want[8 * r + n] += f32[base + 5 * k + r] * f32[base + B_OFFSET / 4 + 8 * k + n];
      return { got, want };
    },
  };
  return yardstick;
}
