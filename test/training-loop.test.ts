/**
 * The loop every PyTorch user writes first: update the weights, read the loss, never call
 * realize(). Each read must cost what the eager step costs: the weights the user keeps
 * across a read are computed in that read, so their history is never lowered again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { grad, randn, realize, type Tensor } from '../src/index.js';
import { topoSort } from '../src/lazy/node.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** Nodes a read of `t` would have to lower and compute (the unrealized DAG below it). */
function pendingBelow(t: Tensor): number {
  return topoSort([t.node], (n) => n.realized !== null).filter((n) => n.realized === null).length;
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const X = randn([8, 3], { seed: 0 });
const f = (v: Tensor) => X.matmul(v).tanh().sum();

test('a gradient-descent loop without realize() lowers the same DAG at every step, and its step time stays flat', () => {
  let w = randn([3, 4], { seed: 1 });
  const work: number[] = [];
  const times: number[] = [];
  for (let i = 0; i < 400; i++) {
    const started = performance.now();
    w = w.sub((grad(f)(w) as Tensor).mul(0.1));
    const loss = f(w);
    work.push(pendingBelow(loss));
    loss.item();
    times.push(performance.now() - started);
  }
  // Before the fix each read lowered every earlier step: the work doubled step by step.
  assert.ok(work.slice(3).every((n) => n === work[3]), `nodes lowered per read: ${work.slice(0, 12).join(', ')}, ... ${work.slice(-3).join(', ')}`);
  const early = median(times.slice(20, 80));
  const late = median(times.slice(-60));
  assert.ok(late < 3 * early + 0.5, `median step time grew from ${early.toFixed(3)} ms (steps 20-80) to ${late.toFixed(3)} ms (last 60)`);
});

test('the lazy loop computes what the loop with realize() computes', () => {
  let lazy = randn([3, 4], { seed: 1 });
  let eager = randn([3, 4], { seed: 1 });
  for (let i = 0; i < 50; i++) {
    lazy = lazy.sub((grad(f)(lazy) as Tensor).mul(0.1));
    f(lazy).item();
    eager = realize(eager.sub((grad(f)(eager) as Tensor).mul(0.1)));
  }
  const a = lazy.toArray() as number[][];
  const b = eager.toArray() as number[][];
  a.flat().forEach((v, i) => assert.ok(Math.abs(v - b.flat()[i]) < 1e-5, `element ${i}: ${v} vs ${b.flat()[i]}`));
});

test('a three-layer MLP trained without realize() keeps its work per step and its memory flat, and learns', () => {
  const inputs = randn([32, 4], { seed: 2 });
  const targets = inputs.sum({ axis: 1 }).sin();
  const init = (seed: number, rows: number, cols: number) => randn([rows, cols], { seed }).mul(1 / Math.sqrt(rows));
  let params = { w1: init(3, 4, 16), w2: init(4, 16, 16), w3: init(5, 16, 1) };
  type Params = typeof params;
  const loss = (p: Params) => inputs.matmul(p.w1).tanh().matmul(p.w2).tanh().matmul(p.w3).reshape([32]).sub(targets).square().mean();
  const step = grad(loss) as (p: Params) => Params;
  const work: number[] = [];
  const losses: number[] = [];
  const heap: number[] = [];
  for (let i = 0; i < 800; i++) {
    const g = step(params);
    params = { w1: params.w1.sub(g.w1.mul(0.05)), w2: params.w2.sub(g.w2.mul(0.05)), w3: params.w3.sub(g.w3.mul(0.05)) };
    const value = loss(params);
    work.push(pendingBelow(value));
    losses.push(value.item());
    if (i === 200 || i === 799) {
      gc();
      gc();
      heap.push(process.memoryUsage().heapUsed);
    }
  }
  assert.ok(work.slice(3).every((n) => n === work[3]), `nodes lowered per read: ${work.slice(0, 6).join(', ')}, ... ${work.slice(-3).join(', ')}`);
  assert.ok(losses[losses.length - 1] < 0.5 * losses[0], `loss ${losses[0]} -> ${losses[losses.length - 1]}`);
  // 600 steps of retained history would be tens of megabytes.
  assert.ok(heap[1] - heap[0] < 3e6, `heap grew by ${((heap[1] - heap[0]) / 1e6).toFixed(2)} MB from step 200 to 800`);
});

test('two held values, one computed from the other, are both computed by the read that needs them', () => {
  const a = randn([4], { seed: 1 }).mul(2).sin();
  const b = a.exp();
  randn([1], { seed: 9 }).item(); // a read: a and b are now held across it
  const total = b.add(a).sum().item();
  assert.ok(a.node.realized !== null && b.node.realized !== null, 'both held values keep their values');
  const values = Array.from(a.dataSync());
  assert.ok(Math.abs(total - values.reduce((s, v) => s + Math.exp(v) + v, 0)) < 1e-5);
});
