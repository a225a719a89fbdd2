/**
 * Vectorized float32 approximations on f32x4 lanes, emitted inline (no calls): exp and tanh.
 * Bounds (relative, against Math): exp 1e-6 where the result is a normal float32 (subnormal
 * results within 1e-6 of the smallest normal, absolutely), tanh 1e-6 everywhere (see README.md
 * and test/wasm.test.ts).
 */
import { Simd, type Code } from './encoder.js';

/** Pushes a v128 with the same float32 in every lane. */
export function f32x4Const(c: Code, v: number): void {
  c.simd(Simd.v128_const);
  for (let i = 0; i < 4; i++) c.f32(v);
}

function i32x4Const(c: Code, v: number): void {
  c.simd(Simd.v128_const);
  for (let i = 0; i < 4; i++) c.byte(v).byte(v >> 8).byte(v >> 16).byte(v >> 24);
}

/** Horner on lanes: pushes sum coeffs[i] * x^i (x read from local `x`). */
function polyX4(c: Code, x: number, coeffs: readonly number[]): void {
  f32x4Const(c, coeffs[coeffs.length - 1]);
  for (let i = coeffs.length - 2; i >= 0; i--) {
    c.get(x).simd(Simd.f32x4_mul);
    f32x4Const(c, coeffs[i]);
    c.simd(Simd.f32x4_add);
  }
}

const INV_FACT = [1, 1, 1 / 2, 1 / 6, 1 / 24, 1 / 120, 1 / 720, 1 / 5040, 1 / 40320];
/** ln 2 split so that n * LN2_HI is exact in float32 for |n| < 2^8. */
const LN2_HI = 0.693359375;
const LN2_LO = -2.12194440e-4;

/**
 * e^x on lanes, for x already within [-104, 89] (callers clamp: beyond, e^x is 0 or Infinity in float32): x = n ln2 + r, |r| <= ln2/2,
 * e^r by its Taylor series through r^8/8! (remainder below 2e-9), times 2^n from exponent bits.
 * `tmp()` gives a fresh v128 local. Reads local `x`, pushes the result.
 */
export function expX4(c: Code, x: number, tmp: () => number): void {
  const n = tmp();
  const r = tmp();
  c.get(x);
  f32x4Const(c, Math.LOG2E);
  c.simd(Simd.f32x4_mul).simd(Simd.f32x4_nearest).set(n);
  c.get(x).get(n);
  f32x4Const(c, LN2_HI);
  c.simd(Simd.f32x4_mul).simd(Simd.f32x4_sub).get(n);
  f32x4Const(c, LN2_LO);
  c.simd(Simd.f32x4_mul).simd(Simd.f32x4_sub).set(r);
  polyX4(c, r, INV_FACT);
  // 2^n as 2^h 2^(n-h), h = n >> 1, each (e + 127) << 23 as the bits of a float32: both
  // halves stay in range for n in [-252, 256], so results near the top of the float32 range
  // stay finite and subnormal results underflow gradually.
  const ni = tmp();
  const h = tmp();
  c.get(n).simd(Simd.i32x4_trunc_sat_f32x4_s).set(ni);
  c.get(ni).i32Const(1).simd(Simd.i32x4_shr_s).set(h);
  c.get(h);
  i32x4Const(c, 127);
  c.simd(Simd.i32x4_add).i32Const(23).simd(Simd.i32x4_shl).simd(Simd.f32x4_mul);
  c.get(ni).get(h).simd(Simd.i32x4_sub);
  i32x4Const(c, 127);
  c.simd(Simd.i32x4_add).i32Const(23).simd(Simd.i32x4_shl).simd(Simd.f32x4_mul);
}

/** Taylor coefficients of tanh x / x in x^2, through x^14 (for |x| < 0.55: remainder below 6e-8). */
const TANH_SMALL = [1, -1 / 3, 2 / 15, -17 / 315, 62 / 2835, -1382 / 155925, 21844 / 6081075, -929569 / 638512875];

/**
 * tanh on lanes: an odd Taylor polynomial below |x| = 0.55, 1 - 2 / (e^(2|x|) + 1) above
 * (|x| clamped at 10: from 9.02 on float32 tanh is 1, and 1 - 2 / (e^20 + 1) rounds to 1 in
 * float32, where a clamp at 9 left 1 - 2^-24), the sign of x put back last. NaN stays NaN.
 * Reads local `x`, pushes the result.
 */
export function tanhX4(c: Code, x: number, tmp: () => number): void {
  const a = tmp();
  const z = tmp();
  const y = tmp();
  c.get(x).simd(Simd.f32x4_abs);
  f32x4Const(c, 10);
  c.simd(Simd.f32x4_min).set(a);
  // Small: a * P(a^2).
  c.get(a).get(a).simd(Simd.f32x4_mul).set(z);
  polyX4(c, z, TANH_SMALL);
  c.get(a).simd(Simd.f32x4_mul);
  // Large: 1 - 2 / (e^(2a) + 1).
  f32x4Const(c, 1);
  f32x4Const(c, 2);
  c.get(a).get(a).simd(Simd.f32x4_add).set(y);
  expX4(c, y, tmp);
  f32x4Const(c, 1);
  c.simd(Simd.f32x4_add).simd(Simd.f32x4_div).simd(Simd.f32x4_sub);
  // bitselect(small, large, a < 0.55)
  c.get(a);
  f32x4Const(c, 0.55);
  c.simd(Simd.f32x4_lt).simd(Simd.v128_bitselect);
  // | sign bit of x
  c.get(x);
  f32x4Const(c, -0);
  c.simd(Simd.v128_and).simd(Simd.v128_or);
}

/** Clamps the lanes on the stack to [-104, 89], where expX4 is valid (NaN stays NaN). */
export function clampExpArgX4(c: Code): void {
  f32x4Const(c, -104);
  c.simd(Simd.f32x4_max);
  f32x4Const(c, 89);
  c.simd(Simd.f32x4_min);
}
