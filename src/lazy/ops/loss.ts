/** Loss functions. */
import { DTypeError, ShapeError } from '../errors.js';
import { formatShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { asTensor, type TensorLike } from './core.js';
import { neg, square, sub } from './elementwise.js';
import { checkIndexValues, gather, unsqueeze, squeeze } from './movement.js';
import { logSoftmax, mean, sum } from './reduce.js';

export type Reduction = 'mean' | 'sum' | 'none';

function reduce(t: Tensor, reduction: Reduction): Tensor {
  return reduction === 'mean' ? mean(t) : reduction === 'sum' ? sum(t) : t;
}

/** Mean squared error between predictions and targets of one shape. */
export function mseLoss(prediction: TensorLike, target: TensorLike, opts: { reduction?: Reduction } = {}): Tensor {
  const p = asTensor(prediction, undefined, 'mseLoss');
  const t = asTensor(target, p.dtype, 'mseLoss');
  if (p.rank !== t.rank || p.shape.some((d, i) => d !== t.shape[i])) {
    throw new ShapeError(`mseLoss: prediction ${formatShape(p.shape)} and target ${formatShape(t.shape)} must have one shape`);
  }
  return reduce(square(sub(p, t)), opts.reduction ?? 'mean');
}

/**
 * Cross entropy from unnormalized logits [N, C] (or [C]) and integer class targets [N]
 * (or a scalar), averaged over the batch by default.
 */
export function crossEntropy(logits: TensorLike, targets: TensorLike, opts: { reduction?: Reduction } = {}): Tensor {
  let z = asTensor(logits, undefined, 'crossEntropy');
  let y = asTensor(targets, 'int32', 'crossEntropy');
  if (y.dtype !== 'int32') throw new DTypeError(`crossEntropy: targets must be int32 class indices, got ${y.dtype}; pass {dtype: 'int32'} when creating them`);
  const single = z.rank === 1;
  if (single) {
    z = unsqueeze(z, 0);
    y = unsqueeze(y, 0);
  }
  if (z.rank !== 2 || y.rank !== 1 || y.shape[0] !== z.shape[0]) {
    throw new ShapeError(`crossEntropy: logits ${formatShape(asTensor(logits).shape)} and targets ${formatShape(asTensor(targets).shape)} do not fit; expected [N, C] and [N]`);
  }
  checkIndexValues('crossEntropy', y, 1, z.shape);
  const picked = squeeze(gather(logSoftmax(z, -1), 1, unsqueeze(y, 1)), 1);
  const losses = neg(picked);
  return reduce(single ? squeeze(losses, 0) : losses, opts.reduction ?? 'mean');
}


