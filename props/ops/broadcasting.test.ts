/** Broadcasting laws: NumPy's rule for shapes, and ops on broadcast operands. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as F from '../../src/index.js';
import { broadcastShapes } from '../../src/lazy/shape.js';
import { broadcastableShapesArb, numRuns, shapeArb } from '../../src/testing/arbitraries.js';
import { assertAllClose } from '../../src/testing/assert.js';
import { broadcastShapeRef, dataArb, nested, refOf, toTensor, zip } from './reference.js';

const twoOperands = broadcastableShapesArb(2).chain(([a, b]) => fc.tuple(dataArb(a), dataArb(b)));

describe('broadcastShapes', () => {
  test('agrees with NumPy’s rule on arbitrary shape pairs, throwing a ShapeError exactly when the rule fails', () => {
    const small = shapeArb({ maxRank: 3, maxDim: 3 });
    fc.assert(
      fc.property(small, small, (a, b) => {
        const expected = broadcastShapeRef([a, b]);
        if (expected === null) assert.throws(() => broadcastShapes('test', a, b), F.ShapeError);
        else assert.deepEqual(broadcastShapes('test', a, b), expected);
      }),
      { numRuns: numRuns(200) },
    );
  });

  test('is commutative and associative', () => {
    fc.assert(
      fc.property(broadcastableShapesArb(3), ([a, b, c]) => {
        assert.deepEqual(broadcastShapes('test', a, b), broadcastShapes('test', b, a));
        const left = broadcastShapes('test', broadcastShapes('test', a, b), c);
        const right = broadcastShapes('test', a, broadcastShapes('test', b, c));
        assert.deepEqual(left, right);
        assert.deepEqual(broadcastShapes('test', a, b, c), left);
      }),
      { numRuns: numRuns(200) },
    );
  });

  test('the result has the larger rank and a dimension of each operand (or 1 where all are 1)', () => {
    fc.assert(
      fc.property(broadcastableShapesArb(2), ([a, b]) => {
        const out = broadcastShapes('test', a, b);
        assert.equal(out.length, Math.max(a.length, b.length));
        for (const s of [a, b]) s.forEach((d, i) => assert.ok(d === 1 || d === out[out.length - s.length + i]));
      }),
      { numRuns: numRuns(200) },
    );
  });
});

describe('ops on broadcast operands', () => {
  test('add with broadcasting equals add of the explicitly broadcast operands, and the reference', () => {
    fc.assert(
      fc.property(twoOperands, ([a, b]) => {
        const x = toTensor(a);
        const y = toTensor(b);
        const implicit = F.add(x, y);
        const shape = broadcastShapes('test', a.shape, b.shape);
        const explicit = F.add(F.broadcastTo(x, shape), F.broadcastTo(y, shape));
        assert.deepEqual(implicit.shape, shape);
        assert.deepEqual(implicit.toArray(), explicit.toArray());
        assertAllClose(implicit, nested(zip((u, v) => Math.fround(u + v), a, b)) as F.NestedNumbers, { rtol: 0, atol: 0 });
      }),
      { numRuns: numRuns(40) },
    );
  });

  test('add and mul are commutative, bit for bit', () => {
    fc.assert(
      fc.property(twoOperands, ([a, b]) => {
        const x = toTensor(a);
        const y = toTensor(b);
        assert.deepEqual(F.add(x, y).toArray(), F.add(y, x).toArray());
        assert.deepEqual(x.mul(y).toArray(), y.mul(x).toArray());
      }),
      { numRuns: numRuns(40) },
    );
  });

  test('a broadcast operand reads the same value along every broadcast axis', () => {
    fc.assert(
      fc.property(twoOperands, ([a, b]) => {
        const shape = broadcastShapes('test', a.shape, b.shape);
        const expanded = refOf(F.broadcastTo(toTensor(a), shape));
        assert.deepEqual(expanded.data, zip((u) => u, a, { shape, data: new Array(shape.reduce((p, d) => p * d, 1)).fill(0) }).data);
      }),
      { numRuns: numRuns(40) },
    );
  });
});
