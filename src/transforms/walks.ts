/**
 * The three DAG rewrites under every transform: pushing tangents forward, pulling
 * cotangents backward, and carrying a batch axis forward. Each touches only the nodes that
 * depend on its own seeds; everything else is a constant to it, which is what makes
 * nesting correct.
 */
import { isFloat } from '../lazy/dtype.js';
import { topoSort, type Node } from '../lazy/node.js';
import { Tensor } from '../lazy/tensor.js';
import { add, cast } from '../lazy/ops/elementwise.js';
import { broadcastTo } from '../lazy/ops/movement.js';

/** Nodes reachable from `roots` that depend on one of `seeds`, inputs first. */
export function dependentNodes(roots: readonly Node[], isSeed: (n: Node) => boolean): { order: Node[]; depends: Set<Node> } {
  const depends = new Set<Node>();
  const order: Node[] = [];
  for (const node of topoSort(roots)) {
    if (isSeed(node) || node.inputs.some((i) => depends.has(i))) {
      depends.add(node);
      order.push(node);
    }
  }
  return { order, depends };
}

/** Forward mode: the tangent of each root given tangents of the seeds (null = zero). */
export function pushTangents(roots: readonly Node[], seeds: ReadonlyMap<Node, Tensor>): (Tensor | null)[] {
  const tangents = new Map<Node, Tensor>(seeds);
  const { order } = dependentNodes(roots, (n) => seeds.has(n));
  for (const node of order) {
    if (seeds.has(node)) continue;
    const inputTangents = node.inputs.map((i) => tangents.get(i) ?? null);
    if (inputTangents.every((t) => t === null)) continue;
    const rule = node.rule.jvp;
    if (rule === 'leaf') continue;
    const tangent = rule(node.inputs.map((i) => new Tensor(i)), inputTangents, new Tensor(node), node.attrs);
    if (tangent) tangents.set(node, tangent);
  }
  return roots.map((r) => tangents.get(r) ?? null);
}

/** Reverse mode: the cotangent of each of `wrt` given cotangents of the roots (null = zero). */
export function pullCotangents(roots: readonly Node[], rootCotangents: readonly Tensor[], wrt: readonly Node[]): (Tensor | null)[] {
  const wanted = new Set(wrt);
  const { order, depends } = dependentNodes(roots, (n) => wanted.has(n));
  const cotangents = new Map<Node, Tensor>();
  const accumulate = (node: Node, ct: Tensor) => {
    const typed = ct.dtype === node.dtype ? ct : cast(ct, node.dtype);
    const prev = cotangents.get(node);
    cotangents.set(node, prev ? add(prev, typed) : typed);
  };
  roots.forEach((root, i) => {
    if (depends.has(root)) accumulate(root, rootCotangents[i]);
  });
  for (let k = order.length - 1; k >= 0; k--) {
    const node = order[k];
    const ct = cotangents.get(node);
    if (!ct || wanted.has(node)) continue;
    const rule = node.rule.vjp;
    if (rule === 'leaf') continue;
    const inputCts = rule(ct, node.inputs.map((i) => new Tensor(i)), new Tensor(node), node.attrs);
    node.inputs.forEach((input, j) => {
      const c = inputCts[j];
      if (c && depends.has(input) && isFloat(input.dtype)) accumulate(input, c);
    });
    // The cotangent of an interior node is no longer needed once it has been pulled back.
    cotangents.delete(node);
  }
  return wrt.map((w) => cotangents.get(w) ?? null);
}

/** A batched value: the node and where its batch axis is (null: the same for every example). */
export interface Batched {
  readonly value: Tensor;
  readonly dim: number | null;
}

/**
 * vmap's rewrite: carries batch axes from the seeds (the mapped arguments' Params, and
 * random leaves drawn per example) through every dependent node with the primitives'
 * batching rules.
 */
export function pushBatch(roots: readonly Node[], seeds: ReadonlyMap<Node, Batched>, batchSize: number): Batched[] {
  const mapped = new Map<Node, Batched>(seeds);
  const { order } = dependentNodes(roots, (n) => seeds.has(n));
  for (const node of order) {
    if (mapped.has(node)) continue;
    const rule = node.rule.batch;
    if (rule === 'leaf') throw new Error(`functs internal error: ${node.op} has no batching rule`);
    const args = node.inputs.map((i) => mapped.get(i)?.value ?? new Tensor(i));
    const dims = node.inputs.map((i) => mapped.get(i)?.dim ?? null);
    const [value, dim] = rule(args, dims, node, batchSize);
    mapped.set(node, { value, dim });
  }
  return roots.map((r) => mapped.get(r) ?? { value: new Tensor(r), dim: null });
}

/** A batched value with its batch axis at `dim` (broadcast if it has none). */
export function placeBatch(b: Batched, dim: number, batchSize: number): Tensor {
  const { value } = b;
  if (b.dim === null) {
    const shape = [...value.shape];
    shape.splice(dim, 0, batchSize);
    const withAxis = value.reshape(value.shape.slice(0, dim).concat([1], value.shape.slice(dim)));
    return broadcastTo(withAxis, shape);
  }
  return b.dim === dim ? value : value.movedim(b.dim, dim);
}
