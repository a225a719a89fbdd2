/** Jacobians and Hessians: vmap over vjp (jacrev) or over jvp (jacfwd) with one-hot bases. */
import type { DType } from '../lazy/dtype.js';
import { treeFlatten, treeUnflatten, type MapLeaves, type PyTree, type TreeDef } from '../lazy/pytree.js';
import { sizeOf } from '../lazy/shape.js';
import { Tensor } from '../lazy/tensor.js';
import { eye } from '../lazy/ops/creation.js';
import { moveaxis, reshape, shrink } from '../lazy/ops/movement.js';
import type { Randomness } from '../lazy/trace.js';
import { jvp, vjp, type Argnums, type GradsAt } from './autodiff.js';
import { flattenOutput, leafToTensor, resolveArgnums, splitAux } from './trace.js';
import { vmap } from './vmap.js';

export interface JacobianOptions<A extends Argnums = Argnums> {
  /** Which argument(s) to differentiate (default 0); an array gives a list per output. */
  argnums?: A;
  /** The function returns [output, aux]; the result is then [jacobian, aux]. */
  hasAux?: boolean;
  /** Compute at most this many basis vectors at once (bounds memory; results are the same). */
  chunkSize?: number;
  /**
   * jacfwd: random ops in `f` under its vmap over tangents ('error' by default, as vmap).
   * jacrev traces `f` once, outside its vmap, so its random ops draw once either way.
   */
  randomness?: Randomness;
}

/**
 * The Jacobian of a function returning `Out` with respect to `argnums` `A`: `Out`'s
 * structure with each output tensor replaced by the gradients for `A` (for a Tensor -> Tensor
 * function, a Tensor of shape [...S_out, ...S_in]).
 */
export type Jacobian<Out, Args extends readonly unknown[], A extends Argnums> = MapLeaves<Out, GradsAt<Args, A>>;

/** The Hessian of a scalar function: the Jacobian of its gradients (a Tensor for a Tensor argument). */
export type Hessian<Args extends readonly unknown[], A extends Argnums> = MapLeaves<GradsAt<Args, A>, GradsAt<Args, A>>;

/**
 * One-hot basis vectors for leaves of the given shapes: for leaf k, a tensor
 * [total, ...shape_k] whose row r is 1 at flat position r - offset_k. The basis is a
 * slice of an `eye`, which stays symbolic (iota == iota) so the simplifier sees through it.
 */
function oneHotBasis(shapes: readonly (readonly number[])[], dtypes: readonly DType[]): Tensor[] {
  const sizes = shapes.map((s) => sizeOf(s));
  const total = sizes.reduce((a, b) => a + b, 0);
  let offset = 0;
  return shapes.map((shape, k) => {
    const block = shrink(eye(total, total, { dtype: dtypes[k] }), [[0, total], [offset, offset + sizes[k]]]);
    offset += sizes[k];
    return reshape(block, [total, ...shape]);
  });
}

/** Splits a stacked axis of length sum(sizes) (at `axis`) into the per-leaf shapes. */
function unstack(t: Tensor, axis: number, shapes: readonly (readonly number[])[]): Tensor[] {
  let offset = 0;
  return shapes.map((shape) => {
    const size = sizeOf(shape);
    const part = shrink(t, t.shape.map((d, i) => (i === axis ? [offset, offset + size] : [0, d]) as [number, number]));
    offset += size;
    return reshape(part, [...t.shape.slice(0, axis), ...shape, ...t.shape.slice(axis + 1)]);
  });
}

function selectArgs(args: readonly unknown[], argnums: readonly number[]): [unknown[], (selected: readonly unknown[]) => unknown[]] {
  const selected = argnums.map((a) => args[a]);
  const place = (values: readonly unknown[]) => {
    const full = [...args];
    argnums.forEach((a, i) => (full[a] = values[i]));
    return full;
  };
  return [selected, place];
}

/**
 * The Jacobian by reverse mode (vmap over vjp): for output of shape S_out and input of
 * shape S_in, a tensor of shape [...S_out, ...S_in]. Cheaper than jacfwd when outputs are few.
 * @example
 * jacrev((x: Tensor) => x.sin())(tensor([0, 1, 2])); // diag(cos(x)), shape [3, 3]
 */
export function jacrev<Args extends unknown[], Out, Aux, const A extends Argnums = 0>(f: (...args: Args) => readonly [Out, Aux], opts: JacobianOptions<A> & { hasAux: true }): (...args: Args) => [Jacobian<Out, Args, NoInfer<A>>, Aux];
export function jacrev<Args extends unknown[], Out, const A extends Argnums = 0>(f: (...args: Args) => Out, opts?: JacobianOptions<A> & { hasAux?: false }): (...args: Args) => Jacobian<Out, Args, NoInfer<A>>;
export function jacrev<Args extends unknown[]>(f: (...args: Args) => unknown, opts: JacobianOptions = {}): (...args: Args) => unknown {
  return (...args: Args) => {
    const argnums = resolveArgnums(opts.argnums ?? 0, args.length, 'jacrev');
    const [selected, place] = selectArgs(args, argnums);
    const g = (...sel: unknown[]) => (f as (...a: unknown[]) => unknown)(...place(sel));
    const results = opts.hasAux ? vjp(g as (...a: unknown[]) => [unknown, unknown], selected, { hasAux: true }) : [...vjp(g, selected), undefined];
    const [out, vjpFn, aux] = results as [unknown, (ct: unknown) => unknown[], unknown];
    const { leaves: outLeaves, def: outDef } = flattenOutput(out, 'jacrev');
    const basis = oneHotBasis(outLeaves.map((o) => o.shape), outLeaves.map((o) => o.dtype));
    const pulled = vmap((...cts: Tensor[]) => vjpFn(treeUnflatten(outDef, cts)), { chunkSize: opts.chunkSize })(...basis) as unknown[];
    // pulled[i]: argument i's structure, each leaf [M, ...S_in]; split M by output leaf.
    const perArg = pulled.map((tree) => treeFlatten(tree) as [Tensor[], TreeDef]);
    const jac = outLeaves.map((o, k) => {
      const forArgs = perArg.map(([leaves, def]) => treeUnflatten(def, leaves.map((l) => unstack(l, 0, outLeaves.map((x) => x.shape))[k])));
      return typeof opts.argnums === 'object' ? forArgs : forArgs[0];
    });
    const result = treeUnflatten(outDef, jac as PyTree[]);
    return opts.hasAux ? [result, aux] : result;
  };
}

/**
 * The Jacobian by forward mode (vmap over jvp): shape [...S_out, ...S_in]. Cheaper than
 * jacrev when inputs are few.
 * @example
 * jacfwd((x: Tensor) => x.mul(x))(tensor([1, 2])); // [[2, 0], [0, 4]]
 */
export function jacfwd<Args extends unknown[], Out, Aux, const A extends Argnums = 0>(f: (...args: Args) => readonly [Out, Aux], opts: JacobianOptions<A> & { hasAux: true }): (...args: Args) => [Jacobian<Out, Args, NoInfer<A>>, Aux];
export function jacfwd<Args extends unknown[], Out, const A extends Argnums = 0>(f: (...args: Args) => Out, opts?: JacobianOptions<A> & { hasAux?: false }): (...args: Args) => Jacobian<Out, Args, NoInfer<A>>;
export function jacfwd<Args extends unknown[]>(f: (...args: Args) => unknown, opts: JacobianOptions = {}): (...args: Args) => unknown {
  return (...args: Args) => {
    const argnums = resolveArgnums(opts.argnums ?? 0, args.length, 'jacfwd');
    const [selected, place] = selectArgs(args, argnums);
    const flat = selected.map((a) => treeFlatten(a));
    const inLeaves = flat.flatMap(([leaves]) => leaves.map((l) => leafToTensor(l, 'jacfwd')));
    const defs: TreeDef[] = flat.map(([, def]) => def);
    const basis = oneHotBasis(inLeaves.map((t) => t.shape), inLeaves.map((t) => t.dtype));
    const regroup = <T>(items: readonly T[]): unknown[] => {
      let next = 0;
      return flat.map(([leaves], i) => treeUnflatten(defs[i], leaves.map(() => items[next++])));
    };
    const primals = regroup(inLeaves);
    const g = (...sel: unknown[]) => (f as (...a: unknown[]) => unknown)(...place(sel));
    let aux: unknown;
    const pushed = vmap(
      (...tangentLeaves: Tensor[]) => {
        if (!opts.hasAux) return jvp(g, primals, regroup(tangentLeaves))[1];
        const [, tangentOut, a] = jvp((...s: unknown[]) => splitAux(g(...s), 'jacfwd') as [unknown, unknown], primals, regroup(tangentLeaves), { hasAux: true });
        aux = a;
        return tangentOut;
      },
      { randomness: opts.randomness ?? 'error', chunkSize: opts.chunkSize },
    )(...basis);
    const { leaves: outLeaves, def: outDef } = flattenOutput(pushed, 'jacfwd');
    const jac = outLeaves.map((t) => {
      // [N, ...S_out] -> [...S_out, N] -> per input leaf [...S_out, ...S_in].
      const last = moveaxis(t, 0, t.rank - 1);
      const parts = unstack(last, last.rank - 1, inLeaves.map((l) => l.shape));
      const forArgs = regroup(parts);
      return typeof opts.argnums === 'object' ? forArgs : forArgs[0];
    });
    const result = treeUnflatten(outDef, jac as PyTree[]);
    return opts.hasAux ? [result, aux] : result;
  };
}

/**
 * The Hessian, `jacfwd(jacrev(f))`: for a scalar function of x with shape S, shape [...S, ...S].
 * @example
 * hessian((x: Tensor) => x.pow(3).sum())(tensor([1, 2])); // [[6, 0], [0, 12]]
 */
export function hessian<Args extends unknown[], const A extends Argnums = 0>(f: (...args: Args) => Tensor, opts: { argnums?: A } = {}): (...args: Args) => Hessian<Args, NoInfer<A>> {
  const argnums: Argnums = opts.argnums ?? 0;
  return jacfwd(jacrev(f, { argnums }), { argnums }) as (...args: Args) => Hessian<Args, A>;
}
