/**
 * The stated error bounds of the wasm backend's float32 ops whose results may differ from
 * the reference interpreter's (which rounds JavaScript's float64 Math result to float32):
 * the f32x4 approximations of tanh and exp (simd-math.ts) and the f64 helpers of math.ts
 * that float32 scalar code calls. Each bound is the most the backend's float32 result may lie
 * from the exact value, given that value and the op's inputs. Ops not listed compute what the
 * reference computes, up to float32 rounding (float64 ops call Math itself). The tests hold
 * the backend to these bounds (test/wasm-math.test.ts, test/wasm.test.ts), and the random-
 * program tests allow for them through each program's sensitivity (`approximationErrorBound`
 * of src/testing).
 */

/**
 * The spacing of `dtype` values at |v|: the size of one unit in the last place (float32:
 * 2^-149 below the normal range; float64: 2^-1074).
 * @example
 * ulp(1, 'float32');   // 2 ** -23
 * ulp(0.75, 'float32'); // 2 ** -24
 */
export function ulp(v: number, dtype: 'float32' | 'float64' = 'float32'): number {
  const [bits, minNormal, tiny] = dtype === 'float32' ? [23, -126, 2 ** -149] : [52, -1022, 2 ** -1074];
  const a = Math.abs(v);
  if (!Number.isFinite(a)) return Infinity;
  if (a < 2 ** minNormal) return tiny;
  let e = Math.floor(Math.log2(a));
  // log2 of a value just below a power of two may round up to it.
  if (2 ** e > a) e--;
  return 2 ** (e - bits);
}

/** The spacing of float32 values at |v| (2^-149 below the normal range). */
export const ulp32 = (v: number): number => ulp(v, 'float32');

/** The most a result may lie from the exact value `exact`, given the op's inputs. */
export type OpErrorBound = (exact: number, inputs: readonly number[]) => number;

/** A helper of math.ts: f64 within `relative` before rounding, then rounded to float32. */
const rounded = (relative: number, absolute = 0): OpErrorBound => (v) => 0.5 * ulp32(v) + relative * Math.abs(v) + absolute;

/**
 * The float32 bounds, by op. tanh and exp: the f32x4 forms (the scalar and no-SIMD forms are
 * within them); the rest: the helpers' bounds before rounding (README.md's table), plus half
 * an ulp.
 */
export const WASM_FLOAT32_ERROR_BOUNDS: Readonly<Record<string, OpErrorBound>> = {
  tanh: (t) => (Math.abs(t) >= 0.5 ? 2 : 4.5) * ulp32(t),
  exp: (v) => 2 * ulp32(v),
  expm1: rounded(1e-10),
  log: rounded(1e-10),
  log1p: rounded(1e-10),
  sin: rounded(1e-10, 1e-15),
  cos: rounded(1e-10, 1e-15),
  // pow32 takes positive finite bases and finite exponents; the rest calls Math.pow itself.
  pow: (v, [a, b]) => 0.5 * ulp32(v) + (a > 0 && Number.isFinite(a) && Number.isFinite(b) ? 1e-10 * Math.max(1, Math.abs(b * Math.log(a))) * Math.abs(v) : 0),
};
