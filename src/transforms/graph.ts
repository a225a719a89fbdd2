/** makeGraph: traces a function (transforms included) to the primitives it computes. */
import { constValueOf } from '../lazy/build.js';
import { topoSort, type Node } from '../lazy/node.js';
import { treeFlatten } from '../lazy/pytree.js';
import { Tensor } from '../lazy/tensor.js';
import { argumentOf, flattenOutput, mintParams, type TracedArgument } from './trace.js';

function typeOf(node: Node): string {
  return `${node.dtype}[${node.shape.join(',')}]`;
}

function describeAttrs(node: Node): string {
  const entries = Object.entries(node.attrs).filter(([k]) => !['uid', 'transform', 'batchedBy'].includes(k));
  return entries.length ? ` {${entries.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}}` : '';
}

/** The primitive program a traced function computes. */
export class Graph {
  /** Every node of the program, inputs first. */
  readonly nodes: readonly Node[];
  constructor(
    readonly inputs: readonly Node[],
    readonly outputs: readonly Node[],
  ) {
    this.nodes = topoSort(outputs);
  }

  /** How often each primitive occurs (constants and inputs excluded). */
  opCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const n of this.nodes) {
      if (this.inputs.includes(n) || constValueOf(n) !== undefined) continue;
      counts[n.op] = (counts[n.op] ?? 0) + 1;
    }
    return counts;
  }

  /** A readable listing, one primitive per line, like functorch's make_fx graphs. */
  toString(): string {
    const names = new Map<Node, string>();
    this.inputs.forEach((n, i) => names.set(n, `x${i}`));
    const lines: string[] = [];
    let nextName = 0;
    const nameOf = (n: Node): string => {
      const known = names.get(n);
      if (known) return known;
      const c = constValueOf(n);
      if (c !== undefined) return String(c);
      return `?${n.id}`;
    };
    for (const node of this.nodes) {
      if (names.has(node) || constValueOf(node) !== undefined) continue;
      const name = `%${nextName++}`;
      const args = node.inputs.map(nameOf).join(', ');
      const op = node.op === 'buffer' ? 'constant' : node.op;
      lines.push(`  ${name}: ${typeOf(node)} = ${op}(${args})${describeAttrs(node)}`);
      names.set(node, name);
    }
    const header = this.inputs.map((n, i) => `x${i}: ${typeOf(n)}`).join(', ');
    return `graph(${header}) {\n${lines.join('\n')}\n  return ${this.outputs.map(nameOf).join(', ')}\n}`;
  }
}

/**
 * Traces `f` on the given arguments' shapes and dtypes and returns its primitive graph.
 * @example
 * makeGraph(grad((x: Tensor) => x.sin().sum()))(tensor([1, 2])).toString(); // ... cos(x0) ...
 */
export function makeGraph<Args extends unknown[]>(f: (...args: Args) => unknown): (...args: Args) => Graph {
  return (...args: Args) => {
    const traced: TracedArgument[] = args.map((a) => {
      const [leaves] = treeFlatten(a);
      return leaves.some((l) => l instanceof Tensor || typeof l === 'number') ? mintParams(a, 'makeGraph', false, null) : { def: { kind: 'leaf' }, primals: [], params: [] };
    });
    const callArgs = args.map((a, i) => (traced[i].params.length ? argumentOf(traced[i]) : a));
    const { leaves } = flattenOutput((f as (...a: unknown[]) => unknown)(...callArgs), 'makeGraph');
    return new Graph(traced.flatMap((t) => t.params), leaves.map((t) => t.node));
  };
}
