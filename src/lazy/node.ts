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
   * A hash of the node's structure that leaves ids out (`structuralHash`): commutative ops
   * order their operands by it (`compareOperands`), so that a program builds the same graph
   * whatever the process built before it.
   */
  readonly hash: number;
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
    hash: number,
    /** For a Param leaf: the node whose value it stands for (null under vmap). */
    readonly binding: Node | null = null,
  ) {
    this.inputs = inputs;
    this.hash = hash;
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
  return keyOf(op, inputs, shape, dtype, attrsKey(attrs));
}

function keyOf(op: string, inputs: readonly Node[], shape: Shape, dtype: DType, attrsText: string): string {
  return `${op}|${dtype}|${shape.join('x')}|${inputs.map((n) => n.id).join(',')}|${attrsText}`;
}

/** The structural hash of a node built from these parts (see `Node.hash`). */
function structuralHash(op: string, dtype: DType, shape: Shape, attrsText: string, inputs: readonly Node[]): number {
  // The operands' hashes first: taking one may hash a leaf, which uses the lanes.
  const first = inputs.length > 0 ? operandHash(inputs[0]) : 0;
  const second = inputs.length > 1 ? operandHash(inputs[1]) : 0;
  const rest = inputs.length > 2 ? inputs.slice(2).map(operandHash) : undefined;
  startNodeHash(op, dtype, shape, attrsText);
  if (inputs.length > 0) hashNumber(first);
  if (inputs.length > 1) hashNumber(second);
  if (rest) for (const h of rest) hashNumber(h);
  return finishHash();
}

/**
 * A node's hash where it is an operand now. Values, and the values the user holds across a
 * read, count as leaves: the hash of a computed node or of a node from an earlier interning
 * region (a training loop's weights, which the next read computes) is a buffer's of its shape
 * and dtype, not its history's, which changes from step to step; so a loop's steps order
 * their operands alike, and build one graph, which compiles once.
 */
function operandHash(node: Node): number {
  if (node.op === 'param') return leafHash('param', node.dtype, node.shape);
  return standsAsLeaf(node) ? leafHash('buffer', node.dtype, node.shape) : node.hash;
}

/** A value, or a value the user holds across a read: a leaf where it is an operand now. */
function standsAsLeaf(node: Node): boolean {
  return node.realized !== null || node.region !== region;
}

function leafHash(kind: 'buffer' | 'param', dtype: DType, shape: Shape): number {
  startNodeHash(kind, dtype, shape, '');
  return finishHash();
}

/** How many nodes below each of two tied operands are walked before the tie falls back to ids. */
const TIE_NODES = 256;

/**
 * The order of a commutative op's two operands: by structural hash; equal hashes are equal
 * structures, which the ids of the leaves below them tell apart (the order the user's program
 * created those leaves, in the same walk of each), and, past `TIE_NODES` nodes, their own
 * ids. An order by id alone made a program's graph depend on what was built before it: a node
 * that an earlier, unrealized build left in the interning table keeps its older id.
 */
export function compareOperands(a: Node, b: Node): number {
  if (a === b) return 0;
  const ha = operandHash(a);
  const hb = operandHash(b);
  if (ha !== hb) return ha - hb;
  const [la, lb] = [leafIds(a), leafIds(b)];
  for (let i = 0; i < Math.min(la.length, lb.length); i++) if (la[i] !== lb[i]) return la[i] - lb[i];
  return a.id - b.id;
}

/**
 * The ids of the leaves below `node` (operands that stand as leaves), depth first, each node
 * once, within the first `TIE_NODES` nodes: a bounded walk, since a tie can sit on top of a
 * long history (a loop's state through thousands of steps).
 */
function leafIds(node: Node): number[] {
  const ids: number[] = [];
  const seen = new Set<Node>();
  const stack = [node];
  while (stack.length && seen.size < TIE_NODES) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    if (n.op === 'param' || standsAsLeaf(n)) ids.push(n.id);
    else for (let i = n.inputs.length - 1; i >= 0; i--) stack.push(n.inputs[i]);
  }
  return ids;
}

// A 52-bit hash in two 26-bit FNV-1a lanes with different offsets, built in place (hashing
// is on the path of every new node: no strings or arrays are made for it).
let lane1 = 0;
let lane2 = 0;

function startHash(): void {
  lane1 = 0x811c9dc5 | 0;
  lane2 = 0x01000193 ^ 0x5bd1e995;
}

function hashText(text: string, from = 0): void {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    lane1 = Math.imul(lane1 ^ c, 0x01000193);
    lane2 = Math.imul(lane2 ^ c, 0x01000193) ^ (lane2 >>> 15);
  }
}

/** Folds in a whole number of up to 52 bits (a hash, a dimension). */
function hashNumber(value: number): void {
  lane1 = Math.imul(lane1 ^ (value % 0x4000000), 0x01000193) ^ (lane1 >>> 13);
  lane2 = Math.imul(lane2 ^ Math.floor(value / 0x4000000), 0x5bd1e995) ^ (lane2 >>> 13);
}

/**
 * Starts a node's hash with what it is: op (or leaf kind), dtype, shape and the attribute text
 * (`attrs` from `from` on). One piece for building, leaves and `rehash`, which must agree.
 */
function startNodeHash(op: string, dtype: DType, shape: Shape, attrs: string, from = 0): void {
  startHash();
  hashText(op);
  hashText(dtype);
  hashNumber(shape.length);
  for (const d of shape) hashNumber(d);
  hashText(attrs, from);
}

function finishHash(): number {
  return (lane1 >>> 6) * 0x4000000 + (lane2 >>> 6);
}

/**
 * The hash `node` would have over operands of these hashes, built as `Node.hash` is: the
 * program cache key (`structureOf`) hashes a DAG again with its inputs as holes, and where
 * nothing below a node became a hole since it was built, it finds the node's own hash, and
 * the operand order it was built in.
 */
export function rehash(node: Node, inputHashes: readonly number[]): number {
  let bar = -1;
  for (let i = 0; i < 4; i++) bar = node.key.indexOf('|', bar + 1);
  startNodeHash(node.op, node.dtype, node.shape, node.key, bar + 1);
  for (const h of inputHashes) hashNumber(h);
  return finishHash();
}

/** The hash of a program's input (a hole of the cache key), as an operand's leaf hash is built. */
export function holeHash(node: Node): number {
  return leafHash(node.op === 'param' ? 'param' : 'buffer', node.dtype, node.shape);
}

/**
 * A leaf that stands for itself (a buffer of data, a transform's Param): it is never merged
 * with another, so it stays out of the hash-consing table, which would otherwise keep its
 * data alive until the next realization (a jitted function called in a loop realizes nothing
 * but makes a buffer node per call).
 */
export function uniqueLeaf(rule: PrimitiveRule, shape: Shape, dtype: DType, attrs: Attrs, binding: Node | null = null): Node {
  return new Node(rule, [], shape, dtype, attrs, structuralKey(rule.op, [], shape, dtype, attrs), leafHash(rule.op === 'param' ? 'param' : 'buffer', dtype, shape), binding);
}

/** Returns the node with this structure built in the current region, or creates it. */
export function internNode(rule: PrimitiveRule, inputs: readonly Node[], shape: Shape, dtype: DType, attrs: Attrs, binding: Node | null = null): Node {
  const attrsText = attrsKey(attrs);
  const key = keyOf(rule.op, inputs, shape, dtype, attrsText);
  const known = table.get(key);
  if (known) return known;
  if (table.size >= TABLE_LIMIT) table.clear();
  const node = new Node(rule, inputs, shape, dtype, attrs, key, structuralHash(rule.op, dtype, shape, attrsText, inputs), binding);
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

/**
 * Nodes reachable from `roots`, inputs before users, without recursion. `inputsOf` gives
 * the order in which a node's inputs are visited (default: as built).
 */
export function topoSort(roots: readonly Node[], stopAt?: (n: Node) => boolean, inputsOf: (n: Node) => readonly Node[] = (n) => n.inputs): Node[] {
  const order: Node[] = [];
  const state = new Map<Node, 1 | 2>();
  const NO_INPUTS: readonly Node[] = [];
  const stack: [Node, number, readonly Node[]][] = [];
  const push = (node: Node) => {
    state.set(node, 1);
    stack.push([node, 0, stopAt?.(node) ? NO_INPUTS : inputsOf(node)]);
  };
  for (const root of roots) {
    if (state.has(root)) continue;
    push(root);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [node, i, inputs] = top;
      if (i < inputs.length) {
        top[1]++;
        const child = inputs[i];
        if (!state.has(child)) push(child);
      } else {
        stack.pop();
        state.set(node, 2);
        order.push(node);
      }
    }
  }
  return order;
}
