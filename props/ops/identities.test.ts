/** Algebraic identities of the movement ops and reductions, on random shapes and values. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as F from '../../src/index.js';
import { axesArb, numRuns, permutationArb, shapeArb } from '../../src/testing/arbitraries.js';
import { assertAllClose } from '../../src/testing/assert.js';
import { absSumOf, at, build, dataArb, nested, reduceRef, refOf, shapedDataArb, sizeOf, sumOf, toTensor, type Data } from './reference.js';

/** A factorization of `size` into up to `rank` factors, as a shape. */
function shapeOfSize(size: number, maxRank = 4): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: maxRank }).map((guesses) => {
    const shape: number[] = [];
    let left = size;
    for (const g of guesses) {
      const d = [g, 2, 1].find((c) => left % c === 0)!;
      shape.push(d);
      left /= d;
    }
    return left === 1 ? shape : [...shape, left];
  });
}

const anyData = shapedDataArb({ maxRank: 4 });
const nonScalarData = shapedDataArb({ minRank: 1, maxRank: 4 });

describe('reshape', () => {
  test('a reshape of a reshape is one reshape, with the same node', () => {
    fc.assert(
      fc.property(anyData.chain((d) => fc.tuple(fc.constant(d), shapeOfSize(sizeOf(d.shape)), shapeOfSize(sizeOf(d.shape)))), ([d, s1, s2]) => {
        const x = toTensor(d);
        const twice = x.reshape(s1).reshape(s2);
        const once = x.reshape(s2);
        assert.equal(twice.node, once.node, 'the simplifier folds reshape of reshape');
        assert.deepEqual(twice.shape, s2);
        assert.deepEqual(Array.from(twice.dataSync()), d.data, 'reshape keeps row-major order');
      }),
      { numRuns: numRuns(60) },
    );
  });

  test('flatten then reshape back is the identity', () => {
    fc.assert(
      fc.property(anyData, (d) => {
        const x = toTensor(d);
        assert.deepEqual(x.flatten().reshape(d.shape).toArray(), x.toArray());
      }),
      { numRuns: numRuns(40) },
    );
  });
});

describe('permute, transpose, flip', () => {
  test('permute then the inverse permutation is the identity, with the same node', () => {
    fc.assert(
      fc.property(anyData.chain((d) => fc.tuple(fc.constant(d), permutationArb(d.shape.length))), ([d, perm]) => {
        const x = toTensor(d);
        const inverse = new Array<number>(perm.length);
        perm.forEach((p, i) => (inverse[p] = i));
        const back = x.permute(perm).permute(inverse);
        assert.equal(back.node, x.node);
        assert.deepEqual(back.toArray(), x.toArray());
      }),
      { numRuns: numRuns(60) },
    );
  });

  test('T twice and flip twice are the identity', () => {
    fc.assert(
      fc.property(anyData.chain((d) => fc.tuple(fc.constant(d), axesArb(d.shape))), ([d, axes]) => {
        const x = toTensor(d);
        assert.deepEqual(x.T.T.toArray(), x.toArray());
        assert.deepEqual(x.flip(axes).flip(axes).toArray(), x.toArray());
      }),
      { numRuns: numRuns(50) },
    );
  });
});

describe('slice and pad', () => {
  test('slicing [lo, hi) on every axis, then padding back, restores the original with zeros outside', () => {
    const sliced = nonScalarData.chain((d) =>
      fc.tuple(
        fc.constant(d),
        fc.tuple(...d.shape.map((n) => fc.tuple(fc.integer({ min: 0, max: n }), fc.integer({ min: 0, max: n })).map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as [number, number]))),
      ),
    );
    fc.assert(
      fc.property(sliced, ([d, ranges]) => {
        const x = toTensor(d);
        const cut = x.slice(ranges.map(([lo, hi]) => [lo, hi] as [number, number]));
        const restored = cut.pad(ranges.map(([lo, hi], i) => [lo, d.shape[i] - hi] as [number, number]));
        const inside = (index: number[]) => index.every((v, i) => v >= ranges[i][0] && v < ranges[i][1]);
        const expected = build(d.shape, (index) => (inside(index) ? at(d, index) : 0));
        assert.deepEqual(restored.toArray(), nested(expected));
      }),
      { numRuns: numRuns(50) },
    );
  });

  test('padding with any amounts, then the negative amounts, is the identity', () => {
    const padded = nonScalarData.chain((d) => fc.tuple(fc.constant(d), fc.tuple(...d.shape.map(() => fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })))), fc.double({ min: -5, max: 5, noNaN: true })));
    fc.assert(
      fc.property(padded, ([d, pads, value]) => {
        const x = toTensor(d);
        const there = x.pad(pads, value);
        assert.deepEqual(there.pad(pads.map(([lo, hi]) => [-lo, -hi] as [number, number])).toArray(), x.toArray());
      }),
      { numRuns: numRuns(40) },
    );
  });
});

describe('sum', () => {
  test('summing over all axes equals summing one axis at a time, in any order', () => {
    const withOrder = anyData.chain((d) => fc.tuple(fc.constant(d), permutationArb(d.shape.length)));
    for (const dtype of ['int32', 'float64'] as const) {
      fc.assert(
        fc.property(
          withOrder.map(([d, order]): [Data, number[]] => [{ ...d, dtype, data: d.data.map((v) => (dtype === 'int32' ? Math.round(v) : v)) }, order]),
          ([d, order]) => {
            const x = toTensor(d);
            let stepwise = x;
            // Reduce the axes in `order`, one at a time; later axes shift down as earlier ones go.
            const remaining = d.shape.map((_, i) => i);
            for (const axis of order) {
              stepwise = stepwise.sum({ axis: remaining.indexOf(axis) });
              remaining.splice(remaining.indexOf(axis), 1);
            }
            const all = x.sum();
            assert.deepEqual(stepwise.shape, []);
            if (dtype === 'int32') assert.equal(stepwise.item(), all.item());
            else assertAllClose(stepwise, all, { rtol: 1e-12, atol: 1e-12 * absSumOf([...d.data]) });
          },
        ),
        { numRuns: numRuns(40) },
      );
    }
  });

  test('sum with an axis list equals the reference, with and without keepdims', () => {
    fc.assert(
      fc.property(anyData.chain((d) => fc.tuple(fc.constant(d), axesArb(d.shape), fc.boolean())), ([d, axes, keepdims]) => {
        const x = toTensor({ ...d, dtype: 'float64' });
        const out = x.sum({ axis: axes, keepdims });
        const listed = axes.map((a) => (a < 0 ? a + d.shape.length : a));
        const kept = d.shape.map((n, i) => (listed.includes(i) ? 1 : n));
        const expectedShape = keepdims ? kept : d.shape.filter((_, i) => !listed.includes(i));
        assert.deepEqual(out.shape, expectedShape);
        assertAllClose(out.reshape(kept), nested(reduceRef(d, listed, true, sumOf)) as F.NestedNumbers, { rtol: 1e-12, atol: 1e-12 * absSumOf([...d.data]) });
      }),
      { numRuns: numRuns(40) },
    );
  });
});

describe('concat, split, stack, select', () => {
  test('concat then split at the same sizes round-trips', () => {
    const pieces = shapeArb({ minRank: 1, maxRank: 3 }).chain((shape) =>
      fc.tuple(fc.integer({ min: 0, max: shape.length - 1 }), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 4 })).chain(([axis, sizes]) =>
        fc.tuple(fc.constant(axis), fc.tuple(...sizes.map((n) => dataArb(shape.map((dim, i) => (i === axis ? n : dim)))))),
      ),
    );
    fc.assert(
      fc.property(pieces, ([axis, parts]) => {
        const tensors = parts.map(toTensor);
        const joined = F.concat(tensors, axis);
        const back = joined.split(parts.map((p) => p.shape[axis]), axis);
        assert.equal(back.length, parts.length);
        back.forEach((b, i) => assert.deepEqual(b.toArray(), tensors[i].toArray()));
      }),
      { numRuns: numRuns(40) },
    );
  });

  test('stack then select along the new axis gives back each tensor', () => {
    const stacked = shapeArb({ maxRank: 3 }).chain((shape) => fc.tuple(fc.integer({ min: -shape.length - 1, max: shape.length }), fc.array(dataArb(shape), { minLength: 1, maxLength: 4 })));
    fc.assert(
      fc.property(stacked, ([axis, parts]) => {
        const tensors = parts.map(toTensor);
        const joined = F.stack(tensors, axis);
        tensors.forEach((t, i) => assert.deepEqual(joined.select(axis, i).toArray(), t.toArray()));
      }),
      { numRuns: numRuns(40) },
    );
  });

  test('squeeze undoes unsqueeze', () => {
    fc.assert(
      fc.property(anyData.chain((d) => fc.tuple(fc.constant(d), fc.integer({ min: -d.shape.length - 1, max: d.shape.length }))), ([d, axis]) => {
        const x = toTensor(d);
        const grown = x.unsqueeze(axis);
        assert.equal(grown.rank, x.rank + 1);
        assert.deepEqual(grown.squeeze(axis).toArray(), x.toArray());
        assert.deepEqual(refOf(grown).data, d.data);
      }),
      { numRuns: numRuns(40) },
    );
  });
});
