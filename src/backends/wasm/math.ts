/**
 * The functions WebAssembly has no instruction for, written in wasm: JavaScript's ToInt32, and
 * exp, expm1, log, log1p, sin, cos, tanh and pow for float32 values. They compute in float64
 * with truncated series whose remainders are bounded analytically (see README.md), so their
 * relative error is below 1e-10 before the result is rounded to float32 — far inside the 1e-6
 * the float32 tier promises. Inputs outside a series' reduced range (NaN, ±Infinity, huge
 * arguments of sin/cos, pow of a non-positive base) either have an exact answer here or go
 * to the imported `Math` function. float64 ops call the imported `Math` functions (exact
 * agreement with the interpreter).
 */
import { Code, Op, type FuncType, type ValType } from './encoder.js';

/** The `Math` functions a kernel module imports (module "m"). */
export const IMPORTED_MATH = ['exp', 'log', 'sin', 'cos', 'tanh', 'log1p', 'expm1', 'pow'] as const;
export type ImportedMath = (typeof IMPORTED_MATH)[number];

export const HELPERS = ['toInt32', 'exp32', 'expm1_32', 'log32', 'log1p32', 'sin32', 'cos32', 'tanh32', 'pow32'] as const;
export type Helper = (typeof HELPERS)[number];

/** How a helper body calls what it needs. */
export interface Callee {
  math(name: ImportedMath): number;
  helper(name: Helper): number;
}

interface HelperDef {
  readonly type: FuncType;
  readonly locals: readonly ValType[];
  readonly deps: readonly Helper[];
  readonly body: (c: Code, callee: Callee) => void;
}

const F64_1: FuncType = { params: ['f64'], results: ['f64'] };

const LOG2E = Math.LOG2E;
/** ln 2 split so that k * LN2_HI is exact for |k| < 2^20 (fdlibm's constants). */
const LN2_HI = 6.93147180369123816490e-1;
const LN2_LO = 1.90821492927058770002e-10;
/** pi/2 split: the first 33 bits, and the rest (fdlibm's pio2_1 and pio2_1t). */
const PIO2_1 = 1.57079632673412561417e0;
const PIO2_1T = 6.07710050650619224932e-11;

/** 1/n! for n = 0..20. */
const INV_FACT: number[] = [1];
for (let n = 1; n <= 20; n++) INV_FACT.push(INV_FACT[n - 1] / n);

/** Horner: pushes sum coeffs[i] * x^i (x read from local `x`). */
function poly(c: Code, x: number, coeffs: readonly number[]): void {
  c.f64Const(coeffs[coeffs.length - 1]);
  for (let i = coeffs.length - 2; i >= 0; i--) c.get(x).op(Op.f64_mul).f64Const(coeffs[i]).op(Op.f64_add);
}

/** `if (cond on the stack) return <value pushed by then>`. */
function returnIf(c: Code, then: () => void): void {
  c.open(Op.if);
  then();
  c.op(Op.return).op(Op.end);
}

/** Taylor coefficients of e^r - 1 divided by r (1, 1/2, 1/6, ...), through r^10 / 11!. */
const EXPM1_OVER_R = INV_FACT.slice(1, 12);
/** 2 atanh(s) / s as a series in z = s^2: 2 (1 + z/3 + z^2/5 + ...), through z^7/15. */
const ATANH_SERIES = [1, 3, 5, 7, 9, 11, 13, 15].map((n) => 2 / n);
/** sin r / r and cos r as series in z = r^2, through r^16 / 17! and r^18 / 18!. */
const SIN_SERIES = [0, 1, 2, 3, 4, 5, 6, 7, 8].map((k) => (k % 2 ? -1 : 1) * INV_FACT[2 * k + 1]);
const COS_SERIES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((k) => (k % 2 ? -1 : 1) * INV_FACT[2 * k]);

/** 2 atanh(s) for |s| <= 0.25, from local s (z: a scratch local). */
function atanh2(c: Code, s: number, z: number): void {
  c.get(s).get(s).op(Op.f64_mul).set(z);
  poly(c, z, ATANH_SERIES);
  c.get(s).op(Op.f64_mul);
}

export const HELPER_DEFS: Record<Helper, HelperDef> = {
  /** JavaScript's ToInt32: truncation, then the value modulo 2^32; NaN and ±Infinity give 0. */
  toInt32: {
    type: { params: ['f64'], results: ['i32'] },
    locals: [],
    deps: [],
    body(c) {
      // NaN - NaN and Infinity - Infinity are NaN; a finite x gives 0.
      c.get(0).get(0).op(Op.f64_sub).f64Const(0).op(Op.f64_ne);
      returnIf(c, () => c.i32Const(0));
      c.get(0).op(Op.f64_trunc).set(0);
      // x - trunc(x / 2^32) * 2^32 is exact and lies in (-2^32, 2^32).
      c.get(0).get(0).f64Const(2 ** -32).op(Op.f64_mul).op(Op.f64_trunc).f64Const(2 ** 32).op(Op.f64_mul).op(Op.f64_sub);
      c.op(Op.i64_trunc_f64_s).op(Op.i32_wrap_i64);
    },
  },
  exp32: {
    type: F64_1,
    locals: ['f64', 'f64'],
    deps: [],
    body(c) {
      const [x, k, r] = [0, 1, 2];
      c.get(x).get(x).op(Op.f64_ne);
      returnIf(c, () => c.get(x));
      c.get(x).f64Const(709).op(Op.f64_gt);
      returnIf(c, () => c.f64Const(Infinity));
      // Below -708 the true value is under 3e-308: zero in float32.
      c.get(x).f64Const(-708).op(Op.f64_lt);
      returnIf(c, () => c.f64Const(0));
      c.get(x).f64Const(LOG2E).op(Op.f64_mul).op(Op.f64_nearest).set(k);
      c.get(x).get(k).f64Const(LN2_HI).op(Op.f64_mul).op(Op.f64_sub).get(k).f64Const(LN2_LO).op(Op.f64_mul).op(Op.f64_sub).set(r);
      // e^r = 1 + r (1 + r/2 + ...), |r| <= ln2/2.
      poly(c, r, EXPM1_OVER_R);
      c.get(r).op(Op.f64_mul).f64Const(1).op(Op.f64_add);
      // times 2^k, built from its exponent bits.
      c.get(k).op(Op.i64_trunc_f64_s).i64Const(1023n).op(Op.i64_add).i64Const(52n).op(Op.i64_shl).op(Op.f64_reinterpret_i64);
      c.op(Op.f64_mul);
    },
  },
  expm1_32: {
    type: F64_1,
    locals: [],
    deps: ['exp32'],
    body(c, callee) {
      const x = 0;
      c.get(x).op(Op.f64_abs).f64Const(0.35).op(Op.f64_lt);
      returnIf(c, () => {
        poly(c, x, EXPM1_OVER_R);
        c.get(x).op(Op.f64_mul);
      });
      // |x| >= 0.35: |e^x - 1| >= 0.29, so the subtraction loses under 3 bits of 52.
      c.get(x).call(callee.helper('exp32')).f64Const(1).op(Op.f64_sub);
    },
  },
  log32: {
    type: F64_1,
    locals: ['f64', 'i64', 'f64', 'f64', 'f64'],
    deps: [],
    body(c) {
      const [x, e, bits, m, s, z] = [0, 1, 2, 3, 4, 5];
      c.get(x).f64Const(0).op(Op.f64_eq);
      returnIf(c, () => c.f64Const(-Infinity));
      // Negative or NaN: NaN (x - x is NaN for NaN, and for a negative x we want NaN too).
      c.get(x).f64Const(0).op(Op.f64_gt).op(Op.i32_eqz);
      returnIf(c, () => c.f64Const(NaN));
      c.get(x).f64Const(Infinity).op(Op.f64_eq);
      returnIf(c, () => c.get(x));
      // Subnormals: scale into the normal range first.
      c.get(x).f64Const(2 ** -1022).op(Op.f64_lt);
      c.open(Op.if).get(x).f64Const(2 ** 54).op(Op.f64_mul).set(x).f64Const(-54).set(e).op(Op.end);
      c.get(x).op(Op.i64_reinterpret_f64).set(bits);
      c.get(e).get(bits).i64Const(52n).op(Op.i64_shr_u).op(Op.f64_convert_i64_s).f64Const(1023).op(Op.f64_sub).op(Op.f64_add).set(e);
      c.get(bits).i64Const(0x000fffffffffffffn).op(Op.i64_and).i64Const(0x3ff0000000000000n).op(Op.i64_or).op(Op.f64_reinterpret_i64).set(m);
      c.get(m).f64Const(Math.SQRT2).op(Op.f64_gt);
      c.open(Op.if).get(m).f64Const(0.5).op(Op.f64_mul).set(m).get(e).f64Const(1).op(Op.f64_add).set(e).op(Op.end);
      // log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.172.
      c.get(m).f64Const(1).op(Op.f64_sub).get(m).f64Const(1).op(Op.f64_add).op(Op.f64_div).set(s);
      c.get(e).f64Const(LN2_HI).op(Op.f64_mul);
      atanh2(c, s, z);
      c.get(e).f64Const(LN2_LO).op(Op.f64_mul).op(Op.f64_add);
      c.op(Op.f64_add);
    },
  },
  log1p32: {
    type: F64_1,
    locals: ['f64', 'f64'],
    deps: ['log32'],
    body(c, callee) {
      const [x, s, z] = [0, 1, 2];
      c.get(x).op(Op.f64_abs).f64Const(0.4).op(Op.f64_lt);
      returnIf(c, () => {
        // log(1 + x) = 2 atanh(x / (2 + x)), |s| <= 0.25.
        c.get(x).get(x).f64Const(2).op(Op.f64_add).op(Op.f64_div).set(s);
        atanh2(c, s, z);
      });
      // |x| >= 0.4: 1 + x is rounded by at most 1.1e-16, against |log(1 + x)| >= 0.33.
      c.get(x).f64Const(1).op(Op.f64_add).call(callee.helper('log32'));
    },
  },
  sin32: trig('sin'),
  cos32: trig('cos'),
  tanh32: {
    type: F64_1,
    locals: ['f64'],
    deps: ['expm1_32'],
    body(c, callee) {
      const [x, e] = [0, 1];
      // tanh(20) rounds to 1 in float64.
      c.get(x).op(Op.f64_abs).f64Const(20).op(Op.f64_gt);
      returnIf(c, () => c.f64Const(1).get(x).op(Op.f64_copysign));
      // tanh|x| = e / (e + 2), e = expm1(2|x|): no cancellation near 0.
      c.get(x).op(Op.f64_abs).f64Const(2).op(Op.f64_mul).call(callee.helper('expm1_32')).set(e);
      c.get(e).get(e).f64Const(2).op(Op.f64_add).op(Op.f64_div).get(x).op(Op.f64_copysign);
    },
  },
  pow32: {
    type: { params: ['f64', 'f64'], results: ['f64'] },
    locals: [],
    deps: ['exp32', 'log32'],
    body(c, callee) {
      const [a, b] = [0, 1];
      // A positive finite base and a finite exponent: e^(b log a). Everything else (negative
      // bases, zeros, infinities, NaN) follows Math.pow exactly.
      c.get(a).f64Const(0).op(Op.f64_gt).get(a).f64Const(Infinity).op(Op.f64_lt).op(Op.i32_and);
      c.get(b).op(Op.f64_abs).f64Const(Infinity).op(Op.f64_lt).op(Op.i32_and);
      c.openTyped(Op.if, 'f64');
      c.get(b).get(a).call(callee.helper('log32')).op(Op.f64_mul).call(callee.helper('exp32'));
      c.op(Op.else);
      c.get(a).get(b).call(callee.math('pow'));
      c.op(Op.end);
    },
  },
};

/** sin or cos: reduction by multiples of pi/2 (two-part constant), then the series. */
function trig(which: 'sin' | 'cos'): HelperDef {
  return {
    type: F64_1,
    locals: ['f64', 'f64', 'f64', 'i32'],
    deps: [],
    body(c, callee) {
      const [x, k, r, z, q] = [0, 1, 2, 3, 4];
      // Huge, infinite or NaN arguments: the imported function (|k| < 2^20 keeps k * PIO2_1 exact).
      c.get(x).op(Op.f64_abs).f64Const(1e5).op(Op.f64_lt).op(Op.i32_eqz);
      returnIf(c, () => c.get(x).call(callee.math(which)));
      // Tiny arguments: sin x = x (keeps -0), cos x = 1, to float64 precision.
      c.get(x).op(Op.f64_abs).f64Const(2 ** -27).op(Op.f64_lt);
      returnIf(c, () => (which === 'sin' ? c.get(x) : c.f64Const(1)));
      c.get(x).f64Const(2 / Math.PI).op(Op.f64_mul).op(Op.f64_nearest).set(k);
      c.get(x).get(k).f64Const(PIO2_1).op(Op.f64_mul).op(Op.f64_sub).get(k).f64Const(PIO2_1T).op(Op.f64_mul).op(Op.f64_sub).set(r);
      c.get(r).get(r).op(Op.f64_mul).set(z);
      c.get(k).op(Op.i32_trunc_f64_s).i32Const(which === 'sin' ? 0 : 1).op(Op.i32_add).i32Const(3).op(Op.i32_and).set(q);
      // Quadrant q (of sin, cos shifted by one): 0: S, 1: C, 2: -S, 3: -C.
      c.get(q).i32Const(1).op(Op.i32_and);
      c.openTyped(Op.if, 'f64');
      poly(c, z, COS_SERIES);
      c.op(Op.else);
      poly(c, z, SIN_SERIES);
      c.get(r).op(Op.f64_mul);
      c.op(Op.end).set(r);
      c.get(r).op(Op.f64_neg).get(r).get(q).i32Const(2).op(Op.i32_and).op(Op.select);
    },
  };
}

/** Every helper `wanted` needs, dependencies first. */
export function withDependencies(wanted: Iterable<Helper>): Helper[] {
  const order: Helper[] = [];
  const visit = (h: Helper): void => {
    if (order.includes(h)) return;
    HELPER_DEFS[h].deps.forEach(visit);
    order.push(h);
  };
  for (const h of wanted) visit(h);
  return order;
}
