// The fused backend computes exactly what the reference interpreter computes where exactness
// is observable: integer wrap-around, bools, NaN and infinities, signed zeros, empty tensors
// and reductions, comparisons of computed float32 values, random numbers. (Continuous float32
// chains may differ in the last bits: a kernel keeps float64 intermediates where the
// interpreter rounds every node; the property tests bound that difference.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arange, full, rand, randn, tensor, withBackend, zeros, type NestedNumbers, type Tensor } from '../src/index.js';
import { iota } from '../src/lazy/ops/creation.js';

/** Builds twice (fresh nodes) and requires bit-identical results, -0 and NaN included. */
function same(build: () => Tensor, what: string): NestedNumbers {
  const expected = withBackend('interp', () => Array.from(build().dataSync()));
  const actual = build();
  const got = Array.from(actual.dataSync());
  assert.equal(got.length, expected.length, what);
  got.forEach((v, i) => assert.ok(Object.is(v, expected[i]), `${what}: element ${i} is ${v}, the interpreter gives ${expected[i]}`));
  return actual.toArray();
}

test('int32 arithmetic wraps around exactly as Int32Array stores do', () => {
  const big = tensor([2147483000, -2147483000, 123456789], { dtype: 'int32' });
  same(() => big.mul(65537).add(big).mul(3), 'int32 wrap');
  same(() => big.neg().abs().add(2147483647), 'neg/abs wrap');
  same(() => big.sum(), 'int32 sum wraps once, at the end');
  same(() => big.cast('float32').mul(7.7).cast('int32'), 'float to int truncates');
});

test('bools: comparisons, logic, where, max and sums of masks', () => {
  const x = tensor([[-1, 0, 2], [3, -0, NaN]]);
  same(() => x.gt(0).logicalAnd(x.lt(3)), 'mask');
  same(() => x.gt(0).max({ axis: 1 }), 'any');
  same(() => x.gt(0).sum(), 'count');
  same(() => x.eq(x), 'NaN differs from itself');
  same(() => zeros([0, 3]).gt(0).sum({ axis: 0 }), 'count over an empty axis');
});

test('NaN, infinities and signed zeros propagate as in the reference', () => {
  const x = tensor([NaN, Infinity, -Infinity, -0, 0, 1]);
  same(() => x.max(), 'max propagates NaN');
  same(() => x.slice([[1, 6]]).max(), 'max of infinities');
  same(() => x.mul(-1), 'negative zero');
  same(() => x.neg().add(0), '-0 + 0');
  same(() => x.maximum(0), 'maximum');
  same(() => x.exp(), 'exp of infinities and NaN');
  same(() => tensor([[1, NaN], [2, 3]]).argmax({ axis: 1 }), 'argmax points at NaN');
});

test('empty tensors and reductions over empty axes', () => {
  same(() => zeros([0, 3]).add(1).sum({ axis: 0 }), 'sum over an empty axis is 0');
  same(() => zeros([2, 0]).exp().sum({ axis: 1 }).add(1), 'empty sums feeding arithmetic');
  same(() => zeros([3, 0]).mul(2), 'an empty result');
  same(() => tensor([1, 2, 3]).slice([[1, 1]]).sum(), 'an empty slice sums to 0');
});

test('comparisons of computed float32 values see float32 rounding, as the reference stores them', () => {
  const x = randn([64], { seed: 7 });
  same(() => x.mul(1.5).sub(x.div(2)).eq(x), '1.5x - x/2 == x');
  same(() => x.mul(3).div(7).mul(7).div(3).lt(x), 'round trips');
  same(() => x.mul(0.1).add(0.2).mul(10).floor(), 'floor of a computed value');
  same(() => x.mul(12.5).round(), 'round half to even');
  same(() => x.mul(1e6).cast('int32'), 'cast to int32');
});

test('random values, iota and constants are computed in the kernels bit for bit', () => {
  same(() => rand([5, 7], { seed: 3 }), 'uniform');
  same(() => randn([5, 7], { seed: 4, dtype: 'float64' }), 'normal float64');
  same(() => randn([3, 4], { seed: 5 }).T.add(iota([4, 3], 1, 'float32')), 'normal float32, transposed');
  same(() => arange(0, 1, 0.1), 'arange');
  same(() => full([2, 2], NaN).add(full([2, 2], -0)), 'NaN constants');
});

test('pads, flips, slices and reshapes of computed values', () => {
  const x = arange(24, undefined, 1, { dtype: 'float32' }).reshape([2, 3, 4]);
  same(() => x.exp().pad([[1, 0], [0, 2], [1, 1]], 0.5).flip([0, 2]).slice([[1, 3], [0, 5, 2], [1, 5]]), 'pad/flip/slice chain');
  same(() => x.permute([2, 0, 1]).reshape([4, 6]).T.reshape([2, 3, 4]).sum({ axis: 1 }), 'reshapes of a transpose');
  same(() => x.reshape([6, 4]).sum({ axis: 0, keepdims: true }).expand([6, 4]).sub(x.reshape([6, 4])), 'a reduction read back through a broadcast');
});
