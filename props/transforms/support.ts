/**
 * Helpers shared by the transform tests: references computed independently of the
 * transforms (loops over examples, finite differences) and arbitraries for batched inputs.
 */
import fc from 'fast-check';
import { stack, tensor, type Tensor } from '../../src/index.js';
import { treeFlatten } from '../../src/lazy/pytree.js';
import { assertAllClose, numRuns, valuesArb } from '../../src/testing/index.js';

export { numRuns };

/** fast-check parameters for the transform properties (quick unless FUNCTS_THOROUGH=1). */
export function runs(quick: number, seed?: number): fc.Parameters<unknown> {
  return seed === undefined ? { numRuns: numRuns(quick) } : { numRuns: numRuns(quick), seed };
}

/** The i-th example of `x` along `dim` (null: the same x for every example). */
export function example(x: Tensor, dim: number | null, i: number): Tensor {
  return dim === null ? x : x.select(dim, i);
}

/**
 * The reference for vmap: call `f` on each example and stack the results along `outDim`
 * (a loop, no batching rule involved).
 */
export function loopOverExamples(f: (...args: Tensor[]) => Tensor, args: readonly Tensor[], inDims: readonly (number | null)[], outDim = 0): Tensor {
  const dims = args.map((a, k) => (inDims[k] === null ? null : normalize(inDims[k]!, a.rank)));
  const mapped = dims.findIndex((d) => d !== null);
  const size = args[mapped].shape[dims[mapped]!];
  const outs: Tensor[] = [];
  for (let i = 0; i < size; i++) outs.push(f(...args.map((a, k) => example(a, dims[k], i))));
  return stack(outs, outDim);
}

export function normalize(dim: number, rank: number): number {
  return dim < 0 ? dim + rank : dim;
}

/** Inserts an axis of `size` at `dim` into a shape. */
export function withAxis(shape: readonly number[], dim: number, size: number): number[] {
  const out = [...shape];
  out.splice(dim, 0, size);
  return out;
}

/**
 * For per-example shapes: a batch size, one inDims entry per argument (null, or an axis in
 * either sign, at least one not null) and batched float64 tensors in [-bound, bound].
 */
export function batchedArgsArb(shapes: readonly (readonly number[])[], opts: { bound?: number; maxBatch?: number } = {}): fc.Arbitrary<{ size: number; inDims: (number | null)[]; args: Tensor[] }> {
  const bound = opts.bound ?? 2;
  const dims = fc.tuple(...shapes.map((s) => fc.option(fc.integer({ min: -(s.length + 1), max: s.length }), { freq: 3 })));
  return fc
    .tuple(fc.integer({ min: 1, max: opts.maxBatch ?? 3 }), dims)
    .filter(([, d]) => d.some((x) => x !== null))
    .chain(([size, inDims]) => {
      const batchedShapes = shapes.map((s, i) => (inDims[i] === null ? [...s] : withAxis(s, normalize(inDims[i]!, s.length + 1), size)));
      return fc.tuple(...batchedShapes.map((s) => valuesArb(s.reduce((a, b) => a * b, 1), { dtype: 'float64', min: -bound, max: bound }).map((v) => tensor(v, { shape: s, dtype: 'float64' })))).map((args) => ({ size, inDims, args }));
    });
}

/** Random float64 tensors of the given shapes with standard-normal-like spread (for directions). */
export function directionsArb(shapes: readonly (readonly number[])[]): fc.Arbitrary<Tensor[]> {
  return fc.tuple(...shapes.map((s) => valuesArb(s.reduce((a, b) => a * b, 1), { dtype: 'float64', min: -1, max: 1 }).map((v) => tensor(v, { shape: s, dtype: 'float64' }))));
}

/** Sum over the leaves of two pytrees of tensors of <a, b>. */
export function innerProduct(a: unknown, b: unknown): number {
  const x = treeFlatten(a)[0] as Tensor[];
  const y = treeFlatten(b)[0] as Tensor[];
  if (x.length !== y.length) throw new Error(`innerProduct: ${x.length} vs ${y.length} leaves`);
  let total = 0;
  x.forEach((t, i) => {
    const u = t.cast('float64').dataSync();
    const v = y[i].cast('float64').dataSync();
    if (u.length !== v.length) throw new Error(`innerProduct: leaf ${i} has ${u.length} vs ${v.length} elements`);
    for (let k = 0; k < u.length; k++) total += u[k] * v[k];
  });
  return total;
}

/** assertAllClose with float64 tolerances that suit results of different summation orders. */
export function close(actual: Tensor | number, expected: Tensor | number, message: string, tol: { rtol?: number; atol?: number } = {}): void {
  assertAllClose(actual, expected, { rtol: tol.rtol ?? 1e-9, atol: tol.atol ?? 1e-9, message });
}
