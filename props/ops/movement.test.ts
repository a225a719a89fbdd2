/** Movement ops on random shapes and arguments against direct index computations. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as F from '../../src/index.js';
import { axesArb, axisArb, broadcastableShapesArb, numRuns, permutationArb, shapeArb } from '../../src/testing/arbitraries.js';
import {
  build,
  concatRef,
  dataArb,
  diagonalRef,
  flipRef,
  gatherRef,
  nested,
  normalize,
  padRef,
  permuteRef,
  pythonSliceIndices,
  scatterAddRef,
  shapedDataArb,
  takeRef,
  tileRef,
  toTensor,
  at,
  type Data,
} from './reference.js';

const anyData = shapedDataArb({ maxRank: 4 });
const nonScalarData = shapedDataArb({ minRank: 1, maxRank: 4 });
const withAxis = nonScalarData.chain((d) => fc.tuple(fc.constant(d), axisArb(d.shape)));

describe('permute, transpose, movedim, flip, expand', () => {
  test('permute', () => {
    fc.assert(
      fc.property(anyData.chain((d) => fc.tuple(fc.constant(d), permutationArb(d.shape.length), fc.boolean())), ([d, perm, negative]) => {
        const asGiven = negative ? perm.map((p) => p - d.shape.length) : perm;
        assert.deepEqual(toTensor(d).permute(asGiven).toArray(), nested(permuteRef(d, perm)));
      }),
      { numRuns: numRuns(40) },
    );
  });

  test('transpose of two axes and movedim', () => {
    const twoAxes = shapedDataArb({ minRank: 1, maxRank: 4 }).chain((d) => fc.tuple(fc.constant(d), axisArb(d.shape), axisArb(d.shape)));
    fc.assert(
      fc.property(twoAxes, ([d, a, b]) => {
        const r = d.shape.length;
        const swapped = d.shape.map((_, i) => (i === normalize(a, r) ? normalize(b, r) : i === normalize(b, r) ? normalize(a, r) : i));
        assert.deepEqual(F.transpose(toTensor(d), a, b).toArray(), nested(permuteRef(d, swapped)));
        const order = d.shape.map((_, i) => i).filter((i) => i !== normalize(a, r));
        order.splice(normalize(b, r), 0, normalize(a, r));
        assert.deepEqual(toTensor(d).movedim(a, b).toArray(), nested(permuteRef(d, order)));
      }),
      { numRuns: numRuns(40) },
    );
  });

  test('flip', () => {
    fc.assert(
      fc.property(anyData.chain((d) => fc.tuple(fc.constant(d), axesArb(d.shape))), ([d, axes]) => {
        assert.deepEqual(F.flip(toTensor(d), axes).toArray(), nested(flipRef(d, axes)));
      }),
      { numRuns: numRuns(40) },
    );
  });

  test('broadcastTo / expand to a broadcast-compatible shape', () => {
    const target = broadcastableShapesArb(2).chain(([a, b]) => fc.tuple(dataArb(a), fc.constant(b)));
    fc.assert(
      fc.property(target, ([d, other]) => {
        const lead = Math.max(0, other.length - d.shape.length);
        const shape = [...other.slice(0, lead), ...d.shape.map((n, i) => Math.max(n, other[other.length - d.shape.length + i] ?? 1))];
        const full = shape.length < d.shape.length ? d.shape : shape;
        const out = toTensor(d).expand(full);
        const padded = full.length - d.shape.length;
        assert.deepEqual(out.toArray(), nested(build(full, (index) => at(d, d.shape.map((n, i) => (n === 1 ? 0 : index[padded + i]))))));
      }),
      { numRuns: numRuns(40) },
    );
  });
});

describe('slice, select, pad', () => {
  const bound = (n: number) => fc.option(fc.integer({ min: -n - 2, max: n + 2 }), { nil: undefined });
  const spec = (n: number) => fc.tuple(bound(n), bound(n), fc.option(fc.integer({ min: -3, max: 3 }).filter((s) => s !== 0), { nil: undefined }));

  test('Python slices with steps and negative steps on every axis', () => {
    const sliced = nonScalarData.chain((d) => fc.tuple(fc.constant(d), fc.tuple(...d.shape.map(spec))));
    fc.assert(
      fc.property(sliced, ([d, specs]) => {
        const out = toTensor(d).slice(specs);
        const positions = specs.map(([start, stop, step], i) => pythonSliceIndices(d.shape[i], start, stop, step));
        assert.deepEqual(out.toArray(), nested(takeRef(d, positions)));
      }),
      { numRuns: numRuns(60) },
    );
  });

  test('integer specs select and drop their axis; select equals the integer slice', () => {
    const picked = withAxis.chain(([d, axis]) => fc.tuple(fc.constant(d), fc.constant(axis), fc.integer({ min: -d.shape[normalize(axis, d.shape.length)], max: d.shape[normalize(axis, d.shape.length)] - 1 })));
    fc.assert(
      fc.property(picked, ([d, axis, index]) => {
        const ax = normalize(axis, d.shape.length);
        const n = d.shape[ax];
        const keep = build(d.shape.filter((_, i) => i !== ax), (rest) => at(d, [...rest.slice(0, ax), index < 0 ? index + n : index, ...rest.slice(ax)]));
        assert.deepEqual(F.select(toTensor(d), axis, index).toArray(), nested(keep));
        const specs = d.shape.map((_, i) => (i === ax ? index : null));
        assert.deepEqual(toTensor(d).slice(specs).toArray(), nested(keep));
      }),
      { numRuns: numRuns(40) },
    );
  });

  test('pad with positive and negative amounts and a value', () => {
    const padded = nonScalarData.chain((d) =>
      fc.tuple(
        fc.constant(d),
        fc.tuple(...d.shape.map((n) => fc.tuple(fc.integer({ min: -n, max: 3 }), fc.integer({ min: -n, max: 3 })).filter(([lo, hi]) => Math.max(0, -lo) + Math.max(0, -hi) <= n))),
        fc.constantFrom(0, 1, -2.5, Infinity),
      ),
    );
    fc.assert(
      fc.property(padded, ([d, pads, value]) => {
        const cropped = takeRef(d, pads.map(([lo, hi], i) => pythonSliceIndices(d.shape[i], Math.max(0, -lo), d.shape[i] - Math.max(0, -hi))));
        const expected = padRef(cropped, pads.map(([lo, hi]) => [Math.max(0, lo), Math.max(0, hi)]), value);
        assert.deepEqual(F.pad(toTensor(d), pads, value).toArray(), nested(expected));
      }),
      { numRuns: numRuns(50) },
    );
  });
});

describe('concat, stack, split, tile', () => {
  const pieces = shapeArb({ minRank: 1, maxRank: 3 }).chain((shape) =>
    fc.tuple(axisArb(shape), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 4 })).chain(([axis, sizes]) =>
      fc.tuple(fc.constant(axis), fc.tuple(...sizes.map((n) => dataArb(shape.map((dim, i) => (i === normalize(axis, shape.length) ? n : dim)))))),
    ),
  );

  test('concat along any axis', () => {
    fc.assert(
      fc.property(pieces, ([axis, parts]) => {
        assert.deepEqual(F.concat(parts.map(toTensor), axis).toArray(), nested(concatRef(parts, axis)));
      }),
      { numRuns: numRuns(40) },
    );
  });

  test('stack along any new axis', () => {
    const same = shapeArb({ maxRank: 3 }).chain((shape) => fc.tuple(fc.integer({ min: -shape.length - 1, max: shape.length }), fc.array(dataArb(shape), { minLength: 1, maxLength: 4 })));
    fc.assert(
      fc.property(same, ([axis, parts]) => {
        const rank = parts[0].shape.length + 1;
        const ax = normalize(axis, rank);
        const lifted = parts.map((p): Data => ({ ...p, shape: [...p.shape.slice(0, ax), 1, ...p.shape.slice(ax)] }));
        assert.deepEqual(F.stack(parts.map(toTensor), axis).toArray(), nested(concatRef(lifted, ax)));
      }),
      { numRuns: numRuns(40) },
    );
  });

  test('split into chunks of a size', () => {
    fc.assert(
      fc.property(withAxis, fc.integer({ min: 1, max: 5 }), ([d, axis], chunk) => {
        const ax = normalize(axis, d.shape.length);
        const parts = F.split(toTensor(d), chunk, axis);
        const n = d.shape[ax];
        assert.equal(parts.length, Math.ceil(n / chunk));
        parts.forEach((part, k) => {
          const positions = d.shape.map((m, i) => (i === ax ? pythonSliceIndices(m, k * chunk, (k + 1) * chunk) : pythonSliceIndices(m, 0, m)));
          assert.deepEqual(part.toArray(), nested(takeRef(d, positions)));
        });
      }),
      { numRuns: numRuns(40) },
    );
  });

  test('tile with as many, fewer or more reps than axes', () => {
    fc.assert(
      fc.property(anyData, fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 5 }), (d, reps) => {
        assert.deepEqual(F.tile(toTensor(d), reps).toArray(), nested(tileRef(d, reps)));
      }),
      { numRuns: numRuns(40) },
    );
  });
});

describe('gather, indexSelect, scatterAdd', () => {
  /** Data, an axis, and an int32 index of the same rank with in-range values (negative ones too). */
  const indexed = withAxis.chain(([d, axis]) => {
    const ax = normalize(axis, d.shape.length);
    const n = d.shape[ax];
    const indexShape = fc.tuple(...d.shape.map((m, i) => fc.integer({ min: i === ax ? 0 : 1, max: i === ax ? 4 : m })));
    return indexShape.chain((shape) => fc.tuple(fc.constant(d), fc.constant(axis), dataArb(shape, { dtype: 'int32', min: -n, max: n - 1 })));
  });

  test('gather', () => {
    fc.assert(
      fc.property(indexed, ([d, axis, index]) => {
        assert.deepEqual(F.gather(toTensor(d), axis, toTensor(index)).toArray(), nested(gatherRef(d, axis, index)));
      }),
      { numRuns: numRuns(40) },
    );
  });

  test('indexSelect', () => {
    const selected = withAxis.chain(([d, axis]) => {
      const n = d.shape[normalize(axis, d.shape.length)];
      return fc.tuple(fc.constant(d), fc.constant(axis), fc.array(fc.integer({ min: -n, max: n - 1 }), { maxLength: 5 }));
    });
    fc.assert(
      fc.property(selected, ([d, axis, index]) => {
        const ax = normalize(axis, d.shape.length);
        const positions = d.shape.map((m, i) => (i === ax ? index.map((k) => (k < 0 ? k + m : k)) : pythonSliceIndices(m, 0, m)));
        const out = F.indexSelect(toTensor(d), axis, F.tensor(index, { dtype: 'int32' }));
        assert.deepEqual(out.toArray(), nested(takeRef(d, positions)));
      }),
      { numRuns: numRuns(40) },
    );
  });

  test('scatterAdd', () => {
    fc.assert(
      fc.property(indexed.chain(([d, axis, index]) => fc.tuple(fc.constant(d), fc.constant(axis), fc.constant(index), dataArb(index.shape, { dtype: 'float64' }))), ([d, axis, index, src]) => {
        const base: Data = { ...d, dtype: 'float64' };
        const out = F.scatterAdd(toTensor(base), axis, toTensor(index), toTensor(src));
        const expected = scatterAddRef(base, axis, index, src);
        const got = Array.from(out.dataSync());
        got.forEach((v, i) => assert.ok(Math.abs(v - expected.data[i]) <= 1e-12 * (1 + Math.abs(expected.data[i])), `element ${i}: ${v} vs ${expected.data[i]}`));
      }),
      { numRuns: numRuns(40) },
    );
  });
});

describe('diagonal, triu, tril', () => {
  test('diagonal of any plane with any offset', () => {
    const planes = shapedDataArb({ minRank: 2, maxRank: 4 }).chain((d) =>
      fc.tuple(fc.constant(d), axisArb(d.shape), axisArb(d.shape), fc.integer({ min: -5, max: 5 })).filter(([, a, b]) => normalize(a, d.shape.length) !== normalize(b, d.shape.length)),
    );
    fc.assert(
      fc.property(planes, ([d, a, b, offset]) => {
        assert.deepEqual(F.diagonal(toTensor(d), offset, a, b).toArray(), nested(diagonalRef(d, offset, a, b)));
      }),
      { numRuns: numRuns(50) },
    );
  });

  test('triu and tril keep the elements on one side of the k-th diagonal', () => {
    const matrices = shapedDataArb({ minRank: 2, maxRank: 4 }).chain((d) => fc.tuple(fc.constant(d), fc.integer({ min: -5, max: 5 })));
    fc.assert(
      fc.property(matrices, ([d, k]) => {
        const r = d.shape.length;
        const upper = build(d.shape, (index) => (index[r - 1] - index[r - 2] >= k ? at(d, index) : 0));
        const lower = build(d.shape, (index) => (index[r - 1] - index[r - 2] <= k ? at(d, index) : 0));
        assert.deepEqual(F.triu(toTensor(d), k).toArray(), nested(upper));
        assert.deepEqual(toTensor(d).tril(k).toArray(), nested(lower));
      }),
      { numRuns: numRuns(40) },
    );
  });
});
