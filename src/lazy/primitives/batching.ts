import type { BatchRule } from '../primitive.js';
import type { Tensor } from '../tensor.js';
import { applyPrim } from '../ops/core.js';
import { expand, moveaxis, unsqueeze } from '../ops/movement.js';

/** Moves the batch axis of `x` to position 0, or adds one of size `size` if it has none. */
export function batchToFront(x: Tensor, dim: number | null, size: number): Tensor {
  if (dim === null) return expand(unsqueeze(x, 0), [size, ...x.shape]);
  return dim === 0 ? x : moveaxis(x, dim, 0);
}

/** Inserts a broadcast batch axis of `size` at `dim`. */
export function broadcastBatchAt(x: Tensor, dim: number, size: number): Tensor {
  const shape = [...x.shape];
  shape.splice(dim, 0, size);
  return expand(unsqueeze(x, dim), shape);
}

/**
 * Elementwise ops: keep the batch axis where the batched inputs already agree on it, and
 * broadcast the unbatched inputs there; otherwise move every batch axis to the front.
 */
export const batchElementwise: BatchRule = (args, dims, node, size) => {
  const batched = dims.filter((d): d is number => d !== null);
  const common = batched.every((d) => d === batched[0]) ? batched[0] : 0;
  const aligned = args.map((a, i) => {
    const d = dims[i];
    if (d === null) return broadcastBatchAt(a, common, size);
    return d === common ? a : moveaxis(a, d, common);
  });
  return [applyPrim(node.op, aligned, node.attrs), common];
};
