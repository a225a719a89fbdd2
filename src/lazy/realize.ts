/** Materialization: hands the DAG below requested nodes to the active backend. */
import type { TypedArray } from './dtype.js';
import { ArgumentError } from './errors.js';
import { startNewInterningRegion, type Node } from './node.js';
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
  if (node.realized) return node.realized;
  if (node.readsParam) {
    // A value under grad/jvp: compute it through the bindings, but keep the node's
    // structure, which the transform still needs to differentiate.
    return realize(bindParams(node));
  }
  getBackend().realize([node]);
  startNewInterningRegion();
  return node.realized!;
}

/** Realizes several nodes in one schedule. */
export function realizeAll(nodes: readonly Node[]): TypedArray[] {
  const bound = nodes.map((n) => (n.readsParam ? bindParams(n) : n));
  const pending = bound.filter((n) => !n.realized);
  if (pending.length) {
    getBackend().realize([...new Set(pending)]);
    startNewInterningRegion();
  }
  return bound.map((n) => n.realized!);
}
