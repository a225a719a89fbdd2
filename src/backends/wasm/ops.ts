/**
 * The wasm backend's op table: how each elementwise primitive is computed on float64 values
 * (the scalar tier keeps every data value as an f64, as JavaScript numbers are, and rounds
 * where the IR converts or stores). A test checks that the table covers every elementwise
 * primitive in the registry; the type checks that every op listed has a rule.
 */
import type { DType } from '../../lazy/dtype.js';
import { Op, Simd, type Code } from './encoder.js';
import { tanhX4 } from './simd-math.js';
import type { Helper, ImportedMath } from './math.js';

import type { ElementwiseOp } from '../../lazy/primitive.js';
/** The elementwise primitives' names (one list, src/lazy/primitive.ts). */
export { ELEMENTWISE_OPS, type ElementwiseOp } from '../../lazy/primitive.js';

/** What a rule emits into: the code, the op's result dtype, and its arguments on demand. */
export interface OpContext {
  readonly code: Code;
  /** The dtype of the op's result. */
  readonly dtype: DType;
  /** Pushes argument `i` as an f64. */
  arg(i: number): void;
  helper(name: Helper): number;
  math(name: ImportedMath): number;
  /**
   * The result is rounded to float32 right away (the IR's convert): the value is on a path
   * the reference must be matched on bit for bit (an equality, a comparison, a rounding), so
   * a transcendental calls the exact Math function, as the interpreter does.
   */
  readonly exact: boolean;
  /** Whether the module may use SIMD instructions. */
  readonly simd: boolean;
  /** A fresh v128 local (for the inline lane approximations). */
  v128(): number;
}

type OpRule = (x: OpContext) => void;

/** What the wasm compiler leaves to the JS compiler (the kernel is compiled there instead). */
export class Unsupported extends Error {}

/**
 * int32 arithmetic wraps around as storing into an Int32Array does. The operands are int32
 * values, so the exact result is below 2^63 in magnitude and truncating through i64 wraps it.
 */
function wrapInt32(x: OpContext): void {
  if (x.dtype === 'int32') x.code.op(Op.i64_trunc_f64_s).op(Op.i32_wrap_i64).op(Op.f64_convert_i32_s);
}

/** float32: the wasm approximation; float64: the imported Math function (exact agreement). */
function transcendental(math: ImportedMath, approx: Helper): OpRule {
  return (x) => {
    x.arg(0);
    if (x.dtype === 'float32' && !x.exact) x.code.call(x.helper(approx));
    else x.code.call(x.math(math));
  };
}

function unary(code: number, wraps = false): OpRule {
  return (x) => {
    x.arg(0);
    x.code.op(code);
    if (wraps) wrapInt32(x);
  };
}

function binary(code: number, wraps = false): OpRule {
  return (x) => {
    x.arg(0);
    x.arg(1);
    x.code.op(code);
    if (wraps) wrapInt32(x);
  };
}

/** A comparison giving 1 or 0. */
function compare(code: number): OpRule {
  return (x) => {
    x.arg(0);
    x.arg(1);
    x.code.op(code).op(Op.f64_convert_i32_u);
  };
}

export const WASM_OPS: Record<ElementwiseOp, OpRule> = {
  neg: unary(Op.f64_neg, true),
  recip: (x) => {
    x.code.f64Const(1);
    x.arg(0);
    x.code.op(Op.f64_div);
  },
  sqrt: unary(Op.f64_sqrt),
  exp: transcendental('exp', 'exp32'),
  log: transcendental('log', 'log32'),
  sin: transcendental('sin', 'sin32'),
  cos: transcendental('cos', 'cos32'),
  tanh: (x) => {
    if (x.dtype !== 'float32' || !x.simd || x.exact) return transcendental('tanh', 'tanh32')(x);
    // float32: the f32x4 approximation inline on one lane: no calls, 1e-6 relative (measured:
    // the calls of tanh32 -> expm1_32 -> exp32 took half of the headline's first kernel).
    const v = x.v128();
    x.arg(0);
    x.code.op(Op.f32_demote_f64).simd(Simd.f32x4_splat).set(v);
    tanhX4(x.code, v, () => x.v128());
    x.code.simd(Simd.f32x4_extract_lane).byte(0).op(Op.f64_promote_f32);
  },
  log1p: transcendental('log1p', 'log1p32'),
  expm1: transcendental('expm1', 'expm1_32'),
  abs: unary(Op.f64_abs, true),
  // Math.sign: 1 above zero, -1 below, and x itself for ±0 and NaN.
  sign: (x) => {
    const { code } = x;
    // (x > 0 ? 1 : -1) where x > 0 or x < 0, else x itself (±0, NaN).
    code.f64Const(1).f64Const(-1);
    x.arg(0);
    code.f64Const(0).op(Op.f64_gt).op(Op.select);
    x.arg(0);
    x.arg(0);
    code.f64Const(0).op(Op.f64_gt);
    x.arg(0);
    code.f64Const(0).op(Op.f64_lt).op(Op.i32_or).op(Op.select);
  },
  floor: unary(Op.f64_floor),
  ceil: unary(Op.f64_ceil),
  // Round half to even, as roundHalfEven.
  round: unary(Op.f64_nearest),
  stop_gradient: (x) => x.arg(0),
  add: binary(Op.f64_add, true),
  // int32 products wrap as Math.imul does: an f64 product of two int32 values loses low bits.
  mul: (x) => {
    if (x.dtype !== 'int32') return binary(Op.f64_mul)(x);
    x.arg(0);
    x.code.op(Op.i32_trunc_f64_s);
    x.arg(1);
    x.code.op(Op.i32_trunc_f64_s).op(Op.i32_mul).op(Op.f64_convert_i32_s);
  },
  // The logistic function, as the reference computes it (stable on both sides), through
  // Math.exp: 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) below.
  logistic: (x) => {
    const e = x.code;
    e.f64Const(1).f64Const(1);
    x.arg(0);
    e.op(Op.f64_neg).call(x.math('exp')).op(Op.f64_add).op(Op.f64_div);
    x.arg(0);
    e.call(x.math('exp'));
    e.f64Const(1);
    x.arg(0);
    e.call(x.math('exp')).op(Op.f64_add).op(Op.f64_div);
    x.arg(0);
    e.f64Const(0).op(Op.f64_ge).op(Op.select);
  },
  // A counter hash of key words held as data: the JS compiler takes these kernels.
  random_bits: () => {
    throw new Unsupported('random_bits');
  },
  div: binary(Op.f64_div),
  pow: (x) => {
    x.arg(0);
    x.arg(1);
    x.code.call(x.dtype === 'float32' && !x.exact ? x.helper('pow32') : x.math('pow'));
  },
  // Math.max: NaN if either is NaN, +0 over -0 (f64.max does both).
  max: binary(Op.f64_max),
  lt: compare(Op.f64_lt),
  eq: compare(Op.f64_eq),
  where: (x) => {
    x.arg(1);
    x.arg(2);
    x.arg(0);
    x.code.f64Const(0).op(Op.f64_ne).op(Op.select);
  },
  cast: (x) => {
    x.arg(0);
    castTo(x.code, x.dtype, () => x.helper('toInt32'));
  },
};

/** Converts the f64 on the stack as a cast to `dtype` does (castExpression in the JS backend). */
export function castTo(code: Code, dtype: DType, toInt32: () => number): void {
  switch (dtype) {
    case 'float32': code.op(Op.f32_demote_f64).op(Op.f64_promote_f32); break;
    case 'float64': break;
    case 'int32': code.call(toInt32()).op(Op.f64_convert_i32_s); break;
    case 'bool': code.f64Const(0).op(Op.f64_ne).op(Op.f64_convert_i32_u); break;
    default: dtype satisfies never;
  }
}
