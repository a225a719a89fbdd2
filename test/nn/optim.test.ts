// Functional optimizers against float64 loops written from PyTorch's update rules, and a
// training step that jit compiles once.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError, ShapeError, crossEntropy, grad, jit, makeFunctional, nn, optim, randn, realize, tensor, type Tensor } from '../../src/index.js';
import { assertAllClose } from '../../src/testing/index.js';

type Tree = { w: Tensor; b: Tensor[] };

const start: number[][] = [[0.5, -1.5, 2], [0.25]];
const gradients: number[][][] = [[[0.1, -0.2, 0.3], [1]], [[-0.4, 0.5, 0.05], [-2]], [[0.3, 0.3, -0.3], [0.5]]];
const toTree = (v: number[][]): Tree => ({ w: tensor(v[0], { dtype: 'float64' }), b: [tensor(v[1], { dtype: 'float64' })] });
// Flattened to one list: assertAllClose compares rectangular arrays.
const fromTree = (t: Tree): number[] => [...(t.w.toArray() as number[]), ...(t.b[0].toArray() as number[])];

/** Runs the optimizer over the fixed gradient sequence. */
function run<S>(opt: optim.Optimizer<S>): number[] {
  let params = toTree(start);
  let state = opt.init(params);
  for (const g of gradients) [params, state] = opt.step(params, toTree(g), state);
  return fromTree(params);
}

/** The same rules, element by element, in plain float64. */
function reference(update: (p: number, g: number, slot: number[], t: number) => number): number[] {
  return start.flatMap((leaf, li) => leaf.map((p0, i) => {
    let p = p0;
    const slot = [0, 0];
    gradients.forEach((g, t) => (p = update(p, g[li][i], slot, t + 1)));
    return p;
  }));
}

describe('optimizers', () => {
  test('SGD with momentum, weight decay and Nesterov follows PyTorch’s rule', () => {
    for (const [momentum, weightDecay, nesterov] of [[0, 0, false], [0.9, 0, false], [0.8, 0.1, false], [0.7, 0.05, true]] as const) {
      const expected = reference((p, g, slot) => {
        let d = g + weightDecay * p;
        if (momentum) {
          slot[0] = momentum * slot[0] + d;
          d = nesterov ? d + momentum * slot[0] : slot[0];
        }
        return p - 0.1 * d;
      });
      assertAllClose(run(optim.sgd({ lr: 0.1, momentum, weightDecay, nesterov })), expected, { rtol: 1e-12, atol: 1e-12 });
    }
  });

  test('Adam and AdamW follow the bias-corrected rules (L2 decay in the gradient, or decoupled)', () => {
    const [b1, b2, eps, lr] = [0.8, 0.95, 1e-6, 0.05];
    for (const [decoupled, weightDecay] of [[false, 0], [false, 0.1], [true, 0.1]] as const) {
      const expected = reference((p, g, slot, t) => {
        const gi = decoupled ? g : g + weightDecay * p;
        slot[0] = b1 * slot[0] + (1 - b1) * gi;
        slot[1] = b2 * slot[1] + (1 - b2) * gi * gi;
        const base = decoupled ? p * (1 - lr * weightDecay) : p;
        return base - (lr * (slot[0] / (1 - b1 ** t))) / (Math.sqrt(slot[1] / (1 - b2 ** t)) + eps);
      });
      const opt = (decoupled ? optim.adamw : optim.adam)({ lr, betas: [b1, b2], eps, weightDecay });
      assertAllClose(run(opt), expected, { rtol: 1e-6, atol: 1e-9 });
    }
  });

  test('mismatched gradients and bad settings are refused with a message', () => {
    const opt = optim.sgd({ lr: 0.1, momentum: 0.9 });
    const params = toTree(start);
    const state = opt.init(params);
    assert.throws(() => opt.step(params, { w: params.w }, state), (e: Error) => e instanceof ArgumentError && /grads \(1 tensors: w\) do not match params \(2: b, w\)/.test(e.message));
    assert.throws(() => opt.step(params, { w: params.w.reshape([3, 1]), b: params.b }, state), ShapeError);
    assert.throws(() => optim.sgd({ lr: -1 }), ArgumentError);
    assert.throws(() => optim.adam({ betas: [1, 0.9] }), ArgumentError);
    assert.throws(() => optim.sgd({ lr: 0.1, nesterov: true }), ArgumentError);
  });

  test('a whole training step compiles once under jit, and the loss falls', () => {
    const model = new nn.MLP([2, 16, 2], { seed: 0 });
    const [fmodel, initial] = makeFunctional(model);
    const x = randn([32, 2], { seed: 1 });
    // Two classes split by the sign of x0·x1: a non-linear boundary.
    const xs = x.toArray() as number[][];
    const y = tensor(xs.map(([a, b]) => (a * b > 0 ? 1 : 0)), { dtype: 'int32' });
    const loss = (p: Record<string, Tensor>) => crossEntropy(fmodel(p, x), y);
    const opt = optim.adam({ lr: 0.05 });
    const step = jit((p: Record<string, Tensor>, s: optim.AdamState) => {
      const [next, state] = opt.step(p, grad(loss)(p), s);
      return { next, state, loss: loss(p) };
    });
    let params = initial;
    let state = opt.init(params);
    const losses: number[] = [];
    for (let i = 0; i < 40; i++) {
      const out = realize(step(params, state));
      params = out.next;
      state = out.state;
      losses.push(out.loss.item());
    }
    assert.equal(step.stats.traces, 1);
    assert.equal(step.stats.hits, 39);
    assert.ok(losses[39] < 0.6 * losses[0], `loss ${losses[0]} -> ${losses[39]}`);
  });
});
