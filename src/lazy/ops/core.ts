import { weakScalarType, type DType, type TypedArray } from '../dtype.js';
import { constant, prim } from '../build.js';
import type { Attrs } from '../node.js';
import { Tensor } from '../tensor.js';
import { tensor } from './creation.js';

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
 * @example
 * asTensor([[1, 2], [3, 4]]); // float32 [2, 2]
 * asTensor(3, 'int32');       // an int32 scalar
 */
export function asTensor(x: TensorLike, partner?: DType): Tensor {
  if (x instanceof Tensor) return x;
  if (typeof x === 'number') return new Tensor(constant(x, partner ? weakScalarType(x, partner) : 'float32'));
  if (typeof x === 'boolean') return new Tensor(constant(x ? 1 : 0, partner && partner !== 'bool' ? partner : 'bool'));
  return tensor(x);
}

export function isWeak(x: TensorLike): boolean {
  return typeof x === 'number' || typeof x === 'boolean';
}
