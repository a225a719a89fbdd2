// What the fusion scheduler makes of programs a user would write: how many kernels, what
// they read, and that transformed programs carry no work multiplied by zero.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { explain, grad, hessian, jit, makeGraph, randn, tensor, vmap, withBackend, type Plan, type Tensor } from '../src/index.js';
import { assertAllClose } from '../src/testing/index.js';
import { cacheStats } from '../src/fusion/program.js';

/** A realized random tensor: a buffer, as data loaded by a user would be. */
function data(shape: number[], seed: number): Tensor {
  const t = randn(shape, { seed });
  t.dataSync();
  return t;
}

function kernelOutputs(plan: Plan): string[] {
  return plan.kernels.flatMap((k) => k.outputs.map((o) => `${o.dtype}[${o.shape.join(',')}]`));
}

test('x.mul(2).add(1).exp().sum() is one kernel', () => {
  const x = data([1000], 0);
  const plan = explain(x.mul(2).add(1).exp().sum());
  assert.equal(plan.kernels.length, 1);
  assert.deepEqual(kernelOutputs(plan), ['float32[]']);
});

test('a softmax over the last axis is at most two kernels (log-softmax one)', () => {
  const x = data([8, 16], 1);
  assert.ok(explain(x.softmax(-1)).kernels.length <= 2);
  assert.equal(explain(x.logSoftmax(-1)).kernels.length, 1);
  assertAllClose(x.softmax(-1), withBackend('interp', () => x.softmax(-1).toArray()), { rtol: 1e-6 });
});

test('a transpose feeding a reduction makes no copy', () => {
  const x = data([8, 16], 2);
  const plan = explain(x.T.sum({ axis: 1 }));
  assert.equal(plan.kernels.length, 1);
  const [kernel] = plan.kernels;
  assert.deepEqual(kernel.inputs.map((b) => b.shape), [[8, 16]], 'the kernel reads the untransposed buffer');
  assert.deepEqual(kernelOutputs(plan), ['float32[16]']);
  // A broadcast costs no copy either.
  const b = data([16], 3);
  assert.equal(explain(x.add(b).mul(x)).kernels.length, 1);
});

test('a matmul is one kernel over its operands, transposed or not', () => {
  const a = data([6, 5], 4);
  const b = data([7, 5], 5);
  const plan = explain(a.matmul(b.T));
  assert.equal(plan.kernels.length, 1);
  assert.deepEqual(plan.kernels[0].inputs.map((i) => i.shape).sort(), [[6, 5], [7, 5]]);
});

test('the forward and backward pass of a 2-layer MLP under grad: 52 primitives in 7 kernels', () => {
  const x = data([16, 8], 6);
  const y = data([16, 4], 7);
  const params = { w1: data([8, 32], 8), b1: data([32], 9), w2: data([32, 4], 10), b2: data([4], 11) };
  type Params = typeof params;
  const loss = (p: Params) => x.matmul(p.w1).add(p.b1).tanh().matmul(p.w2).add(p.b2).sub(y).square().mean();
  const ops = Object.values(makeGraph(grad(loss))(params).opCounts()).reduce((a, b) => a + b, 0);
  const gradients = grad(loss)(params) as Record<string, Tensor>;
  const plan = explain(Object.values(gradients));
  assert.equal(ops, 52);
  assert.equal(plan.kernels.length, 7, String(plan));
  const reference = withBackend('interp', () => Object.values(grad(loss)(params) as Record<string, Tensor>).map((t) => t.toArray()));
  Object.values(gradients).forEach((g, i) => assertAllClose(g, reference[i], { rtol: 1e-5, atol: 1e-6 }));
});

test('the batched Hessian of sum(tanh(A x + b)) carries no multiplication by zero', () => {
  const [D, H, N] = [5, 7, 11];
  const A = data([H, D], 12);
  const b = data([H], 13);
  const X = data([N, D], 14);
  const f = (x: Tensor) => A.matmul(x).add(b).tanh().sum();
  const hessians = jit(vmap(hessian(f)));
  const plan = explain(hessians, X);
  // tanh(A x + b) per example; the weights A[h, j] (-2 t (1 - t^2)); then A^T diag(...) A.
  assert.ok(plan.kernels.length <= 3, String(plan));
  for (const k of plan.kernels) {
    assert.doesNotMatch(k.ir, /\beq\./, 'no one-hot basis (iota == iota) is left');
    assert.doesNotMatch(k.ir, /mul\.\w+\([^)]*\b0\)|mul\.\w+\(0,/, 'no multiplication by a literal zero');
  }
  // The closed form does N*D*D*H multiply-adds plus N*H*D for t; the plan does that much
  // work (times the loads and index arithmetic of each step), not D times more.
  const operations = plan.kernels.reduce((s, k) => s + k.operations, 0);
  assert.ok(operations < 8 * N * D * D * H + 32 * N * D * H, `${operations} operations`);
  // And it is right: H = A^T diag(-2 t (1 - t^2)) A.
  const t = X.matmul(A.T).add(b).tanh();
  const weights = t.mul(-2).mul(t.square().neg().add(1));
  const expected = A.T.reshape([1, D, H]).mul(weights.reshape([N, 1, H])).matmul(A);
  assertAllClose(hessians(X), expected, { rtol: 1e-5, atol: 1e-6 });
});

test('the plan names each kernel with its source, buffers, bytes and arithmetic (the js backend shows JavaScript, wasm its module)', () => {
  const x = data([4, 3], 15);
  const wasmPlan = withBackend('wasm', () => explain(x.exp().sum({ axis: 1 })));
  assert.match(wasmPlan.kernels[0].source, /^\/\/ wasm module: \d+ bytes/);
  assert.match(String(wasmPlan), /plan \(wasm backend\): 1 kernel\nkernel0: reduce_sum\(exp\(input\)\) -> float32\[4\]/);
  const plan = withBackend('js', () => explain(x.exp().sum({ axis: 1 })));
  const [k] = plan.kernels;
  assert.match(k.source, /^function kernel\(/);
  assert.match(k.source, /Math\.exp/);
  assert.deepEqual(k.inputs, [{ dtype: 'float32', shape: [4, 3], bytes: 48 }]);
  assert.deepEqual(k.outputs, [{ dtype: 'float32', shape: [4], bytes: 16 }]);
  assert.equal(k.bytesRead, 48);
  assert.equal(k.bytesWritten, 16);
  assert.ok(k.operations >= 12);
  assert.match(String(plan), /plan \(js backend\): 1 kernel\nkernel0: reduce_sum\(exp\(input\)\) -> float32\[4\]/);
});

test('FUNCTS_DEBUG=1 prints each kernel as it runs', () => {
  const x = data([3], 16);
  const lines: string[] = [];
  const log = console.log;
  const previous = process.env.FUNCTS_DEBUG;
  process.env.FUNCTS_DEBUG = '1';
  console.log = (...args: unknown[]) => void lines.push(args.join(' '));
  try {
    x.mul(3).sin().dataSync();
  } finally {
    console.log = log;
    if (previous === undefined) delete process.env.FUNCTS_DEBUG;
    else process.env.FUNCTS_DEBUG = previous;
  }
  const text = lines.join('\n');
  // A commutative op's operands are in a canonical order, which is not the order written.
  assert.match(text, /\[functs\] kernel0: sin\(mul\((input, const|const, input)\)\) -> float32\[3\]\n  reads float32\[3\] \(12B\), writes float32\[3\] \(12B\)/);
  assert.match(text, /\[functs\] kernel0 ran in [\d.]+ ms/);
  assert.match(text, /Math\.sin/);
});

test('a DAG of a structure seen before reuses its schedule and kernels', () => {
  const step = (w: Tensor, g: Tensor) => w.sub(g.mul(0.1)).tanh();
  let w = data([32], 17);
  const g = data([32], 18);
  w = step(w, g);
  w.dataSync();
  const before = cacheStats();
  for (let i = 0; i < 5; i++) {
    w = step(w, g);
    w.dataSync();
  }
  const after = cacheStats();
  assert.equal(after.programs.hits - before.programs.hits, 5);
  assert.equal(after.kernels.misses, before.kernels.misses, 'no kernel was compiled again');
});

test('a kernel equal up to its buffers is compiled once (the kernel cache keys on canonical IR)', () => {
  const [a, b, c, d] = [19, 20, 21, 22].map((seed) => data([10], seed));
  a.add(b).exp().dataSync();
  const before = cacheStats().kernels;
  b.add(a).exp().dataSync();
  c.add(d).exp().dataSync();
  assert.equal(cacheStats().kernels.misses, before.misses);
});

test('gathers and scatters of computed indices check them as they run: IndexError', () => {
  const x = tensor([[1, 2], [3, 4]]);
  // Indices still to be computed reach the kernel unchecked; the kernel checks each one.
  const computed = (rows: number[][]) => tensor(rows, { dtype: 'int32' }).add(0).mul(tensor(1, { dtype: 'int32' }).add(0));
  assert.deepEqual(x.gather(1, computed([[1, 0], [-1, 1]])).toArray(), [[2, 1], [4, 4]]);
  assert.throws(() => x.gather(1, computed([[2, 0], [0, 0]])).toArray(), { name: 'IndexError', message: /gather: index 2 is out of range for an axis of size 2/ });
  assert.throws(() => x.scatterAdd(0, computed([[0, 5]]), tensor([[1, 1]])).toArray(), { name: 'IndexError', message: /scatter_add: index 5 is out of range/ });
  assert.deepEqual(x.scatterAdd(0, computed([[1, 1]]), tensor([[10, 20]])).toArray(), [[1, 2], [13, 24]]);
});

test('siblings over one iteration space merge into one kernel, within the buffer cap', () => {
  const x = data([64], 23);
  const outputs = Array.from({ length: 40 }, (_, i) => x.mul(i + 1).sin());
  const plan = explain(outputs);
  for (const k of plan.kernels) assert.ok(k.inputs.length + k.outputs.length <= 32, `${k.name} takes ${k.inputs.length + k.outputs.length} buffers`);
  assert.equal(plan.kernels.length, 2, 'forty sin(x * c) in two kernels of at most 32 buffers');
  assert.equal(explain([x.exp(), x.sin(), x.cos()]).kernels.length, 1);
});

test('a long lazy chain (thousands of steps, never read) is cut into kernels and computed', () => {
  let w = tensor([1, 2, 3]);
  const g = tensor([0.001, 0.002, 0.003]);
  for (let i = 0; i < 2000; i++) w = w.sub(g.mul(0.5)).mul(1.0001);
  const expected = withBackend('interp', () => {
    let v = tensor([1, 2, 3]);
    for (let i = 0; i < 2000; i++) v = v.sub(g.mul(0.5)).mul(1.0001);
    return v.toArray();
  });
  // The interpreter rounds to float32 4000 times, a kernel only at its end: they drift apart slowly.
  assertAllClose(w, expected, { rtol: 1e-3 });
});

test('a deep program (the Hessian of 12 chained softmaxes) schedules into small kernels and agrees with the reference', () => {
  // Its reductions nest 12 levels deep: the scheduler once left one giant kernel here
  // (a stack overflow in the generated code).
  const f = (x: Tensor) => {
    let y = x;
    for (let i = 0; i < 12; i++) y = y.softmax(0);
    return y.sin().sum();
  };
  const x = randn([2, 3, 3], { seed: 11, dtype: 'float64' });
  const h = hessian(f)(x);
  const plan = explain(h);
  const largest = Math.max(...plan.kernels.map((k) => k.source.length));
  assert.ok(largest < 20_000, `the largest kernel has ${largest} characters of source`);
  assertAllClose(h, withBackend('interp', () => hessian(f)(x)), { rtol: 1e-9, atol: 1e-12 });
});

test('a value held across a read is computed with the read that needs it, even where the scheduler rebuilds it (factoring)', () => {
  // The held node (the chain's last step) is a root of the program and an input of the other
  // root; the scheduler's factoring rebuilt it, and the consumer once read the rebuilt node's
  // (missing) buffer.
  let w = tensor([1, 2, 3]);
  const g = tensor([0.001, 0.002, 0.003]);
  const step = (v: Tensor) => v.sub(g.mul(0.5)).mul(1.0001);
  for (let i = 0; i < 3; i++) w = step(w);
  tensor([1]).mul(2).toArray(); // a read in between: w is now held across it
  const next = step(w);
  const expected = [1, 2, 3].map((x, i) => {
    let v = Math.fround(x);
    for (let k = 0; k < 4; k++) v = Math.fround(Math.fround(Math.fround(v - Math.fround([0.001, 0.002, 0.003][i] * 0.5))) * Math.fround(1.0001));
    return v;
  });
  assertAllClose(next, expected, { rtol: 1e-6 });
  assert.equal(w.node.inputs.length, 0, 'the held value was computed by that read');
});
