/** Materialization: hands the DAG below requested nodes to the active backend. */
import type { TypedArray } from './dtype.js';
import { ArgumentError } from './errors.js';
import { startNewInterningRegion, type Node } from './node.js';
import { sizeOf, stridesOf } from './shape.js';
import { bindParams } from './rewrite.js';

/** What every backend provides: compute the values of the given (Param-free) nodes. */
export interface Backend {
  readonly name: string;
  /** Computes each root, stores it in `root.realized` and drops the root's inputs. */
  realize(roots: readonly Node[]): void;
}

let active: Backend | undefined;
const known = new Map<string, Backend>();

export function registerBackend(backend: Backend): void {
  known.set(backend.name, backend);
  active ??= backend;
}

/** Chooses the backend by name ('interp', 'js', ...); returns the previous one's name. */
export function setBackend(name: string): string {
  const next = known.get(name);
  if (!next) throw new ArgumentError(`setBackend: unknown backend '${name}'; known: ${[...known.keys()].join(', ')}`);
  const previous = active?.name ?? name;
  active = next;
  return previous;
}

export function getBackend(): Backend {
  if (!active) throw new Error('functs: no backend registered (import from "functs", not from internal modules)');
  return active;
}

export function backendNames(): string[] {
  return [...known.keys()];
}

/** Runs `body` with the named backend active. */
export function withBackend<T>(name: string, body: () => T): T {
  const previous = setBackend(name);
  try {
    return body();
  } finally {
    setBackend(previous);
  }
}

/** The value of `node`, computing it (and what it needs) if necessary. */
export function realize(node: Node): TypedArray {
  return realizeAll([node])[0];
}

/** Realizes several nodes in one schedule. */
export function realizeAll(nodes: readonly Node[]): TypedArray[] {
  // A value under grad/jvp is computed through the bindings, keeping the node's structure,
  // which the transform still needs to differentiate.
  const bound = nodes.map((n) => (n.readsParam ? bindParams(n) : n));
  const visited = new Set<Node>();
  bound.forEach((n) => realizeViewsBelow(n, visited));
  const pending = bound.filter((n) => !n.realized);
  if (pending.length) {
    getBackend().realize([...new Set(pending)]);
    startNewInterningRegion();
  }
  return bound.map((n) => n.realized!);
}

/**
 * Realizes as views the nodes below `node` that are a reshape or a leading-axes slice of a
 * realized value (see realizeAsView): they become leaves, so the program that computes the
 * rest does not depend on where the slice starts, and a loop over `xs.select(0, i)` reuses
 * one compiled program instead of compiling one per row.
 */
function realizeViewsBelow(node: Node, visited: Set<Node>): void {
  const stack = [node];
  while (stack.length) {
    const n = stack.pop()!;
    if (n.realized || visited.has(n)) continue;
    visited.add(n);
    if (!realizeAsView(n)) stack.push(...n.inputs);
  }
}

/** Where a node's elements lie, contiguous and in order, in a realized buffer. */
interface Span {
  readonly data: TypedArray;
  readonly start: number;
}

/**
 * Realizes a reshape, or a slice of leading axes (a row, a block of rows), of a realized
 * value as a view of its buffer: no kernel, no copy, and nothing to compile, so a loop that
 * reads `xs.select(0, i)` stays cheap. Values are immutable, so sharing a buffer is safe.
 */
function realizeAsView(node: Node): boolean {
  const span = node.realized ? null : spanOf(node);
  if (!span) return false;
  node.realized = span.data.subarray(span.start, span.start + sizeOf(node.shape));
  node.inputs = [];
  return true;
}

function spanOf(node: Node): Span | null {
  if (node.realized) return { data: node.realized, start: 0 };
  if (node.op === 'reshape') return spanOf(node.inputs[0]);
  if (node.op !== 'shrink') return null;
  const [input] = node.inputs;
  const ranges = node.attrs.ranges as readonly (readonly [number, number])[];
  // Contiguous when the axes before some axis k keep one index and those after it are whole.
  const k = ranges.findIndex(([s, e]) => e - s !== 1);
  const whole = (axis: number) => ranges[axis][0] === 0 && ranges[axis][1] === input.shape[axis];
  if (k >= 0 && !ranges.every((_, axis) => axis <= k || whole(axis))) return null;
  const inner = spanOf(input);
  if (!inner) return null;
  const strides = stridesOf(input.shape);
  return { data: inner.data, start: inner.start + ranges.reduce((at, [s], axis) => at + s * strides[axis], 0) };
}
