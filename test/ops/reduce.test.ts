import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as F from '../../src/index.js';
import { tensor, type Tensor } from '../../src/index.js';
import { assertAllClose } from '../../src/testing/assert.js';

// x[i][j][k] = 12 i + 4 j + k + 1, shape [2, 3, 4]: sums are easy to do by hand.
const x = F.arange(1, 25).reshape([2, 3, 4]).cast('float32');
const m = tensor([[1, -2, 3], [4, 5, -6]]);

function checkBoth(name: string, viaFunction: Tensor, viaMethod: Tensor, expected: F.NestedArray, shape: number[]): void {
  assertAllClose(viaFunction, expected, { message: `${name} (function)` });
  assertAllClose(viaMethod, expected, { message: `${name} (method)` });
  assert.deepEqual(viaFunction.shape, shape, `${name}: shape`);
}

describe('sum', () => {
  test('over all axes, one axis, an axis list, negative axes, keepdims', () => {
    checkBoth('sum all', F.sum(x), x.sum(), 300, []);
    checkBoth('sum axis 0', F.sum(m, { axis: 0 }), m.sum({ axis: 0 }), [5, 3, -3], [3]);
    checkBoth('sum axis -1', F.sum(m, { axis: -1 }), m.sum({ axis: -1 }), [2, 3], [2]);
    checkBoth('sum axes [0, 2]', F.sum(x, { axis: [0, 2] }), x.sum({ axis: [0, 2] }), [10 + 58, 26 + 74, 42 + 90], [3]);
    checkBoth('sum axes [-1, 0] keepdims', F.sum(x, { axis: [-1, 0], keepdims: true }), x.sum({ axis: [-1, 0], keepdims: true }), [[[68], [100], [132]]], [1, 3, 1]);
    checkBoth('sum keepdims all', F.sum(m, { keepdims: true }), m.sum({ keepdims: true }), [[5]], [1, 1]);
    checkBoth('sum axis []', F.sum(m, { axis: [] }), m.sum({ axis: [] }), [[1, -2, 3], [4, 5, -6]], [2, 3]);
  });

  test('dtypes: int32 stays int32, bool counts as int32; empty sums are 0', () => {
    assert.equal(F.sum(tensor([1, 2], { dtype: 'int32' })).dtype, 'int32');
    assert.equal(F.sum(tensor([true, true, false])).item(), 2);
    assert.equal(F.sum(tensor([true])).dtype, 'int32');
    assert.equal(F.sum(F.zeros([0])).item(), 0);
    assert.deepEqual(F.sum(F.ones([2, 0]), { axis: 1 }).toArray(), [0, 0]);
    assert.equal(F.sum(tensor(3)).item(), 3);
  });
});

describe('mean, prod, var, std', () => {
  test('mean', () => {
    checkBoth('mean all', F.mean(x), x.mean(), 12.5, []);
    checkBoth('mean axis 1', F.mean(m, { axis: 1 }), m.mean({ axis: 1 }), [2 / 3, 1], [2]);
    checkBoth('mean axes [0, 1] keepdims', F.mean(x, { axis: [0, 1], keepdims: true }), x.mean({ axis: [0, 1], keepdims: true }), [[[11, 12, 13, 14]]], [1, 1, 4]);
    assert.equal(F.mean(tensor([1, 2], { dtype: 'int32' })).dtype, 'float32');
    assert.equal(F.mean(tensor([1, 2], { dtype: 'float64' })).dtype, 'float64');
  });

  test('prod', () => {
    checkBoth('prod all', F.prod(m), m.prod(), 720, []);
    checkBoth('prod axis 0', F.prod(m, { axis: 0 }), m.prod({ axis: 0 }), [4, -10, -18], [3]);
    checkBoth('prod axis -1 keepdims', F.prod(m, { axis: -1, keepdims: true }), m.prod({ axis: -1, keepdims: true }), [[-6], [-120]], [2, 1]);
    checkBoth('prod of odd length', F.prod(tensor([1, 2, 3, 4, 5])), tensor([1, 2, 3, 4, 5]).prod(), 120, []);
    assert.equal(F.prod(F.zeros([0])).item(), 1, 'the empty product is 1');
    assert.equal(F.prod(tensor([2, 3], { dtype: 'int32' })).dtype, 'int32');
  });

  test('prod keeps full precision of tiny and huge factors', () => {
    assertAllClose(F.prod(tensor([1e-8, 2, 3])), 6e-8, { rtol: 1e-6 });
    assertAllClose(F.prod(tensor([1e20, 1e-20, 5], { dtype: 'float64' })), 5, { rtol: 1e-12 });
  });

  test('var and std: unbiased by default, correction 0 for the population', () => {
    const v = tensor([1, 2, 3, 4]);
    checkBoth('var', F.variance(v), v.var(), 5 / 3, []);
    checkBoth('var correction 0', F.variance(v, { correction: 0 }), v.var({ correction: 0 }), 1.25, []);
    checkBoth('std', F.std(v), v.std(), Math.sqrt(5 / 3), []);
    checkBoth('std correction 0', F.std(v, { correction: 0 }), v.std({ correction: 0 }), Math.sqrt(1.25), []);
    checkBoth('var axis -1 keepdims', F.variance(m, { axis: -1, keepdims: true }), m.var({ axis: -1, keepdims: true }), [[19 / 3], [37]], [2, 1]);
    checkBoth('std axis 0', F.std(m, { axis: 0 }), m.std({ axis: 0 }), [3 / Math.SQRT2, 7 / Math.SQRT2, 9 / Math.SQRT2], [3]);
  });
});

describe('max, min, argmax, argmin', () => {
  test('max and min', () => {
    checkBoth('max all', F.max(m), m.max(), 5, []);
    checkBoth('min all', F.min(m), m.min(), -6, []);
    checkBoth('max axis 0', F.max(m, { axis: 0 }), m.max({ axis: 0 }), [4, 5, 3], [3]);
    checkBoth('min axis -1 keepdims', F.min(m, { axis: -1, keepdims: true }), m.min({ axis: -1, keepdims: true }), [[-2], [-6]], [2, 1]);
    checkBoth('max axes [0, 2]', F.max(x, { axis: [0, 2] }), x.max({ axis: [0, 2] }), [16, 20, 24], [3]);
    assert.equal(F.max(tensor([1, 2], { dtype: 'int32' })).dtype, 'int32');
    assert.deepEqual(F.min(tensor([[true, false], [true, true]]), { axis: 1 }).toArray(), [false, true]);
    assert.deepEqual(F.max(tensor([[true, false], [false, false]]), { axis: 1 }).toArray(), [true, false]);
  });

  test('max and min propagate NaN and handle infinities', () => {
    assert.ok(Number.isNaN(F.max(tensor([1, NaN, 3])).item()));
    assert.ok(Number.isNaN(F.min(tensor([1, NaN, 3])).item()));
    assert.equal(F.max(tensor([-Infinity, -Infinity])).item(), -Infinity);
    assert.equal(F.min(tensor([Infinity, 2])).item(), 2);
  });

  test('argmax and argmin: the first extreme, over the flattened tensor by default, int32', () => {
    const t = tensor([[1, 5, 5], [7, 0, 7]]);
    assert.equal(F.argmax(t).item(), 3);
    assert.equal(t.argmax().dtype, 'int32');
    assert.equal(F.argmin(t).item(), 4);
    assert.deepEqual(F.argmax(t, { axis: 1 }).toArray(), [1, 0]);
    assert.deepEqual(t.argmax({ axis: 1 }).toArray(), [1, 0]);
    assert.deepEqual(F.argmin(t, { axis: 0 }).toArray(), [0, 1, 0]);
    assert.deepEqual(t.argmin({ axis: -2, keepdims: true }).toArray(), [[0, 1, 0]]);
    assert.deepEqual(F.argmax(t, { axis: -1, keepdims: true }).shape, [2, 1]);
    // Without an axis, keepdims keeps the rank (NumPy's argmax(a, keepdims=True)).
    assert.deepEqual(F.argmax(t, { keepdims: true }).toArray(), [[3]]);
    assert.deepEqual(F.argmin(t.reshape([1, 2, 3]), { keepdims: true }).shape, [1, 1, 1]);
  });

  test('argmax and argmin point at a NaN, as NumPy does', () => {
    assert.equal(F.argmax(tensor([1, NaN, 3, NaN])).item(), 1);
    assert.equal(F.argmin(tensor([1, 0, NaN])).item(), 2);
    assert.deepEqual(F.argmax(tensor([[NaN, 1], [0, 2]]), { axis: 1 }).toArray(), [0, 1]);
  });
});

describe('logsumexp, softmax, logSoftmax', () => {
  test('logsumexp', () => {
    const v = tensor([[0, Math.log(3)], [1, 1]]);
    checkBoth('logsumexp all', F.logsumexp(v), v.logsumexp(), Math.log(1 + 3 + 2 * Math.E), []);
    checkBoth('logsumexp axis -1', F.logsumexp(v, { axis: -1 }), v.logsumexp({ axis: -1 }), [Math.log(4), 1 + Math.log(2)], [2]);
    checkBoth('logsumexp axis 0 keepdims', F.logsumexp(v, { axis: 0, keepdims: true }), v.logsumexp({ axis: 0, keepdims: true }), [[Math.log(1 + Math.E), Math.log(3 + Math.E)]], [1, 2]);
  });

  test('logsumexp is stable for large values and exact for infinities', () => {
    assertAllClose(F.logsumexp(tensor([1000, 1000])), 1000 + Math.log(2));
    assertAllClose(F.logsumexp(tensor([-1000, -1000])), -1000 + Math.log(2));
    assert.equal(F.logsumexp(tensor([-Infinity, -Infinity])).item(), -Infinity);
    assert.equal(F.logsumexp(tensor([Infinity, 0])).item(), Infinity);
  });

  test('softmax along the last axis by default, or another axis', () => {
    const v = tensor([[0, Math.log(3)], [1, 1]]);
    checkBoth('softmax', F.softmax(v), v.softmax(), [[0.25, 0.75], [0.5, 0.5]], [2, 2]);
    const e = Math.E;
    checkBoth('softmax axis 0', F.softmax(v, 0), v.softmax(0), [[1 / (1 + e), 3 / (3 + e)], [e / (1 + e), e / (3 + e)]], [2, 2]);
    assertAllClose(F.softmax(tensor([1000, 0])), [1, 0]);
  });

  test('logSoftmax', () => {
    const v = tensor([[0, Math.log(3)], [1, 1]]);
    checkBoth('logSoftmax', F.logSoftmax(v), v.logSoftmax(), [[Math.log(0.25), Math.log(0.75)], [Math.log(0.5), Math.log(0.5)]], [2, 2]);
    checkBoth('logSoftmax axis 0', F.logSoftmax(v, 0), v.logSoftmax(0), [[-Math.log(1 + Math.E), Math.log(3) - Math.log(3 + Math.E)], [1 - Math.log(1 + Math.E), 1 - Math.log(3 + Math.E)]], [2, 2]);
    assertAllClose(F.logSoftmax(tensor([1000, 0])), [0, -1000]);
  });
});
