/**
 * Headline workload: batched Hessians of
 *
 *     f(x) = sum(tanh(A x + b)),   A: [H, D], b: [H], x: [D]
 *
 * for a batch X: [N, D]. The exact Hessian is
 *
 *     H(x) = A^T diag(-2 t (1 - t^2)) A,   t = tanh(A x + b)
 *
 * Every implementation returns a row-major Float32Array of shape [N, D, D].
 * This module owns the deterministic data, the sizes and the checker; it has
 * no dependency on any implementation.
 */

export interface Size {
  /** Short label used in the table and results.json ("small" / "large"). */
  name: string;
  D: number;
  H: number;
  N: number;
}

/** The two headline sizes. */
export const SIZES: readonly Size[] = [
  { name: "small", D: 8, H: 32, N: 4096 },
  { name: "large", D: 32, H: 64, N: 4096 },
];

/** Smoke-run sizes (BENCH_QUICK=1): same D/H, much smaller N. */
export const QUICK_SIZES: readonly Size[] = SIZES.map((s) => ({ ...s, N: 256 }));

/** A workload instance: the size plus its data (all float32, row-major). */
export interface Workload {
  size: Size;
  /** [H, D] */
  A: Float32Array<ArrayBuffer>;
  /** [H] */
  b: Float32Array<ArrayBuffer>;
  /** [N, D] */
  X: Float32Array<ArrayBuffer>;
}

/**
 * mulberry32: a small, fast, well-known 32-bit seeded PRNG.
 * Returns floats uniform in [0, 1).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Deterministic data for a size. The seed depends only on (D, H, N), so
 * every run of the benchmark (and every implementation) sees identical data.
 *
 * Scales are chosen so that A x + b has O(0.5) spread: tanh is in its
 * curved regime (non-trivial Hessians) and never saturates.
 */
export function makeWorkload(size: Size, seed = 0x5eed): Workload {
  const { D, H, N } = size;
  const rand = mulberry32((seed ^ Math.imul(D, 0x9e3779b1) ^ Math.imul(H, 0x85ebca6b) ^ N) >>> 0);
  const uniform = (lo: number, hi: number) => lo + (hi - lo) * rand();
  const scale = 1 / Math.sqrt(D);
  const A = new Float32Array(H * D);
  for (let i = 0; i < A.length; i++) A[i] = uniform(-1, 1) * scale;
  const b = new Float32Array(H);
  for (let i = 0; i < b.length; i++) b[i] = uniform(-0.5, 0.5);
  const X = new Float32Array(N * D);
  for (let i = 0; i < X.length; i++) X[i] = uniform(-1, 1);
  return { size, A, b, X };
}

/** Max |a[i] - b[i]|; Infinity on length mismatch, NaN anywhere -> Infinity. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/** Max |a[i]|. */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/**
 * Float64 closed-form Hessians for the first `count` examples: an independent
 * sanity check of the reference (hand loop) itself.
 */
export function referenceHessians64(w: Workload, count: number): Float64Array {
  const { D, H } = w.size;
  const { A, b, X } = w;
  const out = new Float64Array(count * D * D);
  const wt = new Float64Array(H);
  for (let n = 0; n < count; n++) {
    for (let h = 0; h < H; h++) {
      let z = b[h];
      for (let d = 0; d < D; d++) z += A[h * D + d] * X[n * D + d];
      const t = Math.tanh(z);
      wt[h] = -2 * t * (1 - t * t);
    }
    for (let i = 0; i < D; i++)
      for (let j = 0; j < D; j++) {
        let s = 0;
        for (let h = 0; h < H; h++) s += A[h * D + i] * wt[h] * A[h * D + j];
        out[(n * D + i) * D + j] = s;
      }
  }
  return out;
}

export interface CheckResult {
  ok: boolean;
  maxAbsDiff: number;
  tol: number;
  message: string;
}

/**
 * Compare an implementation's [N, D, D] output with the reference.
 * Tolerance: float32 arithmetic with different summation orders and tanh
 * implementations; 1e-4 relative to the largest reference entry (floored at
 * 1e-4 absolute). Typical agreement is ~1e-7..1e-6.
 */
export function check(
  label: string,
  got: ArrayLike<number>,
  ref: ArrayLike<number>,
  relTol = 1e-4,
): CheckResult {
  const tol = relTol * Math.max(1, maxAbs(ref));
  if (got.length !== ref.length) {
    return {
      ok: false,
      maxAbsDiff: Infinity,
      tol,
      message: `MISMATCH ${label}: output length ${got.length} != expected ${ref.length}`,
    };
  }
  const d = maxAbsDiff(got, ref);
  const ok = d <= tol;
  return {
    ok,
    maxAbsDiff: d,
    tol,
    message: ok
      ? `ok ${label}: maxAbsDiff=${d.toExponential(2)} (tol ${tol.toExponential(1)})`
      : `MISMATCH ${label}: maxAbsDiff=${d.toExponential(3)} > tol ${tol.toExponential(1)}; result NOT valid`,
  };
}
