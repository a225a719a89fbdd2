// Values and derivatives at the extremes (|x| = 1e3, 1e30) against their mathematical limits,
// in float32 and float64, on both backends: no composite may overflow into 0 * Infinity.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { grad, hessian, randn, tensor, withBackend, type DType, type Tensor } from '../../src/index.js';
import { assertAllClose, checkGrads } from '../../src/testing/index.js';

interface Limit {
  f: (x: Tensor) => Tensor;
  /** The value and first derivative at x (exact, or their limits where x is extreme). */
  value: (x: number) => number;
  slope: (x: number) => number;
  /** The second derivative, where it is checked. */
  curvature?: (x: number) => number;
}

const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const logistic = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
const withZero = (f: (v: Tensor) => Tensor) => (x: Tensor) => f(x.reshape([1]).concat([tensor([0], { dtype: x.dtype })])).select(0, 0);

const LIMITS: Record<string, Limit> = {
  sigmoid: { f: (x) => x.sigmoid(), value: logistic, slope: (x) => logistic(x) * logistic(-x), curvature: (x) => logistic(x) * logistic(-x) * (1 - 2 * logistic(x)) },
  softplus: { f: (x) => x.softplus(), value: softplus, slope: logistic, curvature: (x) => logistic(x) * logistic(-x) },
  tanh: { f: (x) => x.tanh(), value: Math.tanh, slope: (x) => 1 - Math.tanh(x) ** 2, curvature: (x) => -2 * Math.tanh(x) * (1 - Math.tanh(x) ** 2) },
  gelu: { f: (x) => x.gelu(), value: (x) => (Math.abs(x) > 10 ? Math.max(x, 0) : NaN), slope: (x) => (x > 0 ? 1 : 0), curvature: () => 0 },
  relu: { f: (x) => x.relu(), value: (x) => Math.max(x, 0), slope: (x) => (x > 0 ? 1 : 0), curvature: () => 0 },
  // logsumexp([x, 0]) = softplus(x); logSoftmax([x, 0])[0] = -softplus(-x); softmax([x, 0])[0] = sigmoid(x).
  logsumexp: { f: withZero((v) => v.logsumexp().reshape([1])), value: softplus, slope: logistic, curvature: (x) => logistic(x) * logistic(-x) },
  logSoftmax: { f: withZero((v) => v.logSoftmax()), value: (x) => -softplus(-x), slope: (x) => logistic(-x), curvature: (x) => -logistic(x) * logistic(-x) },
  softmax: { f: withZero((v) => v.softmax()), value: logistic, slope: (x) => logistic(x) * logistic(-x) },
  'exp(-x^2)': { f: (x) => x.square().neg().exp(), value: (x) => Math.exp(-x * x), slope: () => 0 },
  crossEntropyLike: { f: withZero((v) => v.logSoftmax().neg()), value: (x) => softplus(-x), slope: (x) => -logistic(-x) },
};

/** Where the second derivative is checked: the extremes a float32 square does not overflow at. */
const curvatureAt = (x: number) => Math.abs(x) <= 1e3;

for (const dtype of ['float32', 'float64'] as DType[]) {
  for (const backend of ['js', 'interp'] as const) {
    describe(`${dtype} on ${backend}: values and derivatives at the extremes are their limits`, () => {
      for (const [name, limit] of Object.entries(LIMITS)) {
        test(name, () => {
          withBackend(backend, () => {
            for (const x of [-1e30, -1e3, -800, -100, 100, 800, 1e3, 1e30]) {
              const round = (v: number) => (dtype === 'float32' ? Math.fround(v) : v);
              // A limit below 1e-30 (sigmoid'(100) is 3.7e-44) may come out as its limit, 0.
              const tolerance = { rtol: dtype === 'float32' ? 1e-5 : 1e-9, atol: 1e-30 };
              const at = tensor(x, { dtype });
              const expectedValue = limit.value(x);
              const value = limit.f(at).item();
              if (!Number.isNaN(expectedValue)) assertAllClose(value, round(expectedValue), { ...tolerance, message: `${name}(${x})` });
              else assert.ok(Number.isFinite(value), `${name}(${x}) = ${value}`);
              const slope = grad((t: Tensor) => limit.f(t))(at).item();
              assertAllClose(slope, round(limit.slope(x)), { ...tolerance, message: `${name}'(${x})` });
              if (limit.curvature && curvatureAt(x)) {
                const curvature = (hessian((t: Tensor) => limit.f(t))(at) as Tensor).item();
                assertAllClose(curvature, round(limit.curvature(x)), { ...tolerance, message: `${name}''(${x})` });
              }
            }
          });
        });
      }
    });
  }
}

test('the overflow-safe forms keep their derivatives in the ordinary range (finite differences)', () => {
  const x = randn([7], { seed: 3, dtype: 'float64' }).mul(4);
  checkGrads((t: Tensor) => t.sigmoid(), [x]);
  checkGrads((t: Tensor) => t.gelu(), [x]);
  checkGrads((t: Tensor) => t.gelu(), [tensor([-10.5, -9.5, 9.5, 10.5], { dtype: 'float64' })]);
});

/** The variance of the float32 values of `xs`, in float64 (exact enough to judge float32). */
function varianceOf(xs: readonly number[], correction = 1): number {
  const values = xs.map(Math.fround);
  const m = values.reduce((s, v) => s + v, 0) / values.length;
  return values.reduce((s, v) => s + (v - m) ** 2, 0) / (values.length - correction);
}

test('var is accurate when the mean is large next to the spread, on both backends', () => {
  const cases: number[][] = [
    [1e8, 1e8 + 8, 1e8 + 16],
    [1e8, 1e8 + 8, 1e8 + 8],
    Array.from({ length: 1000 }, (_, i) => 1e6 + ((i * 7919) % 1000) / 100),
    Array.from({ length: 257 }, (_, i) => 3e4 + Math.sin(i)),
  ];
  for (const backend of ['js', 'interp'] as const) {
    withBackend(backend, () => {
      for (const xs of cases) {
        const expected = varianceOf(xs);
        assertAllClose(tensor(xs).var().item(), expected, { rtol: 1e-5, message: `${backend}: var of ${xs.length} values near ${xs[0]}` });
        assertAllClose(tensor(xs).std({ correction: 0 }).item(), Math.sqrt(varianceOf(xs, 0)), { rtol: 1e-5, message: `${backend}: std` });
        assertAllClose(tensor([xs, xs.map((v) => -v)]).var({ axis: 1 }), [expected, expected], { rtol: 1e-5, message: `${backend}: rows` });
      }
      assert.equal(tensor([64, 64, 64]).var().item(), 0, `${backend}: equal values`);
      for (const v of [0.1, 1e8 + 8, -3.7e5]) assert.equal(tensor(new Array(11).fill(v)).std().item(), 0, `${backend}: std of equal values is 0, not NaN`);
    });
  }
  // The mean carries no gradient of its own: d var / dx = 2 (x - mean) / (n - 1), to any order.
  checkGrads((t: Tensor) => t.var(), [randn([5], { seed: 9, dtype: 'float64' })]);
  checkGrads((t: Tensor) => t.std({ axis: 0 }), [randn([4, 3], { seed: 10, dtype: 'float64' })]);
});
