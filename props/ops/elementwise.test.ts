/** Every elementwise op on random shapes and values against a direct float64 computation. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as F from '../../src/index.js';
import type { DType, Tensor } from '../../src/index.js';
import { broadcastableShapesArb, numRuns } from '../../src/testing/arbitraries.js';
import { assertAllClose } from '../../src/testing/assert.js';
import { dataArb, nested, shapedDataArb, stored, tolerance, toTensor, zip, type Data } from './reference.js';

const FLOATS: readonly DType[] = ['float32', 'float64'];

/** Round half to even, as NumPy; a zero result keeps the sign of v (round(-0.5) is -0). */
function roundHalfEven(v: number): number {
  const floor = Math.floor(v);
  const rounded = v - floor !== 0.5 ? Math.round(v) : floor % 2 === 0 ? floor : floor + 1;
  return rounded === 0 ? 0 * Math.sign(v) : rounded;
}

interface UnaryCase {
  name: string;
  op: (x: Tensor) => Tensor;
  ref: (v: number) => number;
  /** The input range the op is defined (and well conditioned) on. */
  min: number;
  max: number;
}

const unaryCases: UnaryCase[] = [
  { name: 'neg', op: F.neg, ref: (v) => -v, min: -10, max: 10 },
  { name: 'abs', op: (x) => x.abs(), ref: Math.abs, min: -10, max: 10 },
  { name: 'sign', op: F.sign, ref: Math.sign, min: -3, max: 3 },
  { name: 'exp', op: (x) => x.exp(), ref: Math.exp, min: -10, max: 10 },
  { name: 'log', op: F.log, ref: Math.log, min: 1e-3, max: 100 },
  { name: 'log1p', op: (x) => x.log1p(), ref: Math.log1p, min: -0.99, max: 10 },
  { name: 'expm1', op: F.expm1, ref: Math.expm1, min: -5, max: 5 },
  { name: 'sqrt', op: (x) => x.sqrt(), ref: Math.sqrt, min: 0, max: 100 },
  { name: 'rsqrt', op: F.rsqrt, ref: (v) => 1 / Math.sqrt(v), min: 1e-2, max: 100 },
  { name: 'reciprocal', op: (x) => x.reciprocal(), ref: (v) => 1 / v, min: 0.1, max: 10 },
  { name: 'square', op: F.square, ref: (v) => v * v, min: -10, max: 10 },
  { name: 'sin', op: (x) => x.sin(), ref: Math.sin, min: -10, max: 10 },
  { name: 'cos', op: F.cos, ref: Math.cos, min: -10, max: 10 },
  { name: 'tan', op: (x) => x.tan(), ref: Math.tan, min: -1.5, max: 1.5 },
  { name: 'tanh', op: F.tanh, ref: Math.tanh, min: -10, max: 10 },
  { name: 'sigmoid', op: (x) => x.sigmoid(), ref: (v) => 1 / (1 + Math.exp(-v)), min: -10, max: 10 },
  { name: 'relu', op: F.relu, ref: (v) => Math.max(v, 0), min: -10, max: 10 },
  { name: 'gelu', op: (x) => x.gelu(), ref: (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))), min: -5, max: 5 },
  { name: 'softplus', op: F.softplus, ref: (v) => Math.log1p(Math.exp(v)), min: -10, max: 10 },
  { name: 'floor', op: (x) => x.floor(), ref: Math.floor, min: -10, max: 10 },
  { name: 'ceil', op: F.ceil, ref: Math.ceil, min: -10, max: 10 },
  { name: 'round', op: (x) => x.round(), ref: roundHalfEven, min: -10, max: 10 },
];

describe('unary ops against Math', () => {
  for (const c of unaryCases) {
    test(c.name, () => {
      for (const dtype of FLOATS) {
        fc.assert(
          fc.property(shapedDataArb({ maxRank: 3 }, { dtype, min: c.min, max: c.max }), (d) => {
            const out = c.op(toTensor(d));
            assert.equal(out.dtype, dtype);
            assertAllClose(out, nested({ shape: d.shape, data: d.data.map(c.ref) }) as F.NestedNumbers, { ...tolerance(dtype), message: `${c.name} ${dtype}` });
          }),
          { numRuns: numRuns(15) },
        );
      }
    });
  }

  test('round breaks ties to even on exact halves', () => {
    const halves = fc.array(fc.integer({ min: -20, max: 20 }), { minLength: 1, maxLength: 8 }).map((ks) => ks.map((k) => k + 0.5));
    fc.assert(
      fc.property(halves, (values) => {
        assert.deepEqual(F.round(F.tensor(values)).toArray(), values.map(roundHalfEven));
      }),
      { numRuns: numRuns(30) },
    );
  });
});

interface BinaryCase {
  name: string;
  op: (x: Tensor, y: Tensor) => Tensor;
  ref: (u: number, v: number) => number;
  min: number;
  max: number;
  /** Right operand range, when it differs. */
  rightMin?: number;
  rightMax?: number;
}

const binaryCases: BinaryCase[] = [
  { name: 'add', op: F.add, ref: (u, v) => u + v, min: -10, max: 10 },
  { name: 'sub', op: (x, y) => x.sub(y), ref: (u, v) => u - v, min: -10, max: 10 },
  { name: 'mul', op: F.mul, ref: (u, v) => u * v, min: -10, max: 10 },
  { name: 'div', op: (x, y) => x.div(y), ref: (u, v) => u / v, min: -10, max: 10, rightMin: 0.5, rightMax: 10 },
  { name: 'pow', op: F.pow, ref: Math.pow, min: 0.1, max: 5, rightMin: -3, rightMax: 3 },
  { name: 'maximum', op: (x, y) => x.maximum(y), ref: Math.max, min: -10, max: 10 },
  { name: 'minimum', op: F.minimum, ref: Math.min, min: -10, max: 10 },
];

function pairArb(dtype: DType, c: { min: number; max: number; rightMin?: number; rightMax?: number }): fc.Arbitrary<[Data, Data]> {
  return broadcastableShapesArb(2, { maxRank: 3 }).chain(([a, b]) =>
    fc.tuple(dataArb(a, { dtype, min: c.min, max: c.max }), dataArb(b, { dtype, min: c.rightMin ?? c.min, max: c.rightMax ?? c.max })),
  );
}

describe('binary arithmetic with broadcasting against the reference', () => {
  for (const c of binaryCases) {
    test(c.name, () => {
      for (const dtype of FLOATS) {
        fc.assert(
          fc.property(pairArb(dtype, c), ([a, b]) => {
            const out = c.op(toTensor(a), toTensor(b));
            assertAllClose(out, nested(zip(c.ref, a, b)) as F.NestedNumbers, { ...tolerance(dtype), message: `${c.name} ${dtype}` });
          }),
          { numRuns: numRuns(15) },
        );
      }
    });
  }

  test('int32 arithmetic is exact and wraps like int32', () => {
    const ints = broadcastableShapesArb(2, { maxRank: 3 }).chain(([a, b]) => fc.tuple(dataArb(a, { dtype: 'int32', min: -1000, max: 1000 }), dataArb(b, { dtype: 'int32', min: -1000, max: 1000 })));
    fc.assert(
      fc.property(ints, ([a, b]) => {
        const x = toTensor(a);
        const y = toTensor(b);
        assert.deepEqual(F.add(x, y).toArray(), nested(zip((u, v) => (u + v) | 0, a, b)));
        assert.deepEqual(F.sub(x, y).toArray(), nested(zip((u, v) => (u - v) | 0, a, b)));
        assert.deepEqual(F.mul(x, y).toArray(), nested(zip((u, v) => Math.imul(u, v), a, b)));
        assert.deepEqual(F.maximum(x, y).toArray(), nested(zip(Math.max, a, b)));
        assert.deepEqual(F.minimum(x, y).toArray(), nested(zip(Math.min, a, b)));
      }),
      { numRuns: numRuns(20) },
    );
  });

  test('clamp equals min(max(x, lo), hi)', () => {
    const args = shapedDataArb({ maxRank: 3 }).chain((d) => fc.tuple(fc.constant(d), fc.double({ min: -5, max: 0, noNaN: true }), fc.double({ min: 0, max: 5, noNaN: true })));
    fc.assert(
      fc.property(args, ([d, lo, hi]) => {
        const expected = d.data.map((v) => Math.min(Math.max(v, Math.fround(lo)), Math.fround(hi)));
        assertAllClose(toTensor(d).clamp(lo, hi), nested({ shape: d.shape, data: expected }) as F.NestedNumbers, { rtol: 0, atol: 0 });
      }),
      { numRuns: numRuns(20) },
    );
  });
});

describe('comparisons, logical ops, where, cast', () => {
  // Small integers, so that equal values come up often.
  const smallPairs = broadcastableShapesArb(2, { maxRank: 3 }).chain(([a, b]) => fc.tuple(dataArb(a, { min: -2, max: 2, dtype: 'int32' }), dataArb(b, { min: -2, max: 2, dtype: 'int32' })));
  const asFloat = (d: Data): Data => ({ ...d, dtype: 'float32' });

  test('eq ne lt le gt ge give bool, elementwise with broadcasting', () => {
    const cases: [string, (x: Tensor, y: Tensor) => Tensor, (u: number, v: number) => boolean][] = [
      ['eq', F.eq, (u, v) => u === v],
      ['ne', (x, y) => x.ne(y), (u, v) => u !== v],
      ['lt', F.lt, (u, v) => u < v],
      ['le', (x, y) => x.le(y), (u, v) => u <= v],
      ['gt', F.gt, (u, v) => u > v],
      ['ge', (x, y) => x.ge(y), (u, v) => u >= v],
    ];
    fc.assert(
      fc.property(smallPairs, ([a, b]) => {
        for (const [name, op, ref] of cases) {
          const out = op(toTensor(asFloat(a)), toTensor(b));
          assert.equal(out.dtype, 'bool');
          assert.deepEqual(out.cast('int32').toArray(), nested(zip((u, v) => (ref(u, v) ? 1 : 0), a, b)), name);
        }
      }),
      { numRuns: numRuns(30) },
    );
  });

  test('logicalAnd, logicalOr, logicalNot treat non-zero as true', () => {
    fc.assert(
      fc.property(smallPairs, ([a, b]) => {
        const x = toTensor(a);
        const y = toTensor(asFloat(b));
        assert.deepEqual(F.logicalAnd(x, y).cast('int32').toArray(), nested(zip((u, v) => (u !== 0 && v !== 0 ? 1 : 0), a, b)));
        assert.deepEqual(x.logicalOr(y).cast('int32').toArray(), nested(zip((u, v) => (u !== 0 || v !== 0 ? 1 : 0), a, b)));
        assert.deepEqual(F.logicalNot(x).cast('int32').toArray(), nested(zip((u) => (u === 0 ? 1 : 0), a)));
      }),
      { numRuns: numRuns(30) },
    );
  });

  test('where picks from three broadcast operands', () => {
    const triple = broadcastableShapesArb(3, { maxRank: 3 }).chain(([c, a, b]) => fc.tuple(dataArb(c, { dtype: 'bool' }), dataArb(a), dataArb(b)));
    fc.assert(
      fc.property(triple, ([c, a, b]) => {
        const out = F.where(toTensor(c), toTensor(a), toTensor(b));
        assert.deepEqual(out.toArray(), nested(zip((k, u, v) => (k ? u : v), c, a, b)));
      }),
      { numRuns: numRuns(30) },
    );
  });

  test('cast to every dtype stores what a typed array of that dtype would', () => {
    const dtypes: DType[] = ['bool', 'int32', 'float32', 'float64'];
    const source = fc.constantFrom(...dtypes).chain((dtype) => shapedDataArb({ maxRank: 3 }, { dtype, min: -100, max: 100 }));
    fc.assert(
      fc.property(source, fc.constantFrom(...dtypes), (d, target) => {
        const out = F.cast(toTensor(d), target);
        assert.equal(out.dtype, target);
        assert.deepEqual(Array.from(out.dataSync()), d.data.map((v) => stored(v, target)));
      }),
      { numRuns: numRuns(40) },
    );
  });
});
