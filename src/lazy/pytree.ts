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

/** Values that are leaves of a pytree: anything that is not an array or a plain object. */
type LeafValue = Tensor | number | boolean | string | bigint | symbol | null | undefined;

/** The type of the leaves of a pytree type `T` (arrays and plain objects are nodes). */
export type TreeLeaf<T> = T extends LeafValue ? T : T extends readonly (infer E)[] ? TreeLeaf<E> : T extends object ? TreeLeaf<T[keyof T]> : T;

/** The pytree type `T` with each leaf replaced by `R` (the structure kept). */
export type MapLeaves<T, R> = T extends LeafValue ? R : T extends object ? { [K in keyof T]: MapLeaves<T[K], R> } : R;

/**
 * The leaves of a pytree in depth-first order (object keys sorted) and the structure
 * needed to rebuild it with `treeUnflatten`.
 * @example
 * const [leaves, def] = treeFlatten({ w: zeros([3]), b: [zeros([]), 2] }); // leaves: b[0], b[1], w
 * treeUnflatten(def, leaves.map((l) => add(l, 1)));                       // { b: [1, 3], w: [1, 1, 1] }
 */
export function treeFlatten<T>(tree: T): [TreeLeaf<T>[], TreeDef] {
  const leaves: TreeLeaf<T>[] = [];
  const walk = (node: unknown): TreeDef => {
    if (Array.isArray(node)) return { kind: 'array', children: node.map(walk) };
    if (isPlainObject(node)) {
      const keys = Object.keys(node).sort();
      return { kind: 'object', keys, children: keys.map((k) => walk(node[k])) };
    }
    leaves.push(node as TreeLeaf<T>);
    return { kind: 'leaf' };
  };
  const def = walk(tree);
  return [leaves, def];
}

/**
 * Rebuilds a pytree from its structure and leaves (the inverse of `treeFlatten`).
 * @example
 * const [leaves, def] = treeFlatten([tensor(1), { a: tensor(2) }]);
 * treeUnflatten(def, leaves.map((l) => l.mul(10))); // [10, { a: 20 }]
 */
export function treeUnflatten<L>(def: TreeDef, leaves: readonly L[]): PyTree<L> {
  const expected = treeLeafCount(def);
  if (leaves.length !== expected) {
    throw new ArgumentError(`treeUnflatten: the structure ${treeDefKey(def)} has ${expected} leaves but ${leaves.length} were given; give one leaf per '*'`);
  }
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

/**
 * The leaves of a pytree in depth-first order (object keys sorted).
 * @example
 * treeLeaves({ w: tensor([1, 2]), layers: [tensor(3), tensor(4)] }); // [layers[0], layers[1], w]
 */
export function treeLeaves<T>(tree: T): TreeLeaf<T>[] {
  return treeFlatten(tree)[0];
}

/**
 * The structure of a pytree without its leaves; two trees with equal `treeDefKey`s have one
 * structure.
 * @example
 * treeStructure({ w: tensor([1, 2]), b: [tensor(0)] }); // { kind: 'object', keys: ['b', 'w'], ... }
 */
export function treeStructure(tree: unknown): TreeDef {
  return treeFlatten(tree)[1];
}

function describeNode(x: unknown): string {
  if (Array.isArray(x)) return `an array of ${x.length}`;
  if (isPlainObject(x)) return `an object with keys {${Object.keys(x).sort().join(', ')}}`;
  return 'a leaf';
}

/**
 * Applies `f` to the leaves of one or more pytrees of one structure and returns a tree of
 * that structure holding the results: `f(leaf, ...leavesAtTheSamePlaceInRest)`.
 * Trees of different structures throw an ArgumentError naming the first path that differs.
 * @example
 * const params = { w: tensor([1, 2]), b: tensor(0) };
 * const grads = grad((p: typeof params) => p.w.square().sum().add(p.b))(params);
 * const next = treeMap((p, g) => p.sub(g.mul(0.1)), params, grads); // { w: [0.8, 1.6], b: -0.1 }
 */
export function treeMap<T, R>(f: (leaf: TreeLeaf<T>, ...rest: TreeLeaf<T>[]) => R, tree: T, ...rest: T[]): MapLeaves<T, R> {
  const walk = (nodes: readonly unknown[], path: string): unknown => {
    const [first] = nodes;
    const where = path || 'the top';
    const mismatch = (i: number) => new ArgumentError(`treeMap: at ${where} tree 0 is ${describeNode(first)} but tree ${i} is ${describeNode(nodes[i])}; give trees of one structure`);
    if (Array.isArray(first)) {
      nodes.forEach((n, i) => {
        if (!Array.isArray(n) || n.length !== first.length) throw mismatch(i);
      });
      return first.map((_, k) => walk(nodes.map((n) => (n as unknown[])[k]), `${path}[${k}]`));
    }
    if (isPlainObject(first)) {
      const keys = Object.keys(first);
      const sorted = [...keys].sort().join(',');
      nodes.forEach((n, i) => {
        if (!isPlainObject(n) || Object.keys(n).sort().join(',') !== sorted) throw mismatch(i);
      });
      return Object.fromEntries(keys.map((k) => [k, walk(nodes.map((n) => (n as Record<string, unknown>)[k]), `${path}.${k}`)]));
    }
    nodes.forEach((n, i) => {
      if (Array.isArray(n) || isPlainObject(n)) throw mismatch(i);
    });
    return f(...(nodes as [TreeLeaf<T>, ...TreeLeaf<T>[]]));
  };
  return walk([tree, ...rest], '') as MapLeaves<T, R>;
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
