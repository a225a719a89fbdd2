// jit: one trace per input signature; later calls run the compiled kernels directly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grad, hessian, jit, randn, tensor, vmap, withBackend, TransformError, type Tensor } from '../src/index.js';
import { assertAllClose } from '../src/testing/index.js';

function data(shape: number[], seed: number): Tensor {
  const t = randn(shape, { seed });
  t.dataSync();
  return t;
}

test('a second call with the same signature does not call the function again', () => {
  let calls = 0;
  const f = jit((x: Tensor, y: Tensor) => {
    calls++;
    return x.mul(y).add(1).sum({ axis: 0 });
  });
  const x = data([3, 4], 0);
  const y = data([3, 4], 1);
  assertAllClose(f(x, y), x.mul(y).add(1).sum({ axis: 0 }));
  const x2 = data([3, 4], 2);
  assertAllClose(f(x2, y), x2.mul(y).add(1).sum({ axis: 0 }));
  assertAllClose(f(x2.add(1), y), x2.add(1).mul(y).add(1).sum({ axis: 0 }), { message: 'lazy arguments are computed first' });
  assert.equal(calls, 1);
  assert.deepEqual(f.stats, { traces: 1, hits: 2, misses: 1, passthrough: 0 });
});

test('a new shape, dtype or structure traces again', () => {
  let calls = 0;
  const f = jit((x: Tensor) => {
    calls++;
    return x.square();
  });
  f(tensor([1, 2]));
  f(tensor([3, 4]));
  f(tensor([1, 2, 3]));
  f(tensor([1, 2], { dtype: 'float64' }));
  assert.equal(calls, 3);
  assert.equal(f.stats.hits, 1);
});

test('pytrees of tensors in, pytrees out; plain values in outputs pass through', () => {
  let calls = 0;
  const f = jit((p: { w: Tensor; b: Tensor }, xs: Tensor[]) => {
    calls++;
    const y = xs[0].matmul(p.w).add(p.b);
    return { y, total: y.sum(), label: 'linear', pair: [y.mean(), 2] as const };
  });
  const p = { w: data([3, 2], 3), b: data([2], 4) };
  const xs = [data([5, 3], 5)];
  for (let i = 0; i < 2; i++) {
    const out = f(p, xs);
    assertAllClose(out.y, xs[0].matmul(p.w).add(p.b));
    assertAllClose(out.total, xs[0].matmul(p.w).add(p.b).sum());
    assert.equal(out.label, 'linear');
    assert.equal(out.pair[1], 2);
  }
  assert.equal(calls, 1);
});

test('staticArgnums: the static argument is part of the signature, by value', () => {
  let calls = 0;
  const f = jit(
    (x: Tensor, power: number, opts: { axis: number }) => {
      calls++;
      return x.pow(power).sum({ axis: opts.axis });
    },
    { staticArgnums: [1] },
  );
  const x = data([2, 3], 6).abs();
  const axis0 = { axis: 0 };
  assertAllClose(f(x, 2, axis0), x.pow(2).sum({ axis: 0 }));
  assertAllClose(f(x, 2, axis0), x.pow(2).sum({ axis: 0 }));
  assertAllClose(f(x, 3, axis0), x.pow(3).sum({ axis: 0 }));
  assertAllClose(f(x, 3, { axis: 1 }), x.pow(3).sum({ axis: 1 }), { message: 'numbers inside pytrees are static by value' });
  assert.equal(calls, 3);
});

test('jit(vmap(hessian(f))) equals the eager computation and compiles once', () => {
  const A = data([6, 4], 7);
  const b = data([6], 8);
  let calls = 0;
  const f = (x: Tensor) => {
    calls++;
    return A.matmul(x).add(b).tanh().sum();
  };
  const hessians = jit(vmap(hessian(f)));
  const X = data([9, 4], 9);
  const eager = vmap(hessian(f))(X);
  calls = 0;
  assertAllClose(hessians(X), eager);
  assertAllClose(hessians(data([9, 4], 10)), vmap(hessian(f))(data([9, 4], 10)));
  assert.equal(hessians.stats.traces, 1);
  assert.equal(calls, 2, 'one call traces the jitted function, one the eager comparison');
  assertAllClose(hessians(X), withBackend('interp', () => vmap(hessian(f))(X).toArray()), { rtol: 1e-5 });
});

test('jit(grad(f)) caches the gradient program', () => {
  const w = data([4], 11);
  let calls = 0;
  const loss = (x: Tensor) => {
    calls++;
    return x.mul(w).tanh().sum();
  };
  const g = jit(grad(loss));
  const x = data([4], 12);
  assertAllClose(g(x), grad(loss)(x));
  g(x);
  g(x);
  assert.equal(g.stats.traces, 1);
  assert.equal(calls, 2);
});

test('under another transform jit steps aside: grad(jit(f)) and vmap(jit(f))', () => {
  const f = jit((x: Tensor) => x.sin().mul(x).sum());
  const x = data([3], 13);
  assertAllClose(grad(f)(x), grad((y: Tensor) => y.sin().mul(y).sum())(x));
  const xs = data([5, 3], 14);
  assertAllClose(vmap(f)(xs), vmap((y: Tensor) => y.sin().mul(y).sum())(xs));
  assert.equal(f.stats.passthrough, 2);
  assert.equal(f.stats.traces, 0);
});

test('reading a value inside jit throws a TransformError naming jit', () => {
  const f = jit((x: Tensor) => (x.sum().item() > 0 ? x : x.neg()));
  assert.throws(() => f(tensor([1, 2])), (e: unknown) => e instanceof TransformError && /jit/.test(e.message));
});

test('the identity returns a new tensor; captured tensors are read as they were at trace time', () => {
  const id = jit((x: Tensor) => x);
  const x = tensor([1, 2, 3]);
  const y = id(x);
  assert.deepEqual(y.toArray(), [1, 2, 3]);
  assert.notEqual(y.dataSync().buffer, x.dataSync().buffer);
  const c = tensor([10]);
  const addC = jit((t: Tensor) => t.add(c));
  assert.deepEqual(addC(tensor([1])).toArray(), [11]);
});

test('on the interpreter, jit reuses the trace and evaluates it there', () => {
  let calls = 0;
  const f = jit((x: Tensor) => {
    calls++;
    return x.exp().sum();
  });
  withBackend('interp', () => {
    assertAllClose(f(tensor([0, 1])), Math.fround(1 + Math.E));
    assertAllClose(f(tensor([1, 1])), Math.fround(2 * Math.E));
  });
  assert.equal(calls, 1);
});

test('calls share intermediate buffers but never outputs: earlier results stay intact', () => {
  // A softmax has intermediates (the max and the sum); each call must return a fresh array.
  const f = jit((x: Tensor) => x.softmax(-1).mul(3));
  const xs = [0, 1, 2].map((seed) => randn([5, 7], { seed }));
  const outs = xs.map((x) => f(x));
  const arrays = outs.map((o) => o.dataSync());
  assert.equal(new Set(arrays).size, 3);
  xs.forEach((x, i) => assertAllClose(outs[i], withBackend('interp', () => x.softmax(-1).mul(3)), { rtol: 1e-6, atol: 1e-7 }));
});
