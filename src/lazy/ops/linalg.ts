/** Linear algebra as composites: broadcasting multiply followed by a sum. */
import { ArgumentError, ShapeError } from '../errors.js';
import { formatShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { asTensor, type TensorLike } from './core.js';
import { mul } from './elementwise.js';
import { sum } from './reduce.js';
import { diagonal, permute, reshape, squeeze, unsqueeze } from './movement.js';

/**
 * Matrix product with NumPy semantics: 1-D operands are promoted to a row or column and
 * the added axis removed; leading (batch) axes broadcast.
 */
export function matmul(a: TensorLike, b: TensorLike): Tensor {
  let x = asTensor(a, undefined, 'matmul');
  let y = asTensor(b, undefined, 'matmul');
  if (x.rank === 0 || y.rank === 0) throw new ShapeError(`matmul: operands must have rank >= 1, got ${formatShape(x.shape)} and ${formatShape(y.shape)}; use mul for scalars`);
  const vectorLeft = x.rank === 1;
  const vectorRight = y.rank === 1;
  if (vectorLeft) x = unsqueeze(x, 0);
  if (vectorRight) y = unsqueeze(y, 1);
  const k = x.shape[x.rank - 1];
  if (y.shape[y.rank - 2] !== k) {
    throw new ShapeError(`matmul: inner dimensions differ: ${formatShape(asTensor(a).shape)} @ ${formatShape(asTensor(b).shape)} (${k} vs ${y.shape[y.rank - 2]}); the last axis of the first must equal the second-to-last of the second`);
  }
  // Batch axes broadcast, aligned from the right; the message names the full shapes.
  const batchX = x.shape.slice(0, -2);
  const batchY = y.shape.slice(0, -2);
  const offset = batchY.length - batchX.length;
  const clash = batchX.some((d, i) => {
    const e = batchY[i + offset];
    return e !== undefined && d !== 1 && e !== 1 && d !== e;
  });
  if (clash) {
    throw new ShapeError(`matmul: batch axes ${formatShape(batchX)} and ${formatShape(batchY)} of ${formatShape(asTensor(a).shape)} @ ${formatShape(asTensor(b).shape)} cannot be broadcast together; make each pair of sizes equal or 1`);
  }
  // [..., n, 1, k] * [..., 1, m, k] summed over k: the scheduler fuses this into one loop nest.
  const left = unsqueeze(x, -2);
  const right = unsqueeze(permute(y, [...y.shape.slice(0, -2).map((_, i) => i), y.rank - 1, y.rank - 2]), -3);
  let out = sum(mul(left, right), { axis: -1 });
  if (vectorLeft) out = squeeze(out, -2);
  if (vectorRight) out = squeeze(out, -1);
  return out;
}

/** Inner product of two 1-D tensors. */
export function dot(a: TensorLike, b: TensorLike): Tensor {
  const x = asTensor(a, undefined, 'dot');
  const y = asTensor(b, undefined, 'dot');
  if (x.rank !== 1 || y.rank !== 1 || x.shape[0] !== y.shape[0]) {
    throw new ShapeError(`dot: expects two 1-D tensors of one length, got ${formatShape(x.shape)} and ${formatShape(y.shape)}; use matmul for matrices`);
  }
  return sum(mul(x, y));
}

/** Outer product of two 1-D tensors: out[i, j] = a[i] * b[j]. */
export function outer(a: TensorLike, b: TensorLike): Tensor {
  const x = asTensor(a, undefined, 'outer');
  const y = asTensor(b, undefined, 'outer');
  if (x.rank !== 1 || y.rank !== 1) throw new ShapeError(`outer: expects two 1-D tensors, got ${formatShape(x.shape)} and ${formatShape(y.shape)}`);
  return mul(unsqueeze(x, 1), unsqueeze(y, 0));
}

/**
 * Einstein summation over explicit subscripts, e.g. `einsum('bij,bjk->bik', a, b)`.
 * Without `->` the output takes the subscripts that appear once, in alphabetical order.
 * Repeated subscripts within one operand take its diagonal.
 */
export function einsum(spec: string, ...operands: TensorLike[]): Tensor {
  const clean = spec.replace(/\s+/g, '');
  const [lhs, rhsGiven] = clean.split('->');
  const inputs = lhs.split(',');
  if (inputs.length !== operands.length) throw new ArgumentError(`einsum: '${spec}' names ${inputs.length} operands but ${operands.length} were given`);
  for (const s of [...inputs, rhsGiven ?? '']) {
    if (!/^[a-zA-Z]*$/.test(s)) throw new ArgumentError(`einsum: subscripts '${s}' in '${spec}' must be letters (ellipsis is not supported)`);
  }
  const counts = new Map<string, number>();
  for (const s of inputs) for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  const rhs = rhsGiven ?? [...counts.keys()].filter((c) => counts.get(c) === 1).sort().join('');
  for (const c of rhs) if (!counts.has(c)) throw new ArgumentError(`einsum: output subscript '${c}' in '${spec}' appears in no input`);
  const letters = [...rhs, ...[...counts.keys()].filter((c) => !rhs.includes(c))];
  const sizes = new Map<string, number>();
  const aligned = inputs.map((subs, k) => {
    let t = asTensor(operands[k], undefined, 'einsum');
    if (t.rank !== subs.length) throw new ShapeError(`einsum: operand ${k} has shape ${formatShape(t.shape)} but subscripts '${subs}' name ${subs.length} axes`);
    let letterList = [...subs];
    // Repeated letters: take the diagonal, which moves the merged axis to the end.
    for (let i = 0; i < letterList.length; i++) {
      const j = letterList.indexOf(letterList[i], i + 1);
      if (j > 0) {
        if (t.shape[i] !== t.shape[j]) throw new ShapeError(`einsum: subscript '${letterList[i]}' repeats in operand ${k} over axes of sizes ${t.shape[i]} and ${t.shape[j]}`);
        t = diagonal(t, 0, i, j);
        const c = letterList[i];
        letterList = [...letterList.filter((_, q) => q !== i && q !== j), c];
        i = -1;
      }
    }
    letterList.forEach((c, i) => {
      const known = sizes.get(c);
      if (known !== undefined && known !== t.shape[i] && known !== 1 && t.shape[i] !== 1) {
        throw new ShapeError(`einsum: subscript '${c}' has size ${known} in one operand and ${t.shape[i]} in operand ${k}`);
      }
      sizes.set(c, Math.max(known ?? 1, t.shape[i]));
    });
    const present = letters.filter((c) => letterList.includes(c));
    const moved = permute(t, present.map((c) => letterList.indexOf(c)));
    return reshape(moved, letters.map((c) => (present.includes(c) ? moved.shape[present.indexOf(c)] : 1)));
  });
  const product = aligned.reduce((acc, t) => mul(acc, t));
  const summed = letters.length > rhs.length ? sum(product, { axis: letters.slice(rhs.length).map((_, i) => rhs.length + i) }) : product;
  return summed;
}
