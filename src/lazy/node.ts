import type { DType } from './dtype.js';
import type { Storage } from '../backends/device.js';
import type { Shape } from './shape.js';
import type { OpName, PrimitiveRule } from './primitive.js';

export type AttrValue = number | string | boolean | null | readonly AttrValue[];
export type Attrs = Readonly<Record<string, AttrValue>>;

let nextId = 1;
/** Counts realizations: nodes built between two of them belong to one interning region. */
let region = 0;

/**
 * One node of the lazy DAG. Nodes are immutable and hash-consed: building a node that is
 * structurally equal to one built since values were last computed returns that node, so
 * common subexpressions merge.
 * The one mutation is realization: a node that has computed its value keeps the buffer and
 * drops its inputs, so that old history can be garbage-collected.
 */
export class Node {
  readonly id = nextId++;
  /** Inputs; emptied once the node is realized. */
  inputs: readonly Node[];
  /** The value, once computed (contiguous, row-major, of `dtype`), on the device that computed it. */
  realized: Storage | null = null;
  /** True when the node reads a transform's Param, directly or through its inputs. */
  readonly readsParam: boolean;
  /** Length of the longest input chain below this node (0 for leaves). */
  readonly depth: number;
  /**
   * The interning region the node was built in. A node from an earlier region that a later
   * realization still reaches was held across a read by the user (the weights of a training
   * loop): realize computes it too, so its history is computed once, not on every read.
   */
  readonly region = region;

  constructor(
    readonly rule: PrimitiveRule,
    inputs: readonly Node[],
    readonly shape: Shape,
    readonly dtype: DType,
    readonly attrs: Attrs,
    readonly key: string,
    /** For a Param leaf: the node whose value it stands for (null under vmap). */
    readonly binding: Node | null = null,
  ) {
    this.inputs = inputs;
    this.readsParam = rule.op === 'param' || inputs.some((n) => n.readsParam);
    this.depth = inputs.reduce((d, n) => Math.max(d, n.depth + 1), 0);
  }

  get op(): OpName {
    return this.rule.op;
  }
}

// Hash-consing table: structurally equal nodes built since values were last computed are
// one node. The table holds its nodes strongly and starts over whenever a backend computes
// values (`startNewInterningRegion`, called by realize) or grows past a limit, so it retains
// at most one lazy region — what the scheduler sees at once — and a loop that reads its
// values now and then keeps flat memory. (A table of WeakRefs does not achieve that: V8 keeps
// the target of every WeakRef created during a synchronous job alive until the job ends, so
// a synchronous training loop would retain its whole history; and the cells of a
// FinalizationRegistry are freed only by finalizers, which do not run during the job either.)
const table = new Map<string, Node>();
const TABLE_LIMIT = 1 << 16;

function attrsKey(attrs: Attrs): string {
  const keys = Object.keys(attrs);
  if (keys.length === 0) return '';
  keys.sort();
  return keys.map((k) => `${k}=${JSON.stringify(attrs[k])}`).join(',');
}

export function structuralKey(op: string, inputs: readonly Node[], shape: Shape, dtype: DType, attrs: Attrs): string {
  return `${op}|${dtype}|${shape.join('x')}|${inputs.map((n) => n.id).join(',')}|${attrsKey(attrs)}`;
}

/**
 * A leaf that stands for itself (a buffer of data, a transform's Param): it is never merged
 * with another, so it stays out of the hash-consing table, which would otherwise keep its
 * data alive until the next realization (a jitted function called in a loop realizes nothing
 * but makes a buffer node per call).
 */
export function uniqueLeaf(rule: PrimitiveRule, shape: Shape, dtype: DType, attrs: Attrs, binding: Node | null = null): Node {
  return new Node(rule, [], shape, dtype, attrs, structuralKey(rule.op, [], shape, dtype, attrs), binding);
}

/** Returns the node with this structure built in the current region, or creates it. */
export function internNode(rule: PrimitiveRule, inputs: readonly Node[], shape: Shape, dtype: DType, attrs: Attrs, binding: Node | null = null): Node {
  const key = structuralKey(rule.op, inputs, shape, dtype, attrs);
  const known = table.get(key);
  if (known) return known;
  if (table.size >= TABLE_LIMIT) table.clear();
  const node = new Node(rule, inputs, shape, dtype, attrs, key, binding);
  table.set(key, node);
  return node;
}

/** Takes one node out of the hash-consing table (it was disposed: nothing may merge with it). */
export function forgetNode(node: Node): void {
  if (table.get(node.key) === node) table.delete(node.key);
}

/**
 * Forgets the structure built so far: later nodes are not merged with earlier ones. Called
 * after values are computed, when the region built before is realized or held by the user.
 */
export function startNewInterningRegion(): void {
  table.clear();
  region++;
}

/** The region nodes built now belong to. */
export function currentRegion(): number {
  return region;
}

/**
 * How many nodes the hash-consing table holds: those built since values were last computed
 * (for tests of memory behaviour; the table is the only thing besides the user's tensors
 * that keeps nodes alive).
 */
export function liveNodeCount(): number {
  return table.size;
}

/** Nodes reachable from `roots`, inputs before users, without recursion. */
export function topoSort(roots: readonly Node[], stopAt?: (n: Node) => boolean): Node[] {
  const order: Node[] = [];
  const state = new Map<Node, 1 | 2>();
  const stack: [Node, number][] = [];
  for (const root of roots) {
    if (state.has(root)) continue;
    stack.push([root, 0]);
    state.set(root, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [node, i] = top;
      const inputs = stopAt?.(node) ? [] : node.inputs;
      if (i < inputs.length) {
        top[1]++;
        const child = inputs[i];
        if (!state.has(child)) {
          state.set(child, 1);
          stack.push([child, 0]);
        }
      } else {
        stack.pop();
        state.set(node, 2);
        order.push(node);
      }
    }
  }
  return order;
}
