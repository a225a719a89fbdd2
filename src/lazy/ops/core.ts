import { weakScalarType, type DType, type TypedArray } from '../dtype.js';
import { DTypeError } from '../errors.js';
import { constant, prim, symbolicZeros } from '../build.js';
import type { Attrs } from '../node.js';
import { Tensor } from '../tensor.js';
import { fromData } from './creation.js';

/** Nested JavaScript arrays of numbers or booleans. */
export type NestedArray = number | boolean | readonly NestedArray[];

/** Anything functs accepts where a tensor is expected. */
export type TensorLike = Tensor | NestedArray | TypedArray;

/** Applies a primitive to tensors whose shapes and dtypes already fit it. */
export function applyPrim(op: string, args: readonly Tensor[], attrs: Attrs = {}): Tensor {
  return new Tensor(prim(op, args.map((a) => a.node), attrs));
}

/**
 * Converts `x` to a Tensor (tensors pass through). A JavaScript number is weakly typed: it
 * takes the dtype `partner` (the dtype of the tensor it meets), see `weakScalarType`.
 * Errors about `x` name `op`, the op it was passed to.
 * @example
 * asTensor([[1, 2], [3, 4]]); // float32 [2, 2]
 * asTensor(3, 'int32');       // an int32 scalar
 */
export function asTensor(x: TensorLike, partner?: DType, op = 'tensor'): Tensor {
  if (x instanceof Tensor) return x;
  if (typeof x === 'number') {
    const dtype = partner ? weakScalarType(x, partner) : 'float32';
    // As in JAX, a weak integer that the int32 tensor cannot hold is an error, not a wrap.
    if (dtype === 'int32' && !(x >= -(2 ** 31) && x < 2 ** 31)) {
      throw new DTypeError(`${op}: the number ${x} meets an int32 tensor but does not fit int32 ([-2147483648, 2147483647]); cast the tensor to float64 first`);
    }
    return new Tensor(constant(x, dtype));
  }
  if (typeof x === 'boolean') return new Tensor(constant(x ? 1 : 0, partner && partner !== 'bool' ? partner : 'bool'));
  return fromData(op, x);
}

export function isWeak(x: TensorLike): boolean {
  return typeof x === 'number' || typeof x === 'boolean';
}

/**
 * Zeros shaped like `t` that mean "no dependence" (a derivative rule's missing tangent):
 * products with them fold away at construction, unlike a user's `x.mul(0)` (see build.ts).
 */
export function symbolicZerosLike(t: Tensor): Tensor {
  return new Tensor(symbolicZeros(t.shape, t.dtype));
}
