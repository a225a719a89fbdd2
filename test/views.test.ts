// A reshape or a leading-axes slice of a computed value is a view of its buffer: no kernel,
// no copy, nothing to compile; so a loop over xs.select(0, i) reuses one compiled program.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grad, randn, realize, tensor, withBackend, type Tensor } from '../src/index.js';
import { cacheStats } from '../src/fusion/program.js';

const programsCompiled = () => cacheStats().programs.misses;

test('rows, blocks of rows and reshapes of a realized tensor are views with the right values', () => {
  const xs = randn([4, 3, 2], { seed: 1 }).realize();
  const all = Array.from(xs.dataSync());
  const before = programsCompiled();
  assert.deepEqual(Array.from(xs.select(0, 2).dataSync()), all.slice(12, 18));
  assert.deepEqual(Array.from(xs.slice([[1, 3]]).dataSync()), all.slice(6, 18));
  assert.deepEqual(Array.from(xs.select(0, 3).select(0, 1).dataSync()), all.slice(20, 22));
  assert.deepEqual(Array.from(xs.reshape([6, 4]).select(0, 5).dataSync()), all.slice(20, 24));
  assert.equal(programsCompiled(), before, 'no program was compiled for a view');
  // Not contiguous: a column needs a kernel, and gets the right values too.
  assert.deepEqual(Array.from(xs.select(2, 1).dataSync()), all.filter((_, i) => i % 2 === 1));
});

test('a loop of grad over the rows of a dataset compiles one program', () => {
  const xs = randn([20, 5], { seed: 2 }).realize();
  const w = randn([5], { seed: 3 }).realize();
  const loss = (weights: Tensor, x: Tensor) => x.dot(weights).tanh().square();
  const g = grad(loss);
  g(w, xs.select(0, 0)).dataSync();
  const before = programsCompiled();
  for (let i = 1; i < 20; i++) {
    const got = g(w, xs.select(0, i)).dataSync();
    const expected = withBackend('interp', () => g(w, xs.select(0, i)).dataSync());
    got.forEach((v, k) => assert.ok(Math.abs(v - expected[k]) <= 1e-6, `row ${i}, element ${k}: ${v} vs ${expected[k]}`));
  }
  assert.equal(programsCompiled(), before, 'every row reused the first row\'s program');
});

test('realize(tree) computes every tensor of a pytree in one program; Tensor.realize returns the tensor', () => {
  const x = tensor([1, 2, 3]);
  const tree = { a: x.sin(), b: [x.sin().mul(2), x.cos()] };
  const before = programsCompiled();
  assert.equal(realize(tree), tree);
  assert.equal(programsCompiled(), before + 1);
  assert.deepEqual(Array.from(tree.b[0].dataSync()), Array.from(x.dataSync()).map((v) => Math.fround(2 * Math.fround(Math.sin(v)))));
  const y = x.exp();
  assert.equal(y.realize(), y);
  assert.equal(programsCompiled(), before + 2);
});
