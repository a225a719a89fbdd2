/**
 * The reference interpreter: evaluates a DAG node by node with each primitive's reference
 * implementation, in the node's own dtype. Slow and obviously right; every other backend
 * is tested against it. Its device is a CPU device that compiles nothing.
 */
import type { TypedArray } from '../../lazy/dtype.js';
import { topoSort, type Node } from '../../lazy/node.js';
import type { Backend } from '../../lazy/realize.js';
import type { Plan } from '../../fusion/explain.js';
import { Storage } from '../device.js';
import { cpuDevice } from '../cpu.js';

export const interpDevice = cpuDevice('interp');

export function evaluateNodes(roots: readonly Node[]): Map<Node, TypedArray> {
  const values = new Map<Node, TypedArray>();
  const order = topoSort(roots, (n) => n.realized !== null);
  for (const node of order) {
    if (node.realized) {
      values.set(node, node.realized.readSync('interp'));
      continue;
    }
    const inputs = node.inputs.map((n) => values.get(n)!);
    values.set(node, node.rule.evaluate(inputs, node, node.inputs));
  }
  return values;
}

export const interpBackend: Backend = {
  name: 'interp',
  device: interpDevice,
  realize(roots) {
    const values = evaluateNodes(roots);
    for (const root of roots) {
      const value = values.get(root)!;
      // A root that is a computed value already (a leaf) is shared, never aliased as its own.
      root.realized = root.realized ? root.realized : Storage.onDevice(interpDevice, value, root.dtype, value.length);
      root.inputs = [];
    }
  },
  plan(roots): Plan {
    const count = topoSort(roots, (n) => n.realized !== null).filter((n) => !n.realized).length;
    const text = `plan (interp backend): no kernels; ${count} node${count === 1 ? '' : 's'} evaluated one by one with their reference implementations`;
    return { backend: 'interp', kernels: [], toString: () => text };
  },
};
