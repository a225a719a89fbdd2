/**
 * Pytrees: arrays and plain objects nested to any depth, whose leaves are tensors (or other
 * values). Transforms flatten their arguments and results to lists of leaves and rebuild
 * them afterwards.
 */
import { ArgumentError, describeValue } from './errors.js';
import { Tensor } from './tensor.js';
import { realizeAll } from './realize.js';

/** A nested structure of arrays and plain objects with leaves of type `L`. */
export type PyTree<L = Tensor> = L | readonly PyTree<L>[] | { readonly [key: string]: PyTree<L> };

/** The shape of a pytree without its leaves. */
export type TreeDef =
  | { readonly kind: 'leaf' }
  | { readonly kind: 'array'; readonly children: readonly TreeDef[] }
  | { readonly kind: 'object'; readonly keys: readonly string[]; readonly children: readonly TreeDef[] };

export function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x) || x instanceof Tensor) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/** Leaves in depth-first order and the structure to rebuild them. */
export function treeFlatten<L = unknown>(tree: unknown): [L[], TreeDef] {
  const leaves: L[] = [];
  const walk = (node: unknown): TreeDef => {
    if (Array.isArray(node)) return { kind: 'array', children: node.map(walk) };
    if (isPlainObject(node)) {
      const keys = Object.keys(node).sort();
      return { kind: 'object', keys, children: keys.map((k) => walk(node[k])) };
    }
    leaves.push(node as L);
    return { kind: 'leaf' };
  };
  const def = walk(tree);
  return [leaves, def];
}

export function treeUnflatten<L>(def: TreeDef, leaves: readonly L[]): PyTree<L> {
  let next = 0;
  const build = (d: TreeDef): PyTree<L> => {
    switch (d.kind) {
      case 'leaf': return leaves[next++];
      case 'array': return d.children.map(build);
      case 'object': return Object.fromEntries(d.keys.map((k, i) => [k, build(d.children[i])]));
      default: return d satisfies never;
    }
  };
  return build(def);
}

export function treeLeafCount(def: TreeDef): number {
  return def.kind === 'leaf' ? 1 : def.children.reduce((n, c) => n + treeLeafCount(c), 0);
}

/** A stable string for a structure (for cache keys and error messages). */
export function treeDefKey(def: TreeDef): string {
  switch (def.kind) {
    case 'leaf': return '*';
    case 'array': return `[${def.children.map(treeDefKey).join(',')}]`;
    case 'object': return `{${def.keys.map((k, i) => `${k}:${treeDefKey(def.children[i])}`).join(',')}}`;
    default: return def satisfies never;
  }
}

export function treeMap<A, B>(tree: PyTree<A>, f: (leaf: A, index: number) => B): PyTree<B> {
  const [leaves, def] = treeFlatten<A>(tree);
  return treeUnflatten(def, leaves.map(f));
}

/**
 * Expands a prefix tree (e.g. vmap's inDims) to one entry per leaf of `full`: a leaf of
 * the prefix applies to the whole subtree below it.
 */
export function broadcastPrefix<P>(prefix: unknown, full: unknown, what: string, isPrefixLeaf: (x: unknown) => x is P): P[] {
  const out: P[] = [];
  const walk = (p: unknown, f: unknown, path: string) => {
    if (isPrefixLeaf(p)) {
      const [leaves] = treeFlatten(f);
      for (let i = 0; i < leaves.length; i++) out.push(p);
      return;
    }
    if (Array.isArray(p)) {
      if (!Array.isArray(f) || f.length !== p.length) {
        throw new ArgumentError(`${what}: at ${path || 'the top'} the spec is an array of ${p.length} entries but the value is ${Array.isArray(f) ? `an array of ${f.length}` : 'not an array'}; give one entry per element`);
      }
      p.forEach((c, i) => walk(c, f[i], `${path}[${i}]`));
      return;
    }
    if (isPlainObject(p)) {
      if (!isPlainObject(f)) throw new ArgumentError(`${what}: at ${path || 'the top'} the spec is an object but the value is not`);
      const keys = Object.keys(f).sort();
      const pk = Object.keys(p).sort();
      if (keys.join(',') !== pk.join(',')) throw new ArgumentError(`${what}: at ${path || 'the top'} the spec has keys {${pk.join(', ')}} but the value has {${keys.join(', ')}}`);
      for (const k of keys) walk(p[k], f[k], `${path}.${k}`);
      return;
    }
    throw new ArgumentError(`${what}: ${describeValue(p)} at ${path || 'the top'} is not a valid entry`);
  };
  walk(prefix, full, '');
  return out;
}

/**
 * Computes every tensor of a pytree in one schedule (work they share is done once) and
 * keeps the values; returns the tree. Exported as `realize`.
 * @example
 * const grads = grad(loss)(weights, x, y);
 * realize(grads); // one program for all the gradients
 */
export function realizeTree<T>(tree: T): T {
  const [leaves] = treeFlatten(tree);
  realizeAll(leaves.flatMap((l) => (l instanceof Tensor ? [l.node] : [])));
  return tree;
}
