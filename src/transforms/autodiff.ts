/** Reverse and forward mode: vjp, grad, gradAndValue, jvp, linearize. */
import { ArgumentError, DTypeError, ShapeError } from '../lazy/errors.js';
import { isFloat } from '../lazy/dtype.js';
import { treeFlatten, treeUnflatten, type PyTree, type TreeDef } from '../lazy/pytree.js';
import { formatShape, sameShape } from '../lazy/shape.js';
import { Tensor } from '../lazy/tensor.js';
import { cast } from '../lazy/ops/elementwise.js';
import { full, zerosLike } from '../lazy/ops/creation.js';
import { treeDefKey } from '../lazy/pytree.js';
import { argumentOf, bindBack, bindBackTree, flattenOutput, leafToTensor, mintParams, resolveArgnums, splitAux, type TracedArgument } from './trace.js';
import { pullCotangents, pushTangents } from './walks.js';

/** The gradient's structure for an argument: tensors where the argument has tensors or numbers. */
export type GradOf<T> = T extends Tensor | number ? Tensor : T extends readonly unknown[] ? { -readonly [K in keyof T]: GradOf<T[K]> } : T extends object ? { [K in keyof T]: GradOf<T[K]> } : never;

/** Which argument(s) a derivative is taken with respect to: one index or a list of them. */
export type Argnums = number | readonly number[];

/** Argument `I` of `Args`, counting from the end for a negative literal (as `argnums` does). */
type ArgAt<Args extends readonly unknown[], I extends number> = `${I}` extends `-${infer N extends number}` ? ArgFromEnd<Args, N> : Args[I];
type ArgFromEnd<Args extends readonly unknown[], N extends number, Seen extends unknown[] = []> =
  Args extends readonly [...infer Rest, infer Last] ? ([...Seen, Last]['length'] extends N ? Last : ArgFromEnd<Rest, N, [...Seen, Last]>) : Args[number];

/**
 * The gradients for `argnums`: the gradient of that argument for a number, a tuple of
 * gradients for a list (`[0, 2]` gives `[GradOf<Args[0]>, GradOf<Args[2]>]`).
 */
export type GradsAt<Args extends readonly unknown[], A extends Argnums> = A extends number
  ? GradOf<ArgAt<Args, A>>
  : A extends readonly [...infer List extends readonly number[]]
    ? GradsList<Args, List>
    : never;
type GradsList<Args extends readonly unknown[], List extends readonly number[]> = { -readonly [K in keyof List]: GradOf<ArgAt<Args, List[K]>> };

/** Tangents for `primals`: one per argument, of the argument's structure (numbers allowed at tensor leaves). */
export type TangentsOf<Args extends readonly unknown[]> = { [K in keyof Args]: TangentOf<Args[K]> };
type TangentOf<T> = T extends Tensor | number ? Tensor | number : T extends object ? { [K in keyof T]: TangentOf<T[K]> } : T;

export interface GradOptions<A extends Argnums = Argnums> {
  /** Which argument(s) to differentiate: a number gives one gradient, an array a list. Default 0. */
  argnums?: A;
  /** The function returns [value, aux]; aux is passed through undifferentiated. */
  hasAux?: boolean;
}

interface Traced {
  args: TracedArgument[];
  outLeaves: Tensor[];
  outDef: TreeDef;
  aux: unknown;
}

/** Runs f with Params (bound to the primals) in place of the arguments listed in `argnums`. */
function traceForDerivative(transform: string, f: (...args: never[]) => unknown, args: readonly unknown[], argnums: readonly number[], hasAux: boolean): Traced {
  const traced = argnums.map((a) => mintParams(args[a], transform, true, `argument ${a}`));
  const callArgs = [...args];
  argnums.forEach((a, i) => (callArgs[a] = argumentOf(traced[i])));
  const result = (f as (...a: unknown[]) => unknown)(...callArgs);
  const [out, aux] = hasAux ? splitAux(result, transform) : [result, undefined];
  const { leaves, def } = flattenOutput(out, transform);
  return { args: traced, outLeaves: leaves, outDef: def, aux };
}

/** The cotangents of each traced argument, as pytrees, given cotangents of the outputs. */
function pullBack(traced: Traced, cotangents: readonly Tensor[]): unknown[] {
  const params = traced.args.flatMap((a) => a.params);
  const pulled = pullCotangents(traced.outLeaves.map((t) => t.node), cotangents, params);
  const filled = pulled.map((ct, i) => ct ?? zerosLike(new Tensor(params[i])));
  const bound = bindBack(filled, traced.args);
  let next = 0;
  return traced.args.map((a) => treeUnflatten(a.def, a.params.map(() => bound[next++])));
}

function scalarOutput(traced: Traced, transform: string): void {
  const [out] = traced.outLeaves;
  if (traced.outLeaves.length !== 1 || out.rank !== 0) {
    const shapes = traced.outLeaves.map((t) => formatShape(t.shape)).join(', ');
    throw new ShapeError(`${transform}: the function must return one scalar (shape []), got ${shapes || 'no tensor'}; sum or index the output, or use jacrev/vjp for non-scalar outputs`);
  }
  if (!isFloat(out.dtype)) throw new DTypeError(`${transform}: the function returned a ${out.dtype} scalar; only float outputs can be differentiated`);
}

function gradImpl(transform: string, f: (...args: never[]) => unknown, opts: GradOptions, args: readonly unknown[]): [unknown, Tensor, unknown] {
  const argnums = resolveArgnums(opts.argnums ?? 0, args.length, transform);
  const traced = traceForDerivative(transform, f, args, argnums, opts.hasAux ?? false);
  scalarOutput(traced, transform);
  const [out] = traced.outLeaves;
  const grads = pullBack(traced, [full([], 1, { dtype: out.dtype })]);
  const [value] = bindBack([out], traced.args);
  const aux = opts.hasAux ? bindBackTree(traced.aux, traced.args) : undefined;
  return [typeof opts.argnums === 'object' ? grads : grads[0], value, aux];
}

/**
 * The gradient of a scalar-valued function with respect to argument(s) `argnums`: the
 * gradient of one argument has that argument's structure (a Tensor for a Tensor, the same
 * object type for a pytree of tensors); a list of argnums gives a tuple of gradients.
 * @example
 * const df = grad((x: Tensor) => x.sin().sum());
 * df(tensor([0, 1])); // cos([0, 1]), a Tensor
 * grad(grad((x: Tensor) => x.sin()))(tensor(1)); // -sin(1)
 * const [dw, db] = grad((w: Tensor, b: Tensor, x: Tensor) => x.dot(w).add(b).square(), { argnums: [0, 1] })(w, b, x);
 */
export function grad<Args extends unknown[], Aux, const A extends Argnums = 0>(f: (...args: Args) => readonly [Tensor, Aux], opts: { argnums?: A; hasAux: true }): (...args: Args) => [GradsAt<Args, NoInfer<A>>, Aux];
export function grad<Args extends unknown[], const A extends Argnums = 0>(f: (...args: Args) => Tensor, opts?: { argnums?: A; hasAux?: false }): (...args: Args) => GradsAt<Args, NoInfer<A>>;
export function grad<Args extends unknown[]>(f: (...args: Args) => unknown, opts: GradOptions = {}): (...args: Args) => unknown {
  return (...args: Args) => {
    const [g, , aux] = gradImpl('grad', f as (...a: never[]) => unknown, opts, args);
    return opts.hasAux ? [g, aux] : g;
  };
}

/**
 * Like `grad`, but also returns the value: `[gradient, value]` (with hasAux: `[gradient, [value, aux]]`).
 * @example
 * const [g, v] = gradAndValue((x: Tensor) => x.square().sum())(tensor([1, 2])); // g = [2, 4], v = 5
 */
export function gradAndValue<Args extends unknown[], Aux, const A extends Argnums = 0>(f: (...args: Args) => readonly [Tensor, Aux], opts: { argnums?: A; hasAux: true }): (...args: Args) => [GradsAt<Args, NoInfer<A>>, [Tensor, Aux]];
export function gradAndValue<Args extends unknown[], const A extends Argnums = 0>(f: (...args: Args) => Tensor, opts?: { argnums?: A; hasAux?: false }): (...args: Args) => [GradsAt<Args, NoInfer<A>>, Tensor];
export function gradAndValue<Args extends unknown[]>(f: (...args: Args) => unknown, opts: GradOptions = {}): (...args: Args) => unknown {
  return (...args: Args) => {
    const [g, value, aux] = gradImpl('gradAndValue', f as (...a: never[]) => unknown, opts, args);
    return opts.hasAux ? [g, [value, aux]] : [g, value];
  };
}

function checkLike(transform: string, what: string, given: readonly Tensor[], expected: readonly Tensor[], givenDef: TreeDef, expectedDef: TreeDef): Tensor[] {
  if (treeDefKey(givenDef) !== treeDefKey(expectedDef)) {
    throw new ArgumentError(`${transform}: ${what} have structure ${treeDefKey(givenDef)} but must match ${treeDefKey(expectedDef)}`);
  }
  return given.map((g, i) => {
    const e = expected[i];
    if (!sameShape(g.shape, e.shape)) {
      throw new ShapeError(`${transform}: ${what} entry ${i} has shape ${formatShape(g.shape)} but must match shape ${formatShape(e.shape)}`);
    }
    return g.dtype === e.dtype ? g : cast(g, e.dtype);
  });
}

/** The function applied to `primals`, and a function mapping output cotangents to one gradient per primal. */
export type VjpResult<Out, Args extends unknown[]> = [Out, (cotangents: TangentOf<Out>) => { -readonly [K in keyof Args]: GradOf<Args[K]> }];

/**
 * Reverse mode: `[output, vjpFn]` where `vjpFn(cotangent)` returns one gradient per primal.
 * @example
 * const [y, back] = vjp((x: Tensor) => x.sin(), [tensor([0, 1])]);
 * back(onesLike(y)); // [cos([0, 1])]
 */
export function vjp<Args extends unknown[], Out, Aux>(f: (...args: Args) => readonly [Out, Aux], primals: Args, opts: { hasAux: true }): [...VjpResult<Out, Args>, Aux];
export function vjp<Args extends unknown[], Out>(f: (...args: Args) => Out, primals: Args, opts?: { hasAux?: false }): VjpResult<Out, Args>;
export function vjp<Args extends unknown[]>(f: (...args: Args) => unknown, primals: Args, opts: { hasAux?: boolean } = {}): unknown[] {
  if (!Array.isArray(primals)) throw new ArgumentError('vjp: primals must be an array with one entry per argument of f');
  const traced = traceForDerivative('vjp', f as (...a: never[]) => unknown, primals, primals.map((_, i) => i), opts.hasAux ?? false);
  const out = treeUnflatten(traced.outDef, bindBack(traced.outLeaves, traced.args));
  const vjpFn = (cotangents: unknown) => {
    const [cts, ctDef] = treeFlatten(cotangents);
    const checked = checkLike('vjp', 'cotangents', cts.map((c) => leafToTensor(c, 'vjp')), traced.outLeaves, ctDef, traced.outDef);
    return pullBack(traced, checked);
  };
  return opts.hasAux ? [out, vjpFn, bindBackTree(traced.aux, traced.args)] : [out, vjpFn];
}

function pushForward(traced: Traced, tangentArgs: readonly unknown[]): Tensor[] {
  const seeds = new Map<import('../lazy/node.js').Node, Tensor>();
  traced.args.forEach((a, i) => {
    const [tangents, def] = treeFlatten(tangentArgs[i]);
    const checked = checkLike('jvp', 'tangents', tangents.map((t) => leafToTensor(t, 'jvp')), a.primals, def, a.def);
    a.params.forEach((p, j) => seeds.set(p, checked[j]));
  });
  const pushed = pushTangents(traced.outLeaves.map((t) => t.node), seeds);
  return pushed.map((t, i) => t ?? zerosLike(traced.outLeaves[i]));
}

function checkTangentCount(tangents: readonly unknown[], primals: readonly unknown[], transform: string): void {
  if (!Array.isArray(tangents) || tangents.length !== primals.length) {
    throw new ArgumentError(`${transform}: got ${Array.isArray(tangents) ? tangents.length : 'no array of'} tangents for ${primals.length} primals; give one tangent per primal, of the same shape`);
  }
}

/**
 * Forward mode: `[output, tangentOut]`, the function and its directional derivative.
 * @example
 * const [y, dy] = jvp((x: Tensor, y: Tensor) => x.mul(y), [tensor(2), tensor(3)], [tensor(1), tensor(0)]); // dy = 3
 */
export function jvp<Args extends unknown[], Out, Aux>(f: (...args: Args) => readonly [Out, Aux], primals: Args, tangents: TangentsOf<Args>, opts: { hasAux: true }): [Out, GradOf<Out>, Aux];
export function jvp<Args extends unknown[], Out>(f: (...args: Args) => Out, primals: Args, tangents: TangentsOf<Args>, opts?: { hasAux?: false }): [Out, GradOf<Out>];
export function jvp<Args extends unknown[]>(f: (...args: Args) => unknown, primals: Args, tangents: readonly unknown[], opts: { hasAux?: boolean } = {}): unknown[] {
  checkTangentCount(tangents, primals, 'jvp');
  const traced = traceForDerivative('jvp', f as (...a: never[]) => unknown, primals, primals.map((_, i) => i), opts.hasAux ?? false);
  const tangentOut = pushForward(traced, tangents);
  const bound = bindBack([...traced.outLeaves, ...tangentOut], traced.args);
  const n = traced.outLeaves.length;
  const result = [treeUnflatten(traced.outDef, bound.slice(0, n)), treeUnflatten(traced.outDef, bound.slice(n))];
  return opts.hasAux ? [...result, bindBackTree(traced.aux, traced.args)] : result;
}

/**
 * Traces `f` once at `primals` and returns `[output, jvpFn]`; each `jvpFn(...tangents)`
 * reuses that trace instead of calling `f` again.
 * @example
 * const [y, lin] = linearize((x: Tensor) => x.exp(), [tensor(0)]);
 * lin(tensor(2)); // 2
 */
export function linearize<Args extends unknown[], Out>(f: (...args: Args) => Out, primals: Args): [Out, (...tangents: TangentsOf<Args>) => GradOf<Out>] {
  const traced = traceForDerivative('linearize', f as (...a: never[]) => unknown, primals, primals.map((_, i) => i), false);
  const out = treeUnflatten(traced.outDef, bindBack(traced.outLeaves, traced.args)) as Out;
  const jvpFn = (...tangents: TangentsOf<Args>) => {
    checkTangentCount(tangents, primals, 'linearize');
    return treeUnflatten(traced.outDef, bindBack(pushForward(traced, tangents), traced.args)) as GradOf<Out>;
  };
  return [out, jvpFn];
}
