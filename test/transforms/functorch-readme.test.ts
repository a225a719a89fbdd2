// The examples of functorch's README, translated to TypeScript, each checked against an
// independent reference (math written out, a loop, or finite differences).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { grad, hessian, jacfwd, jacrev, jvp, makeGraph, randn, stack, tensor, vjp, vmap, type Tensor } from '../../src/index.js';
import { assertAllClose, numericalGrad, numericalJacobian } from '../../src/testing/index.js';

/** A diagonal matrix built with a loop (independent of the transforms). */
function diag(values: readonly number[]): number[][] {
  return values.map((v, i) => values.map((_, j) => (i === j ? v : 0)));
}
const numbers = (t: Tensor) => Array.from(t.dataSync());

describe("functorch's README", () => {
  test('vmap(sin) equals sin of every example', () => {
    const x = randn([4, 3], { seed: 0 });
    assertAllClose(vmap((v: Tensor) => v.sin())(x), (x.toArray() as number[][]).map((row) => row.map(Math.sin)));
  });

  test('a batched model: vmap(model)(examples) equals the model on each example', () => {
    const [batchSize, featureSize] = [3, 5];
    const weights = randn([featureSize], { seed: 1 });
    const model = (featureVec: Tensor) => {
      assert.equal(featureVec.rank, 1);
      return featureVec.dot(weights).relu();
    };
    const examples = randn([batchSize, featureSize], { seed: 2 });
    const result = vmap(model)(examples);
    const w = numbers(weights);
    const expected = (examples.toArray() as number[][]).map((row) => Math.max(0, row.reduce((s, v, i) => s + v * w[i], 0)));
    assertAllClose(result, expected);
  });

  test('grad(sin) is cos and grad(grad(sin)) is -sin', () => {
    for (const v of [-1.3, 0, 0.4, 2.5]) {
      const x = tensor(v);
      assertAllClose(grad((t: Tensor) => t.sin())(x), Math.cos(v));
      assertAllClose(grad(grad((t: Tensor) => t.sin()))(x), -Math.sin(v));
    }
  });

  test('per-sample gradients with vmap(grad(loss), {inDims: [null, 0, 0]})', () => {
    const [batchSize, featureSize] = [3, 5];
    const model = (weights: Tensor, featureVec: Tensor) => featureVec.dot(weights).relu();
    const computeLoss = (weights: Tensor, example: Tensor, target: Tensor) => model(weights, example).sub(target).square().mean();
    const weights = randn([featureSize], { seed: 3, dtype: 'float64' });
    const examples = randn([batchSize, featureSize], { seed: 4, dtype: 'float64' });
    const targets = randn([batchSize], { seed: 5, dtype: 'float64' });
    const perExample = vmap(grad(computeLoss), { inDims: [null, 0, 0] })(weights, examples, targets);
    assert.deepEqual(perExample.shape, [batchSize, featureSize]);
    // d/dw (relu(x.w) - t)^2 = 2 (relu(x.w) - t) [x.w > 0] x, written out per example.
    const w = numbers(weights);
    const expected = (examples.toArray() as number[][]).map((x, i) => {
      const z = x.reduce((s, v, k) => s + v * w[k], 0);
      const factor = z > 0 ? 2 * (z - (targets.toArray() as number[])[i]) : 0;
      return x.map((v) => factor * v);
    });
    assertAllClose(perExample, expected, { rtol: 1e-12, atol: 1e-12 });
    // And against finite differences for each example.
    for (let i = 0; i < batchSize; i++) {
      const fd = numericalGrad(computeLoss, [weights, examples.select(0, i), targets.select(0, i)]);
      assertAllClose(perExample.select(0, i), fd, { rtol: 1e-6, atol: 1e-8 });
    }
  });

  test('vjp returns the output and a function pulling cotangents back', () => {
    const x = randn([5], { seed: 6 });
    const [out, vjpFn] = vjp((t: Tensor) => t.sin(), [x]);
    assertAllClose(out, numbers(x).map(Math.sin));
    const u = randn([5], { seed: 7 });
    const [g] = vjpFn(u);
    assertAllClose(g, numbers(x).map((v, i) => Math.cos(v) * numbers(u)[i]));
  });

  test('the jvp of x * y along (1, 1) is x + y', () => {
    const x = randn([5], { seed: 8 });
    const y = randn([5], { seed: 9 });
    const f = (a: Tensor, b: Tensor) => a.mul(b);
    const [value, output] = jvp(f, [x, y], [tensor([1, 1, 1, 1, 1]), tensor([1, 1, 1, 1, 1])]);
    assertAllClose(value, numbers(x).map((v, i) => v * numbers(y)[i]));
    assertAllClose(output, numbers(x).map((v, i) => v + numbers(y)[i]));
  });

  test('jacrev(sin) is the diagonal matrix of cos', () => {
    const x = randn([5], { seed: 10 });
    assertAllClose(jacrev((t: Tensor) => t.sin())(x), diag(numbers(x).map(Math.cos)));
  });

  test('vmap(jacrev(sin)) over [64, 5] gives 64 diagonal matrices', () => {
    const x = randn([64, 5], { seed: 11 });
    const jacobians = vmap(jacrev((t: Tensor) => t.sin()))(x);
    assert.deepEqual(jacobians.shape, [64, 5, 5]);
    assertAllClose(jacobians, (x.toArray() as number[][]).map((row) => diag(row.map(Math.cos))));
  });

  test('jacfwd(sin) is the diagonal matrix of cos', () => {
    const x = randn([5], { seed: 12 });
    assertAllClose(jacfwd((t: Tensor) => t.sin())(x), diag(numbers(x).map(Math.cos)));
  });

  test('jacrev with argnums differentiates the chosen argument', () => {
    const x = randn([5], { seed: 13 });
    const y = randn([5], { seed: 14 });
    const f = (a: Tensor, b: Tensor) => a.sin().add(b.cos());
    assertAllClose(jacrev(f, { argnums: 1 })(x, y), diag(numbers(y).map((v) => -Math.sin(v))));
    assertAllClose(jacfwd(f, { argnums: 1 })(x, y), diag(numbers(y).map((v) => -Math.sin(v))));
  });

  test('Hessians by jacrev(jacrev(f)), jacfwd(jacrev(f)) and hessian(f) agree with the math', () => {
    const f = (x: Tensor) => x.sin().sum();
    const x = randn([5], { seed: 15, dtype: 'float64' });
    const expected = diag(numbers(x).map((v) => -Math.sin(v)));
    const h0 = jacrev(jacrev(f))(x);
    const h1 = jacfwd(jacrev(f))(x);
    const h2 = hessian(f)(x);
    for (const h of [h0, h1, h2]) assertAllClose(h, expected, { rtol: 1e-12, atol: 1e-12 });
    assertAllClose(h2, numericalJacobian(grad(f), x), { rtol: 1e-7, atol: 1e-8 });
  });

  test('makeGraph(grad(f)) traces the primitives of the gradient', () => {
    // functorch prints sin, sum, cos and mul for grad(sin(x).sum()); functs keeps the
    // cotangent 1 symbolic and drops the unused value, so the gradient is cos alone.
    const f = (x: Tensor) => x.sin().sum();
    const graph = makeGraph(grad(f))(randn([100], { seed: 16 }));
    assert.deepEqual(graph.opCounts(), { cos: 1 });
    assert.match(graph.toString(), /= cos\(x0\)/);
    // A gradient that needs sin, cos and mul lists them all.
    const g = (x: Tensor) => x.sin().mul(x.cos()).sum();
    const counts = makeGraph(grad(g))(randn([100], { seed: 17 })).opCounts();
    for (const op of ['sin', 'cos', 'mul']) assert.ok((counts[op] ?? 0) >= 1, `${op} in ${JSON.stringify(counts)}`);
    // The graph of a vmap of grad is the same program, batched.
    const batched = makeGraph(vmap(grad(f)))(randn([8, 3], { seed: 18 }));
    assert.deepEqual(batched.opCounts(), { cos: 1 });
    assert.deepEqual([...batched.outputs[0].shape], [8, 3]);
  });

  test('stacking the per-example results is what vmap computes (model with a matrix)', () => {
    const W = randn([4, 3], { seed: 19 });
    const model = (x: Tensor) => W.matmul(x).tanh();
    const xs = randn([6, 3], { seed: 20 });
    assertAllClose(vmap(model)(xs), stack(Array.from({ length: 6 }, (_, i) => model(xs.select(0, i)))));
  });
});
