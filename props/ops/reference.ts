/**
 * Small, independent reference implementations in float64 over plain arrays, written from
 * the NumPy/PyTorch definitions (not from functs' composites), and the generated data the
 * property tests feed to both.
 */
import fc from 'fast-check';
import { tensor, type DType, type Tensor } from '../../src/index.js';
import { valuesArb, shapeArb, type ShapeOptions, type ValueOptions } from '../../src/testing/arbitraries.js';

/** A row-major array of float64 values. */
export interface Ref {
  readonly shape: readonly number[];
  readonly data: readonly number[];
}

/** Generated input: plain data, so that fast-check prints counterexamples readably. */
export interface Data extends Ref {
  readonly dtype: DType;
}

/** What a stored element of `dtype` holds for the value v. */
export function stored(v: number, dtype: DType): number {
  switch (dtype) {
    case 'float32': return Math.fround(v);
    case 'float64': return v;
    case 'int32': return v | 0;
    case 'bool': return v !== 0 ? 1 : 0;
    default: return dtype satisfies never;
  }
}

export function dataArb(shape: readonly number[], opts: ValueOptions = {}): fc.Arbitrary<Data> {
  const dtype = opts.dtype ?? 'float32';
  return valuesArb(sizeOf(shape), opts).map((values) => ({ shape: [...shape], dtype, data: values.map((v) => stored(v, dtype)) }));
}

export function shapedDataArb(shapeOpts: ShapeOptions = {}, valueOpts: ValueOptions = {}): fc.Arbitrary<Data> {
  return shapeArb(shapeOpts).chain((shape) => dataArb(shape, valueOpts));
}

export function toTensor(d: Data): Tensor {
  return tensor([...d.data], { dtype: d.dtype, shape: d.shape });
}

export function refOf(t: Tensor): Ref {
  return { shape: [...t.shape], data: Array.from(t.dataSync()) };
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function unravel(flat: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    index[d] = flat % shape[d];
    flat = Math.floor(flat / shape[d]);
  }
  return index;
}

export function ravel(index: readonly number[], shape: readonly number[]): number {
  let flat = 0;
  for (let d = 0; d < shape.length; d++) flat = flat * shape[d] + index[d];
  return flat;
}

/** The array of `shape` whose element at each index is f(index). */
export function build(shape: readonly number[], f: (index: number[]) => number): Ref {
  return { shape: [...shape], data: Array.from({ length: sizeOf(shape) }, (_, flat) => f(unravel(flat, shape))) };
}

export function at(a: Ref, index: readonly number[]): number {
  return a.data[ravel(index, a.shape)];
}

/** The nested-array form of a Ref (for assertAllClose). */
export function nested(a: Ref): number | unknown[] {
  const go = (axis: number, offset: number): number | unknown[] => {
    if (axis === a.shape.length) return a.data[offset];
    const inner = sizeOf(a.shape.slice(axis + 1));
    return Array.from({ length: a.shape[axis] }, (_, i) => go(axis + 1, offset + i * inner));
  };
  return go(0, 0);
}

// Broadcasting -----------------------------------------------------------------------------

/** NumPy's rule: align on the right; each pair of sizes equal, or one of them 1. Null if not. */
export function broadcastShapeRef(shapes: readonly (readonly number[])[]): number[] | null {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let fromRight = rank; fromRight >= 1; fromRight--) {
    const sizes = shapes.map((s) => s[s.length - fromRight] ?? 1);
    const big = sizes.filter((d) => d !== 1);
    if (new Set(big).size > 1) return null;
    out.push(big.length ? big[0] : 1);
  }
  return out;
}

/** Reads `a` at an index of the broadcast result shape (missing leading axes, size-1 axes). */
export function broadcastAt(a: Ref, outIndex: readonly number[]): number {
  const lead = outIndex.length - a.shape.length;
  return at(a, a.shape.map((d, i) => (d === 1 ? 0 : outIndex[lead + i])));
}

/** f applied elementwise to broadcast operands. */
export function zip(f: (...values: number[]) => number, ...operands: Ref[]): Ref {
  const shape = broadcastShapeRef(operands.map((o) => o.shape));
  if (!shape) throw new Error('reference zip: operands do not broadcast');
  return build(shape, (index) => f(...operands.map((o) => broadcastAt(o, index))));
}

// Reductions -------------------------------------------------------------------------------

export function normalize(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** combine(values) over `axes` for every index of the other axes. */
export function reduceRef(a: Ref, axes: readonly number[], keepdims: boolean, combine: (values: number[]) => number): Ref {
  const reduced = new Set(axes.map((x) => normalize(x, a.shape.length)));
  const kept = a.shape.map((d, i) => (reduced.has(i) ? 1 : d));
  const groups = new Map<number, number[]>();
  for (let flat = 0; flat < a.data.length; flat++) {
    const index = unravel(flat, a.shape).map((v, i) => (reduced.has(i) ? 0 : v));
    const key = ravel(index, kept);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(a.data[flat]);
  }
  const out = build(kept, (index) => combine(groups.get(ravel(index, kept)) ?? []));
  return keepdims ? out : { shape: a.shape.filter((_, i) => !reduced.has(i)), data: out.data };
}

export const sumOf = (values: number[]) => values.reduce((s, v) => s + v, 0);
export const absSumOf = (values: number[]) => values.reduce((s, v) => s + Math.abs(v), 0);

// Movement ---------------------------------------------------------------------------------

export function permuteRef(a: Ref, perm: readonly number[]): Ref {
  const p = perm.map((x) => normalize(x, a.shape.length));
  const shape = p.map((axis) => a.shape[axis]);
  return build(shape, (index) => {
    const source = new Array<number>(a.shape.length);
    p.forEach((axis, i) => (source[axis] = index[i]));
    return at(a, source);
  });
}

/** The positions Python's `range(*slice(start, stop, step).indices(n))` visits (CPython's algorithm). */
export function pythonSliceIndices(n: number, start: number | undefined, stop: number | undefined, step = 1): number[] {
  const lower = step > 0 ? 0 : -1;
  const upper = step > 0 ? n : n - 1;
  const clamp = (v: number | undefined, fallback: number) => (v === undefined ? fallback : v < 0 ? Math.max(v + n, lower) : Math.min(v, upper));
  const first = clamp(start, step > 0 ? lower : upper);
  const last = clamp(stop, step > 0 ? upper : lower);
  const out: number[] = [];
  for (let i = first; step > 0 ? i < last : i > last; i += step) out.push(i);
  return out;
}

/** Takes, along each axis, the listed positions. */
export function takeRef(a: Ref, positions: readonly (readonly number[])[]): Ref {
  return build(positions.map((p) => p.length), (index) => at(a, index.map((i, d) => positions[d][i])));
}

export function padRef(a: Ref, pads: readonly (readonly [number, number])[], value: number): Ref {
  const shape = a.shape.map((d, i) => d + pads[i][0] + pads[i][1]);
  return build(shape, (index) => {
    const source = index.map((i, d) => i - pads[d][0]);
    return source.every((s, d) => s >= 0 && s < a.shape[d]) ? at(a, source) : value;
  });
}

export function flipRef(a: Ref, axes: readonly number[]): Ref {
  const flipped = new Set(axes.map((x) => normalize(x, a.shape.length)));
  return build(a.shape, (index) => at(a, index.map((i, d) => (flipped.has(d) ? a.shape[d] - 1 - i : i))));
}

export function concatRef(parts: readonly Ref[], axis: number): Ref {
  const ax = normalize(axis, parts[0].shape.length);
  const shape = parts[0].shape.map((d, i) => (i === ax ? parts.reduce((s, p) => s + p.shape[ax], 0) : d));
  return build(shape, (index) => {
    let i = index[ax];
    for (const p of parts) {
      if (i < p.shape[ax]) return at(p, index.map((v, d) => (d === ax ? i : v)));
      i -= p.shape[ax];
    }
    throw new Error('unreachable');
  });
}

export function tileRef(a: Ref, reps: readonly number[]): Ref {
  const rank = Math.max(a.shape.length, reps.length);
  const shapeIn = [...new Array<number>(rank - a.shape.length).fill(1), ...a.shape];
  const fullReps = [...new Array<number>(rank - reps.length).fill(1), ...reps];
  const lifted = { shape: shapeIn, data: a.data };
  return build(shapeIn.map((d, i) => d * fullReps[i]), (index) => at(lifted, index.map((v, d) => v % shapeIn[d])));
}

/** torch.gather: out[...i_axis...] = a[... index[...] ...]. */
export function gatherRef(a: Ref, axis: number, index: Ref): Ref {
  const ax = normalize(axis, a.shape.length);
  return build(index.shape, (i) => {
    const k = at(index, i);
    return at(a, i.map((v, d) => (d === ax ? (k < 0 ? k + a.shape[ax] : k) : v)));
  });
}

export function scatterAddRef(a: Ref, axis: number, index: Ref, src: Ref): Ref {
  const ax = normalize(axis, a.shape.length);
  const data = [...a.data];
  for (let flat = 0; flat < index.data.length; flat++) {
    const i = unravel(flat, index.shape);
    const k = index.data[flat];
    const target = i.map((v, d) => (d === ax ? (k < 0 ? k + a.shape[ax] : k) : v));
    data[ravel(target, a.shape)] += at(src, i);
  }
  return { shape: a.shape, data };
}

/** torch.diagonal: the diagonal of the (axis1, axis2) plane with `offset`, as the last axis. */
export function diagonalRef(a: Ref, offset: number, axis1: number, axis2: number): Ref {
  const r = a.shape.length;
  const a1 = normalize(axis1, r);
  const a2 = normalize(axis2, r);
  const rest = a.shape.map((_, i) => i).filter((i) => i !== a1 && i !== a2);
  const row0 = Math.max(0, -offset);
  const col0 = Math.max(0, offset);
  const len = Math.max(0, Math.min(a.shape[a1] - row0, a.shape[a2] - col0));
  return build([...rest.map((i) => a.shape[i]), len], (index) => {
    const source = new Array<number>(r);
    rest.forEach((axis, j) => (source[axis] = index[j]));
    const k = index[index.length - 1];
    source[a1] = row0 + k;
    source[a2] = col0 + k;
    return at(a, source);
  });
}

// Linear algebra ---------------------------------------------------------------------------

/** numpy.matmul: 1-D operands become a row / a column (removed afterwards); batch axes broadcast. */
export function matmulRef(a: Ref, b: Ref): Ref {
  const x = a.shape.length === 1 ? { shape: [1, a.shape[0]], data: a.data } : a;
  const y = b.shape.length === 1 ? { shape: [b.shape[0], 1], data: b.data } : b;
  const [n, k] = x.shape.slice(-2);
  const m = y.shape[y.shape.length - 1];
  const batch = broadcastShapeRef([x.shape.slice(0, -2), y.shape.slice(0, -2)]);
  if (!batch) throw new Error('reference matmul: batch axes do not broadcast');
  const out = build([...batch, n, m], (index) => {
    const bi = index.slice(0, -2);
    const [i, j] = index.slice(-2);
    let s = 0;
    for (let q = 0; q < k; q++) {
      s += broadcastAt({ shape: x.shape, data: x.data }, [...bi, i, q]) * broadcastAt({ shape: y.shape, data: y.data }, [...bi, q, j]);
    }
    return s;
  });
  let shape = out.shape;
  if (a.shape.length === 1) shape = [...shape.slice(0, -2), shape[shape.length - 1]];
  if (b.shape.length === 1) shape = shape.slice(0, -1);
  return { shape, data: out.data };
}

/** einsum by brute force: sum over every assignment of the letters. */
export function einsumRef(spec: string, operands: readonly Ref[]): Ref {
  const [lhs, rhs] = spec.split('->');
  const inputs = lhs.split(',');
  const sizes = new Map<string, number>();
  inputs.forEach((subs, k) => [...subs].forEach((c, i) => sizes.set(c, operands[k].shape[i])));
  const letters = [...sizes.keys()];
  const summed = letters.filter((c) => !rhs.includes(c));
  const outShape = [...rhs].map((c) => sizes.get(c)!);
  const summedShape = summed.map((c) => sizes.get(c)!);
  return build(outShape, (index) => {
    let total = 0;
    for (let flat = 0; flat < sizeOf(summedShape); flat++) {
      const value = new Map<string, number>();
      [...rhs].forEach((c, i) => value.set(c, index[i]));
      unravel(flat, summedShape).forEach((v, i) => value.set(summed[i], v));
      total += operands.reduce((p, o, k) => p * at(o, [...inputs[k]].map((c) => value.get(c)!)), 1);
    }
    return total;
  });
}

/** Tolerances for comparing a result computed in `dtype` with a float64 reference. */
export function tolerance(dtype: DType, scale = 1): { rtol: number; atol: number } {
  return dtype === 'float64' ? { rtol: 1e-10, atol: 1e-10 * scale } : { rtol: 2e-5, atol: 2e-5 * scale };
}
