/** Reductions and the softmax family on random shapes, axes and values against float64 references. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as F from '../../src/index.js';
import type { DType, Tensor } from '../../src/index.js';
import { axesArb, axisArb, numRuns } from '../../src/testing/arbitraries.js';
import { assertAllClose } from '../../src/testing/assert.js';
import { absSumOf, nested, normalize, ravel, reduceRef, shapedDataArb, sumOf, tolerance, toTensor, unravel, type Data } from './reference.js';

const FLOATS: readonly DType[] = ['float32', 'float64'];

/** Data with a random set of axes (possibly negative, possibly none) and keepdims. */
function reductionArb(dtype: DType, minDim = 1): fc.Arbitrary<[Data, number[], boolean]> {
  return shapedDataArb({ maxRank: 4, minDim }, { dtype }).chain((d) => fc.tuple(fc.constant(d), axesArb(d.shape), fc.boolean()));
}

const mean = (vs: number[]) => sumOf(vs) / vs.length;
const variance = (vs: number[], correction: number) => {
  const m = mean(vs);
  return sumOf(vs.map((v) => (v - m) ** 2)) / (vs.length - correction);
};
const logsumexp = (vs: number[]) => {
  const peak = Math.max(...vs);
  return peak + Math.log(sumOf(vs.map((v) => Math.exp(v - peak))));
};

interface ReductionCase {
  name: string;
  op: (x: Tensor, opts: { axis: number[]; keepdims: boolean }) => Tensor;
  ref: (values: number[]) => number;
  /** A scale for the absolute tolerance: the magnitude the float32 rounding errors grow with. */
  scale: (values: number[]) => number;
  /** The reduced group must be larger than this. */
  minGroup?: number;
}

const reductionCases: ReductionCase[] = [
  { name: 'sum', op: (x, o) => x.sum(o), ref: sumOf, scale: absSumOf },
  { name: 'mean', op: F.mean, ref: mean, scale: (vs) => absSumOf(vs) / vs.length },
  { name: 'prod', op: (x, o) => x.prod(o), ref: (vs) => vs.reduce((p, v) => p * v, 1), scale: (vs) => vs.reduce((p, v) => p * Math.max(1, Math.abs(v)), 1) },
  { name: 'max', op: F.max, ref: (vs) => Math.max(...vs), scale: () => 1 },
  { name: 'min', op: (x, o) => x.min(o), ref: (vs) => Math.min(...vs), scale: () => 1 },
  { name: 'var', op: F.variance, ref: (vs) => variance(vs, 1), scale: (vs) => 10 * Math.max(1, ...vs.map((v) => v * v)), minGroup: 1 },
  { name: 'std', op: (x, o) => x.std(o), ref: (vs) => Math.sqrt(variance(vs, 1)), scale: (vs) => 10 * Math.max(1, ...vs.map(Math.abs)), minGroup: 1 },
  { name: 'logsumexp', op: F.logsumexp, ref: logsumexp, scale: () => 1 },
];

/** The number of elements each output reduces. */
function groupSize(d: Data, axes: number[]): number {
  return axes.reduce((p, a) => p * d.shape[normalize(a, d.shape.length)], 1);
}

describe('reductions with axis lists, negative axes and keepdims', () => {
  for (const c of reductionCases) {
    test(c.name, () => {
      for (const dtype of FLOATS) {
        fc.assert(
          fc.property(reductionArb(dtype), ([d, axes, keepdims]) => {
            const whole = axes.length === 0 ? d.shape.map((_, i) => i) : axes;
            fc.pre(groupSize(d, whole) > (c.minGroup ?? 0));
            // An empty list reduces no axis; to reduce all, the list names them all.
            const out = c.op(toTensor(d), { axis: whole, keepdims });
            const expected = reduceRef(d, whole, keepdims, c.ref);
            const scale = Math.max(1, ...reduceRef(d, whole, true, c.scale).data);
            assert.deepEqual(out.shape, expected.shape);
            assertAllClose(out, nested(expected) as F.NestedNumbers, { ...tolerance(dtype, scale), message: `${c.name} ${dtype}` });
          }),
          { numRuns: numRuns(20) },
        );
      }
    });
  }

  test('sum over an empty axis list is the identity; over all axes by default', () => {
    fc.assert(
      fc.property(shapedDataArb({ maxRank: 3 }, { dtype: 'float64' }), (d) => {
        const x = toTensor(d);
        assert.deepEqual(x.sum({ axis: [] }).toArray(), x.toArray());
        assertAllClose(x.sum(), sumOf([...d.data]), { rtol: 1e-12, atol: 1e-12 * absSumOf([...d.data]) });
      }),
      { numRuns: numRuns(20) },
    );
  });

  test('int32 sums and products are exact', () => {
    fc.assert(
      fc.property(shapedDataArb({ maxRank: 3 }, { dtype: 'int32', min: -3, max: 3 }).chain((d) => fc.tuple(fc.constant(d), axesArb(d.shape))), ([d, axes]) => {
        const whole = axes.length === 0 ? d.shape.map((_, i) => i) : axes;
        const x = toTensor(d);
        assert.deepEqual(x.sum({ axis: whole }).toArray(), nested(reduceRef(d, whole, false, sumOf)));
        assert.deepEqual(x.prod({ axis: whole }).toArray(), nested(reduceRef(d, whole, false, (vs) => vs.reduce((p, v) => Math.imul(p, v), 1))));
      }),
      { numRuns: numRuns(20) },
    );
  });
});

describe('argmax and argmin', () => {
  // Few distinct values, so ties come up: the first extreme position wins.
  const tied = shapedDataArb({ minRank: 1, maxRank: 3 }, { dtype: 'int32', min: -2, max: 2 }).chain((d) => fc.tuple(fc.constant(d), axisArb(d.shape), fc.boolean()));
  const firstIndexOf = (pick: (vs: number[]) => number) => (vs: number[]) => vs.indexOf(pick(vs));

  test('along an axis, with and without keepdims', () => {
    fc.assert(
      fc.property(tied, ([d, axis, keepdims]) => {
        const x = toTensor({ ...d, dtype: 'float32' });
        const max = F.argmax(x, { axis, keepdims });
        const min = x.argmin({ axis, keepdims });
        assert.equal(max.dtype, 'int32');
        assert.deepEqual(max.toArray(), nested(reduceRef(d, [axis], keepdims, firstIndexOf((vs) => Math.max(...vs)))));
        assert.deepEqual(min.toArray(), nested(reduceRef(d, [axis], keepdims, firstIndexOf((vs) => Math.min(...vs)))));
      }),
      { numRuns: numRuns(30) },
    );
  });

  test('over the flattened tensor by default', () => {
    fc.assert(
      fc.property(tied, ([d]) => {
        const x = toTensor(d);
        const values = [...d.data];
        assert.equal(F.argmax(x).item(), values.indexOf(Math.max(...values)));
        assert.equal(x.argmin().item(), values.indexOf(Math.min(...values)));
      }),
      { numRuns: numRuns(30) },
    );
  });
});

describe('softmax and logSoftmax', () => {
  test('along a random axis, as the reference, summing to one', () => {
    for (const dtype of FLOATS) {
      fc.assert(
        fc.property(shapedDataArb({ minRank: 1, maxRank: 4 }, { dtype, min: -20, max: 20 }).chain((d) => fc.tuple(fc.constant(d), axisArb(d.shape))), ([d, axis]) => {
          const x = toTensor(d);
          const soft = F.softmax(x, axis);
          const logSoft = x.logSoftmax(axis);
          // Reference: each element against the slice of its axis.
          const ax = normalize(axis, d.shape.length);
          const lse = reduceRef(d, [ax], true, logsumexp);
          const expectedLog = d.data.map((v, flat) => {
            const index = unravel(flat, d.shape);
            index[ax] = 0;
            return v - lse.data[ravel(index, lse.shape)];
          });
          assertAllClose(logSoft, nested({ shape: d.shape, data: expectedLog }) as F.NestedNumbers, { ...tolerance(dtype, 20), message: `logSoftmax ${dtype}` });
          assertAllClose(soft, nested({ shape: d.shape, data: expectedLog.map(Math.exp) }) as F.NestedNumbers, { ...tolerance(dtype), message: `softmax ${dtype}` });
          assertAllClose(F.sum(soft, { axis }), nested(reduceRef(d, [ax], false, () => 1)) as F.NestedNumbers, tolerance(dtype, 10));
        }),
        { numRuns: numRuns(20) },
      );
    }
  });
});
