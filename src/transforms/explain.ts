/** explain: what the fusion scheduler and the compiler make of a tensor or a jitted call. */
import { getBackend } from '../lazy/realize.js';
import { bindParams } from '../lazy/rewrite.js';
import { Tensor } from '../lazy/tensor.js';
import { ArgumentError } from '../lazy/errors.js';
import type { Plan } from '../fusion/explain.js';
import type { Jitted } from './jit.js';

/**
 * The plan that computes a tensor (or several), or a jitted function on given arguments:
 * the kernels in execution order, each with its generated source, its input and output
 * buffers, the bytes it reads and writes and an estimate of its arithmetic. Nothing is
 * computed. The active backend (or the jitted function's own) makes the plan: the
 * interpreter's has no kernels. `FUNCTS_DEBUG=1` prints the same for every kernel as it runs.
 * @example
 * const x = randn([1000], { seed: 0 });
 * explain(x.mul(2).add(1).exp().sum()).kernels.length; // 1
 * console.log(String(explain(jit(vmap(hessian(f))), X)));
 */
export function explain(target: Tensor | readonly Tensor[]): Plan;
export function explain<Args extends unknown[], Out>(target: Jitted<Args, Out>, ...args: Args): Plan;
export function explain(target: unknown, ...args: unknown[]): Plan {
  if (typeof target === 'function' && 'plan' in target) return (target as Jitted<unknown[], unknown>).plan(...args);
  const tensors = target instanceof Tensor ? [target] : Array.isArray(target) && target.every((t) => t instanceof Tensor) ? (target as Tensor[]) : undefined;
  if (!tensors) throw new ArgumentError('explain: pass a tensor, an array of tensors, or a jitted function followed by its arguments');
  const roots = [...new Set(tensors.map((t) => (t.node.readsParam ? bindParams(t.node) : t.node)))].filter((n) => !n.realized);
  return getBackend().plan(roots);
}
