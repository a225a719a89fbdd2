/** Creation of tensors: from data, constants, ranges, identity matrices and random values. */
import { prim, bufferNode, checkAllocatable, filled } from '../build.js';
import { assertDType, allocate, coerce, dtypeOfTypedArray, isFloat, type DType, type TypedArray } from '../dtype.js';
import { ArgumentError, describeValue, DTypeError, ShapeError } from '../errors.js';
import { checkShape, formatShape, normalizeAxis, sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { randomBatchingFrames } from '../trace.js';
import type { NestedArray } from './core.js';
import { add, cast, eq, mul } from './elementwise.js';
import { reshape, stack } from './movement.js';

export interface CreationOptions {
  dtype?: DType;
}

/** What `tensor` accepts: numbers, booleans, typed arrays, tensors, and nested arrays of them. */
export type TensorData = NestedArray | TypedArray | Tensor | readonly TensorData[];

/** Thrown inside the flattening of nested arrays when it meets a tensor: they are stacked instead. */
const HOLDS_TENSOR = Symbol('holds a tensor');

function isTypedArray(x: unknown): x is TypedArray {
  return x instanceof Float32Array || x instanceof Float64Array || x instanceof Int32Array || x instanceof Uint8Array;
}

/** Shape of nested arrays; throws on ragged input or values that are not numbers/booleans. */
function nestedShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let level: NestedArray = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0] as NestedArray;
  }
  return shape;
}

function flattenNested(op: string, data: NestedArray, shape: readonly number[], out: number[], depth: number, path: string): boolean {
  if ((data as unknown) instanceof Tensor) throw HOLDS_TENSOR;
  if (depth === shape.length) {
    if (typeof data === 'number') {
      out.push(data);
      return false;
    }
    if (typeof data === 'boolean') {
      out.push(data ? 1 : 0);
      return true;
    }
    throw new ArgumentError(`${op}: element at ${path || 'the top'} is ${Array.isArray(data) ? 'an array where a number was expected (ragged nesting)' : describeWithKind(data)}; nested arrays must be rectangular and hold numbers or booleans`);
  }
  if (!Array.isArray(data) || data.length !== shape[depth]) {
    throw new ArgumentError(`${op}: ragged nested array: ${path || 'the top'} has ${Array.isArray(data) ? `length ${data.length}` : 'a scalar'} where the first row implies length ${shape[depth]} (shape ${formatShape(shape)}); make every row the same length`);
  }
  let allBool = true;
  data.forEach((child: NestedArray, i: number) => {
    allBool = flattenNested(op, child, shape, out, depth + 1, `${path}[${i}]`) && allBool;
  });
  return allBool && data.length > 0;
}

/**
 * A tensor from numbers, booleans, nested arrays, a typed array or a tensor. A tensor gives
 * itself (cast to `dtype` if one is given), as `jnp.asarray` does, so under a transform the
 * result stays traced; nested arrays that hold tensors stack them. Values stored as int32
 * are truncated toward zero (as PyTorch does); one outside the int32 range throws.
 * @example tensor([[1, 2], [3, 4]]) // float32 of shape [2, 2]
 * @example tensor(new Int32Array([1, 2, 3, 4]), { shape: [2, 2] })
 * @example tensor([x, y]) // stacks two tensors of one shape along a new first axis
 */
export function tensor(data: TensorData, opts: CreationOptions & { shape?: readonly number[] } = {}): Tensor {
  return fromData('tensor', data, opts);
}

/** `tensor(data, opts)`, with errors naming `op` (the op `data` was passed to). */
export function fromData(op: string, data: TensorData, opts: CreationOptions & { shape?: readonly number[] } = {}): Tensor {
  const dtypeOption = opts.dtype === undefined ? undefined : assertDType(opts.dtype, op);
  if (data instanceof Tensor) return withShape(op, dtypeOption ? cast(data, dtypeOption) : data, opts.shape);
  if (!isTypedArray(data) && !Array.isArray(data) && typeof data !== 'number' && typeof data !== 'boolean') {
    throw new ArgumentError(`${op}: expected a tensor, a number, a boolean, nested arrays of them or a typed array, got ${describeWithKind(data)}; convert it first, e.g. Number(value)`);
  }
  let values: ArrayLike<number>;
  let shape: number[];
  let dtype: DType;
  if (isTypedArray(data)) {
    values = data;
    shape = [data.length];
    dtype = dtypeOption ?? dtypeOfTypedArray(data);
  } else {
    shape = nestedShape(data as NestedArray);
    const flat: number[] = [];
    let allBool: boolean;
    try {
      allBool = flattenNested(op, data as NestedArray, shape, flat, 0, '');
    } catch (error) {
      if (error !== HOLDS_TENSOR) throw error;
      const stacked = stack((data as readonly TensorData[]).map((item) => fromData(op, item)));
      return withShape(op, dtypeOption ? cast(stacked, dtypeOption) : stacked, opts.shape);
    }
    values = flat;
    dtype = dtypeOption ?? (allBool ? 'bool' : 'float32');
  }
  if (opts.shape) {
    const target = checkShape(opts.shape, op);
    if (sizeOf(target) !== values.length) throw new ShapeError(`${op}: ${values.length} values do not fill shape ${formatShape(target)} (${sizeOf(target)} elements)`);
    shape = [...target];
  }
  const buffer = allocate(dtype, values.length);
  // A typed array of the same numeric dtype holds storable values already: one copy (8M floats: ~5 ms, not ~150).
  if (isTypedArray(data) && dtype !== 'bool' && dtypeOfTypedArray(data) === dtype) (buffer as Float64Array).set(data as ArrayLike<number>);
  else for (let i = 0; i < values.length; i++) buffer[i] = storable(op, values[i], dtype, i);
  return new Tensor(bufferNode(buffer, shape, dtype));
}

function withShape(op: string, t: Tensor, shape: readonly number[] | undefined): Tensor {
  if (!shape) return t;
  const target = checkShape(shape, op);
  if (sizeOf(target) !== t.size) throw new ShapeError(`${op}: a tensor of shape ${formatShape(t.shape)} (${t.size} elements) does not fill shape ${formatShape(target)} (${sizeOf(target)} elements)`);
  return reshape(t, target);
}

/** A value for a message, with its JavaScript type where the description alone hides it ("1" is a string). */
function describeWithKind(value: unknown): string {
  const kind = typeof value;
  return kind === 'object' || kind === 'undefined' || kind === 'function' ? describeValue(value) : `${describeValue(value)} (a ${kind})`;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** `value` as a `dtype` element stores it; int32 truncates toward zero and refuses what does not fit. */
function storable(op: string, value: number, dtype: DType, index?: number): number {
  if (dtype === 'int32') {
    const whole = Math.trunc(value);
    if (!(whole >= INT32_MIN && whole <= INT32_MAX)) {
      const where = index === undefined ? '' : ` (element ${index})`;
      throw new DTypeError(`${op}: ${value}${where} does not fit int32, whose range is [${INT32_MIN}, ${INT32_MAX}]; use float32 or float64, or bring the value into range`);
    }
  }
  return coerce(value, dtype);
}

/** A tensor of `shape` filled with `value` (no storage until it is computed). */
export function full(shape: readonly number[], value: number | boolean, opts: CreationOptions = {}): Tensor {
  return filledTensor('full', shape, value, opts);
}

function filledTensor(op: string, shape: readonly number[], value: number | boolean, opts: CreationOptions): Tensor {
  const dtype = opts.dtype ? assertDType(opts.dtype, op) : typeof value === 'boolean' ? 'bool' : 'float32';
  if (typeof value !== 'number' && typeof value !== 'boolean') throw new ArgumentError(`${op}: the fill value ${describeValue(value)} is not a number or a boolean`);
  const checked = checkShape(shape, op);
  checkAllocatable(op, checked, dtype);
  return new Tensor(filled(storable(op, Number(value), dtype), checked, dtype));
}
export const zeros = (shape: readonly number[], opts: CreationOptions = {}): Tensor => filledTensor('zeros', shape, 0, opts);
export const ones = (shape: readonly number[], opts: CreationOptions = {}): Tensor => filledTensor('ones', shape, 1, opts);
export const zerosLike = (x: Tensor, opts: CreationOptions = {}): Tensor => filledTensor('zerosLike', x.shape, 0, { dtype: opts.dtype ?? x.dtype });
export const onesLike = (x: Tensor, opts: CreationOptions = {}): Tensor => filledTensor('onesLike', x.shape, 1, { dtype: opts.dtype ?? x.dtype });

/** The position along `axis`, for every element of `shape` (int32 unless a dtype is given). */
export function iota(shape: readonly number[], axis: number, dtype: DType = 'int32'): Tensor {
  const s = checkShape(shape, 'iota');
  return new Tensor(prim('iota', [], { shape: [...s], axis: normalizeAxis('iota', axis, s.length), dtype }));
}

/**
 * Values from `start` up to (not including) `stop` in steps of `step`; `arange(n)` is 0..n-1.
 * Integer arguments give int32, others float32.
 */
export function arange(start: number, stop?: number, step = 1, opts: CreationOptions = {}): Tensor {
  if (stop === undefined) [start, stop] = [0, start];
  if (![start, stop, step].every(Number.isFinite) || step === 0) throw new ArgumentError(`arange: start ${start}, stop ${stop}, step ${step} must be finite with a non-zero step`);
  const count = Math.max(0, Math.ceil((stop - start) / step));
  const dtype = opts.dtype ? assertDType(opts.dtype, 'arange') : [start, stop, step].every(Number.isInteger) ? 'int32' : 'float32';
  const positions = iota([count], 0, dtype === 'int32' ? 'int32' : 'float64');
  return cast(add(mul(positions, step), start), dtype);
}

/** `num` evenly spaced values from `start` to `stop`, both included. */
export function linspace(start: number, stop: number, num: number, opts: CreationOptions = {}): Tensor {
  if (!Number.isInteger(num) || num < 0) throw new ArgumentError(`linspace: num ${num} must be a whole number >= 0`);
  const dtype = opts.dtype ? assertDType(opts.dtype, 'linspace') : 'float32';
  const step = num > 1 ? (stop - start) / (num - 1) : 0;
  return cast(add(mul(iota([num], 0, 'float64'), step), start), dtype);
}

/** The identity matrix of n rows and m (default n) columns. */
export function eye(n: number, m = n, opts: CreationOptions = {}): Tensor {
  checkShape([n, m], 'eye');
  const dtype = opts.dtype ? assertDType(opts.dtype, 'eye') : 'float32';
  return cast(eq(iota([n, m], 0), iota([n, m], 1)), dtype);
}

export interface RandomOptions extends CreationOptions {
  /** The seed: equal seeds give equal values. */
  seed: number;
}

function random(op: string, shape: readonly number[], opts: RandomOptions, distribution: 'uniform' | 'normal'): Tensor {
  if (!opts || !Number.isInteger(opts.seed)) throw new ArgumentError(`${op}: pass an integer seed, e.g. ${op}([2, 3], {seed: 0}); results depend only on the seed`);
  const dtype = opts.dtype ? assertDType(opts.dtype, op) : 'float32';
  if (!isFloat(dtype)) throw new DTypeError(`${op}: random values need a float dtype, got ${dtype}; use float32 or float64 (and cast the result if needed)`);
  const s = checkShape(shape, op);
  checkAllocatable(op, s, dtype);
  const batchedBy = randomBatchingFrames(op);
  return new Tensor(prim('random', [], { shape: [...s], seed: opts.seed | 0, distribution, dtype, batchedBy }));
}
/** Uniform random values in [0, 1). */
export const rand = (shape: readonly number[], opts: RandomOptions): Tensor => random('rand', shape, opts, 'uniform');
/** Standard normal random values. */
export const randn = (shape: readonly number[], opts: RandomOptions): Tensor => random('randn', shape, opts, 'normal');
