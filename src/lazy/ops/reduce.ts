/** Reductions and the softmax family, as composites of reduce_sum and reduce_max. */
import { isFloat } from '../dtype.js';
import { ArgumentError, describeValue, ShapeError } from '../errors.js';
import { formatShape, normalizeAxes, normalizeAxis, sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { applyPrim, asTensor, type TensorLike } from './core.js';
import { add, cast, div, eq, exp, log, logicalOr, mul, ne, neg, sqrt, square, stopGradient, sub, where } from './elementwise.js';
import { iota } from './creation.js';
import { flatten, pad, reshape, shrink } from './movement.js';

/** Options shared by the reductions: which axes (default all) and whether to keep them as size 1. */
export interface ReduceOptions {
  axis?: number | readonly number[];
  keepdims?: boolean;
}

/** An axis (a number or a list, as NumPy's and PyTorch's positional `axis`/`dim`) or the options. */
export type ReduceArg = number | readonly number[] | ReduceOptions;

/** The options a reduction was given, a bare axis read as `{axis}`; anything else throws. */
function reduceOptions<T extends ReduceOptions>(op: string, arg: number | readonly number[] | T | undefined): T {
  if (arg === undefined) return {} as T;
  if (typeof arg === 'number' || Array.isArray(arg)) return { axis: arg } as T;
  if (typeof arg !== 'object' || arg === null) {
    throw new ArgumentError(`${op}: expected an axis (a number or a list of numbers) or options {axis, keepdims}, got ${describeValue(arg)}; call ${op}() with no argument to reduce every axis`);
  }
  return arg as T;
}

function reduced(op: string, x: Tensor, opts: ReduceOptions): { axes: number[]; kept: number[]; dropped: number[] } {
  const axes = normalizeAxes(op, opts.axis, x.rank);
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const dropped = x.shape.filter((_, i) => !axes.includes(i));
  return { axes, kept, dropped };
}

function finish(t: Tensor, shape: readonly number[], keepdims: boolean | undefined): Tensor {
  return keepdims ? t : reshape(t, shape);
}

export function sum(x: TensorLike, axisOrOptions?: ReduceArg): Tensor {
  const opts = reduceOptions('sum', axisOrOptions);
  let t = asTensor(x, undefined, 'sum');
  if (t.dtype === 'bool') t = cast(t, 'int32');
  const { kept, dropped } = reduced('sum', t, opts);
  return finish(applyPrim('reduce_sum', [t], { shape: kept }), dropped, opts.keepdims);
}

export function mean(x: TensorLike, axisOrOptions?: ReduceArg): Tensor {
  const opts = reduceOptions('mean', axisOrOptions);
  const t = asTensor(x, undefined, 'mean');
  const { axes } = reduced('mean', t, opts);
  const count = sizeOf(axes.map((a) => t.shape[a]));
  const total = sum(isFloat(t.dtype) ? t : cast(t, 'float32'), opts);
  return div(total, count);
}

export function max(x: TensorLike, axisOrOptions?: ReduceArg): Tensor {
  const opts = reduceOptions('max', axisOrOptions);
  const t = asTensor(x, undefined, 'max');
  const { axes, kept, dropped } = reduced('max', t, opts);
  if (axes.some((a) => t.shape[a] === 0)) throw new ShapeError(`max: cannot reduce over an empty axis of shape ${formatShape(t.shape)}; the maximum of nothing is undefined`);
  return finish(applyPrim('reduce_max', [t], { shape: kept }), dropped, opts.keepdims);
}

export function min(x: TensorLike, axisOrOptions?: ReduceArg): Tensor {
  const opts = reduceOptions('min', axisOrOptions);
  const t = asTensor(x, undefined, 'min');
  if (t.dtype === 'bool') return eq(max(eq(t, false), opts), false);
  return neg(max(neg(t), opts));
}

/** Product, as a tree of pairwise multiplications so that its gradient is exact at zeros. */
export function prod(x: TensorLike, axisOrOptions?: ReduceArg): Tensor {
  const opts = reduceOptions('prod', axisOrOptions);
  let t = asTensor(x, undefined, 'prod');
  if (t.dtype === 'bool') t = cast(t, 'int32');
  const { axes, kept, dropped } = reduced('prod', t, opts);
  for (const a of axes) {
    while (t.shape[a] > 1) {
      const n = t.shape[a];
      const half = Math.ceil(n / 2);
      // Pad with ones to an even length, then multiply the two halves.
      const even = n % 2 ? pad(t, t.shape.map((_, i) => (i === a ? [0, 1] : [0, 0]) as [number, number]), 1) : t;
      const lo = shrink(even, even.shape.map((d, i) => (i === a ? [0, half] : [0, d]) as [number, number]));
      const hi = shrink(even, even.shape.map((d, i) => (i === a ? [half, 2 * half] : [0, d]) as [number, number]));
      t = mul(lo, hi);
    }
    if (t.shape[a] === 0) {
      t = reshape(add(sum(t, { axis: a, keepdims: true }), 1), t.shape.map((d, i) => (i === a ? 1 : d)));
    }
  }
  return finish(reshape(t, kept), dropped, opts.keepdims);
}

function argExtreme(op: string, x: TensorLike, opts: { axis?: number; keepdims?: boolean }, pick: (t: Tensor, o: ReduceOptions) => Tensor): Tensor {
  const original = asTensor(x, undefined, op);
  // Without an axis, the flattened tensor's index; keepdims then keeps every axis as 1 (NumPy).
  if (opts.axis === undefined && opts.keepdims) return reshape(argExtreme(op, original, {}, pick), original.shape.map(() => 1));
  let t = original;
  if (opts.axis === undefined) t = flatten(t);
  const axis = opts.axis ?? 0;
  const [a] = normalizeAxes(op, axis, t.rank);
  const n = t.shape[a];
  if (n === 0) throw new ShapeError(`${op}: axis ${axis} of shape ${formatShape(t.shape)} is empty`);
  const best = pick(t, { axis: a, keepdims: true });
  const positions = iota(t.shape, a);
  // The first position holding the extreme value. A NaN is the extreme of any slice that
  // holds one (max propagates it, as NumPy's argmax does), but it equals nothing: match it
  // as the element that differs from itself.
  const hits = logicalOr(eq(t, best), ne(t, t));
  const candidates = where(hits, positions, n);
  return min(candidates, { axis: a, keepdims: opts.keepdims ?? false });
}
/** Index of the largest element along `axis` (of the flattened tensor when omitted), int32. */
export const argmax = (x: TensorLike, axisOrOptions?: number | { axis?: number; keepdims?: boolean }): Tensor => argExtreme('argmax', x, reduceOptions('argmax', axisOrOptions) as { axis?: number; keepdims?: boolean }, max);
/** Index of the smallest element along `axis` (of the flattened tensor when omitted), int32. */
export const argmin = (x: TensorLike, axisOrOptions?: number | { axis?: number; keepdims?: boolean }): Tensor => argExtreme('argmin', x, reduceOptions('argmin', axisOrOptions) as { axis?: number; keepdims?: boolean }, min);

/**
 * Variance; `correction` is subtracted from the count (1 gives the unbiased estimate, as
 * torch's default). Computed by the corrected two-pass algorithm (Chan, Golub and LeVeque):
 * with d = x - m for the computed mean m, sum(d^2) - sum(d)^2 / n. It equals the variance
 * for any m, so the error of m (the mean of large values is not representable, say 1e8 + 16/3
 * in float32) cancels instead of adding n * error^2, and m carries no gradient.
 */
export function variance(x: TensorLike, axisOrOptions?: number | readonly number[] | (ReduceOptions & { correction?: number })): Tensor {
  const opts = reduceOptions('var', axisOrOptions);
  const t = asTensor(x, undefined, 'var');
  const { axes } = reduced('var', t, opts);
  const count = sizeOf(axes.map((a) => t.shape[a]));
  const correction = opts.correction ?? 1;
  if (count - correction <= 0) throw new ArgumentError(`var: ${count} elements with correction ${correction} leave no degrees of freedom; pass {correction: 0}`);
  const centered = sub(t, stopGradient(mean(t, { axis: axes, keepdims: true })));
  const squares = sum(square(centered), opts);
  const drift = sum(centered, opts);
  return div(sub(squares, div(square(drift), count)), count - correction);
}
export const std = (x: TensorLike, axisOrOptions?: number | readonly number[] | (ReduceOptions & { correction?: number })): Tensor => sqrt(variance(x, reduceOptions('std', axisOrOptions)));

/** log(sum(exp(x))) computed stably by shifting by the maximum. */
export function logsumexp(x: TensorLike, axisOrOptions?: ReduceArg): Tensor {
  const opts = reduceOptions('logsumexp', axisOrOptions);
  const t = asTensor(x, undefined, 'logsumexp');
  const { dropped } = reduced('logsumexp', t, opts);
  // The shift cancels analytically, so it carries no gradient; infinite maxima shift by 0.
  const peak = stopGradient(max(t, { axis: opts.axis, keepdims: true }));
  const shift = where(eq(peak, neg(Infinity)), 0, where(eq(peak, Infinity), 0, peak));
  const total = log(sum(exp(sub(t, shift)), { axis: opts.axis, keepdims: true }));
  const out = add(total, shift);
  return opts.keepdims ? out : reshape(out, dropped);
}

/** The axis of softmax and logSoftmax: a number or `{axis}`, -1 by default. */
function softmaxAxis(op: string, arg: number | { axis?: number } | undefined): number {
  const { axis = -1 } = reduceOptions<{ axis?: number }>(op, arg as number | { axis?: number } | undefined);
  return axis;
}

export function softmax(x: TensorLike, axisOrOptions?: number | { axis?: number }): Tensor {
  const axis = softmaxAxis('softmax', axisOrOptions);
  const t = asTensor(x, undefined, 'softmax');
  normalizeAxis('softmax', axis, t.rank);
  const shifted = exp(sub(t, stopGradient(max(t, { axis, keepdims: true }))));
  return div(shifted, sum(shifted, { axis, keepdims: true }));
}

export function logSoftmax(x: TensorLike, axisOrOptions?: number | { axis?: number }): Tensor {
  const axis = softmaxAxis('logSoftmax', axisOrOptions);
  const t = asTensor(x, undefined, 'logSoftmax');
  normalizeAxis('logSoftmax', axis, t.rank);
  return sub(t, logsumexp(t, { axis, keepdims: true }));
}
