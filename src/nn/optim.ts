/**
 * Functional optimizers over parameter pytrees (a plain object of tensors, as `makeFunctional`
 * gives, or any nesting of arrays and objects): `init(params)` makes the state, and
 * `step(params, grads, state)` returns `[newParams, newState]` without mutating anything.
 * The state is a pytree of tensors only (the step count included), so a whole training step
 * compiles once under `jit`.
 */
import { ArgumentError, ShapeError } from '../lazy/errors.js';
import { treeFlatten, treeUnflatten, type PyTree, type TreeDef } from '../lazy/pytree.js';
import { formatShape } from '../lazy/shape.js';
import { Tensor } from '../lazy/tensor.js';
import { add, full, mul, pow, sqrt, sub, zerosLike, div } from '../lazy/ops/index.js';

/** An optimizer: `init` once, then `step` per batch of gradients. */
export interface Optimizer<S> {
  /** The initial state for these parameters. */
  init<P extends PyTree>(params: P): S;
  /** One update: the new parameters (of the structure of `params`) and the new state. */
  step<P extends PyTree>(params: P, grads: PyTree, state: S): [P, S];
}

/** SGD's state: the momentum buffers, one per parameter leaf (empty without momentum). */
export interface SgdState {
  momentum: Tensor[];
}

/** Adam's state: the step count and the first and second moment estimates per leaf. */
export interface AdamState {
  count: Tensor;
  mu: Tensor[];
  nu: Tensor[];
}

function leavesOf(op: string, what: string, tree: PyTree): [Tensor[], TreeDef] {
  const [leaves, def] = treeFlatten<unknown>(tree);
  leaves.forEach((l, i) => {
    if (!(l instanceof Tensor)) throw new ArgumentError(`${op}: leaf ${i} of ${what} is ${l === null ? 'null' : typeof l}, not a Tensor`);
  });
  return [leaves as Tensor[], def];
}

/** Flattens params and grads, checking that they have one structure and shapes. */
function pair(op: string, params: PyTree, grads: PyTree, stateLeaves: number): [Tensor[], Tensor[], TreeDef] {
  const [p, def] = leavesOf(op, 'params', params);
  const [g] = leavesOf(op, 'grads', grads);
  const [pNames, gNames] = [params, grads].map((t) => (typeof t === 'object' && t !== null && !(t instanceof Tensor) && !Array.isArray(t) ? Object.keys(t).sort().join(', ') : ''));
  if (g.length !== p.length || pNames !== gNames) {
    throw new ArgumentError(`${op}: grads (${g.length} tensors${gNames ? `: ${gNames}` : ''}) do not match params (${p.length}${pNames ? `: ${pNames}` : ''}); pass the gradients of exactly these parameters`);
  }
  p.forEach((t, i) => {
    if (t.shape.length !== g[i].shape.length || t.shape.some((d, j) => d !== g[i].shape[j])) {
      throw new ShapeError(`${op}: gradient ${i} has shape ${formatShape(g[i].shape)} but its parameter has ${formatShape(t.shape)}`);
    }
  });
  if (stateLeaves !== p.length) throw new ArgumentError(`${op}: the state holds ${stateLeaves} entries for ${p.length} parameters; make it with init(params) for these parameters`);
  return [p, g, def];
}

function checkRate(op: string, name: string, v: number, lo: number, hi = Infinity, loOpen = false): void {
  if (!(typeof v === 'number' && (loOpen ? v > lo : v >= lo) && v < hi)) throw new ArgumentError(`${op}: ${name} ${v} must lie in ${loOpen ? '(' : '['}${lo}, ${hi})`);
}

/**
 * Stochastic gradient descent with optional momentum (PyTorch's form: buf = m·buf + g,
 * p -= lr·buf, or p -= lr·(g + m·buf) with `nesterov`) and L2 weight decay (g += wd·p).
 * @example
 * const opt = optim.sgd({ lr: 0.1, momentum: 0.9 });
 * let state = opt.init(params);
 * [params, state] = opt.step(params, grad(loss)(params, x, y), state);
 */
export function sgd(opts: { lr: number; momentum?: number; weightDecay?: number; nesterov?: boolean }): Optimizer<SgdState> {
  const { lr, momentum = 0, weightDecay = 0, nesterov = false } = opts;
  checkRate('sgd', 'lr', lr, 0, Infinity, true);
  checkRate('sgd', 'momentum', momentum, 0, 1);
  checkRate('sgd', 'weightDecay', weightDecay, 0);
  if (nesterov && momentum === 0) throw new ArgumentError('sgd: nesterov needs a momentum > 0');
  return {
    init: (params) => ({ momentum: momentum ? leavesOf('sgd.init', 'params', params)[0].map((p) => zerosLike(p)) : [] }),
    step<P extends PyTree>(params: P, grads: PyTree, state: SgdState): [P, SgdState] {
      const [p, g, def] = pair('sgd.step', params, grads, momentum ? state.momentum.length : p0(params));
      const newBufs: Tensor[] = [];
      const updated = p.map((param, i) => {
        let d = weightDecay ? add(g[i], mul(param, weightDecay)) : g[i];
        if (momentum) {
          const buf = add(mul(state.momentum[i], momentum), d);
          newBufs.push(buf);
          d = nesterov ? add(d, mul(buf, momentum)) : buf;
        }
        return sub(param, mul(d, lr));
      });
      return [treeUnflatten(def, updated) as P, { momentum: newBufs }];
    },
  };
}

/** The leaf count of params (SGD without momentum keeps no per-leaf state to compare with). */
function p0(params: PyTree): number {
  return treeFlatten<unknown>(params)[0].length;
}

interface AdamOptions {
  lr?: number;
  betas?: readonly [number, number];
  eps?: number;
  weightDecay?: number;
}

function adamLike(op: string, opts: AdamOptions, decoupled: boolean): Optimizer<AdamState> {
  const { lr = 1e-3, betas = [0.9, 0.999], eps = 1e-8, weightDecay = decoupled ? 1e-2 : 0 } = opts;
  const [b1, b2] = betas;
  checkRate(op, 'lr', lr, 0, Infinity, true);
  checkRate(op, 'betas[0]', b1, 0, 1);
  checkRate(op, 'betas[1]', b2, 0, 1);
  checkRate(op, 'eps', eps, 0);
  checkRate(op, 'weightDecay', weightDecay, 0);
  return {
    init(params) {
      const [p] = leavesOf(`${op}.init`, 'params', params);
      return { count: full([], 0), mu: p.map((t) => zerosLike(t)), nu: p.map((t) => zerosLike(t)) };
    },
    step<P extends PyTree>(params: P, grads: PyTree, state: AdamState): [P, AdamState] {
      const [p, g, def] = pair(`${op}.step`, params, grads, state.mu.length);
      const count = add(state.count, 1);
      // Bias corrections as tensors of the count, so that a jitted step traces once.
      const c1 = sub(1, pow(full([], b1), count));
      const c2 = sub(1, pow(full([], b2), count));
      const mu: Tensor[] = [];
      const nu: Tensor[] = [];
      const updated = p.map((param, i) => {
        const gi = !decoupled && weightDecay ? add(g[i], mul(param, weightDecay)) : g[i];
        const m = add(mul(state.mu[i], b1), mul(gi, 1 - b1));
        const v = add(mul(state.nu[i], b2), mul(gi.square(), 1 - b2));
        mu.push(m);
        nu.push(v);
        const base = decoupled && weightDecay ? mul(param, 1 - lr * weightDecay) : param;
        return sub(base, mul(div(div(m, c1), add(sqrt(div(v, c2)), eps)), lr));
      });
      return [treeUnflatten(def, updated) as P, { count, mu, nu }];
    },
  };
}

/**
 * Adam (Kingma and Ba), with L2 weight decay added to the gradient as PyTorch's Adam.
 * Defaults: lr 1e-3, betas [0.9, 0.999], eps 1e-8, weightDecay 0.
 * @example
 * const opt = optim.adam({ lr: 1e-2 });
 * let state = opt.init(params);
 * [params, state] = opt.step(params, grads, state);
 */
export function adam(opts: AdamOptions = {}): Optimizer<AdamState> {
  return adamLike('adam', opts, false);
}

/**
 * AdamW: Adam with decoupled weight decay (p -= lr·wd·p), default weightDecay 0.01 as PyTorch.
 * @example
 * const opt = optim.adamw({ lr: 1e-3, weightDecay: 0.05 });
 */
export function adamw(opts: AdamOptions = {}): Optimizer<AdamState> {
  return adamLike('adamw', opts, true);
}
