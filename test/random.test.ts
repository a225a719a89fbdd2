// The key-based `random` namespace: distributions (moments and Kolmogorov-Smirnov distances
// on large samples), determinism on every backend, independence of split keys, and keys
// flowing through vmap, jit and grad as data.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError, DTypeError, ShapeError, grad, jit, random, stack, tensor, vmap, withBackend, type Tensor } from '../src/index.js';
import { assertAllClose } from '../src/testing/index.js';

const N = 50_000;
/** The KS distance a correct sampler exceeds with probability 0.001. */
const KS_CRITICAL = 1.95 / Math.sqrt(N);

function values(t: Tensor): number[] {
  return Array.from(t.dataSync());
}

/** sup |F_n(x) - F(x)| of a sample against a continuous CDF. */
function ksDistance(sample: number[], cdf: (x: number) => number): number {
  const sorted = [...sample].sort((a, b) => a - b);
  let d = 0;
  sorted.forEach((x, i) => {
    const f = cdf(x);
    d = Math.max(d, Math.abs(f - i / sorted.length), Math.abs((i + 1) / sorted.length - f));
  });
  return d;
}

/** Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7). */
function erf(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return x >= 0 ? y : -y;
}
const normalCdf = (x: number) => 0.5 * (1 + erf(x / Math.SQRT2));

function moments(xs: number[]): { mean: number; variance: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1);
  return { mean, variance };
}

function correlation(a: number[], b: number[]): number {
  const ma = moments(a);
  const mb = moments(b);
  const cov = a.reduce((s, x, i) => s + (x - ma.mean) * (b[i] - mb.mean), 0) / (a.length - 1);
  return cov / Math.sqrt(ma.variance * mb.variance);
}

describe('random: distributions', () => {
  test('uniform: KS distance to U(0, 1), moments, and float32 never reaching 1', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const u = values(random.uniform(random.key(1), [N], { dtype }));
      assert.ok(ksDistance(u, (x) => Math.min(1, Math.max(0, x))) < KS_CRITICAL, `${dtype} KS`);
      assert.ok(u.every((x) => x >= 0 && x < 1), `${dtype} in [0, 1)`);
      const { mean, variance } = moments(u);
      assert.ok(Math.abs(mean - 0.5) < 5 * Math.sqrt(1 / 12 / N), `${dtype} mean ${mean}`);
      assert.ok(Math.abs(variance - 1 / 12) < 0.02 / 12 * 5, `${dtype} variance ${variance}`);
    }
    const ranged = values(random.uniform(random.key(2), [N], { minval: -3, maxval: 5 }));
    assert.ok(ranged.every((x) => x >= -3 && x < 5));
    assert.ok(ksDistance(ranged, (x) => (x + 3) / 8) < KS_CRITICAL);
  });

  test('normal: KS distance to N(0, 1), mean and variance', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const z = values(random.normal(random.key(3), [N], { dtype }));
      assert.ok(ksDistance(z, normalCdf) < KS_CRITICAL, `${dtype} KS ${ksDistance(z, normalCdf)}`);
      const { mean, variance } = moments(z);
      assert.ok(Math.abs(mean) < 5 / Math.sqrt(N), `${dtype} mean ${mean}`);
      // Var of the sample variance of a normal is 2 / (N - 1).
      assert.ok(Math.abs(variance - 1) < 5 * Math.sqrt(2 / N), `${dtype} variance ${variance}`);
    }
  });

  test('bernoulli: frequency of true within 5 standard errors, per element p too', () => {
    for (const p of [0.1, 0.5, 0.9]) {
      const hits = values(random.bernoulli(random.key(4), p, [N]).cast('int32')).reduce((a, b) => a + b, 0) / N;
      assert.ok(Math.abs(hits - p) < 5 * Math.sqrt((p * (1 - p)) / N), `p = ${p}: ${hits}`);
    }
    const mask = random.bernoulli(random.key(5), tensor([0, 1]), [N / 10, 2]).cast('int32').sum({ axis: 0 });
    assert.deepEqual(mask.toArray(), [0, N / 10]);
  });

  test('randint: values in range, every value about equally often (chi-square)', () => {
    const r = values(random.randint(random.key(6), [N], -3, 7));
    const counts = new Array(10).fill(0);
    r.forEach((x) => {
      assert.ok(Number.isInteger(x) && x >= -3 && x < 7, `${x} out of [-3, 7)`);
      counts[x + 3]++;
    });
    const expected = N / 10;
    const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    assert.ok(chi2 < 27.9, `chi-square ${chi2} with 9 degrees of freedom (p = 0.001 at 27.9)`);
  });
});

describe('random: permutation', () => {
  test('is a permutation, shuffles rows, and puts every element first about equally often', () => {
    const perm = values(random.permutation(random.key(11), 200));
    assert.deepEqual([...perm].sort((a, b) => a - b), Array.from({ length: 200 }, (_, i) => i));
    assert.notDeepEqual(perm, Array.from({ length: 200 }, (_, i) => i));
    const rows = tensor([[1, 2], [3, 4], [5, 6], [7, 8]]);
    const order = values(random.permutation(random.key(12), 4));
    assert.deepEqual(random.permutation(random.key(12), rows).toArray(), order.map((i) => [2 * i + 1, 2 * i + 2]));
    // 4000 permutations of 5 (one per split key, under vmap): each value leads 1/5 of them.
    const firsts = values(vmap((k: Tensor) => random.permutation(k, 5).select(0, 0))(random.split(random.key(13), 4000)));
    const counts = [0, 1, 2, 3, 4].map((v) => firsts.filter((f) => f === v).length);
    const chi2 = counts.reduce((s, c) => s + (c - 800) ** 2 / 800, 0);
    assert.ok(chi2 < 18.5, `chi-square ${chi2} with 4 degrees of freedom (p = 0.001 at 18.5), counts ${counts}`);
  });
});

describe('random: keys', () => {
  test('draws depend only on the key: repeated, rebuilt and on the interpreter they are bit-identical', () => {
    const draw = () => [random.normal(random.key(7), [5, 3]), random.uniform(random.key(7), [4]), random.randint(random.key(7), [6], 0, 100), random.split(random.key(7), 3), random.foldIn(random.key(7), 11)].map((t) => t.toArray());
    const first = draw();
    assert.deepEqual(draw(), first);
    assert.deepEqual(withBackend('interp', draw), first);
    assert.notDeepEqual(random.normal(random.key(8), [5, 3]).toArray(), first[0]);
  });

  test('a key is an int32 [2] tensor; seeds beyond 32 bits give distinct keys', () => {
    const k = random.key(123);
    assert.equal(k.dtype, 'int32');
    assert.deepEqual(k.shape, [2]);
    assert.notDeepEqual(random.key(2 ** 32 + 5).toArray(), random.key(5).toArray());
  });

  test('split keys are distinct, and their samples are uncorrelated with each other and with the parent', () => {
    const keys = random.split(random.key(9), 64);
    assert.deepEqual(keys.shape, [64, 2]);
    const rows = (keys.toArray() as number[][]).map((r) => r.join(','));
    assert.equal(new Set(rows).size, 64);
    const n = 20_000;
    const [a, b] = [0, 1].map((i) => values(random.normal(keys.select(0, i), [n])));
    const parent = values(random.normal(random.key(9), [n]));
    for (const [x, y, what] of [[a, b, 'siblings'], [a, parent, 'child and parent']] as const) {
      assert.ok(Math.abs(correlation(x, y)) < 5 / Math.sqrt(n), `${what}: correlation ${correlation(x, y)}`);
    }
    // The split's bits come from their own stream: no split key equals the parent's draws.
    const parentBits = values(random.randint(random.key(9), [128], -(2 ** 31), 2 ** 31));
    assert.ok(values(keys).every((w) => !parentBits.includes(w)));
  });

  test('foldIn: equal data give equal keys, different data different keys; traced data works under jit', () => {
    const k = random.key(10);
    const folded = [0, 1, 2, 3].map((d) => values(random.foldIn(k, d)).join(','));
    assert.equal(new Set(folded).size, 4);
    assert.deepEqual(random.foldIn(k, 2).toArray(), random.foldIn(k, 2).toArray());
    const foldJit = jit((key: Tensor, step: Tensor) => random.foldIn(key, step));
    [0, 1, 2, 3].forEach((d) => assert.equal(values(foldJit(k, tensor(d, { dtype: 'int32' }))).join(','), folded[d]));
    assert.equal(foldJit.stats.traces, 1);
  });
});

describe('random: keys through transforms', () => {
  test('vmap over split keys gives one different sample per key, equal to the loop', () => {
    const keys = random.split(random.key(0), 8);
    const samples = vmap((k: Tensor) => random.normal(k, [3]))(keys);
    assert.deepEqual(samples.shape, [8, 3]);
    const rows = (samples.toArray() as number[][]).map((r) => r.join(','));
    assert.equal(new Set(rows).size, 8);
    const loop = stack(Array.from({ length: 8 }, (_, i) => random.normal(keys.select(0, i), [3])));
    assertAllClose(samples, loop, { rtol: 0, atol: 0 });
    // Nested: a batch of batches of keys.
    const nested = vmap(vmap((k: Tensor) => random.uniform(k, [2])))(random.split(random.key(1), 6).reshape([2, 3, 2]));
    assert.deepEqual(nested.shape, [2, 3, 2]);
  });

  test('jit of a function taking a key: one trace, different results for different keys, equal to eager', () => {
    const noisy = jit((k: Tensor, x: Tensor) => x.add(random.normal(k, x.shape)));
    const x = tensor([1, 2, 3]);
    const a = noisy(random.key(1), x);
    const b = noisy(random.key(2), x);
    assert.notDeepEqual(a.toArray(), b.toArray());
    assertAllClose(a, x.add(random.normal(random.key(1), [3])), { rtol: 0, atol: 0 });
    assertAllClose(b, x.add(random.normal(random.key(2), [3])), { rtol: 0, atol: 0 });
    assert.equal(noisy.stats.traces, 1);
  });

  test('grad treats draws as constants: d/dx sum(x * noise) = noise', () => {
    const k = random.key(3);
    const g = grad((x: Tensor) => x.mul(random.normal(k, [4])).sum())(tensor([1, 2, 3, 4]));
    assertAllClose(g, random.normal(k, [4]), { rtol: 0, atol: 0 });
  });
});

describe('random: errors', () => {
  test('bad keys, dtypes, seeds and bounds throw the exported error classes', () => {
    assert.throws(() => random.normal(tensor([1, 2, 3], { dtype: 'int32' }), [2]), (e: unknown) => e instanceof ShapeError && /random\.normal/.test(e.message) && /\[3\]/.test(e.message));
    assert.throws(() => random.normal(random.split(random.key(0), 4), [2]), (e: unknown) => e instanceof ShapeError && /vmap/.test(e.message));
    assert.throws(() => random.uniform(tensor([1, 2]), [2]), (e: unknown) => e instanceof DTypeError && /int32/.test(e.message));
    assert.throws(() => random.normal(random.key(0), [2], { dtype: 'int32' }), DTypeError);
    assert.throws(() => random.key(1.5), ArgumentError);
    assert.throws(() => random.uniform(random.key(0), [2], { minval: 1, maxval: 1 }), ArgumentError);
    assert.throws(() => random.randint(random.key(0), [2], 0, 0.5), ArgumentError);
    assert.throws(() => random.split(random.key(0), -1), ArgumentError);
    assert.throws(() => random.foldIn(random.key(0), 0.5), ArgumentError);
    assert.throws(() => random.normal(random.key(0), [2, -1]), ArgumentError);
    assert.throws(() => random.permutation(random.key(0), tensor(3)), ArgumentError);
  });
});
