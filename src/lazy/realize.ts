/** Materialization: hands the DAG below requested nodes to the active backend. */
import { ArgumentError } from './errors.js';
import type { Device, Storage } from '../backends/device.js';
import type { Plan } from '../fusion/explain.js';
import { currentRegion, startNewInterningRegion, type Node } from './node.js';
import { sizeOf, stridesOf } from './shape.js';
import { bindParams } from './rewrite.js';
import { checkAllocatable } from './build.js';

/**
 * What every backend provides: compute the values of the given (Param-free) nodes on its
 * device. Fusing backends are made from a Device by `fusingBackend` (src/fusion/program.ts).
 */
export interface Backend {
  readonly name: string;
  /** Where the values it computes live. */
  readonly device: Device;
  /**
   * Computes each root, stores its Storage in `root.realized` and drops the root's inputs.
   * Synchronous: a device that runs asynchronously has ordered the work when it returns.
   */
  realize(roots: readonly Node[]): void;
  /** What `realize(roots)` would run, for `explain` (nothing is computed). */
  plan(roots: readonly Node[]): Plan;
}

let active: Backend | undefined;
const known = new Map<string, Backend>();

/**
 * Makes a backend selectable by its name (`setBackend`, `jit(f, { backend })`); the first
 * registered is the default. A GPU backend registers itself once its device is ready
 * (after an async init). Registering a name again replaces that backend.
 */
export function registerBackend(backend: Backend): void {
  if (active?.name === backend.name) active = backend;
  known.set(backend.name, backend);
  active ??= backend;
}

/** The backend registered under `name` (ArgumentError naming the known ones otherwise). */
export function backendNamed(name: string, op = 'setBackend'): Backend {
  const backend = known.get(name);
  if (!backend) throw new ArgumentError(`${op}: unknown backend '${name}'; known: ${[...known.keys()].join(', ')}${known.size ? '' : ' (none)'}; a GPU backend registers itself when its init resolves`);
  return backend;
}

/** Chooses the backend by name ('interp', 'js', ...); returns the previous one's name. */
export function setBackend(name: string): string {
  const next = backendNamed(name);
  const previous = active?.name ?? name;
  active = next;
  return previous;
}

export function getBackend(): Backend {
  if (!active) throw new Error('functs: no backend registered (import from "@functs/core", not from internal modules)');
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
export function realize(node: Node): Storage {
  return realizeAll([node])[0];
}

/** Realizes several nodes in one schedule. */
export function realizeAll(nodes: readonly Node[]): Storage[] {
  // A value under grad/jvp is computed through the bindings, keeping the node's structure,
  // which the transform still needs to differentiate.
  const bound = nodes.map((n) => (n.readsParam ? bindParams(n) : n));
  const held = prepareBelow(bound);
  const pending = [...new Set(bound.filter((n) => !n.realized))];
  for (const n of pending) checkAllocatable(n.op, n.shape, n.dtype);
  if (pending.length) {
    getBackend().realize([...pending, ...held]);
    startNewInterningRegion();
  }
  return bound.map((n) => n.realized!);
}

/**
 * One walk over the uncomputed DAG below `roots`, before it is handed to the backend. It
 * realizes as views the nodes that are a reshape or a leading-axes slice of a realized value
 * (see realizeAsView): they become leaves, so the program that computes the rest does not
 * depend on where the slice starts, and a loop over `xs.select(0, i)` reuses one compiled
 * program instead of compiling one per row. And it returns the nodes held across a read:
 * built before the last realization and still not computed, values the user kept, such as
 * the weights of a training loop that is never told to `realize()`. Computing them in the
 * same program cuts their history off, so the next read starts from their values instead
 * of lowering and computing the whole history again (a loop's step would otherwise grow
 * with its step count). Only the newest such nodes are taken: what lies below them is
 * history they will drop. Constants and index ramps, with movement ops over them, are free
 * to recompute and stay.
 */
function prepareBelow(roots: readonly Node[]): Node[] {
  const region = currentRegion();
  const isRoot = new Set(roots);
  const held: Node[] = [];
  // Below a held node the walk still finds views, but no more held nodes; a node first met
  // there and then also reached directly is walked again, as a candidate.
  const visited = new Set<Node>();
  const visitedBelowHeld = new Set<Node>();
  const stack: [Node, boolean][] = roots.map((n) => [n, false]);
  while (stack.length) {
    const [n, belowHeld] = stack.pop()!;
    if (n.realized || visited.has(n) || (belowHeld && visitedBelowHeld.has(n))) continue;
    (belowHeld ? visitedBelowHeld : visited).add(n);
    if (realizeAsView(n)) continue;
    const isHeld = !belowHeld && !isRoot.has(n) && n.region < region && !n.readsParam && !isFreeToRecompute(n);
    if (isHeld) held.push(n);
    for (const input of n.inputs) stack.push([input, belowHeld || isHeld]);
  }
  // In the order the user built them, not the walk's: held nodes are roots of the program,
  // and their order is part of its cache key.
  return held.sort((a, b) => a.id - b.id);
}

/** Where a node's elements lie, contiguous and in order, in a realized buffer. */
interface Span {
  readonly data: Storage;
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
  node.realized = span.data.view(span.start, sizeOf(node.shape));
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

/** Constants and iota, under any movement ops: nothing to compute. */
function isFreeToRecompute(node: Node): boolean {
  let n = node;
  while (n.rule.kind === 'movement' && n.inputs.length === 1) n = n.inputs[0];
  return n.op === 'const' || n.op === 'iota';
}
