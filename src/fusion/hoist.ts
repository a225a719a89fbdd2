/**
 * Hoisting batch-invariant products out of contractions: a DAG rewrite the scheduler runs
 * after broadcast factoring. A sum over axes K of a product of factors, some of which do not
 * depend on an output axis n (the batch), is rewritten as a contraction of the factors that
 * do with the product of those that do not, computed once and stored:
 *
 *   H[n, i, j] = sum_h A[h, i] * s[n, h] * (-2 A[h, j])
 *             -> sum_h s[n, h] * P[h, i, j],   P[h, i, j] = -2 A[h, i] A[h, j]   (stored)
 *
 * which is what a hand-writer does for batched Hessians: the update becomes a matrix product
 * S [N, H] x P [H, D*D] (P stored with the summed axes first, so each of its rows is
 * contiguous over the output's axes), two loads and one multiply-add per term instead of
 * three loads and three multiplications. Products are seen through multiplications,
 * negations, `x + x`, constant factors and reshape/expand/permute (which commute with
 * elementwise products); which output axes a factor depends on is read off its lowered index.
 * Like broadcast factoring, it reassociates float32 products (an ulp or so; an overflow can
 * move), leaves values that feed an equality alone and is off under `withoutFactoring`.
 */
import { constValueOf, filled, prim } from '../lazy/build.js';
import { isFloat } from '../lazy/dtype.js';
import { topoSort, type Node } from '../lazy/node.js';
import { inversePermutation, sizeOf } from '../lazy/shape.js';
import { newVar, varIndex, varsOf } from './affine.js';
import { ExprBuilder } from './expr.js';
import { factoringSwitch } from './factor.js';
import { Lowerer } from './lower.js';
import { markSymmetric, splitSymmetric, symmetrySwitch } from './symmetry.js';

/** Movement ops that commute with an elementwise product (pad does too, but guards its reads). */
const COMMUTES = new Set(['reshape', 'expand', 'permute']);
/**
 * Each element of the hoisted product must serve at least this many terms of the sum (a batch
 * of 32 or more): below it, storing the product costs about what recomputing it does, and the
 * scheduler's own choice (recompute cheap products inline) stands.
 */
const MIN_REUSE = 32;

interface Factors {
  scale: number;
  factors: Node[];
}

/** `node` as scale * product(factors), each factor of node's shape; a lone factor is itself. */
function factorsOf(node: Node, keep: ReadonlySet<Node>, isLeaf: (n: Node) => boolean): Factors {
  if (isLeaf(node) || keep.has(node) || !isFloat(node.dtype)) return lone(node);
  const sameShape = (x: Node) => shapesEqual(x.shape, node.shape);
  const [a, b] = node.inputs;
  if (node.op === 'mul' && sameShape(a) && sameShape(b)) {
    const [fa, fb] = [factorsOf(a, keep, isLeaf), factorsOf(b, keep, isLeaf)];
    return { scale: fa.scale * fb.scale, factors: [...fa.factors, ...fb.factors] };
  }
  if (node.op === 'neg' && sameShape(a)) {
    const f = factorsOf(a, keep, isLeaf);
    return { scale: -f.scale, factors: f.factors };
  }
  if (node.op === 'add' && a === b && sameShape(a)) {
    const f = factorsOf(a, keep, isLeaf);
    return { scale: 2 * f.scale, factors: f.factors };
  }
  if (COMMUTES.has(node.op) && a.dtype === node.dtype) {
    const f = factorsOf(a, keep, isLeaf);
    if (f.factors.length < 2 && f.scale === 1) return lone(node);
    return { scale: f.scale, factors: f.factors.map((x) => prim(node.op, [x], node.attrs)) };
  }
  return lone(node);
}

/** `node` as one factor, or as a scale alone when it is a finite constant. */
function lone(node: Node): Factors {
  const c = constValueOf(node);
  return c !== undefined && Number.isFinite(c) ? { scale: c, factors: [] } : { scale: 1, factors: [node] };
}

function shapesEqual(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The axes of `factor`'s shape its value depends on (read off its lowered index). */
function dependentAxes(factor: Node): Set<number> {
  const vars = factor.shape.map((d) => newVar(d, 'output'));
  const lowerer = new Lowerer(new ExprBuilder(), (n) => n.rule.kind !== 'movement' || n.realized !== null);
  const value = lowerer.lower(factor, vars.map(varIndex));
  const all = () => new Set(factor.shape.flatMap((d, axis) => (d > 1 ? [axis] : [])));
  if (value.kind === 'const') return new Set();
  if (value.kind !== 'load') return all();
  const used = varsOf(value.index);
  return new Set(vars.flatMap((v, axis) => (used.has(v.id) && v.extent > 1 ? [axis] : [])));
}

export interface Hoisting {
  readonly roots: readonly Node[];
  /** The hoisted products: computed once and stored. */
  readonly store: ReadonlySet<Node>;
}

/**
 * Rewrites the sums below `roots` (see the module comment); nodes in `keep` and below `isLeaf`
 * nodes are left alone, and nodes in `stored` are single factors. `order` is `topoSort(roots, isLeaf)` where the caller has it.
 */
export function hoistInvariantProducts(roots: readonly Node[], isLeaf: (n: Node) => boolean, keep: ReadonlySet<Node>, stored: ReadonlySet<Node> = new Set(), order?: readonly Node[]): Hoisting {
  const store = new Set<Node>();
  if (!factoringSwitch.enabled) return { roots, store };
  const mapped = new Map<Node, Node>();
  // A value stored already (broadcast factoring's small products) is one factor.
  const single = (n: Node) => isLeaf(n) || stored.has(n);
  const hoist = (sum: Node): Node => {
    const hoisted = hoistFrom(sum, keep, single);
    if (!hoisted) return sum;
    store.add(hoisted.stored);
    return hoisted.node;
  };
  for (const node of order ?? topoSort(roots, isLeaf)) {
    if (isLeaf(node) || node.inputs.length === 0) continue;
    // Hot (every node of the program): no closures per node.
    let inputs = node.inputs;
    for (let i = 0; i < node.inputs.length; i++) {
      const m = mapped.get(node.inputs[i]);
      if (m === undefined) continue;
      if (inputs === node.inputs) inputs = [...node.inputs];
      (inputs as Node[])[i] = m;
    }
    let rebuilt = inputs !== node.inputs ? prim(node.op, inputs, node.attrs) : node;
    if (node.op === 'reduce_sum' && isFloat(node.dtype) && !keep.has(node)) {
      // A sum proved symmetric in two output axes: three blocks, each hoisted (symmetry.ts).
      // The proof looks through stored values to their definitions (a stored A_i A_j is symmetric).
      const split = symmetrySwitch.enabled ? splitSymmetric(rebuilt, factorsOf(rebuilt.inputs[0], keep, single), isLeaf, hoist) : undefined;
      if (split) {
        rebuilt = split.node;
        split.blocks.forEach((b) => store.add(b));
      } else {
        // Or left whole, marked symmetric for its kernel (symmetry.ts, `mirrorSwitch`).
        const sum = rebuilt;
        rebuilt = hoist(sum);
        markSymmetric(sum, factorsOf(sum.inputs[0], keep, single), isLeaf, rebuilt);
      }
    }
    if (rebuilt !== node) mapped.set(node, rebuilt);
  }
  return { roots: roots.map((r) => mapped.get(r) ?? r), store };
}

/** The sum rewritten over a stored invariant product, or undefined when none pays. */
function hoistFrom(sum: Node, keep: ReadonlySet<Node>, isLeaf: (n: Node) => boolean): { node: Node; stored: Node } | undefined {
  const [input] = sum.inputs;
  const { scale, factors } = factorsOf(input, keep, isLeaf);
  if (factors.length < 3) return undefined;
  const shape = input.shape;
  const summed = shape.flatMap((d, axis) => (d > 1 && sum.shape[axis] === 1 ? [axis] : []));
  const outputAxes = shape.flatMap((d, axis) => (d > 1 && sum.shape[axis] === d ? [axis] : []));
  if (summed.length === 0 || outputAxes.length === 0) return undefined;
  const deps = factors.map(dependentAxes);
  const terms = sizeOf(shape);
  // The batch axis: the output axis some factors do not depend on.
  let best: { invariant: number[]; axes: Set<number>; size: number } | undefined;
  for (const n of outputAxes) {
    const invariant = factors.flatMap((_, k) => (deps[k].has(n) ? [] : [k]));
    if (invariant.length < 2 || invariant.length === factors.length) continue;
    const axes = new Set(invariant.flatMap((k) => [...deps[k]]));
    const size = [...axes].reduce((p, axis) => p * shape[axis], 1);
    if (size * MIN_REUSE > terms) continue;
    // The smallest product is the one a batch shares: computed once, read by every example.
    if (!best || size < best.size || (size === best.size && invariant.length > best.invariant.length)) best = { invariant, axes, size };
  }
  if (!best) return undefined;
  // Stored with the summed axes first: a row of the product per term of the sum.
  const order = [...summed, ...shape.map((_, axis) => axis).filter((axis) => !summed.includes(axis))];
  const identity = order.every((axis, k) => axis === k);
  const small = (f: Node): Node => {
    const moved = identity ? f : prim('permute', [f], { perm: order });
    const ranges = moved.shape.map((d, k) => [0, best!.axes.has(order[k]) ? d : 1]);
    return ranges.every(([, e], k) => e === moved.shape[k]) ? moved : prim('shrink', [moved], { ranges });
  };
  const parts = best.invariant.map((k) => small(factors[k]));
  let stored = parts.reduce((acc, p) => prim('mul', [acc, p]));
  if (scale !== 1) stored = prim('mul', [stored, filled(scale, stored.shape, stored.dtype)]);
  if (stored.rule.kind !== 'elementwise') return undefined;
  const back = identity ? stored : prim('permute', [stored], { perm: inversePermutation(order) });
  const rest = factors.filter((_, k) => !best!.invariant.includes(k));
  const product = [prim('expand', [back], { shape: [...shape] }), ...rest].reduce((acc, f) => prim('mul', [acc, f]));
  return { node: prim('reduce_sum', [product], sum.attrs), stored };
}
