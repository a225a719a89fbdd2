/**
 * A hand-written WebAssembly SIMD kernel of the headline workload, emitted with functs' wasm
 * emitter (src/backends/wasm/encoder.ts) and specialized to (N, D, H): the ceiling the wasm
 * backend is measured against. The algebra a hand-writer uses:
 *
 *     H_n = sum_h w_n[h] P[h],   P[h] = A[h]^T A[h] (outer products, computed once per A),
 *     w_n[h] = -2 t (1 - t^2),   t = tanh(A x_n + b)
 *
 * so the update is a matrix product W [N, H] x P [H, D*D]. Per block of 4 examples: w for 4 h
 * at a time in f32x4 lanes (A transposed so 4 consecutive h are contiguous; tanh by the
 * backend's vectorized approximation), then for each 16-float chunk of the output, 16 f32x4
 * accumulators (4 examples x 4 vectors) over h: 4 loads of P and 4 splats of w feed 16
 * multiply-adds. One thread; no fused multiply-add (Node 20 has no relaxed SIMD by default).
 * Requires N, H and D divisible by 4. Checked against the float64 loop by bench/wasm-compare.ts.
 */
import { Code, ModuleBuilder, Op, Simd, type ValType } from "../../src/backends/wasm/encoder.js";
import { f32x4Const, tanhX4 } from "../../src/backends/wasm/simd-math.js";
import type { Implementation } from "../types.js";
import type { Workload } from "../workload.js";

interface Layout {
  aT: number;
  b: number;
  x: number;
  p: number;
  w: number;
  out: number;
  end: number;
}

function layoutFor(N: number, D: number, H: number): Layout {
  const aT = 0;
  const b = aT + D * H * 4;
  const x = b + H * 4;
  const p = x + N * D * 4;
  const w = p + H * D * D * 4;
  const out = w + 4 * H * 4;
  return { aT, b, x, p, w, out, end: out + N * D * D * 4 };
}

/** The module for one size: `hessians()` reads aT, b, x, p at their fixed addresses and writes out. */
function emitHessianModule(N: number, D: number, H: number, L: Layout): Uint8Array<ArrayBuffer> {
  const builder = new ModuleBuilder();
  const fn = builder.declare({ params: [], results: [] }, "hessians");
  const locals: ValType[] = [];
  const local = (t: ValType): number => (locals.push(t), locals.length - 1);
  const c = new Code();
  const [n, e, hv, d, ch, h, xo] = [0, 1, 2, 3, 4, 5, 6].map(() => local("i32"));
  const z = local("v128");
  const t = local("v128");
  const acc = Array.from({ length: 16 }, () => local("v128"));
  const pv = Array.from({ length: 4 }, () => local("v128"));
  const ws = local("v128");
  const tmp = (): number => local("v128");
  /** A counted loop: index from 0 while < extent, stepping by `step`. */
  const loop = (i: number, extent: number, step: number, body: () => void): void => {
    c.i32Const(0).set(i).open(Op.loop);
    body();
    c.get(i).i32Const(step).op(Op.i32_add).tee(i).i32Const(extent).op(Op.i32_lt_s).op(Op.br_if).u32(0).op(Op.end);
  };
  loop(n, N, 4, () => {
    // w for the 4 examples n..n+3, 4 h at a time.
    loop(e, 4, 1, () => {
      c.get(n).get(e).op(Op.i32_add).i32Const(D * 4).op(Op.i32_mul).set(xo);
      loop(hv, H * 4, 16, () => {
        c.get(hv).simdMem(Simd.v128_load, 4, L.b).set(z);
        loop(d, D, 1, () => {
          c.get(z).get(d).i32Const(H * 4).op(Op.i32_mul).get(hv).op(Op.i32_add).simdMem(Simd.v128_load, 4, L.aT);
          c.get(xo).get(d).i32Const(4).op(Op.i32_mul).op(Op.i32_add).simdMem(Simd.v128_load32_splat, 2, L.x);
          c.simd(Simd.f32x4_mul).simd(Simd.f32x4_add).set(z);
        });
        tanhX4(c, z, tmp);
        c.set(t);
        // w = -2 t (1 - t^2)
        c.get(e).i32Const(H * 4).op(Op.i32_mul).get(hv).op(Op.i32_add);
        f32x4Const(c, -2);
        c.get(t).simd(Simd.f32x4_mul);
        f32x4Const(c, 1);
        c.get(t).get(t).simd(Simd.f32x4_mul).simd(Simd.f32x4_sub).simd(Simd.f32x4_mul);
        c.simdMem(Simd.v128_store, 4, L.w);
      });
    });
    // H_n..n+3 = W P, 16 floats of the output at a time.
    loop(ch, D * D * 4, 64, () => {
      for (const a of acc) {
        f32x4Const(c, 0);
        c.set(a);
      }
      loop(h, H, 1, () => {
        for (let k = 0; k < 4; k++) c.get(h).i32Const(D * D * 4).op(Op.i32_mul).get(ch).op(Op.i32_add).simdMem(Simd.v128_load, 4, L.p + 16 * k).set(pv[k]);
        for (let ex = 0; ex < 4; ex++) {
          c.get(h).i32Const(4).op(Op.i32_mul).simdMem(Simd.v128_load32_splat, 2, L.w + ex * H * 4).set(ws);
          for (let k = 0; k < 4; k++) c.get(acc[ex * 4 + k]).get(ws).get(pv[k]).simd(Simd.f32x4_mul).simd(Simd.f32x4_add).set(acc[ex * 4 + k]);
        }
      });
      for (let ex = 0; ex < 4; ex++) {
        for (let k = 0; k < 4; k++) {
          c.get(n).i32Const(ex).op(Op.i32_add).i32Const(D * D * 4).op(Op.i32_mul).get(ch).op(Op.i32_add).get(acc[ex * 4 + k]).simdMem(Simd.v128_store, 4, L.out + 16 * k);
        }
      }
    });
  });
  fn.define(locals, c);
  return builder.encode();
}

/** A hand-written wasm SIMD Hessian kernel for one workload size. */
export function handWasmKernel(N: number, D: number, H: number): (A: Float32Array, b: Float32Array, X: Float32Array) => Float32Array {
  if (N % 4 || D % 4 || H % 4) throw new Error(`hand-wasm: N, D and H must be multiples of 4 (got ${N}, ${D}, ${H})`);
  const L = layoutFor(N, D, H);
  const memory = new WebAssembly.Memory({ initial: Math.ceil(L.end / 65536) });
  const instance = new WebAssembly.Instance(new WebAssembly.Module(emitHessianModule(N, D, H, L)), { env: { memory } });
  const hessians = instance.exports.hessians as () => void;
  return (A, b, X) => {
    const f32 = new Float32Array(memory.buffer);
    // A^T and the outer products of A's rows: once per A (cheap next to the batch).
    for (let hh = 0; hh < H; hh++) {
      for (let i = 0; i < D; i++) {
        f32[L.aT / 4 + i * H + hh] = A[hh * D + i];
        for (let j = 0; j < D; j++) f32[L.p / 4 + hh * D * D + i * D + j] = A[hh * D + i] * A[hh * D + j];
      }
    }
    f32.set(b, L.b / 4);
    f32.set(X, L.x / 4);
    hessians();
    return f32.slice(L.out / 4, L.out / 4 + N * D * D);
  };
}

const kernels = new Map<string, ReturnType<typeof handWasmKernel>>();

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
  method: "hand-written wasm SIMD kernel (f32x4, W [N,H] x P [H,D*D] with P = outer products of A's rows, vectorized tanh), one thread",
  async setup(wl: Workload) {
    const t0 = performance.now();
    const firstOutput = handWasmHessians(wl);
    return { run: () => handWasmHessians(wl), firstCallMs: performance.now() - t0, firstOutput };
  },
};
