/** Tracing a user function on fresh Params: the first step of every transform. */
import { paramNode } from '../lazy/build.js';
import { isFloat } from '../lazy/dtype.js';
import { ArgumentError, describeValue, DTypeError } from '../lazy/errors.js';
import type { Node } from '../lazy/node.js';
import { treeFlatten, treeUnflatten, type TreeDef } from '../lazy/pytree.js';
import { substitute } from '../lazy/rewrite.js';
import { Tensor } from '../lazy/tensor.js';
import { asTensor } from '../lazy/ops/core.js';
import { formatShape } from '../lazy/shape.js';

/** One argument position's flattened tensors and their Params. */
export interface TracedArgument {
  readonly def: TreeDef;
  readonly primals: Tensor[];
  readonly params: Node[];
}

/** Converts a leaf to a tensor: tensors stay, JavaScript numbers become float32 scalars. */
export function leafToTensor(leaf: unknown, what: string): Tensor {
  if (leaf instanceof Tensor) return leaf;
  if (typeof leaf === 'number') return asTensor(leaf);
  throw new ArgumentError(`${what}: expected tensors (or numbers) in the pytree, got ${leaf === null ? 'null' : typeof leaf}`);
}

/**
 * Mints one Param per tensor leaf of `arg`. Under differentiation the Params are bound to
 * the leaves (their values exist); under vmap, jit and makeGraph they are not.
 */
export function mintParams(arg: unknown, transform: string, bind: boolean, requireFloat: string | null): TracedArgument {
  const [leaves, def] = treeFlatten(arg);
  const primals = leaves.map((l) => leafToTensor(l, transform));
  if (requireFloat) {
    primals.forEach((p) => {
      if (!isFloat(p.dtype)) {
        throw new DTypeError(`${transform}: ${requireFloat} has dtype ${p.dtype} (shape ${formatShape(p.shape)}); only float32/float64 inputs can be differentiated: cast with x.cast('float32') or leave the argument out of argnums`);
      }
    });
  }
  const params = primals.map((p) => paramNode(p.shape, p.dtype, bind ? p.node : null, transform));
  return { def, primals, params };
}

export function argumentOf(traced: TracedArgument): unknown {
  return treeUnflatten(traced.def, traced.params.map((p) => new Tensor(p)));
}

/** Flattens a function result to tensors. */
export function flattenOutput(out: unknown, transform: string): { leaves: Tensor[]; def: TreeDef } {
  const [leaves, def] = treeFlatten(out);
  return { leaves: leaves.map((l) => leafToTensor(l, `${transform} (function output)`)), def };
}

/** Swaps each Param for the primal it stands for, in a list of tensors. */
export function bindBack(tensors: readonly Tensor[], args: readonly TracedArgument[]): Tensor[] {
  const replacements = new Map<Node, Node>();
  for (const a of args) a.params.forEach((p, i) => replacements.set(p, a.primals[i].node));
  return substitute(tensors.map((t) => t.node), replacements).map((n) => new Tensor(n));
}

/** Swaps Params for primals in every tensor leaf of an arbitrary value (e.g. aux outputs). */
export function bindBackTree(tree: unknown, args: readonly TracedArgument[]): unknown {
  const [leaves, def] = treeFlatten(tree);
  const tensorAt = leaves.flatMap((l, i) => (l instanceof Tensor ? [i] : []));
  const bound = bindBack(tensorAt.map((i) => leaves[i] as Tensor), args);
  const out = [...leaves];
  tensorAt.forEach((i, k) => (out[i] = bound[k]));
  return treeUnflatten(def, out);
}

/** Normalizes argnums against the number of arguments. */
export function resolveArgnums(argnums: number | readonly number[], count: number, transform: string): number[] {
  const list = typeof argnums === 'number' ? [argnums] : [...argnums];
  return list.map((a) => {
    if (!Number.isInteger(a) || a < -count || a >= count) {
      throw new ArgumentError(`${transform}: argnums ${describeValue(argnums)} points past the ${count} argument(s) given; use indices in [0, ${count - 1}]`);
    }
    return a < 0 ? a + count : a;
  });
}

export function splitAux(result: unknown, transform: string): [unknown, unknown] {
  if (!Array.isArray(result) || result.length !== 2) {
    throw new ArgumentError(`${transform}: with hasAux the function must return [output, aux], got ${Array.isArray(result) ? `an array of ${result.length}` : typeof result}`);
  }
  return [result[0], result[1]];
}
