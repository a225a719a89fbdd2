import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { arange, eye, full, linspace, ones, onesLike, rand, randn, tensor, zeros, zerosLike } from '../../src/index.js';
import { assertAllClose } from '../../src/testing/assert.js';

describe('tensor()', () => {
  test('from a number is a 0-d float32 tensor', () => {
    const x = tensor(2.5);
    assert.deepEqual(x.shape, []);
    assert.equal(x.dtype, 'float32');
    assert.equal(x.item(), 2.5);
  });

  test('from nested arrays takes their shape; numbers give float32, booleans give bool', () => {
    const x = tensor([[1, 2, 3], [4, 5, 6]]);
    assert.deepEqual(x.shape, [2, 3]);
    assert.equal(x.dtype, 'float32');
    assert.deepEqual(x.toArray(), [[1, 2, 3], [4, 5, 6]]);
    const b = tensor([[true], [false]]);
    assert.equal(b.dtype, 'bool');
    assert.deepEqual(b.toArray(), [[true], [false]]);
    // Mixed booleans and numbers are numbers.
    assert.deepEqual(tensor([true, 2]).toArray(), [1, 2]);
  });

  test('float32 rounds values; float64 keeps them', () => {
    assert.equal(tensor(0.1).item(), Math.fround(0.1));
    assert.equal(tensor(0.1, { dtype: 'float64' }).item(), 0.1);
  });

  test('dtype option converts: int32 truncates toward zero, bool is "not zero"', () => {
    assert.deepEqual(tensor([1.7, -1.7, 3], { dtype: 'int32' }).toArray(), [1, -1, 3]);
    assert.deepEqual(tensor([0, 2, -0.5], { dtype: 'bool' }).toArray(), [false, true, true]);
  });

  test('shape option reshapes flat data', () => {
    const x = tensor([1, 2, 3, 4, 5, 6], { shape: [3, 2] });
    assert.deepEqual(x.toArray(), [[1, 2], [3, 4], [5, 6]]);
  });

  test('empty arrays give size-0 tensors', () => {
    assert.deepEqual(tensor([]).shape, [0]);
    assert.deepEqual(tensor([[], []]).shape, [2, 0]);
    assert.equal(tensor([]).dtype, 'float32');
  });

  test('from typed arrays: the dtype follows the array, shape defaults to 1-D', () => {
    const cases = [
      [new Float32Array([1, 2]), 'float32'],
      [new Float64Array([1, 2]), 'float64'],
      [new Int32Array([1, 2]), 'int32'],
      [new Uint8Array([1, 0]), 'bool'],
    ] as const;
    for (const [data, dtype] of cases) {
      const x = tensor(data);
      assert.equal(x.dtype, dtype);
      assert.deepEqual(x.shape, [2]);
    }
    const m = tensor(new Int32Array([1, 2, 3, 4]), { shape: [2, 2] });
    assert.deepEqual(m.toArray(), [[1, 2], [3, 4]]);
    assert.deepEqual(tensor(new Float64Array([1.5, -2.5]), { dtype: 'int32' }).toArray(), [1, -2]);
  });

  test('copies typed-array input, so later writes do not change the tensor', () => {
    const data = new Float32Array([1, 2]);
    const x = tensor(data);
    data[0] = 100;
    assert.deepEqual(x.toArray(), [1, 2]);
  });
});

describe('constant creation', () => {
  test('zeros, ones, full', () => {
    assert.deepEqual(zeros([2, 2]).toArray(), [[0, 0], [0, 0]]);
    assert.deepEqual(ones([3]).toArray(), [1, 1, 1]);
    assert.deepEqual(full([2], 7).toArray(), [7, 7]);
    assert.equal(zeros([2]).dtype, 'float32');
    assert.equal(full([2], true).dtype, 'bool');
    assert.equal(ones([2], { dtype: 'int32' }).dtype, 'int32');
    assert.deepEqual(zeros([]).shape, []);
    assert.deepEqual(zeros([0, 3]).toArray(), []);
    assert.deepEqual(full([2], Infinity).toArray(), [Infinity, Infinity]);
    assert.ok(Number.isNaN(full([], NaN).item()));
  });

  test('zerosLike and onesLike keep shape and dtype unless told', () => {
    const x = tensor([[1, 2, 3]], { dtype: 'float64' });
    assert.deepEqual(zerosLike(x).shape, [1, 3]);
    assert.equal(zerosLike(x).dtype, 'float64');
    assert.deepEqual(onesLike(x).toArray(), [[1, 1, 1]]);
    assert.equal(onesLike(x, { dtype: 'int32' }).dtype, 'int32');
  });
});

describe('ranges', () => {
  test('arange(n), arange(start, stop, step), negative steps; integers give int32', () => {
    assert.deepEqual(arange(5).toArray(), [0, 1, 2, 3, 4]);
    assert.equal(arange(5).dtype, 'int32');
    assert.deepEqual(arange(2, 5).toArray(), [2, 3, 4]);
    assert.deepEqual(arange(1, 10, 3).toArray(), [1, 4, 7]);
    assert.deepEqual(arange(5, 0, -2).toArray(), [5, 3, 1]);
    assert.deepEqual(arange(3, 3).toArray(), []);
    assert.deepEqual(arange(5, 0).toArray(), []);
  });

  test('arange with fractional arguments gives float32; dtype option overrides', () => {
    const x = arange(0, 1, 0.25);
    assert.equal(x.dtype, 'float32');
    assert.deepEqual(x.toArray(), [0, 0.25, 0.5, 0.75]);
    assert.equal(arange(3, undefined, 1, { dtype: 'float64' }).dtype, 'float64');
    assert.deepEqual(arange(3, undefined, 1, { dtype: 'float64' }).toArray(), [0, 1, 2]);
  });

  test('linspace includes both ends', () => {
    assertAllClose(linspace(0, 1, 5), [0, 0.25, 0.5, 0.75, 1]);
    assertAllClose(linspace(-1, 1, 3, { dtype: 'float64' }), [-1, 0, 1]);
    assert.deepEqual(linspace(2, 3, 1).toArray(), [2]);
    assert.deepEqual(linspace(2, 3, 0).toArray(), []);
    assert.equal(linspace(0, 1, 3).dtype, 'float32');
  });

  test('eye: square, rectangular, dtype', () => {
    assert.deepEqual(eye(2).toArray(), [[1, 0], [0, 1]]);
    assert.deepEqual(eye(2, 3).toArray(), [[1, 0, 0], [0, 1, 0]]);
    assert.deepEqual(eye(3, 2).toArray(), [[1, 0], [0, 1], [0, 0]]);
    assert.equal(eye(2, 2, { dtype: 'int32' }).dtype, 'int32');
  });
});

describe('random', () => {
  test('rand: uniform in [0, 1), same seed same values, different seed different values', () => {
    const a = rand([1000], { seed: 7 }).toArray() as number[];
    const b = rand([1000], { seed: 7 }).toArray() as number[];
    const c = rand([1000], { seed: 8 }).toArray() as number[];
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.ok(a.every((v) => v >= 0 && v < 1));
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    assert.ok(Math.abs(mean - 0.5) < 0.05, `mean of 1000 uniforms is ${mean}`);
  });

  test('randn: standard normal moments, deterministic per seed', () => {
    const a = randn([4000], { seed: 3 }).toArray() as number[];
    assert.deepEqual(a, randn([4000], { seed: 3 }).toArray());
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const variance = a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length;
    assert.ok(Math.abs(mean) < 0.08, `mean ${mean}`);
    assert.ok(Math.abs(variance - 1) < 0.1, `variance ${variance}`);
  });

  test('counter-based: a value depends only on seed and position, not on evaluation order or shape', () => {
    const whole = rand([2, 3], { seed: 11 });
    const flat = rand([6], { seed: 11 }).toArray();
    // Read a derived value first, then the tensor itself.
    whole.mul(2).sum().item();
    assert.deepEqual(whole.reshape([6]).toArray(), flat);
    assert.equal(rand([2], { seed: 1, dtype: 'float64' }).dtype, 'float64');
  });
});
