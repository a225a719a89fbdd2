/**
 * The batched-Hessian data and check shared by the GPU machine's functs benches and the
 * yardstick: the LCG recipe of peers.py (s = s*1664525 + 1013904223 mod 2^32, s/2^32 - 0.5),
 * and the largest error of a result against a float64 loop on a sample of about 1,000 inputs.
 */

/** A, b and X of f(x) = sum(tanh(A x + b)) for D, H, N, in the order peers.py draws them. */
export function hessianData(D: number, H: number, N: number): { A: Float32Array; b: Float32Array; X: Float32Array } {
  let s = 7;
  const r = () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296 - 0.5;
  };
  const A = Float32Array.from({ length: H * D }, () => (r() * 2) / Math.sqrt(D));
  const b = Float32Array.from({ length: H }, () => r());
  const X = Float32Array.from({ length: N * D }, () => r() * 2);
  return { A, b, X };
}

/** The largest absolute error of `got` ([N, D, D]) against float64, and the largest |entry|. */
export function hessianError(A: Float32Array, b: Float32Array, X: Float32Array, got: Float32Array, D: number, H: number, N: number): { maxerr: number; scale: number } {
  let maxerr = 0;
  let scale = 0;
  for (let n = 0; n < N; n += Math.max(1, Math.floor(N / 997))) {
    const s = new Float64Array(H);
    for (let h = 0; h < H; h++) {
      let z = b[h];
      for (let d = 0; d < D; d++) z += A[h * D + d] * X[n * D + d];
      const t = Math.tanh(z);
      s[h] = -2 * t * (1 - t * t);
    }
    for (let i = 0; i < D; i++) {
      for (let j = 0; j < D; j++) {
        let acc = 0;
        for (let h = 0; h < H; h++) acc += A[h * D + i] * s[h] * A[h * D + j];
        maxerr = Math.max(maxerr, Math.abs(acc - got[n * D * D + i * D + j]));
        scale = Math.max(scale, Math.abs(acc));
      }
    }
  }
  return { maxerr, scale };
}
