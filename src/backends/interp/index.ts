/**
 * The reference interpreter: evaluates a DAG node by node with each primitive's reference
 * implementation, in the node's own dtype. Slow and obviously right; every other backend
 * is tested against it.
 */
import type { TypedArray } from '../../lazy/dtype.js';
import { topoSort, type Node } from '../../lazy/node.js';
import type { Backend } from '../../lazy/realize.js';

export function evaluateNodes(roots: readonly Node[]): Map<Node, TypedArray> {
  const values = new Map<Node, TypedArray>();
  const order = topoSort(roots, (n) => n.realized !== null);
  for (const node of order) {
    if (node.realized) {
      values.set(node, node.realized);
      continue;
    }
    const inputs = node.inputs.map((n) => values.get(n)!);
    values.set(node, node.rule.evaluate(inputs, node, node.inputs));
  }
  return values;
}

export const interpBackend: Backend = {
  name: 'interp',
  realize(roots) {
    const values = evaluateNodes(roots);
    for (const root of roots) {
      root.realized = values.get(root)!;
      root.inputs = [];
    }
  },
};
