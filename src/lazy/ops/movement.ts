/** Movement ops: composites over reshape, permute, expand, pad, shrink, flip, gather, scatter_add. */
import { promoteTypes } from '../dtype.js';
import { ArgumentError, describeValue, DTypeError, IndexError, ShapeError } from '../errors.js';
import { constValueOf } from '../build.js';
import { broadcastShapes, checkPermutation, formatShape, normalizeAxes, normalizeAxis, sizeOf, type Shape } from '../shape.js';
import { Tensor } from '../tensor.js';
import { applyPrim, asTensor, type TensorLike } from './core.js';
import { add, cast, where, ge, le, sub } from './elementwise.js';
import { full, iota } from './creation.js';

/** Refuses a shape (or permutation) argument that is not a list, e.g. `x.reshape(undefined)`. */
function checkShapeList(op: string, list: unknown, what = 'shape'): void {
  if (!Array.isArray(list)) throw new ArgumentError(`${op}: the ${what} ${describeValue(list)} is not a list of numbers; pass one, e.g. x.${op}([2, 3])`);
}

/** Reshapes to `shape`; one entry may be -1 and is then inferred. */
export function reshape(x: TensorLike, shape: readonly number[]): Tensor {
  const t = asTensor(x, undefined, 'reshape');
  checkShapeList('reshape', shape);
  const total = sizeOf(t.shape);
  const unknown = shape.filter((d) => d === -1).length;
  for (const d of shape) {
    if (!Number.isInteger(d) || (d < 0 && d !== -1)) throw new ArgumentError(`reshape: ${formatShape(shape)} has an invalid dimension ${d}; use whole numbers >= 0 and at most one -1`);
  }
  if (unknown > 1) throw new ShapeError(`reshape: ${formatShape(shape)} has more than one -1; give all but one dimension`);
  let target = [...shape];
  if (unknown === 1) {
    const known = sizeOf(shape.filter((d) => d !== -1));
    if (known === 0 || total % known !== 0) throw new ShapeError(`reshape: cannot reshape a tensor of shape ${formatShape(t.shape)} (${total} elements) into ${formatShape(shape)}`);
    target = shape.map((d) => (d === -1 ? total / known : d));
  }
  if (sizeOf(target) !== total) {
    throw new ShapeError(`reshape: cannot reshape a tensor of shape ${formatShape(t.shape)} (${total} elements) into ${formatShape(shape)} (${sizeOf(target)} elements); the sizes must match`);
  }
  return applyPrim('reshape', [t], { shape: target });
}

export function permute(x: TensorLike, perm: readonly number[]): Tensor {
  const t = asTensor(x, undefined, 'permute');
  checkShapeList('permute', perm, 'permutation');
  return applyPrim('permute', [t], { perm: checkPermutation('permute', perm, t.rank) });
}

/** NumPy's broadcast_to: prepends axes as needed; -1 keeps a dimension. */
export function broadcastTo(x: TensorLike, shape: readonly number[]): Tensor {
  const t = asTensor(x, undefined, 'broadcastTo');
  checkShapeList('broadcastTo', shape);
  if (shape.length < t.rank) throw new ShapeError(`broadcastTo: cannot broadcast shape ${formatShape(t.shape)} to the lower rank ${formatShape(shape)}`);
  const lead = shape.length - t.rank;
  const target = shape.map((d, i) => (d === -1 && i >= lead ? t.shape[i - lead] : d));
  const full = broadcastShapes('broadcastTo', t.shape, target);
  if (full.some((d, i) => d !== target[i])) throw new ShapeError(`broadcastTo: cannot broadcast shape ${formatShape(t.shape)} to ${formatShape(shape)}; each dimension must equal the target or be 1`);
  const ranked = lead ? applyPrim('reshape', [t], { shape: [...new Array<number>(lead).fill(1), ...t.shape] }) : t;
  return applyPrim('expand', [ranked], { shape: target });
}
export const expand = broadcastTo;

export function unsqueeze(x: TensorLike, axis: number): Tensor {
  const t = asTensor(x, undefined, 'unsqueeze');
  const at = normalizeAxis('unsqueeze', axis, t.rank + 1);
  const shape = [...t.shape];
  shape.splice(at, 0, 1);
  return applyPrim('reshape', [t], { shape });
}

/** Removes the given size-1 axes (all size-1 axes when `axis` is omitted). */
export function squeeze(x: TensorLike, axis?: number | readonly number[]): Tensor {
  const t = asTensor(x, undefined, 'squeeze');
  const axes = axis === undefined ? t.shape.flatMap((d, i) => (d === 1 ? [i] : [])) : normalizeAxes('squeeze', axis, t.rank);
  for (const a of axes) {
    if (t.shape[a] !== 1) throw new ShapeError(`squeeze: axis ${a} of shape ${formatShape(t.shape)} has size ${t.shape[a]}, not 1; only size-1 axes can be squeezed`);
  }
  return applyPrim('reshape', [t], { shape: t.shape.filter((_, i) => !axes.includes(i)) });
}

/** Moves axis `source` to position `destination`, keeping the others in order. */
export function moveaxis(x: TensorLike, source: number, destination: number): Tensor {
  const t = asTensor(x, undefined, 'movedim');
  const from = normalizeAxis('movedim', source, t.rank);
  const to = normalizeAxis('movedim', destination, t.rank);
  const order = t.shape.map((_, i) => i).filter((i) => i !== from);
  order.splice(to, 0, from);
  return permute(t, order);
}
export const movedim = moveaxis;

/** Swaps two axes (by default the last two; tensors of rank < 2 are returned as they are). */
export function transpose(x: TensorLike, dim0 = -2, dim1 = -1): Tensor {
  const t = asTensor(x, undefined, 'transpose');
  if (t.rank < 2 && dim0 === -2 && dim1 === -1) return t;
  const a = normalizeAxis('transpose', dim0, t.rank);
  const b = normalizeAxis('transpose', dim1, t.rank);
  const perm = t.shape.map((_, i) => (i === a ? b : i === b ? a : i));
  return permute(t, perm);
}

/** Merges the axes startDim..endDim (inclusive) into one. */
export function flatten(x: TensorLike, startDim = 0, endDim = -1): Tensor {
  const t = asTensor(x, undefined, 'flatten');
  if (t.rank === 0) return reshape(t, [1]);
  const s = normalizeAxis('flatten', startDim, t.rank);
  const e = normalizeAxis('flatten', endDim, t.rank);
  if (s > e) throw new IndexError(`flatten: startDim ${startDim} comes after endDim ${endDim} for shape ${formatShape(t.shape)}`);
  const merged = sizeOf(t.shape.slice(s, e + 1));
  return reshape(t, [...t.shape.slice(0, s), merged, ...t.shape.slice(e + 1)]);
}

/** Pads each axis with `[before, after]` elements of `value` (NumPy order: one pair per axis). Negative amounts crop. */
export function pad(x: TensorLike, pads: readonly (readonly [number, number])[], value = 0): Tensor {
  const t = asTensor(x, undefined, 'pad');
  if (pads.length !== t.rank) throw new ShapeError(`pad: got ${pads.length} [before, after] pairs for a tensor of shape ${formatShape(t.shape)}; give one pair per axis`);
  pads.forEach(([lo, hi], i) => {
    if (!Number.isInteger(lo) || !Number.isInteger(hi)) throw new ArgumentError(`pad: amounts must be whole numbers, got ${describeValue(pads)}`);
    if (Math.max(0, -lo) + Math.max(0, -hi) > t.shape[i]) {
      throw new ShapeError(`pad: ${describeValue(pads)} crops ${Math.max(0, -lo) + Math.max(0, -hi)} elements from axis ${i} of shape ${formatShape(t.shape)}, which has ${t.shape[i]}; negative amounts may crop at most the whole axis`);
    }
  });
  const cropped = shrink(t, pads.map(([lo, hi], i) => [Math.max(0, -lo), t.shape[i] - Math.max(0, -hi)] as [number, number]));
  const grow = pads.map(([lo, hi]) => [Math.max(0, lo), Math.max(0, hi)] as [number, number]);
  if (grow.every(([lo, hi]) => lo === 0 && hi === 0)) return cropped;
  const padded = applyPrim('pad', [cropped], { pads: grow });
  if (value === 0) return padded;
  // The primitive pads with zeros; a mask of the original positions then picks `value`
  // for the rest. (Padding x - value and adding value back would round x and turn an
  // infinite value into NaN.) The value takes the dtype of x, as in NumPy.
  const inside = applyPrim('pad', [full(cropped.shape, true)], { pads: grow });
  return where(inside, padded, full([], value, { dtype: t.dtype }));
}

/** Keeps `[start, end)` of each axis (the shrink primitive). */
export function shrink(x: TensorLike, ranges: readonly (readonly [number, number])[]): Tensor {
  const t = asTensor(x, undefined, 'shrink');
  ranges.forEach(([s, e], i) => {
    if (!(Number.isInteger(s) && Number.isInteger(e) && 0 <= s && s <= e && e <= t.shape[i])) {
      throw new IndexError(`shrink: range [${s}, ${e}) is outside axis ${i} of shape ${formatShape(t.shape)}`);
    }
  });
  return applyPrim('shrink', [t], { ranges: ranges.map(([s, e]) => [s, e]) });
}

/** Reverses the order of elements along the given axes (all axes when omitted). */
export function flip(x: TensorLike, axis?: number | readonly number[]): Tensor {
  const t = asTensor(x, undefined, 'flip');
  return applyPrim('flip', [t], { axes: normalizeAxes('flip', axis, t.rank) });
}

/** One axis of a slice: Python's `start:stop:step` (omitted parts take their defaults). */
export type SliceSpec = null | number | readonly [number?, number?, number?] | { start?: number; stop?: number; step?: number };

function resolveSlice(spec: Exclude<SliceSpec, number | null>, size: number, axis: number): [number, number, number] {
  const [start, stop, step] = Array.isArray(spec) ? spec : [(spec as { start?: number }).start, (spec as { stop?: number }).stop, (spec as { step?: number }).step];
  const s = step ?? 1;
  if (!Number.isInteger(s) || s === 0) throw new ArgumentError(`slice: step ${String(step)} on axis ${axis} must be a non-zero whole number`);
  for (const bound of [start, stop]) {
    if (bound !== undefined && bound !== null && !Number.isInteger(bound)) throw new ArgumentError(`slice: start and stop on axis ${axis} must be whole numbers, got ${String(bound)}`);
  }
  const clampIndex = (i: number, lo: number, hi: number) => Math.min(Math.max(i < 0 ? i + size : i, lo), hi);
  if (s > 0) return [clampIndex(start ?? 0, 0, size), clampIndex(stop ?? size, 0, size), s];
  return [clampIndex(start ?? size - 1, -1, size - 1), stop === undefined ? -1 : clampIndex(stop, -1, size - 1), s];
}

/**
 * Python-style slicing, one spec per leading axis: `null` keeps the axis, a number selects
 * one index (and drops the axis), `[start, stop, step]` slices.
 * @example slice(x, [null, [1, 5, 2]]) // x[:, 1:5:2]
 */
export function slice(x: TensorLike, specs: readonly SliceSpec[]): Tensor {
  let t = asTensor(x, undefined, 'slice');
  if (specs.length > t.rank) throw new IndexError(`slice: ${specs.length} specs for a tensor of shape ${formatShape(t.shape)}; give at most one per axis`);
  const dropped: number[] = [];
  specs.forEach((spec, axis) => {
    if (spec === null) return;
    if (typeof spec === 'number') {
      t = selectKeep('slice', t, axis, spec);
      dropped.push(axis);
      return;
    }
    const size = t.shape[axis];
    const [start, stop, step] = resolveSlice(spec, size, axis);
    if (step > 0) t = stepAxis(narrow(t, axis, start, Math.max(start, stop)), axis, step);
    else {
      const lo = Math.max(stop + 1, 0);
      const hi = Math.max(start + 1, lo);
      t = stepAxis(flip(narrow(t, axis, lo, hi), axis), axis, -step);
    }
  });
  return dropped.length ? squeeze(t, dropped) : t;
}

function narrow(t: Tensor, axis: number, start: number, end: number): Tensor {
  return shrink(t, t.shape.map((d, i) => (i === axis ? [start, end] : [0, d]) as [number, number]));
}

/** Every `step`-th element along `axis`, by padding to a multiple of step and reshaping. */
function stepAxis(t: Tensor, axis: number, step: number): Tensor {
  if (step === 1) return t;
  const n = t.shape[axis];
  const count = Math.ceil(n / step);
  const padded = applyPrim('pad', [t], { pads: t.shape.map((_, i) => (i === axis ? [0, count * step - n] : [0, 0])) });
  const split = reshape(padded, [...t.shape.slice(0, axis), count, step, ...t.shape.slice(axis + 1)]);
  const first = shrink(split, split.shape.map((d, i) => (i === axis + 1 ? [0, 1] : [0, d]) as [number, number]));
  return reshape(first, [...t.shape.slice(0, axis), count, ...t.shape.slice(axis + 1)]);
}

function selectKeep(op: string, t: Tensor, axis: number, index: number): Tensor {
  const size = t.shape[axis];
  if (!Number.isInteger(index)) throw new IndexError(`${op}: index ${describeValue(index)} must be an integer (a whole number in [${-size}, ${size - 1}] for axis ${axis} of shape ${formatShape(t.shape)})`);
  if (index < -size || index >= size) {
    throw new IndexError(`${op}: index ${index} is out of range for axis ${axis} of shape ${formatShape(t.shape)}; use an index in [${-size}, ${size - 1}]`);
  }
  const i = index < 0 ? index + size : index;
  return narrow(t, axis, i, i + 1);
}

/** The slice at `index` along `axis`, with that axis removed. */
export function select(x: TensorLike, axis: number, index: number): Tensor {
  const t = asTensor(x, undefined, 'select');
  const a = normalizeAxis('select', axis, t.rank);
  return squeeze(selectKeep('select', t, a, index), a);
}

/** Joins tensors along an existing axis. */
export function concat(tensors: readonly TensorLike[], axis = 0): Tensor {
  if (tensors.length === 0) throw new ArgumentError('concat: needs at least one tensor');
  const ts = tensors.map((x) => asTensor(x, undefined, 'concat'));
  const first = ts[0];
  const a = normalizeAxis('concat', axis, first.rank);
  for (const t of ts) {
    if (t.rank !== first.rank || t.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw new ShapeError(`concat: shapes ${ts.map((u) => formatShape(u.shape)).join(', ')} differ outside axis ${a}; all other dimensions must match`);
    }
  }
  const total = ts.reduce((s, t) => s + t.shape[a], 0);
  const dtype = ts.map((t) => t.dtype).reduce(promoteTypes);
  let offset = 0;
  let out: Tensor | undefined;
  for (const t of ts) {
    const pads = t.shape.map((_, i) => (i === a ? [offset, total - offset - t.shape[a]] : [0, 0]));
    const placed = applyPrim('pad', [cast(t, dtype)], { pads });
    // Each position belongs to one piece: a mask of the piece's positions picks its values
    // exactly. (Adding the zero-padded pieces would turn -0 into 0, and bool into int32.)
    out = out ? where(applyPrim('pad', [full(t.shape, true)], { pads }), placed, out) : placed;
    offset += t.shape[a];
  }
  return out!;
}

/** Joins tensors of one shape along a new axis. */
export function stack(tensors: readonly TensorLike[], axis = 0): Tensor {
  if (tensors.length === 0) throw new ArgumentError('stack: needs at least one tensor');
  const ts = tensors.map((x) => asTensor(x, undefined, 'stack'));
  for (const t of ts) {
    if (t.rank !== ts[0].rank || t.shape.some((d, i) => d !== ts[0].shape[i])) {
      throw new ShapeError(`stack: shapes ${ts.map((u) => formatShape(u.shape)).join(', ')} differ; stacked tensors must have one shape`);
    }
  }
  const a = normalizeAxis('stack', axis, ts[0].rank + 1);
  return concat(ts.map((t) => unsqueeze(t, a)), a);
}

/** Splits into chunks of `sizeOrSections` (a number: equal chunks, the last may be smaller; a list: those sizes). */
export function split(x: TensorLike, sizeOrSections: number | readonly number[], axis = 0): Tensor[] {
  const t = asTensor(x, undefined, 'split');
  const a = normalizeAxis('split', axis, t.rank);
  const n = t.shape[a];
  let sizes: number[];
  if (typeof sizeOrSections === 'number') {
    if (!Number.isInteger(sizeOrSections) || sizeOrSections <= 0) throw new ArgumentError(`split: chunk size ${sizeOrSections} must be a positive whole number`);
    sizes = [];
    for (let s = 0; s < n; s += sizeOrSections) sizes.push(Math.min(sizeOrSections, n - s));
  } else {
    sizes = [...sizeOrSections];
    if (sizes.reduce((s, d) => s + d, 0) !== n || sizes.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new ShapeError(`split: sizes ${describeValue(sizes)} do not add up to ${n}, the size of axis ${a} of shape ${formatShape(t.shape)}`);
    }
  }
  let start = 0;
  return sizes.map((size) => {
    const part = narrow(t, a, start, start + size);
    start += size;
    return part;
  });
}

/** Repeats the tensor `reps[i]` times along each axis. */
export function tile(x: TensorLike, reps: readonly number[]): Tensor {
  let t = asTensor(x, undefined, 'tile');
  for (const r of reps) if (!Number.isInteger(r) || r < 0) throw new ArgumentError(`tile: repetitions ${describeValue(reps)} must be whole numbers >= 0`);
  const rank = Math.max(t.rank, reps.length);
  const fullReps = [...new Array<number>(rank - reps.length).fill(1), ...reps];
  t = reshape(t, [...new Array<number>(rank - t.rank).fill(1), ...t.shape]);
  // [r0, d0, r1, d1, ...] by inserting a broadcast axis before each axis, then merge pairs.
  const interleaved = reshape(t, t.shape.flatMap((d) => [1, d]));
  const expanded = broadcastTo(interleaved, t.shape.flatMap((d, i) => [fullReps[i], d]));
  return reshape(expanded, t.shape.map((d, i) => d * fullReps[i]));
}

/** The diagonal of the plane (axis1, axis2), placed as the last axis (as torch.diagonal). */
export function diagonal(x: TensorLike, offset = 0, axis1 = 0, axis2 = 1): Tensor {
  const t = asTensor(x, undefined, 'diagonal');
  if (t.rank < 2) throw new ShapeError(`diagonal: needs a tensor of rank >= 2, got shape ${formatShape(t.shape)}`);
  const a = normalizeAxis('diagonal', axis1, t.rank);
  const b = normalizeAxis('diagonal', axis2, t.rank);
  if (a === b) throw new IndexError(`diagonal: axis1 and axis2 are both ${a}; give two different axes`);
  const rest = t.shape.map((_, i) => i).filter((i) => i !== a && i !== b);
  let m = permute(t, [...rest, a, b]);
  const batch = m.shape.slice(0, -2);
  const rows = m.shape[m.rank - 2];
  const cols = m.shape[m.rank - 1];
  const r0 = offset < 0 ? -offset : 0;
  const c0 = offset > 0 ? offset : 0;
  const len = Math.max(0, Math.min(rows - r0, cols - c0));
  if (len === 0) return reshape(shrink(m, m.shape.map((d, i) => (i >= batch.length ? [0, 0] : [0, d]) as [number, number])), [...batch, 0]);
  m = shrink(m, [...batch.map((d) => [0, d] as [number, number]), [r0, r0 + len], [c0, c0 + len]]);
  const flat = reshape(m, [...batch, len * len]);
  const padded = applyPrim('pad', [flat], { pads: [...batch.map(() => [0, 0]), [0, len]] });
  const rowsOfLenPlusOne = reshape(padded, [...batch, len, len + 1]);
  return reshape(shrink(rowsOfLenPlusOne, [...batch.map((d) => [0, d] as [number, number]), [0, len], [0, 1]]), [...batch, len]);
}

function triangle(x: TensorLike, k: number, keepUpper: boolean, op: string): Tensor {
  const t = asTensor(x, undefined, op);
  if (t.rank < 2) throw new ShapeError(`${op}: needs a tensor of rank >= 2, got shape ${formatShape(t.shape)}`);
  const rows = t.shape[t.rank - 2];
  const cols = t.shape[t.rank - 1];
  const offset = sub(iota([rows, cols], 1), iota([rows, cols], 0));
  const mask = keepUpper ? ge(offset, k) : le(offset, k);
  return where(mask, t, cast(0, t.dtype));
}
/** Keeps the elements on and above the k-th diagonal of the last two axes. */
export const triu = (x: TensorLike, k = 0): Tensor => triangle(x, k, true, 'triu');
/** Keeps the elements on and below the k-th diagonal of the last two axes. */
export const tril = (x: TensorLike, k = 0): Tensor => triangle(x, k, false, 'tril');

function checkIndex(op: string, index: Tensor): void {
  if (index.dtype !== 'int32') throw new DTypeError(`${op}: indices must be int32, got ${index.dtype} of shape ${formatShape(index.shape)}; build them with {dtype: 'int32'} or cast`);
}

/**
 * Checks index values that are known already (computed, or constant: the usual case of
 * indices built from data), so that a bad index fails here, naming the op, rather than when
 * a value is read. Indices still to be computed are checked by the primitive as it runs.
 */
export function checkIndexValues(op: string, index: Tensor, axis: number, input: Shape): void {
  const size = input[axis];
  const constant = constValueOf(index.node);
  const values = constant !== undefined ? (index.size > 0 ? [constant] : []) : index.node.realized?.readableNow();
  if (!values) return;
  for (const v of values) {
    if (v < -size || v >= size) {
      throw new IndexError(`${op}: index ${v} is out of range for axis ${axis} of size ${size} (input shape ${formatShape(input)}, index shape ${formatShape(index.shape)}); indices must lie in [${-size}, ${size - 1}]`);
    }
  }
}

/**
 * torch.gather: `out[i][j] = x[i][index[i][j]]` along `axis`; `index` has the rank of `x`
 * and, off `axis`, dimensions no larger than those of `x`.
 */
export function gather(x: TensorLike, axis: number, index: TensorLike): Tensor {
  const t = asTensor(x, undefined, 'gather');
  const idx = asTensor(index, 'int32', 'gather');
  checkIndex('gather', idx);
  const a = normalizeAxis('gather', axis, t.rank);
  if (idx.rank !== t.rank || idx.shape.some((d, i) => i !== a && d > t.shape[i])) {
    throw new ShapeError(`gather: index of shape ${formatShape(idx.shape)} does not fit input of shape ${formatShape(t.shape)} along axis ${a}; it needs the same rank and no larger dimensions off that axis`);
  }
  checkIndexValues('gather', idx, a, t.shape);
  const source = shrink(t, t.shape.map((d, i) => (i === a ? [0, d] : [0, idx.shape[i]]) as [number, number]));
  return applyPrim('gather', [source, idx], { axis: a });
}

/** The entries of `x` at positions `index` (1-D int32) along `axis`. */
export function indexSelect(x: TensorLike, axis: number, index: TensorLike): Tensor {
  const t = asTensor(x, undefined, 'indexSelect');
  const idx = asTensor(index, 'int32', 'indexSelect');
  checkIndex('indexSelect', idx);
  if (idx.rank !== 1) throw new ShapeError(`indexSelect: index must be 1-D, got shape ${formatShape(idx.shape)}`);
  const a = normalizeAxis('indexSelect', axis, t.rank);
  checkIndexValues('indexSelect', idx, a, t.shape);
  const shape = t.shape.map((d, i) => (i === a ? idx.shape[0] : d));
  const view = reshape(idx, t.shape.map((_, i) => (i === a ? idx.shape[0] : 1)));
  return applyPrim('gather', [t, broadcastTo(view, shape)], { axis: a });
}

/** torch.scatter_add: a copy of `x` with `src[i][j]` added at `x[i][index[i][j]]` along `axis`. */
export function scatterAdd(x: TensorLike, axis: number, index: TensorLike, src: TensorLike): Tensor {
  const t = asTensor(x, undefined, 'scatterAdd');
  const idx = asTensor(index, 'int32', 'scatterAdd');
  checkIndex('scatterAdd', idx);
  const a = normalizeAxis('scatterAdd', axis, t.rank);
  const s = asTensor(src, t.dtype, 'scatterAdd');
  if (idx.rank !== t.rank || s.rank !== t.rank || idx.shape.some((d, i) => d > s.shape[i] || (i !== a && d > t.shape[i]))) {
    throw new ShapeError(`scatterAdd: index ${formatShape(idx.shape)}, src ${formatShape(s.shape)} and input ${formatShape(t.shape)} do not fit along axis ${a}; index needs their rank and dimensions no larger than src's (and than the input's off that axis)`);
  }
  checkIndexValues('scatterAdd', idx, a, t.shape);
  const srcView = shrink(cast(s, t.dtype), idx.shape.map((d) => [0, d] as [number, number]));
  const scattered = applyPrim('scatter_add', [idx, srcView], { axis: a, size: t.shape[a] });
  const placed = applyPrim('pad', [scattered], { pads: t.shape.map((d, i) => [0, d - scattered.shape[i]]) });
  return add(t, placed);
}
