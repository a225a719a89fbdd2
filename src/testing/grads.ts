/**
 * Checking derivatives against central finite differences, as JAX's `check_grads`: the
 * arguments are cast to float64, forward mode (jvp) and reverse mode (vjp) are compared
 * with finite differences along random directions, and with `order > 1` the derivative
 * functions themselves are checked the same way, recursively.
 */
import { jvp, tensor, Tensor, vjp, type GradOf, type GradsAt, type Shape, type TangentsOf } from '../index.js';
import { isFloat } from '../lazy/dtype.js';
import { treeFlatten, treeUnflatten, type TreeDef } from '../lazy/pytree.js';
import { sizeOf } from '../lazy/shape.js';
import { describeValue } from '../lazy/errors.js';
import { AssertionError } from './assert.js';

/** The two modes of differentiation that `checkGrads` can check. */
export type GradMode = 'fwd' | 'rev';

export interface CheckGradsOptions {
  /** How many times to differentiate: 2 also checks the derivatives of the derivative functions. Default 2. */
  order?: number;
  /** Which modes to check. Default both, `['fwd', 'rev']`. */
  modes?: readonly GradMode[];
  /** The finite-difference step h. Default 1e-4 (fourth-order central differences in float64). */
  eps?: number;
  /** Absolute tolerance. Default 1e-5, or `tol` when given. */
  atol?: number;
  /** Relative tolerance. Default 1e-5, or `tol` when given. */
  rtol?: number;
  /** Sets both `atol` and `rtol` (they win where also given). */
  tol?: number;
  /** Seed of the random directions. Default 0. */
  seed?: number;
}

/**
 * Thrown when a derivative disagrees with finite differences (an `AssertionError`). `mode`
 * names the check ('JVP', 'VJP', 'JVP of VJP', ...), `order` how deep it is, and
 * `actual`/`expected` the compared values (the derivative and its finite-difference estimate).
 */
export class GradCheckError extends AssertionError {
  constructor(
    message: string,
    readonly mode: string,
    readonly order: number,
    readonly actual: readonly number[],
    readonly expected: readonly number[],
  ) {
    super(message);
    this.name = 'GradCheckError';
  }
}

// Random directions ------------------------------------------------------------------

/** A small seeded generator (mulberry32) with normal samples by Box-Muller. */
class Directions {
  private state: number;
  constructor(seed: number) {
    this.state = (seed ^ 0x5bd1e995) >>> 0;
  }
  private uniform(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  normal(): number {
    const u1 = 1 - this.uniform();
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
  /** A float64 tensor of `shape` with standard normal entries. */
  tensor(shape: Shape): Tensor {
    const data = new Float64Array(sizeOf(shape));
    for (let i = 0; i < data.length; i++) data[i] = this.normal();
    return tensor(data, { shape, dtype: 'float64' });
  }
}

// Helpers on lists of tensors ------------------------------------------------------------

function toFloat64(leaf: unknown): unknown {
  if (typeof leaf === 'number') return tensor(leaf, { dtype: 'float64' });
  if (leaf instanceof Tensor && isFloat(leaf.dtype)) return leaf.cast('float64');
  return leaf;
}

function outputLeaves(out: unknown): Tensor[] {
  const [leaves] = treeFlatten(out);
  return leaves.map((l) => (l instanceof Tensor ? l : tensor(l as number, { dtype: 'float64' })));
}

function values(t: Tensor): Float64Array {
  return Float64Array.from(t.cast('float64').dataSync());
}

/** <a, b> over the float leaves, and the sum of |a_k b_k| (the scale its rounding depends on). */
function inner(a: readonly Tensor[], b: readonly Tensor[]): { value: number; scale: number } {
  let value = 0;
  let scale = 0;
  a.forEach((x, i) => {
    if (!isFloat(x.dtype) || !isFloat(b[i].dtype)) return;
    const u = values(x);
    const v = values(b[i]);
    for (let k = 0; k < u.length; k++) {
      value += u[k] * v[k];
      scale += Math.abs(u[k] * v[k]);
    }
  });
  return { value, scale };
}

function describe(xs: ArrayLike<number>): string {
  const shown = Array.from(xs).slice(0, 8).map((v) => (Number.isInteger(v) ? String(v) : v.toPrecision(8)));
  return `[${shown.join(', ')}${xs.length > 8 ? `, ... (${xs.length} values)` : ''}]`;
}

interface Tolerance {
  atol: number;
  rtol: number;
}

/**
 * Throws GradCheckError unless |actual - expected| <= atol + rtol * scale elementwise, where
 * the scale is |expected| unless given.
 */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance, mode: string, order: number, what: string, scale?: ArrayLike<number>): void {
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const excess = Math.abs(a - e) - (tol.atol + tol.rtol * (scale ? scale[i] : Math.abs(e)));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (actual.length !== expected.length || worst >= 0) {
    const at = worst >= 0 ? ` (worst at element ${worst}: ${actual[worst]} vs ${expected[worst]})` : ` (${actual.length} vs ${expected.length} values)`;
    throw new GradCheckError(
      `checkGrads: ${mode} (order ${order}) disagrees with central finite differences${what ? ` for ${what}` : ''}${at}, atol ${tol.atol}, rtol ${tol.rtol}:\n` +
        `  derivative:          ${describe(actual)}\n  finite differences:  ${describe(expected)}`,
      mode,
      order,
      Array.from(actual),
      Array.from(expected),
    );
  }
}

// Finite differences ---------------------------------------------------------------------

type LeafFunction = (...leaves: Tensor[]) => unknown;

/**
 * The central difference of fourth order: f'(x) ~ (-f(x+2h) + 8 f(x+h) - 8 f(x-h) + f(x-2h)) / 12h,
 * whose error is O(h^4) (the two-point formula's is O(h^2)), so that in float64 it is
 * limited by rounding (~1e-16 |f| / h) rather than by the curvature of f.
 */
function stencil(at: (offset: number) => Float64Array, h: number): Float64Array {
  const [p2, p1, m1, m2] = [at(2 * h), at(h), at(-h), at(-2 * h)];
  const d = new Float64Array(p1.length);
  for (let k = 0; k < d.length; k++) d[k] = (-p2[k] + 8 * p1[k] - 8 * m1[k] + m2[k]) / (12 * h);
  return d;
}

/** Central differences of `f` at `primals` along `tangents`, per output leaf, in float64. */
function centralDifference(f: LeafFunction, primals: readonly Tensor[], tangents: readonly Tensor[], eps: number): Tensor[] {
  const evaluations = new Map<number, Tensor[]>();
  const outputsAt = (offset: number) => {
    let outs = evaluations.get(offset);
    if (!outs) {
      outs = outputLeaves(f(...primals.map((p, i) => p.add(tangents[i].cast(p.dtype).mul(offset)))));
      evaluations.set(offset, outs);
    }
    return outs;
  };
  return outputsAt(eps).map((p, i) => tensor(stencil((offset) => values(outputsAt(offset)[i]), eps), { shape: p.shape, dtype: 'float64' }));
}

/** Flattens an argument list to its leaves and rebuilds it. */
function flattenArgs(args: readonly unknown[]): { leaves: unknown[]; def: TreeDef; rebuild: (leaves: readonly unknown[]) => unknown[] } {
  const [leaves, def] = treeFlatten(args);
  return { leaves, def, rebuild: (ls) => treeUnflatten(def, ls) as unknown[] };
}

/**
 * The directional derivative of `f` at `primals` along `tangents` by central finite
 * differences (the fourth-order stencil at x ± eps t, x ± 2 eps t), with the structure of
 * f's output, computed in float64 (float primals and numbers are cast to it).
 * @example
 * numericalJvp((x: Tensor) => x.sin(), [tensor([0, 1], { dtype: 'float64' })], [tensor([1, 1], { dtype: 'float64' })]);
 * // ~ cos([0, 1])
 */
export function numericalJvp<Args extends unknown[], Out>(f: (...args: Args) => Out, primals: Args, tangents: TangentsOf<Args>, opts: { eps?: number } = {}): GradOf<Out> {
  const x = flattenArgs(primals);
  const [t] = treeFlatten(tangents);
  const g: LeafFunction = (...leaves) => (f as (...a: unknown[]) => unknown)(...x.rebuild(leaves));
  const points = x.leaves.map(toFloat64) as Tensor[];
  const [, outDef] = treeFlatten(g(...points));
  const diffs = centralDifference(g, points, (t as unknown[]).map(toFloat64) as Tensor[], opts.eps ?? 1e-4);
  return treeUnflatten(outDef, diffs) as GradOf<Out>;
}

/**
 * The gradient of a scalar function by central finite differences (fourth order), one
 * coordinate at a time (4 n evaluations of f). The result has the structure of argument `argnums`.
 * @example
 * numericalGrad((x: Tensor) => x.square().sum(), [tensor([1, 2], { dtype: 'float64' })]); // ~ [2, 4]
 */
export function numericalGrad<Args extends unknown[], const A extends number = 0>(f: (...args: Args) => Tensor, args: Args, opts: { argnums?: A; eps?: number } = {}): GradsAt<Args, NoInfer<A>> {
  const argnum = opts.argnums ?? 0;
  const eps = opts.eps ?? 1e-4;
  const [leaves, def] = treeFlatten<unknown>(args[argnum]);
  const call = (ls: readonly unknown[]) => {
    const full = [...args];
    full[argnum] = treeUnflatten(def, ls);
    return (f as (...a: unknown[]) => Tensor)(...full);
  };
  const grads = leaves.map((leaf, k) => {
    const x = leaf as Tensor;
    const base = values(x);
    const out = new Float64Array(base.length);
    const at = (i: number, delta: number) => {
      const moved = Float64Array.from(base);
      moved[i] += delta;
      const ls = [...leaves];
      ls[k] = tensor(moved, { shape: x.shape, dtype: 'float64' });
      return Float64Array.of(call(ls).cast('float64').item());
    };
    for (let i = 0; i < base.length; i++) out[i] = stencil((delta) => at(i, delta), eps)[0];
    return tensor(out, { shape: x.shape, dtype: 'float64' });
  });
  return treeUnflatten(def, grads) as GradsAt<Args, NoInfer<A>>;
}

/**
 * The Jacobian of `f` at a single tensor `x` by central finite differences, of shape
 * `[...out.shape, ...x.shape]` (as jacrev and jacfwd), in float64.
 * @example
 * numericalJacobian((x: Tensor) => x.sin(), tensor([0, 1], { dtype: 'float64' })); // ~ diag(cos([0, 1]))
 */
export function numericalJacobian(f: (x: Tensor) => Tensor, x: Tensor, opts: { eps?: number } = {}): Tensor {
  const eps = opts.eps ?? 1e-4;
  const base = values(x);
  const at = (i: number, delta: number) => {
    const moved = Float64Array.from(base);
    moved[i] += delta;
    return values(f(tensor(moved, { shape: x.shape, dtype: 'float64' })));
  };
  const outShape = f(tensor(base, { shape: x.shape, dtype: 'float64' })).shape;
  const m = sizeOf(outShape);
  const n = base.length;
  const jac = new Float64Array(m * n);
  for (let j = 0; j < n; j++) {
    const column = stencil((delta) => at(j, delta), eps);
    for (let i = 0; i < m; i++) jac[i * n + j] = column[i];
  }
  return tensor(jac, { shape: [...outShape, ...x.shape], dtype: 'float64' });
}

// checkGrads -------------------------------------------------------------------------------

interface CheckContext {
  eps: number;
  tol: Tolerance;
  rng: Directions;
}

/** Forward mode: jvp along a random tangent against central differences along it. */
function checkJvp(f: LeafFunction, primals: readonly Tensor[], ctx: CheckContext, mode: string, order: number): void {
  const tangents = primals.map((p) => ctx.rng.tensor(p.shape));
  const [, tangentOut] = jvp(f as (...a: Tensor[]) => unknown, [...primals], tangents);
  const actual = outputLeaves(tangentOut);
  const expected = centralDifference(f, primals, tangents, ctx.eps);
  actual.forEach((a, i) => {
    if (isFloat(a.dtype)) expectClose(values(a), values(expected[i]), ctx.tol, mode, order, actual.length > 1 ? `output ${i}` : '');
  });
}

/** Reverse mode: <vjp(u), v> against <u, J v> with J v by central differences. */
function checkVjp(f: LeafFunction, primals: readonly Tensor[], ctx: CheckContext, mode: string, order: number): void {
  const [out, back] = vjp(f as (...a: Tensor[]) => unknown, [...primals]);
  const [, outDef] = treeFlatten(out);
  const cotangents = outputLeaves(out).map((o) => (isFloat(o.dtype) ? ctx.rng.tensor(o.shape) : o.mul(0)));
  const pulled = outputLeaves((back as (ct: unknown) => unknown)(treeUnflatten(outDef, cotangents)));
  const tangents = primals.map((p) => ctx.rng.tensor(p.shape));
  const jv = centralDifference(f, primals, tangents, ctx.eps);
  const actual = inner(pulled, tangents);
  const expected = inner(cotangents, jv);
  // Relative to the size of the terms: the sums may cancel to far less than their terms.
  const scale = Math.max(actual.scale, expected.scale);
  expectClose([actual.value], [expected.value], ctx.tol, mode, order, 'the inner product <vjp(u), v> vs <u, J v>', [scale]);
}

function checkRecursive(f: LeafFunction, primals: readonly Tensor[], order: number, modes: readonly GradMode[], ctx: CheckContext, depth: number, label: string): void {
  const name = (m: string) => (label ? `${m} of ${label}` : m);
  if (modes.includes('fwd')) {
    checkJvp(f, primals, ctx, name('JVP'), depth);
    if (order > 1) {
      // The jvp as a function of (primals, tangents), checked at tangents = primals (as JAX).
      const n = primals.length;
      const fJvp: LeafFunction = (...xs) => jvp(f as (...a: Tensor[]) => unknown, xs.slice(0, n), xs.slice(n));
      checkRecursive(fJvp, [...primals, ...primals], order - 1, modes, ctx, depth + 1, name('JVP'));
    }
  }
  if (modes.includes('rev')) {
    checkVjp(f, primals, ctx, name('VJP'), depth);
    if (order > 1) {
      // The vjp as a function of the primals, pulling back the output itself (as JAX).
      const fVjp: LeafFunction = (...xs) => {
        const [out, back] = vjp(f as (...a: Tensor[]) => unknown, xs);
        const [, def] = treeFlatten(out);
        const cts = outputLeaves(out).map((o) => (isFloat(o.dtype) ? o : o.mul(0)));
        return (back as (ct: unknown) => unknown)(treeUnflatten(def, cts));
      };
      checkRecursive(fVjp, primals, order - 1, modes, ctx, depth + 1, name('VJP'));
    }
  }
}

/**
 * Checks the derivatives of `f` at `args` against central finite differences in float64,
 * as JAX's `check_grads`: float arguments (pytrees of tensors or numbers) are cast to
 * float64; forward mode compares `jvp` along a random tangent with the finite difference
 * along it, reverse mode compares `<vjp(u), v>` with `<u, J v>` (relative to the sum of
 * the terms' magnitudes). The differences are central and of fourth order, so that the
 * default tolerances (1e-5) hold well away from kinks and poles. With `order` 2 (the
 * default) the jvp and vjp functions are themselves checked, and so on. Integer and bool
 * leaves are held fixed. Throws a `GradCheckError` naming the mode, the order and the
 * values on a mismatch.
 * @example
 * checkGrads((x: Tensor) => x.sin().mul(x), [tensor([0.5, 1.5])]); // passes
 * checkGrads((x: Tensor, p: { w: Tensor }) => x.matmul(p.w).tanh(), [x, { w }], { order: 1, modes: ['rev'] });
 */
export function checkGrads(f: (...args: never[]) => unknown, args: readonly unknown[], opts: CheckGradsOptions = {}): void {
  const order = opts.order ?? 2;
  if (!Number.isInteger(order) || order < 1) throw new RangeError(`checkGrads: order ${order} must be a whole number >= 1`);
  const modes = opts.modes ?? ['fwd', 'rev'];
  for (const m of modes) if (m !== 'fwd' && m !== 'rev') throw new RangeError(`checkGrads: unknown mode ${describeValue(m)}; use 'fwd' and/or 'rev'`);
  const ctx: CheckContext = {
    eps: opts.eps ?? 1e-4,
    tol: { atol: opts.atol ?? opts.tol ?? 1e-5, rtol: opts.rtol ?? opts.tol ?? 1e-5 },
    rng: new Directions(opts.seed ?? 0),
  };
  const { leaves, rebuild } = flattenArgs(args);
  const cast = leaves.map(toFloat64);
  const varying = cast.flatMap((l, i) => (l instanceof Tensor && isFloat(l.dtype) ? [i] : []));
  if (varying.length === 0) throw new RangeError('checkGrads: no float tensor among the arguments; there is nothing to differentiate');
  const g: LeafFunction = (...vars) => {
    const ls = [...cast];
    varying.forEach((at, k) => (ls[at] = vars[k]));
    return (f as (...a: unknown[]) => unknown)(...rebuild(ls));
  };
  checkRecursive(g, varying.map((i) => cast[i] as Tensor), order, modes, ctx, 1, '');
}
