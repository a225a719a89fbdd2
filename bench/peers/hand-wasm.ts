/**
 * A hand-written WebAssembly SIMD kernel of the headline workload, emitted with functs' wasm
 * emitter (src/backends/wasm/encoder.ts) and specialized to (N, D, H): the ceiling the wasm
 * backend is measured against. bench/peers/HAND-WASM.md describes its structure and what each
 * part of it bought (measured). The algebra:
 *
 *     H_n = sum_h w_n[h] P[h],   P[h][i][j] = A[h][i] A[h][j]  (computed once per A),
 *     w_n[h] = -2 t (1 - t^2),   t = tanh(A x_n + b)
 *
 * H_n is symmetric: only its 4x4 blocks (I, J) with I <= J are accumulated; the block (J, I)
 * is the transpose of (I, J), done in registers by 8 shuffles and stored beside it.
 *
 * Per tile of `samples` examples (2 by default):
 *   1. z = A x + b with h in the lanes (A transposed, 4 consecutive h contiguous): up to 8
 *      f32x4 accumulators over a fully unrolled d; then w = -2t(1-t^2) with the backend's
 *      vectorized tanh (simd-math.ts, 1e-6 relative), into a scratch row per example.
 *   2. For each block (I, J >= I): samples x 4 f32x4 accumulators (the block's 4 rows for each
 *      example), h fully unrolled: per h, one splat of w per example and 4 loads of P's block
 *      row vectors (P stored block by block, [block][h][4 rows][4], so every address is a base
 *      pointer plus a constant), `samples x 4` multiplies and adds. 8 accumulators + 2 splats +
 *      1 P vector + 1 product = 12 of x64's 16 xmm registers: nothing spills.
 *   3. Store the 4 rows per example, and for I < J their transpose as block (J, I).
 * One thread; no fused multiply-add (Node 20 has no relaxed SIMD by default). Requires N
 * divisible by `samples` and D, H divisible by 4. Checked against the float64 loop by
 * bench/wasm-compare.ts and bench/peers/hand-wasm-variants.ts.
 */
import { Code, ModuleBuilder, Op, Simd, type ValType } from "../../src/backends/wasm/encoder.js";
import { f32x4Const, tanhX4 } from "../../src/backends/wasm/simd-math.js";
import { Worker } from "node:worker_threads";
import type { Implementation } from "../types.js";
import type { Workload } from "../workload.js";

/** Tuning knobs, measured against each other by bench/peers/hand-wasm-variants.ts. */
export interface HandWasmOptions {
  /** Examples per tile: each P vector loaded serves this many examples (default 2). */
  samples?: number;
  /** Examples per tile (a multiple of samples; default 2 * samples): w for all, then each block of P for all. */
  tile?: number;
  /** Accumulate only blocks I <= J and mirror (default true); false: all (D/4)^2 blocks. */
  symmetric?: boolean;
  /** Diagonal blocks as 3 row vectors instead of 4 (default true; with `symmetric`). */
  packDiagonal?: boolean;
  /** z's f32x4 accumulators at a time over h (default 8). */
  zChunks?: number;
  /** Examples whose z share each load of A^T (default 1; the tile must be a multiple). */
  zSamples?: number;
  /** Profiling only: emit just one stage (the result is then wrong). */
  only?: "w" | "blocks" | "";
  /** tanh: "rational" (default, 4e-7) or "exp" (simd-math.ts's tanhX4, 1e-6). */
  tanh?: "rational" | "exp";
  /**
   * Threads (default 1): the main thread and threads - 1 workers on one shared memory take
   * chunks of 128 examples from an atomic counter (the two cores here run unevenly).
   */
  threads?: number;
  /** Copies of the h loop's body per iteration (default 1; H must be a multiple). */
  hUnroll?: number;
}

interface Layout {
  aT: number;
  b: number;
  x: number;
  p: number;
  w: number;
  out: number;
  /** Four int32 words for the threads: generation, next chunk, threads done, threads ready. */
  ctrl: number;
  end: number;
}

function blocksOf(D: number, symmetric: boolean): [number, number][] {
  const nb = D / 4;
  const blocks: [number, number][] = [];
  for (let I = 0; I < nb; I++) for (let J = symmetric ? I : 0; J < nb; J++) blocks.push([I, J]);
  return blocks;
}

function layoutFor(N: number, D: number, H: number, samples: number, blocks: number, threads: number): Layout {
  const aT = 0;
  const b = aT + D * H * 4;
  const x = b + H * 4;
  const p = x + N * D * 4;
  const w = p + blocks * H * 64;
  const out = w + threads * samples * H * 4; // samples: the tile; one w scratch per thread
  const ctrl = out + N * D * D * 4;
  return { aT, b, x, p, w, out, ctrl, end: ctrl + 16 };
}

/**
 * tanh as a rational function, x P(x^2) / Q(x^2) (degrees 13 and 6: Eigen's float tanh, its
 * coefficients divided by Q's constant term so that x P(x^2) stays accurate down to the smallest
 * floats), on x clamped to +-7.9053 by the single-instruction pseudo-min/max (pmin/pmax,
 * operands ordered so that NaN passes through). Relative error at most 3.7e-7 against
 * Math.tanh (4M float32 points from 1e-38 to 12; test/hand-wasm.test.ts checks 4e-7 on the wasm
 * lanes, extremes included): about a third of the x64 instructions of simd-math.ts's tanhX4,
 * whose f32x4.min, nearest and trunc_sat each cost several instructions for their NaN rules.
 */
const TANH_Q0 = 4.89352518554385e-3;
const TANH_P = [4.89352455891786e-3, 6.37261928875436e-4, 1.48572235717979e-5, 5.12229709037114e-8, -8.60467152213735e-11, 2.00018790482477e-13, -2.76076847742355e-16].map((v) => v / TANH_Q0);
const TANH_Q = [4.89352518554385e-3, 2.268434632439e-3, 1.18534705686654e-4, 1.19825839466702e-6].map((v) => v / TANH_Q0);
const TANH_CLAMP = 7.90531110763549805;
const F32X4_PMIN = 234;
const F32X4_PMAX = 235;

/** Reads local x, pushes tanh(x); `x2` and `xc` are v128 scratch locals. */
export function tanhRationalX4(c: Code, x: number, xc: number, x2: number): void {
  c.get(x);
  f32x4Const(c, TANH_CLAMP);
  c.simd(F32X4_PMIN);
  f32x4Const(c, -TANH_CLAMP);
  c.simd(F32X4_PMAX).tee(xc).get(xc).simd(Simd.f32x4_mul).set(x2);
  const horner = (coeffs: readonly number[]): void => {
    f32x4Const(c, coeffs[coeffs.length - 1]);
    for (let i = coeffs.length - 2; i >= 0; i--) {
      c.get(x2).simd(Simd.f32x4_mul);
      f32x4Const(c, coeffs[i]);
      c.simd(Simd.f32x4_add);
    }
  };
  horner(TANH_P);
  c.get(xc).simd(Simd.f32x4_mul);
  horner(TANH_Q);
  c.simd(Simd.f32x4_div);
}

/** Lane indices (f32 lanes 0-3 of a, 4-7 of b) as the 16 byte indices of i8x16.shuffle. */
function shuffle(c: Code, lanes: readonly number[]): void {
  c.simd(Simd.i8x16_shuffle);
  for (const l of lanes) for (let k = 0; k < 4; k++) c.byte(l * 4 + k);
}

/** The module for one size: `hessians()` reads aT, b, x, p at their fixed addresses and writes out. */
function emitHessianModule(N: number, D: number, H: number, L: Layout, o: Required<HandWasmOptions>): Uint8Array<ArrayBuffer> {
  const S = o.samples;
  // hessians(n0, n1, wBase): examples [n0, n1) (multiples of the tile), w scratch at wBase
  // (one per thread); a shared memory where threads > 1.
  const builder = new ModuleBuilder({ module: "env", name: "memory", shared: o.threads > 1 });
  const fn = builder.declare({ params: ["i32", "i32", "i32"], results: [] }, "hessians");
  const [n0, n1, wBase] = [0, 1, 2];
  const PARAMS = 3;
  const locals: ValType[] = [];
  const local = (t: ValType): number => (locals.push(t), PARAMS + locals.length - 1);
  const c = new Code();
  const [n, s, xo, wo, cz, I, J, pb, ob, om, jEnd, xp, dp, xEnd, pp, hp, q, hEnd] = Array.from({ length: 18 }, () => local("i32"));
  const zAcc = Array.from({ length: Math.max(o.zChunks, o.zSamples) }, () => local("v128"));
  const xsOf = Array.from({ length: o.zSamples }, () => local("v128"));
  const av = local("v128");
  const acc = Array.from({ length: S * 4 }, () => local("v128"));
  const ws = Array.from({ length: S }, () => local("v128"));
  const pv = local("v128");
  const tr = Array.from({ length: 4 }, () => local("v128"));
  const tz = local("v128");
  const tt = local("v128");
  const tanhTemps: number[] = [];
  let tanhTempNext = 0;
  const tmp = (): number => {
    if (tanhTempNext === tanhTemps.length) tanhTemps.push(local("v128"));
    return tanhTemps[tanhTempNext++];
  };
  /** A counted loop on local i from `from` (already set) while < `end` (pushed by endValue). */
  const loopWhile = (i: number, step: number, endValue: () => void, body: () => void): void => {
    c.open(Op.loop);
    body();
    c.get(i).i32Const(step).op(Op.i32_add).tee(i);
    endValue();
    c.op(Op.i32_lt_s).op(Op.br_if).u32(0).op(Op.end);
  };
  const loop = (i: number, extent: number, step: number, body: () => void): void => {
    c.i32Const(0).set(i);
    loopWhile(i, step, () => c.i32Const(extent), body);
  };
  const DD4 = D * D * 4;
  const nb = D / 4;
  const T = o.tile;
  c.get(n0).set(n);
  loopWhile(n, T, () => c.get(n1), () => {
    // 1. w for the S examples n..n+S-1, h in the lanes.
    const Z = o.zSamples;
    if (o.only !== "blocks") loop(s, T, Z, () => {
      c.get(n).get(s).op(Op.i32_add).i32Const(D * 4).op(Op.i32_mul).set(xo);
      c.get(s).i32Const(H * 4).op(Op.i32_mul).get(wBase).op(Op.i32_add).set(wo);
      // Z examples at a time share each load of aT: zChunks accumulators = Z x (zChunks / Z) chunks.
      const perExample = Math.max(1, Math.floor(o.zChunks / Z));
      for (let c0 = 0; c0 < H / 4; c0 += perExample) {
        const chunks = Math.min(perExample, H / 4 - c0);
        const accOf = (e: number, k: number): number => zAcc[e * perExample + k];
        for (let e = 0; e < Z; e++) for (let k = 0; k < chunks; k++) c.i32Const(0).simdMem(Simd.v128_load, 4, L.b + (c0 + k) * 16).set(accOf(e, k));
        // d as a loop: a fully unrolled d let TurboFan hoist every load to the top and spill them.
        c.get(xo).set(xp).i32Const(c0 * 16).set(dp);
        c.get(xo).i32Const(D * 4).op(Op.i32_add).set(xEnd);
        loopWhile(xp, 4, () => c.get(xEnd), () => {
          for (let e = 0; e < Z; e++) c.get(xp).simdMem(Simd.v128_load32_splat, 2, L.x + e * D * 4).set(xsOf[e]);
          for (let k = 0; k < chunks; k++) {
            c.get(dp).simdMem(Simd.v128_load, 4, L.aT + k * 16).set(av);
            for (let e = 0; e < Z; e++) c.get(accOf(e, k)).get(av).get(xsOf[e]).simd(Simd.f32x4_mul).simd(Simd.f32x4_add).set(accOf(e, k));
          }
          c.get(dp).i32Const(H * 4).op(Op.i32_add).set(dp);
        });
        for (let e = 0; e < Z; e++) for (let k = 0; k < chunks; k++) c.get(wo).get(accOf(e, k)).simdMem(Simd.v128_store, 4, (e * H + (c0 + k) * 4) * 4);
      }
      // w = 2t (t^2 - 1), in place, one loop over the row (one copy of tanh's code).
      c.get(wo).set(cz);
      c.get(wo).i32Const(Z * H * 4).op(Op.i32_add).set(xo);
      loopWhile(cz, 16, () => c.get(xo), () => {
        c.get(cz).simdMem(Simd.v128_load, 4, 0).set(tz);
        tanhTempNext = 0;
        if (o.tanh === "rational") tanhRationalX4(c, tz, tmp(), tmp());
        else tanhX4(c, tz, tmp);
        c.tee(tt).get(tt).simd(Simd.f32x4_add).get(tt).get(tt).simd(Simd.f32x4_mul);
        f32x4Const(c, 1);
        c.simd(Simd.f32x4_sub).simd(Simd.f32x4_mul).set(tt);
        c.get(cz).get(tt).simdMem(Simd.v128_store, 4, 0);
      });
    });
    // 2-3. The blocks I <= J (or all), S x 4 accumulators each, h unrolled.
    // "packed": a diagonal block as 3 row vectors (rows 0, 1 and the upper triangle of rows 2-3:
    // (2,2) (2,3) (3,3) -), rows 2 and 3 rebuilt by 3 shuffles; "mirror": an off-diagonal block,
    // also stored transposed; "plain": stored as is.
    type Kind = "plain" | "mirror" | "packed";
    const block = (kind: Kind): void => {
      // The tile's examples S at a time, against the same block of P (in L1 after the first).
      c.i32Const(0).set(q);
      loopWhile(q, S, () => c.i32Const(T), () => blockOfExamples(kind));
      c.get(pb).i32Const(H * 16 * (kind === "packed" ? 3 : 4)).op(Op.i32_add).set(pb);
    };
    const blockOfExamples = (kind: Kind): void => {
      const mirror = kind === "mirror";
      const R = kind === "packed" ? 3 : 4;
      for (const a of acc) {
        f32x4Const(c, 0);
        c.set(a);
      }
      // h as a loop (unrolled hUnroll times): fully unrolled, TurboFan hoisted the loads of P
      // and w to the top of the body and spilled them (and the constant addresses) to the stack.
      c.get(pb).set(pp).get(q).i32Const(H * 4).op(Op.i32_mul).get(wBase).op(Op.i32_add).tee(hp).i32Const(H * 4).op(Op.i32_add).set(hEnd);
      loopWhile(hp, 4 * o.hUnroll, () => c.get(hEnd), () => {
        for (let u = 0; u < o.hUnroll; u++) {
          for (let e = 0; e < S; e++) c.get(hp).simdMem(Simd.v128_load32_splat, 2, (e * H + u) * 4).set(ws[e]);
          for (let r = 0; r < R; r++) {
            c.get(pp).simdMem(Simd.v128_load, 4, L.p + (u * R + r) * 16).set(pv);
            for (let e = 0; e < S; e++) c.get(acc[e * 4 + r]).get(ws[e]).get(pv).simd(Simd.f32x4_mul).simd(Simd.f32x4_add).set(acc[e * 4 + r]);
          }
        }
        c.get(pp).i32Const(16 * R * o.hUnroll).op(Op.i32_add).set(pp);
      });
      // ob: byte offset of out[n, 4I, 4J]; om: of out[n, 4J, 4I].
      c.get(n).get(q).op(Op.i32_add).i32Const(DD4).op(Op.i32_mul).get(I).i32Const(16 * D).op(Op.i32_mul).op(Op.i32_add).get(J).i32Const(16).op(Op.i32_mul).op(Op.i32_add).set(ob);
      for (let e = 0; e < S; e++) for (let r = 0; r < Math.min(R, 2) + (R === 4 ? 2 : 0); r++) c.get(ob).get(acc[e * 4 + r]).simdMem(Simd.v128_store, 4, L.out + e * DD4 + r * D * 4);
      if (kind === "packed") {
        for (let e = 0; e < S; e++) {
          const [r0, r1, upper] = acc.slice(e * 4, e * 4 + 3);
          // t = (r0[2], r1[2], r0[3], r1[3]); row 2 = (t0, t1, u0, u1); row 3 = (t2, t3, u1, u2).
          c.get(r0).get(r1);
          shuffle(c, [2, 6, 3, 7]);
          c.set(tr[0]);
          c.get(ob).get(tr[0]).get(upper);
          shuffle(c, [0, 1, 4, 5]);
          c.simdMem(Simd.v128_store, 4, L.out + e * DD4 + 2 * D * 4);
          c.get(ob).get(tr[0]).get(upper);
          shuffle(c, [2, 3, 5, 6]);
          c.simdMem(Simd.v128_store, 4, L.out + e * DD4 + 3 * D * 4);
        }
      }
      if (mirror) {
        c.get(n).get(q).op(Op.i32_add).i32Const(DD4).op(Op.i32_mul).get(J).i32Const(16 * D).op(Op.i32_mul).op(Op.i32_add).get(I).i32Const(16).op(Op.i32_mul).op(Op.i32_add).set(om);
        for (let e = 0; e < S; e++) {
          const [r0, r1, r2, r3] = acc.slice(e * 4, e * 4 + 4);
          c.get(r0).get(r1);
          shuffle(c, [0, 4, 1, 5]);
          c.set(tr[0]).get(r0).get(r1);
          shuffle(c, [2, 6, 3, 7]);
          c.set(tr[1]).get(r2).get(r3);
          shuffle(c, [0, 4, 1, 5]);
          c.set(tr[2]).get(r2).get(r3);
          shuffle(c, [2, 6, 3, 7]);
          c.set(tr[3]);
          const col = (k: number, x: number, y: number, lanes: number[]): void => {
            c.get(om).get(tr[x]).get(tr[y]);
            shuffle(c, lanes);
            c.simdMem(Simd.v128_store, 4, L.out + e * DD4 + k * D * 4);
          };
          col(0, 0, 2, [0, 1, 4, 5]);
          col(1, 0, 2, [2, 3, 6, 7]);
          col(2, 1, 3, [0, 1, 4, 5]);
          col(3, 1, 3, [2, 3, 6, 7]);
        }
      }
    };
    c.i32Const(0).set(pb);
    if (o.only !== "w") loop(I, nb, 1, () => {
      if (o.symmetric) {
        c.get(I).set(J);
        block(o.packDiagonal ? "packed" : "plain");
        c.get(I).i32Const(1).op(Op.i32_add).tee(J).i32Const(nb).op(Op.i32_lt_s).open(Op.if);
        loopWhile(J, 1, () => c.i32Const(nb), () => block("mirror"));
        c.op(Op.end);
      } else {
        loop(J, nb, 1, () => block("plain"));
      }
    });
  });
  void jEnd;
  fn.define(locals, c);
  return builder.encode();
}

/** A compiled kernel: `run` computes all N Hessians into the wasm memory, `outView` reads them. */
export interface HandWasmKernel {
  (A: Float32Array, b: Float32Array, X: Float32Array): Float32Array;
  /** Writes the inputs and runs, leaving the Hessians in the wasm memory (no copy out). */
  runInPlace(A: Float32Array, b: Float32Array, X: Float32Array): void;
  /** The Hessians in the wasm memory, as of the last run. */
  outView(): Float32Array;
}

/** A hand-written wasm SIMD Hessian kernel for one workload size. */
export function handWasmKernel(N: number, D: number, H: number, options: HandWasmOptions = {}): HandWasmKernel {
  const samples = options.samples ?? 2;
  const o: Required<HandWasmOptions> = { samples, tile: 2 * samples, symmetric: true, zChunks: 8, only: "", hUnroll: 1, tanh: "rational", zSamples: 2, packDiagonal: true, threads: 1, ...options };
  if (N % o.tile || o.tile % o.samples || o.tile % o.zSamples || D % 4 || H % 4) throw new Error(`hand-wasm: N must be a multiple of the tile ${o.tile}, the tile of ${o.samples}, D and H of 4 (got ${N}, ${D}, ${H})`);
  const blocks = blocksOf(D, o.symmetric);
  const L = layoutFor(N, D, H, o.tile, blocks.length, o.threads);
  const pages = Math.ceil(L.end / 65536);
  const memory = new WebAssembly.Memory(o.threads > 1 ? { initial: pages, maximum: pages, shared: true } : { initial: pages });
  const module = new WebAssembly.Module(emitHessianModule(N, D, H, L, o));
  const hessians = new WebAssembly.Instance(module, { env: { memory } }).exports.hessians as (n0: number, n1: number, wBase: number) => void;
  const chunk = Math.max(o.tile, Math.floor(128 / o.tile) * o.tile);
  const workers = o.threads - 1;
  const ctrl = new Int32Array(memory.buffer, L.ctrl, 4);
  for (let t = 1; t <= workers; t++) {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, wBase: L.w + t * o.tile * H * 4, chunk, N, ctrl: L.ctrl } });
    worker.unref();
  }
  const runAll = (): void => {
    if (workers === 0) return hessians(0, N, L.w);
    for (let ready; (ready = Atomics.load(ctrl, 3)) < workers; ) Atomics.wait(ctrl, 3, ready);
    Atomics.store(ctrl, 1, 0);
    Atomics.store(ctrl, 2, 0);
    Atomics.add(ctrl, 0, 1);
    Atomics.notify(ctrl, 0);
    for (let k; (k = Atomics.add(ctrl, 1, 1)) * chunk < N; ) hessians(k * chunk, Math.min(N, (k + 1) * chunk), L.w);
    for (let done; (done = Atomics.load(ctrl, 2)) < workers; ) Atomics.wait(ctrl, 2, done);
  };
  const packed = o.symmetric && o.packDiagonal;
  const runInPlace = (A: Float32Array, b: Float32Array, X: Float32Array): void => {
    const f32 = new Float32Array(memory.buffer);
    // A^T and P's blocks of outer products of A's rows: once per call (cheap next to the batch).
    for (let hh = 0; hh < H; hh++) for (let i = 0; i < D; i++) f32[L.aT / 4 + i * H + hh] = A[hh * D + i];
    let at = L.p / 4;
    for (const [I, J] of blocks) {
      for (let hh = 0; hh < H; hh++) {
        const a = (r: number, block: number): number => A[hh * D + 4 * block + r];
        if (packed && I === J) {
          for (const r of [0, 1]) for (let k = 0; k < 4; k++) f32[at++] = a(r, I) * a(k, I);
          f32[at++] = a(2, I) * a(2, I);
          f32[at++] = a(2, I) * a(3, I);
          f32[at++] = a(3, I) * a(3, I);
          f32[at++] = 0;
        } else {
          for (let r = 0; r < 4; r++) for (let k = 0; k < 4; k++) f32[at++] = a(r, I) * a(k, J);
        }
      }
    }
    f32.set(b, L.b / 4);
    f32.set(X, L.x / 4);
    runAll();
  };
  const outView = (): Float32Array => new Float32Array(memory.buffer, L.out, N * D * D);
  const kernel = (A: Float32Array, b: Float32Array, X: Float32Array): Float32Array => {
    runInPlace(A, b, X);
    return outView().slice();
  };
  return Object.assign(kernel, { runInPlace, outView });
}

/** A worker of a threaded kernel: instantiates the module on the shared memory, then runs chunks per generation. */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, wBase, chunk, N, ctrl } = workerData;
const hessians = new WebAssembly.Instance(module, { env: { memory } }).exports.hessians;
const c = new Int32Array(memory.buffer, ctrl, 4);
Atomics.add(c, 3, 1);
Atomics.notify(c, 3);
let generation = 0;
for (;;) {
  Atomics.wait(c, 0, generation);
  generation = Atomics.load(c, 0);
  for (let k; (k = Atomics.add(c, 1, 1)) * chunk < N; ) hessians(k * chunk, Math.min(N, (k + 1) * chunk), wBase);
  Atomics.add(c, 2, 1);
  Atomics.notify(c, 2);
}
`;

const kernels = new Map<string, HandWasmKernel>();

/** All N Hessians of the workload, computed by the hand-written kernel (compiled once per size). */
export function handWasmHessians(w: Workload): Float32Array {
  const { N, D, H } = w.size;
  const key = `${N},${D},${H}`;
  let kernel = kernels.get(key);
  if (!kernel) kernels.set(key, (kernel = handWasmKernel(N, D, H)));
  return kernel(w.A, w.b, w.X);
}

export const handWasm: Implementation = {
  name: "hand-wasm",
  method: "hand-written wasm SIMD kernel (f32x4; blocks I<=J of sum_h w[n,h] P[h] with P = outer products of A's rows, mirrored in registers; rational tanh), one thread",
  async setup(wl: Workload) {
    const t0 = performance.now();
    const firstOutput = handWasmHessians(wl);
    return { run: () => handWasmHessians(wl), firstCallMs: performance.now() - t0, firstOutput };
  },
};
