/** Elementwise ops: promotion, broadcasting, and composites of the elementwise primitives. */
import { assertDType, isFloat, promoteTypes, type DType } from '../dtype.js';
import { DTypeError } from '../errors.js';
import { broadcastShapes, sameShape } from '../shape.js';
import { Tensor } from '../tensor.js';
import { applyPrim, asTensor, isWeak, type TensorLike } from './core.js';
import { broadcastTo } from './movement.js';

/** What an op needs of its inputs' dtype: anything, numbers (bool becomes int32) or floats. */
type Domain = 'any' | 'numeric' | 'float';

function lift(dtype: DType, domain: Domain): DType {
  if (domain === 'float' && !isFloat(dtype)) return 'float32';
  if (domain === 'numeric' && dtype === 'bool') return 'int32';
  return dtype;
}

export function cast(x: TensorLike, dtype: DType): Tensor {
  return applyPrim('cast', [asTensor(x, undefined, 'cast')], { dtype: assertDType(dtype, 'cast') });
}

/** Converts the operands to one dtype and one shape (NumPy broadcasting). */
export function alignOperands(op: string, operands: readonly TensorLike[], domain: Domain): Tensor[] {
  const strong = operands.filter((x) => !isWeak(x)).map((x) => asTensor(x, undefined, op));
  let dtype: DType | undefined = strong.length ? strong.map((t) => t.dtype).reduce(promoteTypes) : undefined;
  const tensors = operands.map((x) => asTensor(x, dtype, op));
  if (dtype === undefined) dtype = tensors.map((t) => t.dtype).reduce(promoteTypes);
  // A weak float scalar meeting integers makes the result float.
  for (const t of tensors) dtype = promoteTypes(dtype, t.dtype);
  const target = lift(dtype, domain);
  const shape = broadcastShapes(op, ...tensors.map((t) => t.shape));
  return tensors.map((t) => {
    const typed = t.dtype === target ? t : cast(t, target);
    return sameShape(typed.shape, shape) ? typed : broadcastTo(typed, shape);
  });
}

function unary(op: string, x: TensorLike, domain: Domain): Tensor {
  const t = asTensor(x, undefined, op);
  const target = lift(t.dtype, domain);
  return applyPrim(op, [t.dtype === target ? t : cast(t, target)]);
}

export const neg = (x: TensorLike): Tensor => unary('neg', x, 'numeric');
export const reciprocal = (x: TensorLike): Tensor => unary('recip', x, 'float');
export const sqrt = (x: TensorLike): Tensor => unary('sqrt', x, 'float');
export const exp = (x: TensorLike): Tensor => unary('exp', x, 'float');
export const log = (x: TensorLike): Tensor => unary('log', x, 'float');
export const sin = (x: TensorLike): Tensor => unary('sin', x, 'float');
export const cos = (x: TensorLike): Tensor => unary('cos', x, 'float');
export const tanh = (x: TensorLike): Tensor => unary('tanh', x, 'float');
export const log1p = (x: TensorLike): Tensor => unary('log1p', x, 'float');
export const expm1 = (x: TensorLike): Tensor => unary('expm1', x, 'float');
export const abs = (x: TensorLike): Tensor => unary('abs', x, 'numeric');
export const sign = (x: TensorLike): Tensor => unary('sign', x, 'numeric');
/** Identity whose derivative is zero: the value flows, gradients do not. */
export const stopGradient = (x: TensorLike): Tensor => unary('stop_gradient', x, 'any');

function rounding(op: string, x: TensorLike): Tensor {
  const t = asTensor(x, undefined, op);
  return isFloat(t.dtype) ? applyPrim(op, [t]) : unary('neg', unary('neg', t, 'numeric'), 'numeric');
}
export const floor = (x: TensorLike): Tensor => rounding('floor', x);
export const ceil = (x: TensorLike): Tensor => rounding('ceil', x);
/** Rounds half to even, as NumPy and PyTorch do. */
export const round = (x: TensorLike): Tensor => rounding('round', x);

export function add(a: TensorLike, b: TensorLike): Tensor {
  return applyPrim('add', alignOperands('add', [a, b], 'numeric'));
}
export function sub(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = alignOperands('sub', [a, b], 'numeric');
  return applyPrim('add', [x, applyPrim('neg', [y])]);
}
export function mul(a: TensorLike, b: TensorLike): Tensor {
  return applyPrim('mul', alignOperands('mul', [a, b], 'numeric'));
}
/** True division; integer operands give float32. */
export function div(a: TensorLike, b: TensorLike): Tensor {
  return applyPrim('div', alignOperands('div', [a, b], 'float'));
}
export function pow(a: TensorLike, b: TensorLike): Tensor {
  return applyPrim('pow', alignOperands('pow', [a, b], 'float'));
}
/** The larger of two values; of two bools, their logical or (bool, as in NumPy). */
export function maximum(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = alignOperands('maximum', [a, b], 'any');
  if (x.dtype === 'bool') return logicalOr(x, y);
  return applyPrim('max', [x, y]);
}
/** The smaller of two values; of two bools, their logical and (bool, as in NumPy). */
export function minimum(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = alignOperands('minimum', [a, b], 'any');
  if (x.dtype === 'bool') return logicalAnd(x, y);
  return neg(applyPrim('max', [neg(x), neg(y)]));
}
export function square(x: TensorLike): Tensor {
  const t = asTensor(x, undefined, 'square');
  return mul(t, t);
}
export const rsqrt = (x: TensorLike): Tensor => reciprocal(sqrt(x));
export const tan = (x: TensorLike): Tensor => div(sin(x), cos(x));
/** 1 / (1 + e^-x), finite with finite derivatives for every x (the logistic primitive). */
export const sigmoid = (x: TensorLike): Tensor => unary('logistic', x, 'float');
/**
 * max(x, 0), with derivative 0 at 0 as in PyTorch and jax.nn.relu (`maximum` splits a tie
 * evenly, which would give 1/2 there); NaN stays NaN.
 */
export function relu(x: TensorLike): Tensor {
  const t = asTensor(x, undefined, 'relu');
  return where(le(t, 0), 0, t);
}
/** softplus(x) = log(1 + exp(x)), computed without overflow. */
export function softplus(x: TensorLike): Tensor {
  const t = asTensor(x, undefined, 'softplus');
  // max(x, 0) + log1p(exp(-|x|)), with the kinks of max and abs written as a where between
  // smooth branches: at 0 the branch log1p(exp(x)) is taken, so derivatives of every order
  // are right there too (with abs and relu the second derivative at 0 came out 0, not 1/4).
  const positive = gt(t, 0);
  return add(where(positive, t, 0), log1p(exp(where(positive, neg(t), t))));
}
const GELU_SATURATION = 10;
/**
 * GELU with the tanh approximation (JAX's default `approximate=True`):
 * 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
 */
export function gelu(x: TensorLike): Tensor {
  const t = asTensor(x, undefined, 'gelu');
  // Past |x| = 10 the tanh is +-1 exactly (its argument is over 43), so x is clamped there:
  // the same values, and the derivative of the tanh term is exactly 0 instead of
  // 0 * Infinity once x^2 overflows (float32 from |x| ~ 1.8e19).
  const bounded = where(gt(t, GELU_SATURATION), GELU_SATURATION, where(lt(t, -GELU_SATURATION), -GELU_SATURATION, t));
  const inner = mul(Math.sqrt(2 / Math.PI), add(bounded, mul(0.044715, mul(bounded, square(bounded)))));
  return mul(mul(0.5, t), add(1, tanh(inner)));
}
/** Limits values to [min, max]; either bound may be omitted. */
export function clamp(x: TensorLike, min?: TensorLike, max?: TensorLike): Tensor {
  let t = asTensor(x, undefined, 'clamp');
  if (min !== undefined) t = maximum(t, min);
  if (max !== undefined) t = minimum(t, max);
  return t;
}

export function lt(a: TensorLike, b: TensorLike): Tensor {
  return applyPrim('lt', alignOperands('lt', [a, b], 'numeric'));
}
export function gt(a: TensorLike, b: TensorLike): Tensor {
  return lt(b, a);
}
export function eq(a: TensorLike, b: TensorLike): Tensor {
  return applyPrim('eq', alignOperands('eq', [a, b], 'any'));
}
export function ne(a: TensorLike, b: TensorLike): Tensor {
  return logicalNot(eq(a, b));
}
export function le(a: TensorLike, b: TensorLike): Tensor {
  return logicalOr(lt(a, b), eq(a, b));
}
export function ge(a: TensorLike, b: TensorLike): Tensor {
  return le(b, a);
}

function asBool(x: TensorLike, op: string): Tensor {
  const t = asTensor(x, 'bool', op);
  return t.dtype === 'bool' ? t : ne(t, 0);
}
/** Picks `a` where `condition` is true and `b` elsewhere, broadcasting all three. */
export function where(condition: TensorLike, a: TensorLike, b: TensorLike): Tensor {
  const cond = asBool(condition, 'where');
  const [x, y] = alignOperands('where', [a, b], 'any');
  const shape = broadcastShapes('where', cond.shape, x.shape);
  return applyPrim('where', [broadcastTo(cond, shape), broadcastTo(x, shape), broadcastTo(y, shape)]);
}
export function logicalNot(x: TensorLike): Tensor {
  return eq(asBool(x, 'logicalNot'), false);
}
export function logicalAnd(a: TensorLike, b: TensorLike): Tensor {
  return where(asBool(a, 'logicalAnd'), asBool(b, 'logicalAnd'), false);
}
export function logicalOr(a: TensorLike, b: TensorLike): Tensor {
  return where(asBool(a, 'logicalOr'), true, asBool(b, 'logicalOr'));
}

export function assertFloat(op: string, x: Tensor): void {
  if (!isFloat(x.dtype)) throw new DTypeError(`${op}: expected a float32 or float64 tensor, got ${x.dtype} of shape [${x.shape.join(', ')}]; cast it first with x.cast('float32')`);
}
