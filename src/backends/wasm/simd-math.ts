/**
 * Vectorized float32 approximations on f32x4 lanes, emitted inline (no calls): exp and tanh.
 * Bounds (against the exact value; ulps of the float32 result): exp 2 ulps, tanh 2 ulps where
 * |tanh x| >= 1/2 and 4.5 below; stated in accuracy.ts, where the tests read them (see
 * README.md, test/wasm-math.test.ts).
 */
import { Simd, type Code } from './encoder.js';

/** Pushes a v128 with the same float32 in every lane. */
export function f32x4Const(c: Code, v: number): void {
  c.simd(Simd.v128_const);
  for (let i = 0; i < 4; i++) c.f32(v);
}

/**
 * |x| of the f32x4 on the stack: its sign bits cleared by a v128.and with a constant. V8 emits
 * f32x4.abs (and f32x4.neg) as three x64 instructions that build the mask each time; a
 * constant is one register or one reload. The same bits.
 */
export function absX4(c: Code): void {
  i32x4Const(c, 0x7fffffff);
  c.simd(Simd.v128_and);
}

/** -x of the f32x4 on the stack: its sign bits flipped by a v128.xor with -0 (as absX4; the same bits as f32x4.neg). */
export function negX4(c: Code): void {
  f32x4Const(c, -0);
  c.simd(Simd.v128_xor);
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
 * 2^f - 1 = f g(f) for |f| <= 1/2: g a degree-5 fit (Chebyshev nodes, float32 coefficients)
 * of (2^f - 1)/f, 2.2e-8 relative error in 2^f - 1 (about 0.4 ulp).
 */
const EXP2M1_G = [0.6931471824645996, 0.24022650718688965, 0.055503569543361664, 0.009618083015084267, 0.0013390863314270973, 0.00015453163359779865];
/** Past it float32 tanh is 1 (e^-19 vanishes beside 1 in float32), and 2^n stays a normal float32. */
const TANH_CLAMP = 9.5;
/** 1.5 2^23: adding it rounds a float32 below 2^22 in magnitude to an integer, held in the low mantissa bits. */
const ROUND_MAGIC = 12582912;
/** 127 less the bits of ROUND_MAGIC: added to the bits of magic + n, gives the biased exponent n + 127. */
const EXPONENT_FROM_MAGIC = 127 - 0x4b400000;

/**
 * tanh on lanes from one exponential: with z = 2|x| log2(e) = n + f (n an integer, |f| <=
 * 1/2), s = 2^n from exponent bits and p = 2^f - 1 by a polynomial, m = e^(2|x|) - 1 =
 * s p + (s - 1), and |tanh x| = m / (m + 2), then the sign of x. Near +-1 (large m) an error
 * in m hardly matters: what is left is the rounding of m + 2 and of the quotient, so the
 * result is within 1.75 ulps of tanh from |x| = 0.55 on and 1.6 from |x| = 2 (the rational
 * fit it replaced was 5.8 ulps off there, an error 1 - t^2 downstream amplifies thousands of
 * times); 4.2 ulps below |x| = 0.55, where m's own error counts (the rational: 4.9). n is
 * rounded by adding 1.5 2^23, whose low mantissa bits then hold it (no f32x4.nearest, nor an
 * i32x4.trunc_sat, which is eight instructions on x64). The loop it sits in is bound by the
 * latency of this chain, so g goes by Estrin's scheme and s multiplies f beside it: 30
 * instructions per four lanes with one division (the rational fit took 29), the same time
 * (bench/wasm-tanh.ts). x itself below |x| = 2^-12 (as float32 tanh is: x^3/3 is below half
 * an ulp of x); past |x| = 9.5, m + 2 rounds to m and the result to +-1 (float32 tanh is +-1
 * from 9.02 on); -0 stays -0, NaN stays NaN. Reads local `x`, pushes the result.
 */
export function tanhX4(c: Code, x: number, tmp: () => number): void {
  const f = tmp();
  const k = tmp();
  const f2 = tmp();
  const g = EXP2M1_G;
  // z = 2 min(|x|, 9.5) log2(e), kept in f; k = z + 1.5 2^23 holds n = round(z) in its low bits.
  c.get(x);
  absX4(c);
  f32x4Const(c, TANH_CLAMP);
  c.simd(Simd.f32x4_pmin);
  f32x4Const(c, 2 * Math.LOG2E);
  c.simd(Simd.f32x4_mul).tee(f);
  f32x4Const(c, ROUND_MAGIC);
  c.simd(Simd.f32x4_add).set(k);
  // f = z - n, n = k - 1.5 2^23 (both exact).
  c.get(f).get(k);
  f32x4Const(c, ROUND_MAGIC);
  c.simd(Simd.f32x4_sub).simd(Simd.f32x4_sub).tee(f);
  c.get(f).simd(Simd.f32x4_mul).set(f2);
  // s = 2^n = (bits of k + 127 - bits of 1.5 2^23) << 23, kept in k.
  c.get(k);
  i32x4Const(c, EXPONENT_FROM_MAGIC);
  c.simd(Simd.i32x4_add).i32Const(23).simd(Simd.i32x4_shl).set(k);
  // g(f) by Estrin's scheme, (g0 + g1 f) + f^2 ((g2 + g3 f) + f^2 (g4 + g5 f)): six steps
  // deep where Horner takes ten, and the loop is bound by this chain's latency.
  for (let i = 0; i < 6; i += 2) {
    c.get(f);
    f32x4Const(c, g[i + 1]);
    c.simd(Simd.f32x4_mul);
    f32x4Const(c, g[i]);
    c.simd(Simd.f32x4_add);
  }
  c.get(f2).simd(Simd.f32x4_mul).simd(Simd.f32x4_add).get(f2).simd(Simd.f32x4_mul).simd(Simd.f32x4_add);
  // m = (s f) g + (s - 1), kept in f; m / (m + 2) (m + 2 from the rounded m: the quotient's
  // error is then that of the rounded m + 2 alone, whatever m's), with the sign bit of x.
  c.get(k).get(f).simd(Simd.f32x4_mul).simd(Simd.f32x4_mul).get(k);
  f32x4Const(c, 1);
  c.simd(Simd.f32x4_sub).simd(Simd.f32x4_add).tee(f).get(f);
  f32x4Const(c, 2);
  c.simd(Simd.f32x4_add).simd(Simd.f32x4_div);
  c.get(x);
  f32x4Const(c, -0);
  c.simd(Simd.v128_and).simd(Simd.v128_or).set(f);
  // |x| < 2^-12: x itself, as float32 tanh is there (x^3/3 is below half an ulp of x): the
  // reference gives x - tan(tanh(x)) = 0 for a tiny x (a random program's counterexample,
  // seed 60591493).
  c.get(x).get(f).get(x);
  absX4(c);
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
