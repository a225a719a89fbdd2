/**
 * Hand-written wasm SIMD streaming kernels, emitted with functs' encoder
 * (src/backends/wasm/encoder.ts): the yardstick bench/wasm-kernels.ts measures functs'
 * elementwise and reduction kernels against, in the same run. Each kernel is what a person
 * would write for this machine, specialized to [rows, cols] float32 (cols a multiple of 16):
 *
 *  - `axpy`: out = x * 2 + y, 64 bytes (four f32x4) per iteration;
 *  - `rowSum`: per row four f32x4 accumulators (16 floats per iteration), summed at the end;
 *    `rowSumWide`: the same with float64 partial sums (f64x2 accumulators of promoted halves),
 *    functs' precision for sums of data; `rowMax`: f32x4.max; `rowMean`: the sum times 1/cols;
 *  - `colSum`: blocks of 256 rows swept in order, each row added into the block's float32
 *    partial row (4 KiB, in L1), so the input is read once, contiguously; then the partial rows
 *    added in order (`colSumCombine`); `colSumDown`: 32 columns at a time down the rows in eight
 *    f32x4 accumulators (functs' order: a page per row, so a TLB miss per 128 bytes);
 *  - `fullSum`: per block of 4096 floats, four f32x4 accumulators, the block's sum stored; the
 *    host adds the blocks' sums (1024 of them for 4M floats);
 *  - `softmax`: per row its max (from memory), e^(x - max) stored with its sum (the row is then
 *    in L1), then a pass scaling by 1/sum; exp is simd-math.ts's expX4 (1e-6 relative).
 *
 * Threads: the main thread and `threads - 1` workers on one shared memory take chunks of units
 * (rows, 64-byte blocks, column blocks) from an atomic counter, as bench/peers/hand-wasm.ts does.
 */
import { Worker } from 'node:worker_threads';
import { Code, ModuleBuilder, Op, Simd, type ValType } from '../../src/backends/wasm/encoder.js';
import { clampExpArgX4, expX4, f32x4Const } from '../../src/backends/wasm/simd-math.js';

export const HAND_KERNELS = ['axpy', 'rowSum', 'rowSumWide', 'rowMax', 'rowMean', 'colSum', 'colSumDown', 'fullSum', 'softmax', 'colSumCombine'] as const;
export type HandKernel = (typeof HAND_KERNELS)[number];

const V128_LOAD64_ZERO = 93;
/** Floats per unit of `fullSum`. */
const FULL_BLOCK = 4096;
/** Rows per unit of `colSum` (its partial row stays in L1 while the rows stream by). */
const COL_ROWS = 256;

interface Layout {
  x: number;
  y: number;
  out: number;
  ctrl: number;
  end: number;
}

/** A counted loop: `i` runs from its current value while < end (pushed by `endValue`), by `step`. */
function loopWhile(c: Code, i: number, step: number, endValue: () => void, body: () => void): void {
  c.open(Op.loop);
  body();
  c.get(i).i32Const(step).op(Op.i32_add).tee(i);
  endValue();
  c.op(Op.i32_lt_s).op(Op.br_if).u32(0).op(Op.end);
}

/** Pushes the horizontal sum (or max) of an f32x4 local as an f32. */
function horizontal(c: Code, v: number, combine: number): void {
  c.get(v).simd(Simd.f32x4_extract_lane).byte(0).get(v).simd(Simd.f32x4_extract_lane).byte(1).op(combine);
  c.get(v).simd(Simd.f32x4_extract_lane).byte(2).get(v).simd(Simd.f32x4_extract_lane).byte(3).op(combine).op(combine);
}

function emitModule(rows: number, cols: number, L: Layout, shared: boolean): Uint8Array<ArrayBuffer> {
  const builder = new ModuleBuilder({ module: 'env', name: 'memory', shared });
  const rowBytes = cols * 4;
  for (const name of HAND_KERNELS) {
    const fn = builder.declare({ params: ['i32', 'i32'], results: [] }, name);
    const [start, end] = [0, 1];
    const locals: ValType[] = [];
    const local = (t: ValType): number => (locals.push(t), 2 + locals.length - 1);
    const c = new Code();
    const [p, rowEnd, r, o, q, qEnd, a0] = [local('i32'), local('i32'), local('i32'), local('i32'), local('i32'), local('i32'), local('i32')];
    const acc = Array.from({ length: 4 }, () => local('v128'));
    const v = local('v128');
    const two = local('v128');
    /** Per row r in [start, end): p runs over the row's bytes (from its first), rowEnd past its last. */
    const perRow = (body: () => void): void => {
      c.get(start).set(r);
      loopWhile(c, r, 1, () => c.get(end), () => {
        c.get(r).i32Const(rowBytes).op(Op.i32_mul).tee(p).i32Const(rowBytes).op(Op.i32_add).set(rowEnd);
        body();
      });
    };
    const zero = (value: number): void => {
      for (const a of acc) {
        f32x4Const(c, value);
        c.set(a);
      }
    };
    /** 16 floats per iteration into four f32x4 accumulators by `combine`; leaves their combination in acc[0]. */
    const reduceRow = (combine: number): void => {
      loopWhile(c, p, 64, () => c.get(rowEnd), () => {
        for (let k = 0; k < 4; k++) c.get(acc[k]).get(p).simdMem(Simd.v128_load, 4, L.x + 16 * k).simd(combine).set(acc[k]);
      });
      c.get(acc[0]).get(acc[1]).simd(combine).get(acc[2]).get(acc[3]).simd(combine).simd(combine).set(acc[0]);
    };
    switch (name) {
      case 'axpy': {
        // Units: 64-byte blocks.
        f32x4Const(c, 2);
        c.set(two);
        c.get(end).i32Const(64).op(Op.i32_mul).set(rowEnd);
        c.get(start).i32Const(64).op(Op.i32_mul).set(p);
        loopWhile(c, p, 64, () => c.get(rowEnd), () => {
          for (let k = 0; k < 4; k++) {
            c.get(p).get(p).simdMem(Simd.v128_load, 4, L.x + 16 * k).get(two).simd(Simd.f32x4_mul);
            c.get(p).simdMem(Simd.v128_load, 4, L.y + 16 * k).simd(Simd.f32x4_add).simdMem(Simd.v128_store, 4, L.out + 16 * k);
          }
        });
        break;
      }
      case 'rowSum':
      case 'rowMean':
      case 'rowMax': {
        const max = name === 'rowMax';
        perRow(() => {
          zero(max ? -Infinity : 0);
          reduceRow(max ? Simd.f32x4_max : Simd.f32x4_add);
          c.get(r).i32Const(2).op(Op.i32_shl);
          horizontal(c, acc[0], max ? Op.f32_max : Op.f32_add);
          if (name === 'rowMean') c.f32Const(1 / cols).op(Op.f32_mul);
          c.mem(Op.f32_store, 2, L.out);
        });
        break;
      }
      case 'rowSumWide': {
        // Four f64x2 accumulators, two vectors per iteration, each read as two halves of 8 bytes
        // promoted on the way in (v128.load64_zero + f64x2.promote_low_f32x4: cvtps2pd from
        // memory; 20% faster here than a v128 load, a shuffle and two promotions).
        perRow(() => {
          zero(0);
          loopWhile(c, p, 32, () => c.get(rowEnd), () => {
            for (let k = 0; k < 4; k++) c.get(acc[k]).get(p).simdMem(V128_LOAD64_ZERO, 3, L.x + 8 * k).simd(Simd.f64x2_promote_low_f32x4).simd(Simd.f64x2_add).set(acc[k]);
          });
          c.get(acc[0]).get(acc[1]).simd(Simd.f64x2_add).get(acc[2]).get(acc[3]).simd(Simd.f64x2_add).simd(Simd.f64x2_add).set(acc[0]);
          c.get(r).i32Const(2).op(Op.i32_shl);
          c.get(acc[0]).simd(Simd.f64x2_extract_lane).byte(0).get(acc[0]).simd(Simd.f64x2_extract_lane).byte(1).op(Op.f64_add);
          c.op(Op.f32_demote_f64).mem(Op.f32_store, 2, L.out);
        });
        break;
      }
      case 'colSum': {
        // Units: blocks of COL_ROWS rows, each swept in order into its own float32 partial row
        // (in L1) after the output; `colSumCombine` then adds the partial rows into the output.
        // q: a row's byte offset, a: the accumulator (partial row) pointer, o: the partial row's.
        const a = local('i32');
        c.get(start).set(r);
        loopWhile(c, r, 1, () => c.get(end), () => {
          c.get(r).i32Const(COL_ROWS * rowBytes).op(Op.i32_mul).set(q);
          c.get(r).i32Const(rowBytes).op(Op.i32_mul).i32Const(rowBytes).op(Op.i32_add).set(o);
          // The block's first row initializes its partial row.
          c.get(q).tee(p).i32Const(rowBytes).op(Op.i32_add).set(rowEnd);
          c.get(o).set(a);
          loopWhile(c, p, 16, () => c.get(rowEnd), () => {
            c.get(a).get(p).simdMem(Simd.v128_load, 4, L.x).simdMem(Simd.v128_store, 4, L.out);
            c.get(a).i32Const(16).op(Op.i32_add).set(a);
          });
          c.get(q).i32Const(COL_ROWS * rowBytes).op(Op.i32_add).set(qEnd);
          c.get(q).i32Const(rowBytes).op(Op.i32_add).set(q);
          loopWhile(c, q, rowBytes, () => c.get(qEnd), () => {
            c.get(q).tee(p).i32Const(rowBytes).op(Op.i32_add).set(rowEnd);
            c.get(o).set(a);
            loopWhile(c, p, 64, () => c.get(rowEnd), () => {
              for (let k = 0; k < 4; k++) {
                c.get(a).get(a).simdMem(Simd.v128_load, 4, L.out + 16 * k).get(p).simdMem(Simd.v128_load, 4, L.x + 16 * k).simd(Simd.f32x4_add);
                c.simdMem(Simd.v128_store, 4, L.out + 16 * k);
              }
              c.get(a).i32Const(64).op(Op.i32_add).set(a);
            });
          });
        });
        break;
      }
      case 'colSumCombine': {
        // The partial rows (rows / COL_ROWS of them, after the output) added in order into the output.
        c.i32Const(0).set(p);
        loopWhile(c, p, 16, () => c.i32Const(rowBytes), () => {
          c.get(p).simdMem(Simd.v128_load, 4, L.out + rowBytes).set(v);
          c.i32Const(2 * rowBytes).get(p).op(Op.i32_add).set(a0);
          loopWhile(c, a0, rowBytes, () => c.get(p).i32Const((rows / COL_ROWS + 1) * rowBytes).op(Op.i32_add), () => {
            c.get(v).get(a0).simdMem(Simd.v128_load, 4, L.out).simd(Simd.f32x4_add).set(v);
          });
          c.get(p).get(v).simdMem(Simd.v128_store, 4, L.out);
        });
        break;
      }
      case 'colSumDown': {
        // Units: blocks of 32 columns (two cache lines), eight f32x4 accumulators going down the rows.
        const acc8 = [...acc, ...Array.from({ length: 4 }, () => local('v128'))];
        c.get(start).set(r);
        loopWhile(c, r, 1, () => c.get(end), () => {
          for (const a of acc8) {
            f32x4Const(c, 0);
            c.set(a);
          }
          c.get(r).i32Const(128).op(Op.i32_mul).tee(p).i32Const(rows * rowBytes).op(Op.i32_add).set(rowEnd);
          loopWhile(c, p, rowBytes, () => c.get(rowEnd), () => {
            acc8.forEach((a, k) => c.get(a).get(p).simdMem(Simd.v128_load, 4, L.x + 16 * k).simd(Simd.f32x4_add).set(a));
          });
          acc8.forEach((a, k) => c.get(r).i32Const(128).op(Op.i32_mul).get(a).simdMem(Simd.v128_store, 4, L.out + 16 * k));
        });
        break;
      }
      case 'fullSum': {
        // Units: blocks of FULL_BLOCK floats; each block's sum stored at out[block].
        c.get(start).set(r);
        loopWhile(c, r, 1, () => c.get(end), () => {
          c.get(r).i32Const(FULL_BLOCK * 4).op(Op.i32_mul).tee(p).i32Const(FULL_BLOCK * 4).op(Op.i32_add).set(rowEnd);
          zero(0);
          reduceRow(Simd.f32x4_add);
          c.get(r).i32Const(2).op(Op.i32_shl);
          horizontal(c, acc[0], Op.f32_add);
          c.mem(Op.f32_store, 2, L.out);
        });
        break;
      }
      case 'softmax': {
        const temps: v128Pool = { locals: [], next: 0 };
        const tmp = (): number => {
          if (temps.next === temps.locals.length) temps.locals.push(local('v128'));
          return temps.locals[temps.next++];
        };
        const m = local('v128');
        const x = local('v128');
        perRow(() => {
          c.get(p).set(o);
          zero(-Infinity);
          reduceRow(Simd.f32x4_max);
          c.get(acc[0]).get(acc[0]).simd(Simd.i8x16_shuffle).bytes([8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7]).get(acc[0]).simd(Simd.f32x4_max).set(m);
          c.get(m).get(m).simd(Simd.i8x16_shuffle).bytes([4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11]).get(m).simd(Simd.f32x4_max).set(m);
          // e = exp(x - max) into out, its sum in acc[0].
          f32x4Const(c, 0);
          c.set(acc[0]);
          c.get(o).set(p);
          loopWhile(c, p, 16, () => c.get(rowEnd), () => {
            c.get(p).simdMem(Simd.v128_load, 4, L.x).get(m).simd(Simd.f32x4_sub);
            clampExpArgX4(c);
            c.set(x);
            temps.next = 0;
            c.get(p);
            expX4(c, x, tmp);
            c.tee(v).simdMem(Simd.v128_store, 4, L.out);
            c.get(acc[0]).get(v).simd(Simd.f32x4_add).set(acc[0]);
          });
          f32x4Const(c, 1);
          horizontal(c, acc[0], Op.f32_add);
          c.simd(Simd.f32x4_splat).simd(Simd.f32x4_div).set(m);
          c.get(o).set(p);
          loopWhile(c, p, 16, () => c.get(rowEnd), () => {
            c.get(p).get(p).simdMem(Simd.v128_load, 4, L.out).get(m).simd(Simd.f32x4_mul).simdMem(Simd.v128_store, 4, L.out);
          });
        });
        break;
      }
      default: name satisfies never;
    }
    fn.define(locals, c);
  }
  return builder.encode();
}

interface v128Pool {
  locals: number[];
  next: number;
}

/** The yardstick for [rows, cols] float32 inputs: `set` writes x and y, `run(kernel)` runs one over all of them. */
export interface HandStream {
  set(x: Float32Array, y: Float32Array): void;
  run(kernel: HandKernel): void;
  /** The result of the last run (rowSum: rows floats; colSum: cols; fullSum: one; axpy and softmax: rows * cols). */
  result(kernel: HandKernel): Float32Array;
}

/** Units (the atomic counter's chunks count these) per kernel. */
function unitsOf(kernel: HandKernel, rows: number, cols: number): { units: number; chunk: number } {
  switch (kernel) {
    case 'axpy': return { units: (rows * cols) / 16, chunk: 1024 };
    case 'colSum': return { units: rows / COL_ROWS, chunk: 1 };
    case 'colSumCombine': return { units: 1, chunk: 1 };
    case 'colSumDown': return { units: cols / 32, chunk: 2 };
    case 'fullSum': return { units: (rows * cols) / FULL_BLOCK, chunk: 16 };
    default: return { units: rows, chunk: 16 };
  }
}

export function handStream(rows: number, cols: number, threads = 1): HandStream {
  if (cols % 32 || rows % COL_ROWS || (rows * cols) % FULL_BLOCK) throw new Error(`hand-stream: cols must be a multiple of 32, rows of ${COL_ROWS}, rows * cols of ${FULL_BLOCK}`);
  const bytes = rows * cols * 4;
  // The output 1 KiB + 64 bytes past a multiple of 4 KiB from the inputs: colSum's loads of x
  // and stores to its accumulator row would otherwise alias in the store buffer (same low 12 bits).
  // (colSum's partial rows follow the output: at most rows * cols floats are stored there.)
  const L: Layout = { x: 0, y: bytes, out: 2 * bytes + 1088, ctrl: 3 * bytes + 4096 + 1088, end: 3 * bytes + 4096 + 1088 + 64 };
  const pages = Math.ceil(L.end / 65536);
  const shared = threads > 1;
  const memory = new WebAssembly.Memory(shared ? { initial: pages, maximum: pages, shared: true } : { initial: pages });
  const module = new WebAssembly.Module(emitModule(rows, cols, L, shared));
  const exports = new WebAssembly.Instance(module, { env: { memory } }).exports as Record<HandKernel, (start: number, end: number) => void>;
  // ctrl: generation, next chunk, workers done, workers ready, kernel index, units, chunk.
  const ctrl = new Int32Array(memory.buffer, L.ctrl, 8);
  const workers = threads - 1;
  for (let t = 0; t < workers; t++) new Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, ctrl: L.ctrl, names: HAND_KERNELS } }).unref();
  const run = (kernel: HandKernel): void => {
    const { units, chunk } = unitsOf(kernel, rows, cols);
    const fn = exports[kernel];
    if (workers === 0) return fn(0, units);
    for (let ready; (ready = Atomics.load(ctrl, 3)) < workers; ) Atomics.wait(ctrl, 3, ready);
    Atomics.store(ctrl, 4, HAND_KERNELS.indexOf(kernel));
    Atomics.store(ctrl, 5, units);
    Atomics.store(ctrl, 6, chunk);
    Atomics.store(ctrl, 1, 0);
    Atomics.store(ctrl, 2, 0);
    Atomics.add(ctrl, 0, 1);
    Atomics.notify(ctrl, 0);
    for (let k; (k = Atomics.add(ctrl, 1, 1)) * chunk < units; ) fn(k * chunk, Math.min(units, (k + 1) * chunk));
    for (let done; (done = Atomics.load(ctrl, 2)) < workers; ) Atomics.wait(ctrl, 2, done);
  };
  let fullSum = 0;
  return {
    set(x, y) {
      new Float32Array(memory.buffer, L.x, rows * cols).set(x);
      new Float32Array(memory.buffer, L.y, rows * cols).set(y);
    },
    run(kernel) {
      run(kernel);
      if (kernel === 'colSum') run('colSumCombine');
      if (kernel === 'fullSum') {
        // The blocks' sums, added in order (a float64 sum of 1024 numbers: ~1 µs).
        const partial = new Float32Array(memory.buffer, L.out, (rows * cols) / FULL_BLOCK);
        fullSum = 0;
        for (const s of partial) fullSum += s;
      }
    },
    result(kernel) {
      const length = kernel === 'axpy' || kernel === 'softmax' ? rows * cols : kernel === 'colSum' || kernel === 'colSumDown' ? cols : kernel === 'fullSum' ? 1 : rows;
      return kernel === 'fullSum' ? new Float32Array([fullSum]) : new Float32Array(memory.buffer, L.out, length).slice();
    },
  };
}

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, ctrl, names } = workerData;
const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
const c = new Int32Array(memory.buffer, ctrl, 8);
Atomics.add(c, 3, 1);
Atomics.notify(c, 3);
let generation = 0;
for (;;) {
  Atomics.wait(c, 0, generation);
  generation = Atomics.load(c, 0);
  const fn = exports[names[Atomics.load(c, 4)]];
  const units = Atomics.load(c, 5);
  const chunk = Atomics.load(c, 6);
  for (let k; (k = Atomics.add(c, 1, 1)) * chunk < units; ) fn(k * chunk, Math.min(units, (k + 1) * chunk));
  Atomics.add(c, 2, 1);
  Atomics.notify(c, 2);
}
`;
