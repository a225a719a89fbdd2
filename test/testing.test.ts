/** The testing helpers users get from @functs/core/testing: assertAllClose and the arbitraries. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { broadcastShapes } from '../src/lazy/shape.js';
import { ArgumentError, tensor } from '../src/index.js';
import { AssertionError, assertAllClose } from '../src/testing/assert.js';
import { axesArb, axisArb, broadcastableShapesArb, numRuns, permutationArb, replayFromEnvironment, shapeArb, shapedTensorArb, tensorArb, valuesArb } from '../src/testing/arbitraries.js';

function failsWith(body: () => void, fragments: readonly string[]): void {
  assert.throws(body, (error: unknown) => {
    assert.ok(error instanceof AssertionError, String(error));
    for (const f of fragments) assert.ok(error.message.includes(f), `"${f}" in: ${error.message}`);
    return true;
  });
}

describe('assertAllClose', () => {
  test('accepts tensors, nested arrays and numbers on either side', () => {
    assertAllClose(tensor([[1, 2], [3, 4]]), [[1, 2], [3, 4]]);
    assertAllClose([1, 2], tensor([1, 2]));
    assertAllClose(tensor(0.1), 0.1);
    assertAllClose(tensor([true, false]), [true, false]);
    assertAllClose(1, 1 + 1e-9);
  });

  test('tolerances: float32 defaults are looser than float64 ones; explicit rtol and atol win', () => {
    assertAllClose(tensor([1]), [1 + 1e-6]);
    failsWith(() => assertAllClose(tensor([1], { dtype: 'float64' }), [1 + 1e-6]), ['1 of 1 elements differ']);
    assertAllClose([100], [101], { rtol: 0.02 });
    assertAllClose([0], [0.5], { atol: 0.5 });
    failsWith(() => assertAllClose([0], [0.5], { atol: 0.4 }), ['atol 0.4']);
    failsWith(() => assertAllClose(tensor([2], { dtype: 'int32' }), [3]), ['actual 2, expected 3']);
  });

  test('NaN matches NaN by default, infinities match themselves only', () => {
    assertAllClose([NaN, Infinity, -Infinity], [NaN, Infinity, -Infinity]);
    failsWith(() => assertAllClose([NaN], [NaN], { equalNan: false }), ['actual NaN']);
    failsWith(() => assertAllClose([Infinity], [-Infinity]), ['actual Infinity, expected -Infinity']);
    failsWith(() => assertAllClose([1], [NaN]), ['expected NaN']);
  });

  test('a shape mismatch names both shapes', () => {
    failsWith(() => assertAllClose(tensor([[1, 2, 3]]), [[1], [2], [3]]), ['shape mismatch', 'actual [1, 3]', 'expected [3, 1]']);
    failsWith(() => assertAllClose(tensor([1]), 1), ['actual [1]', 'expected []']);
  });

  test('a value mismatch names the count, the first index with both values, and the largest difference', () => {
    failsWith(() => assertAllClose([[1, 2], [3, 4]], [[1, 2.5], [3, 10]], { message: 'my op' }), [
      'my op: ',
      '2 of 4 elements differ',
      'first at [0, 1]: actual 2, expected 2.5',
      'largest |difference| 6 at [1, 1]',
    ]);
  });

  test('ragged or malformed input is reported, not compared', () => {
    failsWith(() => assertAllClose([[1, 2], [3]] as unknown as number[][], [[1, 2], [3, 4]]), ['actual is ragged']);
    failsWith(() => assertAllClose(['a'] as unknown as number[], [1]), ['not a tensor']);
  });
});

describe('arbitraries', () => {
  test('numRuns is the quick count unless FUNCTS_THOROUGH=1', () => {
    const saved = process.env.FUNCTS_THOROUGH;
    try {
      delete process.env.FUNCTS_THOROUGH;
      assert.equal(numRuns(25), 25);
      process.env.FUNCTS_THOROUGH = '1';
      assert.equal(numRuns(25), 250);
    } finally {
      if (saved === undefined) delete process.env.FUNCTS_THOROUGH;
      else process.env.FUNCTS_THOROUGH = saved;
    }
  });

  test('a failure reported with its seed replays from FUNCTS_SEED', () => {
    const saved = { seed: process.env.FUNCTS_SEED, global: fc.readConfigureGlobal() };
    const setSeed = (seed: string | undefined) => {
      if (seed === undefined) delete process.env.FUNCTS_SEED;
      else process.env.FUNCTS_SEED = seed;
    };
    /** The values a property sees, sized by numRuns (which reads the environment); no seed passed here. */
    const seen = (): number[][] => {
      const values: number[][] = [];
      fc.assert(fc.property(fc.array(fc.double({ noNaN: true }), { minLength: 3, maxLength: 3 }), (xs) => void values.push(xs)), { numRuns: numRuns(20) });
      return values;
    };
    const failing = fc.property(fc.array(fc.integer({ min: 0, max: 1000 })), (xs) => xs.every((x) => x < 900));
    try {
      setSeed('-1520733186');
      const first = seen();
      assert.deepEqual(seen(), first, 'one seed, the same cases');
      setSeed('7');
      assert.notDeepEqual(seen(), first, 'another seed, other cases');

      setSeed(undefined);
      fc.resetConfigureGlobal();
      const report = fc.check(failing, { numRuns: numRuns(200) });
      assert.ok(report.failed, 'the property fails somewhere in 200 runs');
      setSeed(String(report.seed));
      const replay = fc.check(failing, { numRuns: numRuns(200) });
      assert.ok(replay.failed);
      assert.equal(replay.numRuns, report.numRuns, 'it fails at the same case');
      assert.deepEqual(replay.counterexample, report.counterexample, 'and shrinks it to the same counterexample');

      for (const bad of ['abc', '1.5', ' ']) {
        setSeed(bad);
        assert.throws(() => numRuns(1), (e: unknown) => e instanceof ArgumentError && e.message.includes(`FUNCTS_SEED is '${bad}'`));
      }
    } finally {
      setSeed(saved.seed);
      fc.resetConfigureGlobal();
      fc.configureGlobal(saved.global);
      replayFromEnvironment();
    }
  });

  test('shapes respect their bounds and include size-1 dimensions and scalars', () => {
    const shapes = fc.sample(shapeArb(), 300);
    assert.ok(shapes.every((s) => s.length <= 4 && s.every((d) => d >= 1 && d <= 4)));
    assert.ok(shapes.some((s) => s.length === 0));
    assert.ok(shapes.some((s) => s.includes(1)));
    assert.ok(fc.sample(shapeArb({ minRank: 2, maxRank: 2, minDim: 0, maxDim: 2 }), 100).every((s) => s.length === 2 && s.every((d) => d <= 2)));
  });

  test('broadcastable shapes broadcast', () => {
    for (const shapes of fc.sample(broadcastableShapesArb(3), 200)) assert.doesNotThrow(() => broadcastShapes('test', ...shapes));
  });

  test('values and tensors have the dtype, shape and range asked for', () => {
    assert.ok(fc.sample(valuesArb(5, { dtype: 'int32', min: -2, max: 2 }), 50).every((vs) => vs.length === 5 && vs.every((v) => Number.isInteger(v) && v >= -2 && v <= 2)));
    assert.ok(fc.sample(valuesArb(3, { dtype: 'bool' }), 20).every((vs) => vs.every((v) => v === 0 || v === 1)));
    for (const t of fc.sample(tensorArb([2, 3], { dtype: 'float64', min: 0, max: 1 }), 20)) {
      assert.deepEqual(t.shape, [2, 3]);
      assert.equal(t.dtype, 'float64');
      assert.ok(Array.from(t.dataSync()).every((v) => Number.isFinite(v) && v >= 0 && v <= 1));
    }
    assert.ok(fc.sample(shapedTensorArb({ maxRank: 2 }), 20).every((t) => t.rank <= 2 && t.dtype === 'float32'));
  });

  test('axes, axis lists and permutations are valid for their shape', () => {
    for (const axis of fc.sample(axisArb([2, 3, 4]), 50)) assert.ok(axis >= -3 && axis <= 2);
    assert.throws(() => axisArb([]));
    for (const axes of fc.sample(axesArb([2, 3, 4]), 50)) {
      const normalized = axes.map((a) => (a < 0 ? a + 3 : a));
      assert.equal(new Set(normalized).size, axes.length);
      assert.ok(normalized.every((a) => a >= 0 && a < 3));
    }
    for (const perm of fc.sample(permutationArb(4), 50)) assert.deepEqual([...perm].sort(), [0, 1, 2, 3]);
  });
});
