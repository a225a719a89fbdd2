/** matmul, dot, outer, einsum and the losses on random shapes against direct loops. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as F from '../../src/index.js';
import type { DType } from '../../src/index.js';
import { broadcastableShapesArb, numRuns } from '../../src/testing/arbitraries.js';
import { assertAllClose } from '../../src/testing/assert.js';
import { dataArb, einsumRef, matmulRef, nested, normalize, shapedDataArb, tolerance, toTensor, type Data, type Ref } from './reference.js';

const FLOATS: readonly DType[] = ['float32', 'float64'];
const dim = fc.integer({ min: 1, max: 4 });

/** Operand shapes for matmul: batch axes that broadcast, matching inner sizes, and 1-D cases. */
const matmulShapes = fc
  .tuple(broadcastableShapesArb(2, { maxRank: 2 }), dim, dim, dim, fc.constantFrom('matrix', 'vector'), fc.constantFrom('matrix', 'vector'))
  .map(([[batchA, batchB], n, k, m, left, right]) => [left === 'vector' ? [k] : [...batchA, n, k], right === 'vector' ? [k] : [...batchB, k, m]] as const);

describe('matmul', () => {
  test('batched, broadcasting and 1-D operands against the reference', () => {
    for (const dtype of FLOATS) {
      fc.assert(
        fc.property(matmulShapes.chain(([a, b]) => fc.tuple(dataArb(a, { dtype }), dataArb(b, { dtype }))), ([a, b]) => {
          const out = F.matmul(toTensor(a), toTensor(b));
          const expected = matmulRef(a, b);
          assert.deepEqual(out.shape, expected.shape);
          assertAllClose(out, nested(expected) as F.NestedNumbers, { ...tolerance(dtype, 400), message: `matmul ${dtype}` });
          assertAllClose(toTensor(a).matmul(toTensor(b)), out, { rtol: 0, atol: 0 });
        }),
        { numRuns: numRuns(30) },
      );
    }
  });

  test('int32 matmul is exact', () => {
    const ints = matmulShapes.chain(([a, b]) => fc.tuple(dataArb(a, { dtype: 'int32', min: -5, max: 5 }), dataArb(b, { dtype: 'int32', min: -5, max: 5 })));
    fc.assert(
      fc.property(ints, ([a, b]) => {
        assert.deepEqual(F.matmul(toTensor(a), toTensor(b)).toArray(), nested(matmulRef(a, b)));
      }),
      { numRuns: numRuns(30) },
    );
  });
});

describe('dot and outer', () => {
  const vectors = fc.integer({ min: 1, max: 6 }).chain((n) => fc.tuple(dataArb([n], { dtype: 'float64' }), dataArb([n], { dtype: 'float64' })));
  test('dot', () => {
    fc.assert(
      fc.property(vectors, ([a, b]) => {
        const expected = a.data.reduce((s, v, i) => s + v * b.data[i], 0);
        assertAllClose(F.dot(toTensor(a), toTensor(b)), expected, tolerance('float64', 400));
      }),
      { numRuns: numRuns(30) },
    );
  });

  test('outer', () => {
    fc.assert(
      fc.property(shapedDataArb({ minRank: 1, maxRank: 1 }), shapedDataArb({ minRank: 1, maxRank: 1 }), (a, b) => {
        const expected = a.data.map((u) => b.data.map((v) => Math.fround(u * v)));
        assertAllClose(toTensor(a).outer(toTensor(b)), expected, { rtol: 0, atol: 0 });
      }),
      { numRuns: numRuns(30) },
    );
  });
});

describe('einsum', () => {
  const specs = ['ij,jk->ik', 'ij->ji', 'ii->', 'ii->i', 'bij,bjk->bik', 'i,j->ij', 'i,i->', 'ijk->kj', 'ij,ij->i', 'bii->b', 'ij,kj->ik', 'ijk,ikl->jl', 'i->'];
  /** A spec, a size for each letter, and operands of the shapes its subscripts name. */
  const einsumCase = fc.tuple(fc.constantFrom(...specs), fc.record({ b: dim, i: dim, j: dim, k: dim, l: dim })).chain(([spec, size]) => {
    const inputs = spec.split('->')[0].split(',');
    return fc.tuple(fc.constant(spec), fc.tuple(...inputs.map((subs) => dataArb([...subs].map((c) => size[c as keyof typeof size]), { dtype: 'float64' }))));
  });

  test('every spec against a brute-force sum over all index assignments', () => {
    fc.assert(
      fc.property(einsumCase, ([spec, operands]) => {
        const out = F.einsum(spec, ...operands.map(toTensor));
        const expected = einsumRef(spec, operands as Ref[]);
        assert.deepEqual(out.shape, expected.shape, spec);
        assertAllClose(out, nested(expected) as F.NestedNumbers, { ...tolerance('float64', 1000), message: spec });
      }),
      { numRuns: numRuns(40) },
    );
  });
});

describe('losses', () => {
  test('mseLoss with each reduction', () => {
    const pairs = shapedDataArb({ maxRank: 3 }, { dtype: 'float64' }).chain((d) => fc.tuple(fc.constant(d), dataArb(d.shape, { dtype: 'float64' })));
    fc.assert(
      fc.property(pairs, ([p, t]) => {
        const squares = p.data.map((v, i) => (v - t.data[i]) ** 2);
        const total = squares.reduce((s, v) => s + v, 0);
        const tol = tolerance('float64', 100 * (1 + total));
        assertAllClose(F.mseLoss(toTensor(p), toTensor(t)), total / squares.length, tol);
        assertAllClose(toTensor(p).mseLoss(toTensor(t), { reduction: 'sum' }), total, tol);
        assertAllClose(F.mseLoss(toTensor(p), toTensor(t), { reduction: 'none' }), nested({ shape: p.shape, data: squares }) as F.NestedNumbers, tol);
      }),
      { numRuns: numRuns(30) },
    );
  });

  test('crossEntropy from logits with integer targets', () => {
    const batch = fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 5 })).chain(([n, c]) =>
      fc.tuple(dataArb([n, c], { dtype: 'float64', min: -20, max: 20 }), dataArb([n], { dtype: 'int32', min: -c, max: c - 1 })),
    );
    fc.assert(
      fc.property(batch, ([logits, targets]: [Data, Data]) => {
        const [n, c] = logits.shape;
        const losses = targets.data.map((y, row) => {
          const z = logits.data.slice(row * c, (row + 1) * c);
          const peak = Math.max(...z);
          const lse = peak + Math.log(z.reduce((s, v) => s + Math.exp(v - peak), 0));
          return lse - z[normalize(y, c)];
        });
        const tol = tolerance('float64', 100);
        assertAllClose(F.crossEntropy(toTensor(logits), toTensor(targets), { reduction: 'none' }), losses, tol);
        assertAllClose(toTensor(logits).crossEntropy(toTensor(targets)), losses.reduce((s, v) => s + v, 0) / n, tol);
      }),
      { numRuns: numRuns(30) },
    );
  });
});
