/** Rebuilding parts of the DAG: the mechanism under every transform and under Param binding. */
import { prim } from './build.js';
import { TransformError } from './errors.js';
import { topoSort, type Node } from './node.js';

/**
 * Returns `roots` with each key of `replacements` swapped for its value. Only nodes on a
 * path from a replaced node are rebuilt (through the simplifier, so the result is as
 * simple as if it had been built directly); everything else is shared.
 */
export function substitute(roots: readonly Node[], replacements: ReadonlyMap<Node, Node>): Node[] {
  if (replacements.size === 0) return [...roots];
  const mapped = new Map<Node, Node>(replacements);
  for (const node of topoSort(roots, (n) => mapped.has(n))) {
    if (mapped.has(node) || node.inputs.length === 0) continue;
    let changed = false;
    const inputs = node.inputs.map((input) => {
      const m = mapped.get(input);
      if (m !== undefined && m !== input) changed = true;
      return m ?? input;
    });
    if (changed) mapped.set(node, prim(node.op, inputs, node.attrs));
  }
  return roots.map((r) => mapped.get(r) ?? r);
}

/**
 * Replaces every Param under `node` by the value it is bound to, repeatedly (a binding may
 * itself read an outer Param). A Param without a binding belongs to vmap, whose
 * per-example values do not exist: that is an error naming the transform.
 */
export function bindParams(node: Node): Node {
  let current = node;
  while (current.readsParam) {
    const replacements = new Map<Node, Node>();
    for (const n of topoSort([current])) {
      if (n.op !== 'param') continue;
      if (!n.binding) {
        const transform = String(n.attrs.transform);
        throw new TransformError(
          `${transform}: a per-example value was read (item, toArray, data, printing or data-dependent control flow) inside ${transform}, where it does not exist; ` +
            `use where() or other tensor ops instead of branching on values, or read the result after ${transform} returns`,
        );
      }
      replacements.set(n, n.binding);
    }
    [current] = substitute([current], replacements);
  }
  return current;
}
