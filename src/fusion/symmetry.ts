/**
 * Symmetric outputs computed once per pair: a DAG rewrite run just before hoisting
 * (hoist.ts), on serial-loop devices. A sum over axes K of a product of factors,
 *
 *   R[.., i, .., j, ..] = sum_K scale * prod_k F_k[.., i, .., j, .., K],
 *
 * is symmetric in two output axes a, b of one extent when swapping a and b maps the factors
 * onto themselves: each F_k read at the swapped index is, as a lowered kernel expression
 * (compared by a canonical key: hash-consed, reductions' own loop variables renamed), some
 * F_m read at the original index, a one-to-one matching. For the Hessian's `sum_h A[h,i] s[n,h] (-2 A[h,j])` the swap maps
 * A[h,i] to A[h,j] and back, and s to itself. That is a proof, never a guess: A[h,i] B[h,j]
 * is not matched (A[h,j] is not a factor), nor is a factor read at an index the swap changes
 * (C[i] alone). It proves symmetry in real arithmetic: the product is reassociated, as
 * broadcast factoring and hoisting already do (an ulp or so): it runs only with factoring on,
 * and under its own switches.
 *
 * Two uses. `markSymmetric` (on by default, `mirrorSwitch`): the sum is left whole and the
 * fact handed to its kernel (`BufferSpec.symmetric`), where wasm's GEMM computes the blocks
 * I <= J and stores each mirror from the same registers. `splitSymmetric` (off,
 * `symmetrySwitch`: see there why), a DAG rewrite into blocks:
 *
 * The rewrite splits axes a and b at h = D/2 (rounded to a multiple of 4 where D >= 8) and
 * computes three blocks, [0,h)x[0,h), [0,h)x[h,D), [h,D)x[h,D), each a sum over the shrunk
 * factors (hoisting then stores each block's invariant product contiguously), and places
 * the fourth as the transpose of the off-diagonal one: 3/4 of the multiply-adds, plus one
 * pass that assembles the output from the three blocks (the blocks are materialized; the
 * assembly is a `where` chain of padded pieces, as `concat` builds).
 */
import { filled, prim } from '../lazy/build.js';
import { isFloat } from '../lazy/dtype.js';
import { sizeOf } from '../lazy/shape.js';
import type { Node } from '../lazy/node.js';
import { newVar, varIndex, type Affine } from './affine.js';
import { ExprBuilder, type Expr } from './expr.js';
import { Lowerer } from './lower.js';

/** Only outputs whose paired axes have at least this extent are split (a 4x4 block is one f32x4 row each). */
export const MIN_SYMMETRIC_EXTENT = 8;

/**
 * The split's switch and its threshold. Off by default: the proof is sound and tested, but on
 * today's wasm and js code the split costs more than the quarter of the multiply-adds it
 * saves. Measured (interleaved, loaded 2-core machine): at the D=8 H=32 Hessian the assembling
 * pass (a `where` chain of guarded pieces, scalar) took 10 ms where the three block
 * contractions took 1.2 ms; X^T X ran 0.58x at X [2048, 64] and 1.03x at [4096, 128] (the
 * blocks' narrower contractions tile worse). What would make it pay is the hand-written
 * kernel's way (bench/peers/HAND-WASM.md): the mirror written by the kernel that computes the
 * block, transposed in registers. `minTermsPerOutput`: each output element must sum at least
 * this many terms (the split saves a quarter of them and costs one pass over the output).
 * It is off with factoring too (`withoutFactoring`), as hoisting is.
 */
export const symmetrySwitch = { enabled: false, minTermsPerOutput: 256 };

/** How many sums were split, and how many were marked symmetric for their kernel (for tests: the proof fired). */
export const symmetryStats = { splits: 0, marked: 0 };

/**
 * The other use of the proof, on by default: the sum is left whole and marked with the pair
 * of output axes it is symmetric in (`symmetricPairOf`); the scheduler hands that fact to the
 * kernel that stores the sum (its output buffer's `symmetric`, kernel.ts), and a backend that
 * can computes each pair of mirrored blocks once (the wasm GEMM: the blocks I <= J, each
 * stored twice, transposed in registers). No assembly pass, no extra buffers: where the
 * backend cannot use it, the kernel computes the whole output as before.
 * `minExtent`: the paired axes must be at least this long (a 4x4 block is one f32x4 per row).
 */
export const mirrorSwitch = { enabled: true, minExtent: 4 };

/** Sums proved symmetric: the node and the pair of its axes (a < b). A fact about its value, so a global, weak table. */
const symmetricPairs = new WeakMap<Node, readonly [number, number]>();

/**
 * The pair of axes in which `node`'s value was proved symmetric, if it was: a marked sum, or
 * a permutation or a reshape (one that only adds or drops axes of extent 1) of one, as vmap
 * and hessian leave the batched Hessian's sum [N, D, 1, 1, 1, D] as [N, D, D].
 * @example
 * symmetricPairOf(hessianSum.reshape([N, D, D])); // [1, 2]
 */
export function symmetricPairOf(node: Node): readonly [number, number] | undefined {
  const marked = symmetricPairs.get(node);
  if (marked || node.inputs.length !== 1) return marked;
  const [input] = node.inputs;
  if (node.op !== 'permute' && node.op !== 'reshape') return undefined;
  const below = symmetricPairOf(input);
  if (!below) return undefined;
  let axes: number[];
  if (node.op === 'permute') {
    const perm = node.attrs.perm as readonly number[];
    axes = below.map((axis) => perm.indexOf(axis));
  } else {
    const long = (shape: readonly number[]) => shape.flatMap((d, axis) => (d > 1 ? [axis] : []));
    const [from, to] = [long(input.shape), long(node.shape)];
    if (from.length !== to.length || from.some((axis, k) => input.shape[axis] !== node.shape[to[k]])) return undefined;
    axes = below.map((axis) => to[from.indexOf(axis)]);
  }
  if (axes.some((axis) => axis < 0)) return undefined;
  const [a, b] = [...axes].sort((x, y) => x - y);
  return [a, b];
}

/**
 * Proves `sum` symmetric and, where it is, marks `marked` (the sum as rewritten afterwards,
 * e.g. hoisted: the same value) with the pair. Cheap checks first: a float sum with two
 * output axes of one extent of at least `mirrorSwitch.minExtent`.
 * @example
 * markSymmetric(sum, factorsOf(sum.inputs[0]), isInputLeaf, hoisted); // symmetricPairOf(hoisted): [1, 2]
 */
export function markSymmetric(sum: Node, product: Product, isBoundary: (n: Node) => boolean, marked: Node): void {
  if (!mirrorSwitch.enabled || sum.op !== 'reduce_sum' || !isFloat(sum.dtype) || product.factors.length < 2) return;
  const shape = sum.inputs[0].shape;
  const extents = shape.filter((d, axis) => d >= mirrorSwitch.minExtent && sum.shape[axis] === d);
  if (new Set(extents).size === extents.length) return;
  const pair = symmetricAxes(sum, product, isBoundary).find(([a]) => sum.shape[a] >= mirrorSwitch.minExtent);
  if (!pair || marked.shape.length !== sum.shape.length) return;
  symmetricPairs.set(marked, pair);
  symmetryStats.marked++;
}

/** A sum's input as scale * product(factors), as hoist.ts's `factorsOf` reads it. */
export interface Product {
  scale: number;
  factors: Node[];
}

/**
 * The pairs of output axes (a < b) in which `sum = reduce_sum(scale * prod factors)` is proved
 * symmetric; `factors` all have the shape of the sum's input.
 * @example
 * // sum_h A[h,i] s[n,h] A[h,j]: symmetric in the axes of i and j
 * symmetricAxes(sum, { scale: -2, factors: [ai, s, aj] }, isInputLeaf); // [[1, 2]]
 */
export function symmetricAxes(sum: Node, product: Product, isBoundary: (n: Node) => boolean): [number, number][] {
  const shape = sum.inputs[0].shape;
  const outputAxes = shape.flatMap((d, axis) => (d > 1 && sum.shape[axis] === d ? [axis] : []));
  const pairs: [number, number][] = [];
  if (product.factors.length === 0) return pairs;
  const vars = shape.map((d) => newVar(d, 'output'));
  const index = vars.map(varIndex);
  // Factors are lowered through their definitions down to `isBoundary` nodes, so that a
  // computed copy of a matrix (vmap's basis vectors summed against A: sum_k e_i[k] A[h,k],
  // which the builder folds to A[h,i]) is seen as the matrix it is. Two readings, each sound:
  // realized nodes as loads (the basis vectors' one-hot form stays visible), or movement ops
  // down to their inputs wherever they still have them (two lazy reshapes of one A read A).
  // A realized view keeps no input: two views of one user buffer are two sources to both.
  // Gathers' kin and opaque calls are computed by kernels of their own: read as loads.
  const ownKernel = (n: Node) => n.rule.kind === 'opaque' || (n.rule.kind === 'index' && n.op !== 'gather');
  const readings = [
    (n: Node) => isBoundary(n) || n.realized !== null || ownKernel(n),
    (n: Node) => n.inputs.length === 0 || (n.rule.kind !== 'movement' && (isBoundary(n) || n.realized !== null || ownKernel(n))),
  ];
  // Each reading lowers a factor (and keys it) when a pair first needs it: the first reading
  // proves the common cases (the Hessian's), and lowering is most of the proof's cost.
  const proofs = readings.map((boundary) => {
    const lowerer = new Lowerer(new ExprBuilder(), boundary);
    const canonical = canonicalizer();
    const lowered: Expr[] = [];
    const original: string[] = [];
    const keyOf = (k: number): string => {
      if (original[k] === undefined) original[k] = canonical((lowered[k] = lowerer.lower(product.factors[k], index)));
      return original[k];
    };
    return { lowerer, canonical, lowered, keyOf };
  });
  // The output variables each factor reads through its movement ops alone (a sound bound: its
  // value depends on no others), cheap to find: a factor that reads neither swapped variable
  // is its own image under the swap and is not lowered through its definition at all (the
  // Hessian's s[n,h], most of the proof's lowering).
  const shallow = new Lowerer(new ExprBuilder(), (n) => n.rule.kind !== 'movement' || n.realized !== null);
  const reads = product.factors.map((f) => new Set(shallow.lower(f, index).vars.map((v) => v.id)));
  const all = product.factors.map((_, k) => k);
  for (let x = 0; x < outputAxes.length; x++) {
    for (let y = x + 1; y < outputAxes.length; y++) {
      const [a, b] = [outputAxes[x], outputAxes[y]];
      if (shape[a] !== shape[b]) continue;
      const swapped: Affine[] = [...index];
      [swapped[a], swapped[b]] = [index[b], index[a]];
      const [va, vb] = [vars[a].id, vars[b].id];
      // The swap must map the factors `among` one-to-one onto themselves (the others onto
      // themselves each).
      const closed = (among: readonly number[]) => proofs.some(({ lowerer, canonical, lowered, keyOf }) => {
        const unmatched = new Map<string, number>();
        for (const k of among) unmatched.set(keyOf(k), (unmatched.get(keyOf(k)) ?? 0) + 1);
        return among.every((k) => {
          // A factor whose value does not depend on the two swapped variables is the same
          // value at the swapped index: its own key, without lowering it again.
          const moved = lowered[k].vars.some((v) => v.id === va || v.id === vb);
          const key = moved ? canonical(lowerer.lower(product.factors[k], swapped)) : keyOf(k);
          const left = unmatched.get(key) ?? 0;
          unmatched.set(key, left - 1);
          return left > 0;
        });
      });
      const movedByIndex = all.filter((k) => reads[k].has(va) || reads[k].has(vb));
      // Every factor in the matching too, where the first try fails: a factor may read a
      // swapped variable and still be the image of one that reads neither.
      if (closed(movedByIndex) || (movedByIndex.length < all.length && closed(all))) pairs.push([a, b]);
    }
  }
  return pairs;
}

/**
 * A key of an expression that is equal for equal expressions up to the names of reductions'
 * own loop variables (each lowering of a sum gets fresh ones: the sum z[n,h] = sum_d A[h,d]
 * x[n,d] lowered twice at one index is two expressions, one value). The hash-consed keys
 * already order the arguments of commutative ops.
 */
function canonicalizer(): (e: Expr) => string {
  const memo = new Map<number, string>();
  const canonical = (e: Expr, depth: number): string => {
    const known = depth === 0 ? memo.get(e.id) : undefined;
    if (known !== undefined) return known;
    let key: string;
    switch (e.kind) {
      case 'op': {
        const args = e.args.map((x) => canonical(x, depth));
        key = `${e.op}:${e.dtype}(${(COMMUTATIVE_OPS.has(e.op) ? [...args].sort() : args).join(',')})`;
        break;
      }
      case 'guard':
        key = `G[${e.bounds.map((b) => `${b.lo}<=${b.index.key}<=${b.hi}`).join(';')}](${canonical(e.value, depth)})`;
        break;
      case 'check':
        key = `K(${canonical(e.value, depth)})<${e.size}`;
        break;
      case 'reduce': {
        // The loop variables renamed by nesting depth and position: v123 -> r0.1.
        const renamed = new Map(e.loops.map((v, k) => [v.id, `r${depth}.${k}`]));
        const body = canonical(e.body, depth + 1).replace(/v(\d+)(?!\d)/g, (m, id: string) => renamed.get(Number(id)) ?? m);
        key = `S${e.op}:${e.dtype}[${e.loops.map((v) => v.extent).join(',')}](${body})`;
        break;
      }
      default:
        key = e.key;
    }
    if (depth === 0) memo.set(e.id, key);
    return key;
  };
  return (e) => canonical(e, 0);
}

const COMMUTATIVE_OPS = new Set(['add', 'mul', 'max', 'eq']);

/** Where to split an axis of extent d: half, on a multiple of 4 where there is room. */
function splitPoint(d: number): number {
  const half = Math.floor(d / 2);
  return d >= 8 ? half - (half % 4) : half;
}

export interface SymmetricSplit {
  /** The output, assembled from the blocks. */
  readonly node: Node;
  /** The three computed blocks (each a sum, as `finishBlock` left it): to be materialized. */
  readonly blocks: readonly Node[];
}

/**
 * The sum rewritten as three blocks and the transpose of one (see the module comment), or
 * undefined when no pair of its output axes is proved symmetric or the axes are short.
 */
export function splitSymmetric(sum: Node, product: Product, isBoundary: (n: Node) => boolean, finishBlock: (block: Node) => Node = (b) => b): SymmetricSplit | undefined {
  if (!symmetrySwitch.enabled || sum.op !== 'reduce_sum' || !isFloat(sum.dtype)) return undefined;
  // Each output element must be a sum of enough terms to pay for the assembly pass.
  if (sizeOf(sum.inputs[0].shape) < symmetrySwitch.minTermsPerOutput * sizeOf(sum.shape)) return undefined;
  const pair = symmetricAxes(sum, product, isBoundary).find(([a]) => sum.shape[a] >= MIN_SYMMETRIC_EXTENT);
  if (!pair) return undefined;
  const [a, b] = pair;
  const shape = sum.inputs[0].shape;
  const D = shape[a];
  const h = splitPoint(D);
  const block = (ra: [number, number], rb: [number, number]): Node => {
    const ranges = shape.map((d, axis): [number, number] => (axis === a ? ra : axis === b ? rb : [0, d]));
    const parts = product.factors.map((f) => prim('shrink', [f], { ranges }));
    let body = parts.reduce((acc, p) => prim('mul', [acc, p]));
    if (product.scale !== 1) body = prim('mul', [body, filled(product.scale, body.shape, body.dtype)]);
    const out = sum.shape.map((d, axis) => (axis === a ? ra[1] - ra[0] : axis === b ? rb[1] - rb[0] : d));
    return finishBlock(prim('reduce_sum', [body], { shape: out }));
  };
  const upperLeft = block([0, h], [0, h]);
  const upperRight = block([0, h], [h, D]);
  const lowerRight = block([h, D], [h, D]);
  const perm = sum.shape.map((_, axis) => (axis === a ? b : axis === b ? a : axis));
  const lowerLeft = prim('permute', [upperRight], { perm });
  const place = (piece: Node, at: [number, number]): { value: Node; mask: Node } => {
    const pads = sum.shape.map((d, axis): [number, number] => (axis === a ? [at[0], d - at[0] - piece.shape[a]] : axis === b ? [at[1], d - at[1] - piece.shape[b]] : [0, 0]));
    return { value: prim('pad', [piece], { pads }), mask: prim('pad', [filled(1, piece.shape, 'bool')], { pads }) };
  };
  const pieces = [place(upperRight, [0, h]), place(lowerLeft, [h, 0]), place(lowerRight, [h, h])];
  let node = place(upperLeft, [0, 0]).value;
  for (const p of pieces) node = prim('where', [p.mask, p.value, node]);
  symmetryStats.splits++;
  return { node, blocks: [upperLeft, upperRight, lowerRight] };
}
