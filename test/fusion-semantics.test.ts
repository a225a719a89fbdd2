// The fused backend computes exactly what the reference interpreter computes where exactness
// is observable: integer wrap-around, bools, NaN and infinities, signed zeros, empty tensors
// and reductions, comparisons of computed float32 values, random numbers. (Continuous float32
// chains may differ in the last bits: a kernel keeps float64 intermediates where the
// interpreter rounds every node; the property tests bound that difference.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arange, explain, full, hessian, jit, rand, randn, tensor, vmap, withBackend, zeros, type NestedNumbers, type Tensor } from '../src/index.js';
import { iota } from '../src/lazy/ops/creation.js';
import { assertAllClose } from '../src/testing/index.js';

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
  same(() => big.sum(), 'int32 sum wraps');
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

test('jit keys static numbers by IEEE identity: -0 is not 0, NaN is NaN', () => {
  let calls = 0;
  const divide = jit(
    (x: Tensor, s: number) => {
      calls++;
      return x.div(s);
    },
    { staticArgnums: 1 },
  );
  const x = tensor([1, -2]);
  assert.deepEqual(divide(x, 0).toArray(), x.div(0).toArray());
  assert.deepEqual(divide(x, -0).toArray(), x.div(-0).toArray());
  assert.deepEqual(divide(x, -0).toArray(), [-Infinity, Infinity]);
  assert.equal(calls, 2, '0 and -0 trace separately');
  divide(x, NaN);
  assert.deepEqual(divide(x, NaN).toArray(), [NaN, NaN]);
  assert.equal(calls, 3, 'a second NaN hits the cache');
});

/** Exact int32 wrap-around of a * b, from 16-bit halves (independent of Math.imul). */
function wrappedProduct(a: number, b: number): number {
  const lo = (a & 0xffff) * b;
  const hi = (((a >>> 16) * b) & 0xffff) * 65536;
  return (lo + hi) | 0;
}

test('int32 products and sums wrap around modulo 2^32 however large the exact value', () => {
  // 123456789 * 987654321 = 121932631112635269 is past 2^53: a float64 product loses its low bits.
  const expected = wrappedProduct(123456789, 987654321);
  assert.equal(expected, -67153019);
  for (const backend of ['interp', 'js'] as const) {
    withBackend(backend, () => {
      const a = tensor([123456789, -987654321, 2147483647], { dtype: 'int32' });
      const b = tensor([987654321, 123456789, 2147483647], { dtype: 'int32' });
      assert.deepEqual(a.mul(b).toArray(), [expected, wrappedProduct(-987654321, 123456789), wrappedProduct(2147483647, 2147483647)], backend);
      assert.deepEqual(tensor(123456789, { dtype: 'int32' }).mul(987654321).toArray(), expected, `${backend}: a folded constant`);
      // 5,000,000 * (2^31 - 1) = 10737418235000000 is past 2^53 too; wrapped it is -5,000,000.
      const copies = full([5_000_000], 2147483647, { dtype: 'int32' });
      assert.equal(copies.sum().item(), -5_000_000, `${backend}: a sum of a constant`);
      const data = tensor(new Int32Array(5_000_000).fill(2147483647));
      assert.equal(data.sum().item(), -5_000_000, `${backend}: a sum of data`);
      assert.equal(data.reshape([1000, 5000]).sum({ axis: 1 }).sum().item(), -5_000_000, `${backend}: a sum of sums`);
    });
  }
  same(() => tensor([123456789, 46341, -46341], { dtype: 'int32' }).mul(tensor([987654321, 46341, 46341], { dtype: 'int32' })).add(7), 'imul fused with an add');
  same(() => tensor([[123456789, 3], [5, 987654321]], { dtype: 'int32' }).matmul(tensor([[987654321, 1], [2, 123456789]], { dtype: 'int32' })), 'int32 matmul');
});

test('float32 programs overflow and underflow where the reference does, not at the final store', () => {
  const huge = tensor([3e38, -3e38, 1e30]);
  const f32 = Math.fround;
  assert.deepEqual(same(() => huge.mul(10).div(100), 'overflow inside a kernel'), [Infinity, -Infinity, f32(f32(f32(1e30) * 10) / 100)]);
  assert.deepEqual(same(() => tensor([1e-30, -1e-30]).mul(1e-30).mul(1e30), 'underflow to zero'), [0, -0]);
  same(() => tensor([100, 1]).exp().sub(tensor([100, 1]).exp()), 'Infinity - Infinity');
  same(() => huge.mul(huge).sum(), 'overflowing products in a reduction');
  same(() => huge.add(huge).sub(huge), 'a sum past float32 range');
  same(() => tensor([3e38, 1e-45]).reciprocal().mul(2), 'reciprocals out of range');
  // float64 programs keep float64 range.
  assert.deepEqual(tensor([3e38], { dtype: 'float64' }).mul(10).div(100).toArray(), [3e38 * 10 / 100]);
});

const chainInputs = () => ({ x: randn([16, 24], { seed: 11 }), w: randn([24, 8], { seed: 12 }) });
const CHAINS: readonly [string, (x: Tensor, w: Tensor) => Tensor][] = [
  ['an elementwise chain', (x) => x.mul(1.7).sin().add(x.tanh()).mul(x.sigmoid()).div(x.abs().add(0.5)).sqrt()],
  ['matmul, relu, softmax', (x, w) => x.matmul(w).relu().softmax()],
  ['logsumexp and var', (x) => x.logsumexp({ axis: 1 }).add(x.var({ axis: 0 }).sum())],
];
const threshold = (x: Tensor) => x.mul(3).exp().log1p().sum({ axis: 0 }).gt(x.max({ axis: 0 }));

test('on the js backend (exact Math transcendentals), float32 chains, reductions and matmuls agree with the reference bit for bit', () => {
  withBackend('js', () => {
    const { x, w } = chainInputs();
    for (const [what, chain] of CHAINS) same(() => chain(x, w), what);
    same(() => threshold(x), 'a threshold on computed values');
  });
});

test('on the wasm backend, the same chains agree within the float32 approximations of its transcendentals (1e-6 each), and a threshold on computed values bit for bit', () => {
  withBackend('wasm', () => {
    const { x, w } = chainInputs();
    for (const [what, chain] of CHAINS) {
      assertAllClose(chain(x, w).toArray(), withBackend('interp', () => chain(x, w).toArray()), { rtol: 1e-5, atol: 1e-6, message: what });
    }
    // Values that feed a comparison take the exact Math function.
    same(() => threshold(x), 'a threshold on computed values');
  });
});

test('a user zero follows IEEE arithmetic: Infinity * 0 is NaN, -0 + 0 is +0', () => {
  const x = tensor([Infinity, NaN, -Infinity, -0, -2, 3]);
  const expected = [NaN, NaN, NaN, -0, -0, 0];
  assert.deepEqual(same(() => x.mul(0), 'x * 0'), expected);
  assert.deepEqual(same(() => x.mul(tensor(0)), 'x * tensor(0)'), expected);
  assert.deepEqual(same(() => x.mul(0).add(1), 'x * 0 + 1, fused'), [NaN, NaN, NaN, 1, 1, 1]);
  assert.deepEqual(same(() => x.mul(-0), 'x * -0'), [NaN, NaN, NaN, 0, 0, -0]);
  const signedZeros = tensor([-0, 0]);
  assert.deepEqual(same(() => signedZeros.add(0), 'x + 0'), [0, 0]);
  assert.deepEqual(same(() => signedZeros.add(-0), 'x + -0 is x'), [-0, 0]);
  assert.deepEqual(same(() => signedZeros.sub(0), 'x - 0 is x'), [-0, 0]);
  assert.ok(Object.is(tensor(-0).add(0).item(), 0), 'a folded constant: -0 + 0 is +0');
  assert.deepEqual(same(() => x.mul(1), 'x * 1 is x'), [Infinity, NaN, -Infinity, -0, -2, 3]);
  assert.deepEqual(same(() => x.div(1), 'x / 1 is x'), [Infinity, NaN, -Infinity, -0, -2, 3]);
  same(() => tensor([2, -3], { dtype: 'int32' }).mul(0).add(0), 'integers have no NaN: folded');
  same(() => x.pad([[1, 1]]).mul(0), 'padding times zero');
  assert.deepEqual(same(() => signedZeros.reshape([2, 1]).expand([2, 3]).sum({ axis: 1 }), 'a sum of copies of -0 is +0'), [0, 0]);
});

test('the zeros transforms create fold away: no multiplication by zero in a Hessian plan', () => {
  const A = randn([6, 4], { seed: 1 });
  const b = randn([6], { seed: 2 });
  const X = randn([5, 4], { seed: 3 });
  const timesZero = /mul\.\w+\((?:-?0, |[^,()]+, -?0\))/;
  const fs: Record<string, (x: Tensor) => Tensor> = {
    tanh: (x) => A.matmul(x).add(b).tanh().sum(),
    relu: (x) => A.matmul(x).add(b).relu().square().sum(),
    softplus: (x) => A.matmul(x).add(b).softplus().sum(),
    quotient: (x) => A.matmul(x).div(x.square().sum().add(1)).sum(),
    where: (x) => x.gt(0).where(x.square(), x.mul(3)).sum(),
  };
  for (const [name, f] of Object.entries(fs)) {
    const plan = explain(jit(vmap(hessian(f))), X);
    for (const k of plan.kernels) assert.ok(!timesZero.test(k.ir), `${name}: ${k.name} multiplies by zero:\n${k.ir}`);
  }
  assert.ok(explain(jit(vmap(hessian(fs.tanh))), X).kernels.length <= 5, 'tanh: at most 5 kernels, as before');
});
