/**
 * Hand-written JavaScript loop of the closed form
 *
 *     H(x) = A^T diag(w) A,   w = -2 t (1 - t^2),   t = tanh(A x + b)
 *
 * Straightforward code, as a competent JS developer would write it: per
 * example compute t and w (in doubles), then H[i][j] = sum_h A[h][i] w[h]
 * A[h][j] for j >= i, mirrored into the lower half. This is also the
 * reference every other implementation is checked against.
 */
import type { Implementation } from "../types.js";
import type { Workload } from "../workload.js";
import { timeOnce } from "../types.js";

/** All N Hessians [N, D, D] of sum(tanh(A x + b)) for the rows x of X [N, D]; A is [H, D]. */
type HessiansFn = (A: Float32Array, b: Float32Array, X: Float32Array, N: number, D: number, H: number) => Float32Array;

/** w[h] = -2 t (1 - t^2) with t = tanh(A x + b) for example n (the second derivative of tanh). */
function curvatureWeights(A: Float32Array, b: Float32Array, X: Float32Array, n: number, D: number, H: number, w: Float64Array): void {
  const xo = n * D;
  for (let h = 0; h < H; h++) {
    const ao = h * D;
    let z = b[h];
    for (let d = 0; d < D; d++) z += A[ao + d] * X[xo + d];
    const t = Math.tanh(z);
    w[h] = -2 * t * (1 - t * t);
  }
}

export const handHessians: HessiansFn = (A, b, X, N, D, H) => {
  const out = new Float32Array(N * D * D);
  const w = new Float64Array(H);
  for (let n = 0; n < N; n++) {
    curvatureWeights(A, b, X, n, D, H, w);
    const o = n * D * D;
    for (let i = 0; i < D; i++) {
      for (let j = i; j < D; j++) {
        let s = 0;
        for (let h = 0; h < H; h++) s += A[h * D + i] * w[h] * A[h * D + j];
        out[o + i * D + j] = s;
        out[o + j * D + i] = s;
      }
    }
  }
  return out;
};

/**
 * The same closed form, tuned by hand: A transposed once into a float64 [D, H] array so that
 * the inner loop over h is contiguous, and A[h][i] * w[h] hoisted out of the loop over j.
 * A second hand-written baseline: what a developer who profiles would write.
 */
export const tunedHandHessians: HessiansFn = (A, b, X, N, D, H) => {
  const out = new Float32Array(N * D * D);
  const At = new Float64Array(D * H);
  for (let h = 0; h < H; h++) for (let d = 0; d < D; d++) At[d * H + h] = A[h * D + d];
  const w = new Float64Array(H);
  const scaledRow = new Float64Array(H);
  for (let n = 0; n < N; n++) {
    curvatureWeights(A, b, X, n, D, H, w);
    const o = n * D * D;
    for (let i = 0; i < D; i++) {
      const io = i * H;
      for (let h = 0; h < H; h++) scaledRow[h] = At[io + h] * w[h];
      for (let j = i; j < D; j++) {
        const jo = j * H;
        let s = 0;
        for (let h = 0; h < H; h++) s += scaledRow[h] * At[jo + h];
        out[o + i * D + j] = s;
        out[o + j * D + i] = s;
      }
    }
  }
  return out;
};

function handImplementation(name: string, method: string, hessians: HessiansFn): Implementation {
  return {
    name,
    method,
    async setup(wl: Workload) {
      const { A, b, X } = wl;
      const { N, D, H } = wl.size;
      const run = () => hessians(A, b, X, N, D, H);
      const [firstOutput, firstCallMs] = await timeOnce(run);
      return { run, firstCallMs, firstOutput };
    },
  };
}

export const handLoop = handImplementation(
  "hand-loop",
  "plain JS loops over the closed form A^T diag(-2t(1-t^2)) A (reference)",
  handHessians,
);

export const tunedHandLoop = handImplementation(
  "hand-loop-tuned",
  "JS loops over the same closed form, A transposed to float64 once, A[h][i] w[h] hoisted, symmetric half",
  tunedHandHessians,
);
