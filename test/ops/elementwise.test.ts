import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as F from '../../src/index.js';
import { tensor, type Tensor } from '../../src/index.js';
import { assertAllClose } from '../../src/testing/assert.js';

const f64 = (data: F.NestedArray) => tensor(data, { dtype: 'float64' });
const i32 = (data: F.NestedArray) => tensor(data, { dtype: 'int32' });

/** Checks the function form and the method form of one op against expected values. */
function checkBoth(name: string, viaFunction: Tensor, viaMethod: Tensor, expected: F.NestedArray, tol: { rtol?: number; atol?: number } = {}): void {
  assertAllClose(viaFunction, expected, { ...tol, message: `${name} (function)` });
  assertAllClose(viaMethod, expected, { ...tol, message: `${name} (method)` });
  assert.equal(viaFunction.dtype, viaMethod.dtype, `${name}: function and method give one dtype`);
}

describe('unary math, as functions and methods', () => {
  type Unary = (x: Tensor) => Tensor;
  const x = [-2, -0.5, 0, 0.5, 2];
  const positive = [0.25, 1, 4];
  const gelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
  const cases: [string, Unary, Unary, number[], number[]][] = [
    ['neg', F.neg, (t) => t.neg(), x, [2, 0.5, 0, -0.5, -2]],
    ['abs', F.abs, (t) => t.abs(), x, [2, 0.5, 0, 0.5, 2]],
    ['sign', F.sign, (t) => t.sign(), x, [-1, -1, 0, 1, 1]],
    ['exp', F.exp, (t) => t.exp(), x, x.map(Math.exp)],
    ['log', F.log, (t) => t.log(), positive, [Math.log(0.25), 0, Math.log(4)]],
    ['log1p', F.log1p, (t) => t.log1p(), [-0.5, 0, 1e-6], [Math.log(0.5), 0, Math.log1p(1e-6)]],
    ['expm1', F.expm1, (t) => t.expm1(), [-1, 0, 1e-6], [Math.expm1(-1), 0, Math.expm1(1e-6)]],
    ['sqrt', F.sqrt, (t) => t.sqrt(), positive, [0.5, 1, 2]],
    ['rsqrt', F.rsqrt, (t) => t.rsqrt(), positive, [2, 1, 0.5]],
    ['reciprocal', F.reciprocal, (t) => t.reciprocal(), [-2, 0.5, 4], [-0.5, 2, 0.25]],
    ['square', F.square, (t) => t.square(), x, [4, 0.25, 0, 0.25, 4]],
    ['sin', F.sin, (t) => t.sin(), x, x.map(Math.sin)],
    ['cos', F.cos, (t) => t.cos(), x, x.map(Math.cos)],
    ['tan', F.tan, (t) => t.tan(), x, x.map(Math.tan)],
    ['tanh', F.tanh, (t) => t.tanh(), x, x.map(Math.tanh)],
    ['sigmoid', F.sigmoid, (t) => t.sigmoid(), x, x.map((v) => 1 / (1 + Math.exp(-v)))],
    ['relu', F.relu, (t) => t.relu(), x, [0, 0, 0, 0.5, 2]],
    ['gelu (tanh approximation)', F.gelu, (t) => t.gelu(), x, x.map(gelu)],
    ['softplus', F.softplus, (t) => t.softplus(), x, x.map((v) => Math.log(1 + Math.exp(v)))],
    ['floor', F.floor, (t) => t.floor(), [-1.5, -0.5, 0.5, 1.5], [-2, -1, 0, 1]],
    ['ceil', F.ceil, (t) => t.ceil(), [-1.5, -0.5, 0.5, 1.5], [-1, -0, 1, 2]],
    ['round (half to even)', F.round, (t) => t.round(), [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.6], [-2, -2, -0, 0, 2, 2, 3]],
  ];
  for (const [name, fn, method, input, expected] of cases) {
    test(name, () => {
      for (const dtype of ['float32', 'float64'] as const) {
        const t = tensor(input, { dtype });
        const tol = dtype === 'float32' ? { rtol: 2e-6, atol: 1e-6 } : { rtol: 1e-12, atol: 1e-12 };
        checkBoth(`${name} ${dtype}`, fn(t), method(t), expected, tol);
        assert.equal(fn(t).dtype, dtype, `${name} keeps ${dtype}`);
      }
    });
  }

  test('softplus does not overflow for large inputs', () => {
    assertAllClose(F.softplus(tensor([100, -100])), [100, 0]);
  });

  test('math on integers: neg/abs/sign stay int32, transcendental ops give float32, rounding is the identity', () => {
    const n = i32([-3, 0, 4]);
    assert.equal(F.neg(n).dtype, 'int32');
    assert.deepEqual(F.abs(n).toArray(), [3, 0, 4]);
    assert.equal(F.sign(n).dtype, 'int32');
    assert.equal(F.exp(n).dtype, 'float32');
    assertAllClose(F.sqrt(i32([4, 9])), [2, 3]);
    assert.deepEqual(F.floor(n).toArray(), [-3, 0, 4]);
    assert.equal(F.round(n).dtype, 'int32');
  });

  test('IEEE special values pass through', () => {
    const out = F.log(tensor([0, -1])).toArray() as number[];
    assert.equal(out[0], -Infinity);
    assert.ok(Number.isNaN(out[1]));
    assert.deepEqual(F.exp(tensor([-Infinity, Infinity])).toArray(), [0, Infinity]);
    assert.deepEqual(F.relu(tensor([-Infinity])).toArray(), [0]);
  });
});

describe('binary arithmetic with broadcasting', () => {
  const a = tensor([[1, 2, 3], [4, 5, 6]]);
  const b = tensor([10, 20, 30]);

  test('add, sub, mul, div as functions and methods', () => {
    checkBoth('add', F.add(a, b), a.add(b), [[11, 22, 33], [14, 25, 36]]);
    checkBoth('sub', F.sub(a, b), a.sub(b), [[-9, -18, -27], [-6, -15, -24]]);
    checkBoth('mul', F.mul(a, b), a.mul(b), [[10, 40, 90], [40, 100, 180]]);
    checkBoth('div', F.div(a, b), a.div(b), [[0.1, 0.1, 0.1], [0.4, 0.25, 0.2]]);
  });

  test('pow, maximum, minimum as functions and methods', () => {
    checkBoth('pow', F.pow(a, 2), a.pow(2), [[1, 4, 9], [16, 25, 36]]);
    checkBoth('pow (fractional, broadcast exponent)', F.pow(tensor([4, 9]), tensor([[0.5], [-1]])), tensor([4, 9]).pow(tensor([[0.5], [-1]])), [[2, 3], [0.25, 1 / 9]]);
    checkBoth('maximum', F.maximum(a, tensor([[3], [5]])), a.maximum(tensor([[3], [5]])), [[3, 3, 3], [5, 5, 6]]);
    checkBoth('minimum', F.minimum(a, tensor([[3], [5]])), a.minimum(tensor([[3], [5]])), [[1, 2, 3], [4, 5, 5]]);
  });

  test('clamp with both, one or no bound', () => {
    const x = tensor([-2, 0.5, 3]);
    checkBoth('clamp', F.clamp(x, 0, 1), x.clamp(0, 1), [0, 0.5, 1]);
    checkBoth('clamp min only', F.clamp(x, 0), x.clamp(0), [0, 0.5, 3]);
    checkBoth('clamp max only', F.clamp(x, undefined, 1), x.clamp(undefined, 1), [-2, 0.5, 1]);
    checkBoth('clamp with tensor bounds', F.clamp(x, tensor([-3, 1, 0])), x.clamp(tensor([-3, 1, 0])), [-2, 1, 3]);
  });

  test('scalars broadcast against any shape; a column against a row gives a matrix', () => {
    assertAllClose(F.add(1, tensor([[1], [2]])), [[2], [3]]);
    assertAllClose(F.mul(tensor([[1], [2]]), tensor([1, 10])), [[1, 10], [2, 20]]);
    assert.deepEqual(F.add(tensor(1), tensor(2)).shape, []);
    assert.deepEqual(F.add(F.ones([2, 1, 3]), F.ones([4, 1])).shape, [2, 4, 3]);
  });

  test('maximum and minimum propagate NaN', () => {
    const out = F.maximum(tensor([NaN, 1]), tensor([0, NaN])).toArray() as number[];
    assert.ok(out.every(Number.isNaN));
    assert.ok((F.minimum(tensor([NaN]), 0).toArray() as number[]).every(Number.isNaN));
  });

  test('integer arithmetic stays integer (wrapping as int32); division is true division', () => {
    assert.deepEqual(F.add(i32([1, 2]), i32([3, 4])).toArray(), [4, 6]);
    assert.equal(F.mul(i32([3]), i32([4])).dtype, 'int32');
    assert.deepEqual(F.div(i32([1, 3]), i32([2, 2])).toArray(), [0.5, 1.5]);
    assert.equal(F.div(i32([1]), 2).dtype, 'float32');
    assert.deepEqual(F.add(i32([2147483647]), 1).toArray(), [-2147483648]);
  });
});

describe('dtype promotion', () => {
  test('tensor with tensor: the larger of bool < int32 < float32 < float64', () => {
    assert.equal(F.add(i32([1]), tensor([1])).dtype, 'float32');
    assert.equal(F.add(tensor([1]), f64([1])).dtype, 'float64');
    assert.equal(F.add(i32([1]), f64([1])).dtype, 'float64');
    assert.equal(F.maximum(i32([1]), i32([2])).dtype, 'int32');
    const p = tensor([true, true, false, false]);
    const q = tensor([true, false, true, false]);
    assert.equal(F.maximum(p, q).dtype, 'bool');
    assert.deepEqual(F.maximum(p, q).toArray(), [true, true, true, false]);
    assert.deepEqual(F.minimum(p, q).toArray(), [true, false, false, false]);
    assert.equal(F.maximum(p, i32([0, 2, 0, 3])).dtype, 'int32');
    assert.equal(F.where(tensor([true]), i32([1]), f64([2])).dtype, 'float64');
  });

  test('a JavaScript number is weakly typed: it takes the tensor dtype, except a fraction meeting int32/bool gives float32', () => {
    assert.equal(F.add(i32([1]), 2).dtype, 'int32');
    assert.equal(F.add(i32([1]), 2.5).dtype, 'float32');
    assertAllClose(F.add(i32([1]), 2.5), [3.5]);
    assert.equal(F.mul(f64([1]), 2).dtype, 'float64');
    assert.equal(F.mul(tensor([1]), 0.1).dtype, 'float32');
    assert.equal(F.add(2, 3).dtype, 'float32');
  });

  test('arithmetic on bool gives int32 (bool + bool counts); div, pow and transcendental ops need floats and give float32 for int32/bool', () => {
    const t = tensor([true, false]);
    assert.equal(F.add(t, t).dtype, 'int32');
    assert.deepEqual(F.add(t, t).toArray(), [2, 0]);
    assert.equal(F.add(t, 1).dtype, 'int32');
    assert.equal(F.pow(i32([2]), 2).dtype, 'float32');
    assert.equal(F.sin(t).dtype, 'float32');
    assert.equal(F.div(t, t).dtype, 'float32');
  });

  test('comparisons and logical ops give bool', () => {
    assert.equal(F.lt(i32([1]), 2.5).dtype, 'bool');
    assert.equal(F.eq(tensor([1]), f64([1])).dtype, 'bool');
    assert.equal(F.logicalAnd(tensor([1]), tensor([0])).dtype, 'bool');
  });
});

describe('comparisons', () => {
  const a = tensor([1, 2, 3]);
  test('eq ne lt le gt ge as functions and methods, with broadcasting', () => {
    assert.deepEqual(F.eq(a, 2).toArray(), [false, true, false]);
    assert.deepEqual(a.eq(2).toArray(), [false, true, false]);
    assert.deepEqual(F.ne(a, 2).toArray(), [true, false, true]);
    assert.deepEqual(a.ne(2).toArray(), [true, false, true]);
    assert.deepEqual(F.lt(a, 2).toArray(), [true, false, false]);
    assert.deepEqual(a.lt(2).toArray(), [true, false, false]);
    assert.deepEqual(F.le(a, 2).toArray(), [true, true, false]);
    assert.deepEqual(a.le(2).toArray(), [true, true, false]);
    assert.deepEqual(F.gt(a, 2).toArray(), [false, false, true]);
    assert.deepEqual(a.gt(2).toArray(), [false, false, true]);
    assert.deepEqual(F.ge(a, 2).toArray(), [false, true, true]);
    assert.deepEqual(a.ge(2).toArray(), [false, true, true]);
    assert.deepEqual(F.lt(a, tensor([[2], [3]])).toArray(), [[true, false, false], [true, true, false]]);
  });

  test('NaN compares false, except ne', () => {
    const n = tensor([NaN]);
    for (const op of [F.eq, F.lt, F.le, F.gt, F.ge]) assert.deepEqual(op(n, n).toArray(), [false]);
    assert.deepEqual(F.ne(n, n).toArray(), [true]);
  });

  test('mixed dtypes compare after promotion', () => {
    assert.deepEqual(F.eq(i32([1, 2]), tensor([1, 2.5])).toArray(), [true, false]);
    assert.deepEqual(F.lt(tensor([true, false]), 1).toArray(), [false, true]);
  });
});

describe('logical ops', () => {
  const p = tensor([true, true, false, false]);
  const q = tensor([true, false, true, false]);
  test('logicalAnd, logicalOr, logicalNot as functions and methods', () => {
    assert.deepEqual(F.logicalAnd(p, q).toArray(), [true, false, false, false]);
    assert.deepEqual(p.logicalAnd(q).toArray(), [true, false, false, false]);
    assert.deepEqual(F.logicalOr(p, q).toArray(), [true, true, true, false]);
    assert.deepEqual(p.logicalOr(q).toArray(), [true, true, true, false]);
    assert.deepEqual(F.logicalNot(p).toArray(), [false, false, true, true]);
    assert.deepEqual(p.logicalNot().toArray(), [false, false, true, true]);
  });

  test('numbers are true when non-zero (NaN included)', () => {
    assert.deepEqual(F.logicalNot(tensor([0, 2, -1, NaN])).toArray(), [true, false, false, false]);
    assert.deepEqual(F.logicalAnd(tensor([0, 3]), true).toArray(), [false, true]);
    assert.deepEqual(F.logicalOr(i32([0, 0]), tensor([0, 5])).toArray(), [false, true]);
  });
});

describe('cast and where', () => {
  test('cast between every pair of dtypes', () => {
    const x = tensor([-1.7, 0, 2.5]);
    assert.deepEqual(F.cast(x, 'int32').toArray(), [-1, 0, 2]);
    assert.deepEqual(x.cast('bool').toArray(), [true, false, true]);
    assert.deepEqual(x.cast('float64').toArray(), [Math.fround(-1.7), 0, 2.5]);
    assert.deepEqual(F.cast(tensor([true, false]), 'float32').toArray(), [1, 0]);
    assert.deepEqual(i32([3, -4]).cast('float64').toArray(), [3, -4]);
    assert.equal(f64([0.1]).cast('float32').item(), Math.fround(0.1));
    assert.equal(x.cast('float32').node, x.node, 'a cast to the same dtype is the same node');
  });

  test('where picks by condition with broadcasting, as a function and as a method', () => {
    const cond = tensor([[true], [false]]);
    assert.deepEqual(F.where(cond, tensor([1, 2]), tensor([10, 20])).toArray(), [[1, 2], [10, 20]]);
    // Method form: this where true, other elsewhere.
    assert.deepEqual(tensor([1, 2]).where(cond, tensor([10, 20])).toArray(), [[1, 2], [10, 20]]);
    assert.deepEqual(F.where(tensor([true, false]), 1, 0).toArray(), [1, 0]);
    assert.deepEqual(F.where(tensor([1, 0]), tensor([5, 6]), -1).toArray(), [5, -1], 'a numeric condition means "not zero"');
  });

  test('where does not mix the unselected branch in, even when it is NaN or infinite', () => {
    const x = tensor([0, 4]);
    const safe = F.where(x.gt(0), F.log(x), 0);
    assert.deepEqual(safe.toArray(), [0, Math.fround(Math.log(4))]);
  });
});

describe('constant folding keeps IEEE semantics', () => {
  test('operations on constants give the values the interpreter would compute', () => {
    assert.equal(F.add(F.full([], 0.1), F.full([], 0.2)).item(), Math.fround(Math.fround(0.1) + Math.fround(0.2)));
    assert.equal(F.div(F.full([], 1), F.full([], 0)).item(), Infinity);
    assert.ok(Number.isNaN(F.sqrt(F.full([], -1)).item()));
    assert.deepEqual(F.cast(F.full([2], 3.7), 'int32').toArray(), [3, 3]);
  });
});
