// The options and argument forms of the transforms: randomness, chunkSize, pytrees,
// argnums, hasAux, outDims, linearize. Each result is checked against math written out,
// a loop over examples, or finite differences.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { grad, gradAndValue, hessian, jacfwd, jacrev, jvp, linearize, rand, randn, stack, tensor, vjp, vmap, type Tensor } from '../../src/index.js';
import { assertAllClose, numericalGrad, numericalJacobian, numericalJvp } from '../../src/testing/index.js';

const f64 = (values: number[] | number, shape?: number[]) => tensor(values, { dtype: 'float64', shape });
const rows = (t: Tensor) => t.toArray() as number[][];
const EXACT = { rtol: 1e-12, atol: 1e-12 };
const FD = { rtol: 1e-7, atol: 1e-9 };

describe('vmap randomness', () => {
  const noisy = (t: Tensor) => t.add(rand([4], { seed: 7 }));
  const zeros3 = tensor([[0], [0], [0]]);

  test("'different' draws an independent sample per example", () => {
    const out = rows(vmap(noisy, { randomness: 'different' })(zeros3));
    assert.notDeepEqual(out[0], out[1]);
    assert.notDeepEqual(out[0], out[2]);
    for (const r of out) for (const v of r) assert.ok(v >= 0 && v < 1);
  });

  test("'same' shares one sample across the batch: the unbatched draw", () => {
    const out = rows(vmap(noisy, { randomness: 'same' })(zeros3));
    const unbatched = rand([4], { seed: 7 }).toArray() as number[];
    for (const r of out) assert.deepEqual(r, unbatched);
  });

  test('randomness of nested vmaps: different per outer example, same within', () => {
    const inner = (t: Tensor) => vmap((u: Tensor) => u.add(rand([], { seed: 1 })), { randomness: 'same' })(t);
    const out = rows(vmap(inner, { randomness: 'different' })(tensor([[0, 0, 0], [0, 0, 0]])));
    assert.deepEqual(out[0], [out[0][0], out[0][0], out[0][0]]);
    assert.deepEqual(out[1], [out[1][0], out[1][0], out[1][0]]);
    assert.notEqual(out[0][0], out[1][0]);
    const both = rows(vmap((t: Tensor) => vmap((u: Tensor) => u.add(rand([], { seed: 1 })), { randomness: 'different' })(t), { randomness: 'different' })(tensor([[0, 0], [0, 0]])));
    assert.equal(new Set(both.flat()).size, 4);
  });

  test("jacfwd passes randomness on to its vmap", () => {
    const f = (t: Tensor) => t.mul(rand([3], { seed: 2 }));
    const jac = jacfwd(f, { randomness: 'same' })(tensor([1, 1, 1]));
    assertAllClose(jac, [0, 1, 2].map((i) => [0, 1, 2].map((j) => (i === j ? (rand([3], { seed: 2 }).toArray() as number[])[i] : 0))));
  });
});

describe('vmap chunkSize', () => {
  const X = randn([7, 3], { seed: 3, dtype: 'float64' });
  const W = randn([3, 3], { seed: 4, dtype: 'float64' });
  const f = (x: Tensor) => W.matmul(x).tanh().mul(x.sum());

  test('every chunk size gives identical results', () => {
    const full = vmap(f)(X).dataSync();
    for (const chunkSize of [1, 2, 3, 6, 7, 8, 100]) assert.deepEqual(vmap(f, { chunkSize })(X).dataSync(), full, `chunkSize ${chunkSize}`);
  });

  test('eager chunks are written into the output as they are computed: it is already computed, with no concatenation left to run', () => {
    const full = vmap(f)(X).dataSync();
    const chunked = vmap(f, { chunkSize: 2 })(X);
    // A lazy concatenation would hold every chunk's results and then the output (twice the output at the peak).
    assert.ok(chunked.node.realized !== null, 'the chunked output is a computed buffer');
    assert.deepEqual(chunked.dataSync(), full);
    const columns = vmap(f, { outDims: 1, chunkSize: 3 })(X);
    assert.ok(columns.node.realized !== null);
    assert.deepEqual(columns.dataSync(), vmap(f, { outDims: 1 })(X).dataSync());
  });

  test("chunks draw the same samples as one batch with randomness 'different' and 'same'", () => {
    const noisy = (x: Tensor) => x.add(rand([2], { seed: 7 })).add(randn([], { seed: 8 }));
    const zeros = tensor([[0], [0], [0], [0], [0]]);
    for (const randomness of ['different', 'same'] as const) {
      const full = vmap(noisy, { randomness })(zeros).dataSync();
      for (const chunkSize of [1, 2, 3]) assert.deepEqual(vmap(noisy, { randomness, chunkSize })(zeros).dataSync(), full, `${randomness}, chunkSize ${chunkSize}`);
    }
    const rowsOf = rows(vmap(noisy, { randomness: 'different', chunkSize: 2 })(zeros));
    assert.equal(new Set(rowsOf.map((r) => r.join())).size, 5, 'every example has its own sample');
  });

  test('chunks with unmapped arguments, other axes, outDims and pytree outputs', () => {
    const g = (x: Tensor, w: Tensor) => ({ y: w.matmul(x), s: x.sum() });
    const ref = vmap(g, { inDims: [1, null], outDims: { s: 0, y: 1 } })(X.T, W);
    const chunked = vmap(g, { inDims: [1, null], outDims: { s: 0, y: 1 }, chunkSize: 3 })(X.T, W);
    assert.deepEqual(chunked.y.dataSync(), ref.y.dataSync());
    assert.deepEqual(chunked.s.dataSync(), ref.s.dataSync());
  });

  test('chunked vmap under grad and jacrev with chunkSize', () => {
    const loss = (x: Tensor) => vmap(f, { chunkSize: 2 })(x).square().sum();
    assertAllClose(grad(loss)(X), numericalGrad(loss, [X]), FD);
    const x0 = X.select(0, 0);
    assert.deepEqual(jacrev(f, { chunkSize: 2 })(x0).dataSync(), jacrev(f)(x0).dataSync());
  });
});

describe('pytree arguments and outputs', () => {
  const params = { w: f64([0.5, -1, 2], [3]), b: f64(0.3) };
  const xs = f64([1, 2, -1, 0.5, 0, 3], [2, 3]);
  const model = (p: { w: Tensor; b: Tensor }, x: Tensor) => x.matmul(p.w).add(p.b).tanh();
  const loss = (p: { w: Tensor; b: Tensor }, x: Tensor) => model(p, x).square().sum();

  test('grad of a plain object of tensors returns the same structure', () => {
    const g = grad(loss)(params, xs);
    assert.deepEqual(Object.keys(g).sort(), ['b', 'w']);
    assertAllClose(g.w, numericalGrad((w: Tensor) => loss({ ...params, w }, xs), [params.w]), FD);
    assertAllClose(g.b, numericalGrad((b: Tensor) => loss({ ...params, b }, xs), [params.b]), FD);
  });

  test('grad of arrays and nested structures', () => {
    const f = (ps: [Tensor, { k: Tensor[] }]) => ps[0].sin().sum().add(ps[1].k[0].mul(ps[1].k[1]).sum());
    const a = f64([0.1, 0.2]);
    const b = f64([1, 2, 3]);
    const c = f64([4, 5, 6]);
    const g = grad(f)([a, { k: [b, c] }]);
    assertAllClose(g[0], [Math.cos(0.1), Math.cos(0.2)], EXACT);
    assertAllClose(g[1].k[0], [4, 5, 6], EXACT);
    assertAllClose(g[1].k[1], [1, 2, 3], EXACT);
  });

  test('vjp and jvp with pytree primals, tangents and outputs', () => {
    const f = (p: { w: Tensor; b: Tensor }) => [model(p, xs), { total: model(p, xs).sum() }] as const;
    const t = { w: f64([1, 0, -1]), b: f64(0.5) };
    const [out, tangent] = jvp(f, [params], [t]);
    assertAllClose(out[0], model(params, xs), EXACT);
    const fd = numericalJvp(f, [params], [t]);
    assertAllClose(tangent[0], fd[0], FD);
    assertAllClose(tangent[1].total, fd[1].total, FD);
    const [, back] = vjp(f, [params]);
    const u = f64([0.7, -0.2]);
    const [g] = back([u, { total: f64(2) }] as never);
    const scalar = (p: { w: Tensor; b: Tensor }) => model(p, xs).mul(u).sum().add(model(p, xs).sum().mul(2));
    const expected = grad(scalar)(params);
    assertAllClose(g.w, numericalGrad((w: Tensor) => scalar({ ...params, w }), [params.w]), FD);
    assertAllClose(g.b, expected.b, EXACT);
  });

  test('vmap over pytrees with inDims pytrees: per-example gradients of an object of parameters', () => {
    const ys = f64([0.2, -0.4]);
    const l = (p: { w: Tensor; b: Tensor }, x: Tensor, y: Tensor) => model(p, x.reshape([1, 3])).sub(y).square().sum();
    const perExample = vmap(grad(l), { inDims: [{ w: null, b: null }, 0, 0] })(params, xs, ys);
    assert.deepEqual([...perExample.w.shape], [2, 3]);
    for (let i = 0; i < 2; i++) {
      const gi = grad(l)(params, xs.select(0, i), ys.select(0, i));
      assertAllClose(perExample.w.select(0, i), gi.w, EXACT);
      assertAllClose(perExample.b.select(0, i), gi.b, EXACT);
    }
    // A pytree argument mapped as a whole by a single number.
    const stacked = { w: stack([params.w, params.w.neg()]), b: stack([params.b, params.b.mul(2)]) };
    const out = vmap(model, { inDims: [0, null] })(stacked, xs);
    assertAllClose(out.select(0, 1), model({ w: params.w.neg(), b: params.b.mul(2) }, xs), EXACT);
  });

  test('outDims: per-output axes, null for an unbatched output, negative axes', () => {
    const f = (x: Tensor) => [x.mul(2), tensor(5)];
    const [a, b] = vmap(f, { outDims: [-1, null] })(f64([1, 2, 3, 4, 5, 6], [2, 3]));
    assertAllClose(a, [[2, 8], [4, 10], [6, 12]], EXACT);
    assertAllClose(b, 5);
    // An output that does not depend on the examples, given a batch axis, is broadcast along it.
    const [sums, constant] = vmap((x: Tensor) => [x.sum(), tensor([1, 2])], { outDims: [0, 1] })(f64([1, 2, 3, 4, 5, 6], [3, 2]));
    assertAllClose(sums, [3, 7, 11], EXACT);
    assertAllClose(constant, [[1, 1, 1], [2, 2, 2]]);
  });

  test('jacrev and jacfwd with pytree inputs and outputs: shape out ++ in', () => {
    const f = (p: { w: Tensor; b: Tensor }) => ({ y: model(p, xs), n: p.w.square().sum() });
    for (const jac of [jacrev, jacfwd]) {
      const J = jac(f)(params);
      assert.deepEqual([...J.y.w.shape], [2, 3]);
      assert.deepEqual([...J.y.b.shape], [2]);
      assert.deepEqual([...J.n.w.shape], [3]);
      assert.deepEqual([...J.n.b.shape], []);
      assertAllClose(J.y.w, numericalJacobian((w: Tensor) => model({ ...params, w }, xs), params.w), FD);
      assertAllClose(J.y.b, numericalJacobian((b: Tensor) => model({ ...params, b }, xs), params.b), FD);
      assertAllClose(J.n.w, [1, -2, 4], EXACT);
      assertAllClose(J.n.b, 0);
    }
  });
});

describe('argnums', () => {
  const f = (a: Tensor, b: Tensor, c: Tensor) => a.mul(b).sin().add(c.square()).sum();
  const [a, b, c] = [f64([0.1, 0.5]), f64([2, -1]), f64([3, 4])];

  test('an array gives an array of gradients; negative indices count from the end', () => {
    const [ga, gc] = grad(f, { argnums: [0, 2] })(a, b, c);
    assertAllClose(ga, [2 * Math.cos(0.2), -Math.cos(-0.5)], EXACT);
    assertAllClose(gc, [6, 8], EXACT);
    assertAllClose(grad(f, { argnums: -1 })(a, b, c), [6, 8], EXACT);
    const [one] = grad(f, { argnums: [1] })(a, b, c);
    assertAllClose(one, [0.1 * Math.cos(0.2), 0.5 * Math.cos(-0.5)], EXACT);
  });

  test('gradAndValue, jacrev and jacfwd with argnums arrays', () => {
    const [[gb, ga], value] = gradAndValue(f, { argnums: [1, 0] })(a, b, c);
    assertAllClose(value, Math.sin(0.2) + Math.sin(-0.5) + 25, EXACT);
    assertAllClose(gb, [0.1 * Math.cos(0.2), 0.5 * Math.cos(-0.5)], EXACT);
    assertAllClose(ga, [2 * Math.cos(0.2), -Math.cos(-0.5)], EXACT);
    const g = (x: Tensor, y: Tensor) => x.mul(y);
    for (const jac of [jacrev, jacfwd]) {
      const [jx, jy] = jac(g, { argnums: [0, 1] })(a, b);
      assertAllClose(jx, [[2, 0], [0, -1]], EXACT);
      assertAllClose(jy, [[0.1, 0], [0, 0.5]], EXACT);
    }
  });
});

describe('argnums: Hessian blocks and unused arguments', () => {
  test('hessian with an argnums array gives the blocks [[H_aa, H_ab], [H_ba, H_bb]]', () => {
    // f(a, b) = sum(sin(a b)) + sum(a^2): every block is diagonal.
    const f = (a: Tensor, b: Tensor) => a.mul(b).sin().sum().add(a.square().sum());
    const [av, bv] = [[0.3, 0.5], [1.5, -1]];
    const H = hessian(f, { argnums: [0, 1] })(f64(av), f64(bv));
    const diag = (g: (a: number, b: number) => number) => av.map((ai, i) => av.map((_, j) => (i === j ? g(ai, bv[i]) : 0)));
    assertAllClose(H[0][0], diag((a, b) => -b * b * Math.sin(a * b) + 2), EXACT);
    assertAllClose(H[0][1], diag((a, b) => Math.cos(a * b) - a * b * Math.sin(a * b)), EXACT);
    assertAllClose(H[1][0], diag((a, b) => Math.cos(a * b) - a * b * Math.sin(a * b)), EXACT);
    assertAllClose(H[1][1], diag((a, b) => -a * a * Math.sin(a * b)), EXACT);
  });

  test('the gradient with respect to an argument f does not use is zero, of its shape and dtype', () => {
    const [ga, gb] = grad((a: Tensor, _b: Tensor) => a.sum(), { argnums: [0, 1] })(f64([1, 2]), tensor([1, 2, 3]));
    assertAllClose(ga, [1, 1], EXACT);
    assert.equal(gb.dtype, 'float32');
    assert.deepEqual(gb.toArray(), [0, 0, 0]);
    const [, tangent] = jvp((_a: Tensor) => tensor(3), [f64([1])], [f64([1])]);
    assert.deepEqual(tangent.toArray(), 0);
  });
});

describe('hasAux', () => {
  const x = f64([0.3, -0.8]);
  const withAux = (t: Tensor) => [t.sin().sum(), { cos: t.cos(), label: 'aux' }] as const;
  const checkAux = (aux: { cos: Tensor; label: string }) => {
    assert.equal(aux.label, 'aux');
    assertAllClose(aux.cos, [Math.cos(0.3), Math.cos(-0.8)], EXACT);
  };

  test('grad returns [gradient, aux] and gradAndValue [gradient, [value, aux]]', () => {
    const [g, aux] = grad(withAux, { hasAux: true })(x);
    assertAllClose(g, [Math.cos(0.3), Math.cos(-0.8)], EXACT);
    checkAux(aux);
    const [g2, [value, aux2]] = gradAndValue(withAux, { hasAux: true })(x);
    assertAllClose(g2, g, EXACT);
    assertAllClose(value, Math.sin(0.3) + Math.sin(-0.8), EXACT);
    checkAux(aux2);
  });

  test('vjp and jvp return aux third', () => {
    const [out, back, aux] = vjp(withAux, [x], { hasAux: true });
    assertAllClose(out, Math.sin(0.3) + Math.sin(-0.8), EXACT);
    checkAux(aux);
    assertAllClose(back(f64(2))[0], [2 * Math.cos(0.3), 2 * Math.cos(-0.8)], EXACT);
    const [value, tangent, aux2] = jvp(withAux, [x], [f64([1, 1])], { hasAux: true });
    assertAllClose(value, out, EXACT);
    assertAllClose(tangent, Math.cos(0.3) + Math.cos(-0.8), EXACT);
    checkAux(aux2);
  });

  test('jacrev and jacfwd return [jacobian, aux]', () => {
    const f = (t: Tensor) => [t.sin(), { cos: t.cos(), label: 'aux' }] as const;
    for (const jac of [jacrev, jacfwd]) {
      const [J, aux] = jac(f, { hasAux: true })(x);
      assertAllClose(J, [[Math.cos(0.3), 0], [0, Math.cos(-0.8)]], EXACT);
      checkAux(aux);
    }
  });
});

describe('linearize', () => {
  test('traces f once and reuses the linearization for every tangent', () => {
    let calls = 0;
    const f = (t: Tensor) => {
      calls++;
      return t.exp().mul(t.sin());
    };
    const x = f64([0.2, 1.1, -0.7]);
    const [out, lin] = linearize(f, [x]);
    assert.equal(calls, 1);
    assertAllClose(out, [0.2, 1.1, -0.7].map((v) => Math.exp(v) * Math.sin(v)), EXACT);
    const tangents = [f64([1, 0, 0]), f64([0.5, -2, 3]), f64([0, 0, 1])];
    const tangentOuts = tangents.map((t) => lin(t).dataSync());
    assert.equal(calls, 1, 'jvpFn does not call f again');
    tangents.forEach((t, i) => assertAllClose(tensor(tangentOuts[i], { shape: [3] }), numericalJvp(f, [x], [t]), FD));
  });

  test('with several primals and pytrees', () => {
    let calls = 0;
    const f = (p: { a: Tensor }, b: Tensor) => {
      calls++;
      return p.a.mul(b).sum();
    };
    const [out, lin] = linearize(f, [{ a: f64([1, 2]) }, f64([3, 4])]);
    assertAllClose(out, 11, EXACT);
    assertAllClose(lin({ a: f64([1, 0]) }, f64([0, 1])), 3 + 2, EXACT);
    assertAllClose(lin({ a: f64([0, 0]) }, f64([1, 1])), 3, EXACT);
    assert.equal(calls, 1);
  });
});

test('relu has derivative 0 at 0, as in PyTorch and jax.nn.relu, and keeps NaN', () => {
  assert.deepEqual(Array.from(grad((t: Tensor) => t.relu().sum())(tensor([-1, 0, 2])).dataSync()), [0, 0, 1]);
  assert.deepEqual(Array.from(tensor([-1, 0, 2, NaN]).relu().dataSync()), [0, 0, 2, NaN]);
  assert.deepEqual(tensor([-3, 0, 4], { dtype: 'int32' }).relu().dtype, 'int32');
});
