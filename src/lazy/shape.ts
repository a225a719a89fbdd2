import { ArgumentError, describeValue, IndexError, ShapeError } from './errors.js';

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Row-major (C-order) strides. */
export function stridesOf(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

export function checkShape(shape: readonly unknown[], op: string): number[] {
  if (!Array.isArray(shape)) throw new ArgumentError(`${op}: shape ${describeValue(shape)} is not an array; pass a list of dimensions, e.g. [${typeof shape === 'number' ? shape : 2}]`);
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      const shown = `[${shape.slice(0, 8).map(describeValue).join(', ')}${shape.length > 8 ? `, ... (${shape.length} dimensions)` : ''}]`;
      throw new ArgumentError(`${op}: shape ${shown} has a dimension that is not a finite non-negative integer (${describeValue(d)}); pass whole numbers >= 0`);
    }
  }
  return shape as number[];
}

/** NumPy broadcasting: align trailing dims; each pair must be equal or contain a 1. */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const shape of shapes) {
    for (let i = 0; i < shape.length; i++) {
      const j = rank - shape.length + i;
      const d = shape[i];
      if (out[j] === 1) out[j] = d;
      else if (d !== 1 && d !== out[j]) {
        throw new ShapeError(`${op}: shapes ${shapes.map(formatShape).join(' and ')} cannot be broadcast together (dimension ${j - rank} is ${out[j]} vs ${d}); make the sizes equal or 1`);
      }
    }
  }
  return out;
}

/** Maps a possibly negative axis into [0, rank). */
export function normalizeAxis(op: string, axis: number, rank: number): number {
  if (!Number.isInteger(axis)) {
    const valid = rank === 0 ? 'a 0-d tensor has no axes' : `an axis in [${-rank}, ${rank - 1}]`;
    throw new IndexError(`${op}: axis ${describeValue(axis)} must be an integer (${valid})`);
  }
  if (axis < -rank || axis >= rank) {
    const valid = rank === 0 ? 'a 0-d tensor has no axes' : `use an axis in [${-rank}, ${rank - 1}]`;
    throw new IndexError(`${op}: axis ${axis} is out of range for a tensor of rank ${rank}; ${valid}`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Normalizes an axis option (a number, a list, or undefined for all axes), sorted and unique. */
export function normalizeAxes(op: string, axis: number | readonly number[] | undefined | null, rank: number): number[] {
  if (axis === undefined || axis === null) return Array.from({ length: rank }, (_, i) => i);
  const list: readonly number[] = Array.isArray(axis) ? axis : [axis as number];
  const out = list.map((a) => normalizeAxis(op, a, rank));
  if (new Set(out).size !== out.length) {
    throw new IndexError(`${op}: axis ${describeValue(axis)} repeats an axis; name each axis once`);
  }
  return out.sort((a, b) => a - b);
}

export function checkPermutation(op: string, perm: readonly number[], rank: number): number[] {
  if (perm.length !== rank) {
    throw new ShapeError(`${op}: permutation ${describeValue(perm)} has ${perm.length} entries but the tensor has rank ${rank}; give one entry per axis`);
  }
  const out = perm.map((a) => normalizeAxis(op, a, rank));
  if (new Set(out).size !== rank) {
    throw new IndexError(`${op}: ${describeValue(perm)} is not a permutation of the axes 0..${rank - 1}`);
  }
  return out;
}

export function inversePermutation(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}
