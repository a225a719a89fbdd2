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

/**
 * tanh x = x P(x^2) / Q(x^2), degrees 6 and 3 in x^2: the float32 rational approximation of
 * Eigen's ptanh (a public minimax fit), divided through by Q's constant term so that for tiny
 * x the result is x times a factor within 2e-7 of 1 (subnormals keep their relative accuracy).
 */
const TANH_Q0 = 4.89352518554385e-3;
const TANH_P = [4.89352455891786e-3, 6.37261928875436e-4, 1.48572235717979e-5, 5.12229709037114e-8, -8.60467152213735e-11, 2.00018790482477e-13, -2.76076847742355e-16].map((a) => a / TANH_Q0);
const TANH_Q = [4.89352518554385e-3, 2.26843463243900e-3, 1.18534705686654e-4, 1.19825839466702e-6].map((b) => b / TANH_Q0);
/** Where the rational function reaches 1 in float32 (beyond it, float32 tanh is 1 within 2^-24). */
const TANH_CLAMP = 7.90531110763549805;

/**
 * tanh on lanes: x clamped to +-7.9053 (pmin/pmax: one instruction each, and NaN passes
 * through), then x P(x^2) / Q(x^2): one division, about 20 instructions per four lanes (the
 * exp-based form it replaced took about 100: its NaN-safe min, nearest and exponent bits),
 * 4e-7 relative error measured on float32 inputs, tested at 1e-6; +-1 beyond |x| = 9 (about 6
 * more instructions) and x itself below |x| = 2^-12 (4 more). -0 stays -0, NaN stays NaN.
 * Reads local `x`, pushes the result.
 */
export function tanhX4(c: Code, x: number, tmp: () => number): void {
  const xc = tmp();
  const x2 = tmp();
  c.get(x);
  f32x4Const(c, TANH_CLAMP);
  c.simd(Simd.f32x4_pmin);
  f32x4Const(c, -TANH_CLAMP);
  c.simd(Simd.f32x4_pmax).set(xc);
  c.get(xc).get(xc).simd(Simd.f32x4_mul).set(x2);
  polyX4(c, x2, TANH_P);
  c.get(xc).simd(Simd.f32x4_mul);
  polyX4(c, x2, TANH_Q);
  c.simd(Simd.f32x4_div).set(x2);
  // |x|, for both selects below (xc is free once the quotient is taken).
  c.get(x).simd(Simd.f32x4_abs).set(xc);
  // |x| > 9: +-1, as float32 tanh is from 9.02 on (the rational function stops at 1 - 2e-7,
  // and 1 - t^2 downstream must be 0 there, as the reference's is).
  c.get(x);
  f32x4Const(c, -0);
  c.simd(Simd.v128_and);
  f32x4Const(c, 1);
  c.simd(Simd.v128_or);
  c.get(x2);
  c.get(xc);
  f32x4Const(c, 9);
  c.simd(Simd.f32x4_gt).simd(Simd.v128_bitselect).set(x2);
  // |x| < 2^-12: x itself, as float32 tanh is there (x^3/3 is below half an ulp of x). The
  // fit's linear term is 1 - 1.3e-7, so without this x - tan(tanh(x)) of a tiny x came out
  // -1.6e-7 x where the reference gives 0 (a random program's counterexample, seed 60591493).
  c.get(x).get(x2).get(xc);
  f32x4Const(c, 2 ** -12);
  c.simd(Simd.f32x4_lt).simd(Simd.v128_bitselect);
}

/**
 * Clamps the lanes on the stack to [-104, 89], where expX4 is valid (NaN stays NaN): pmin and
 * pmax with the lanes first, one minps/maxps each (f32x4.min/max's NaN and -0 rules cost several
 * instructions each: the clamp took 40% of exp's time); a NaN lane compares false and passes.
 */
export function clampExpArgX4(c: Code): void {
  f32x4Const(c, 89);
  c.simd(Simd.f32x4_pmin);
  f32x4Const(c, -104);
  c.simd(Simd.f32x4_pmax);
}
