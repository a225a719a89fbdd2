/**
 * jit: traces a function once per input signature and keeps the result — the trace, every
 * transform's rewrite inside it, the schedule and the compiled kernels — so that later calls
 * with the same signature run the kernels directly, without calling the function.
 */
import { bufferNode, paramNode } from '../lazy/build.js';
import { ArgumentError, TransformError } from '../lazy/errors.js';
import type { Node } from '../lazy/node.js';
import { treeFlatten, treeDefKey, treeUnflatten, type TreeDef } from '../lazy/pytree.js';
import { backendNamed, getBackend, realizeAll, withBackend, type Backend } from '../lazy/realize.js';
import { substitute } from '../lazy/rewrite.js';
import { Tensor } from '../lazy/tensor.js';
import { clearWithCaches, debugEnabled, isFusingBackend, phaseMs, runProgram, type FusingBackend, type Program } from '../fusion/program.js';
import { describeProgram, type Plan } from '../fusion/explain.js';
import type { Storage } from '../backends/device.js';
import { LruCache } from '../fusion/cache.js';

/** Signatures (traces) a jitted function keeps; the least recently used goes first. */
const MAX_SIGNATURES = 64;

export interface JitOptions {
  /**
   * Arguments that are not traced: their values (compared with ===, or by value for
   * numbers, strings, booleans, null and undefined) become part of the cache key, and a new
   * value traces again. Non-tensor leaves inside other arguments are treated the same way.
   */
  staticArgnums?: number | readonly number[];
  /**
   * The backend (by registered name: 'js', 'wasm', 'interp', or a GPU backend once its init
   * resolved) that runs this function, whatever `setBackend` chose; its arguments are computed
   * there too. Default: the active backend at each call.
   */
  backend?: string;
}

/** Counters of a jitted function's cache. */
export interface JitStats {
  /** How many times the function was called to trace it. */
  traces: number;
  /** Calls answered from the cache. */
  hits: number;
  /** Calls that had to trace (a new signature). */
  misses: number;
  /** Calls under another transform, where jit steps aside and calls the function. */
  passthrough: number;
}

/** A jitted function: call it like the original. */
export interface Jitted<Args extends unknown[], Out> {
  (...args: Args): Out;
  readonly stats: JitStats;
  /** The plan for these arguments' signature on this function's backend (tracing if needed), for `explain`. */
  plan(...args: Args): Plan;
  /** Forgets every cached trace. */
  clear(): void;
}

/** Where a program leaf's value comes from on each call. */
type LeafSource = { readonly kind: 'argument'; readonly index: number } | { readonly kind: 'captured'; readonly data: Storage };

/** One output leaf: a tensor computed by the program, or a value returned as it was traced. */
type OutputLeaf = { readonly kind: 'tensor'; readonly root: number; readonly node: Node } | { readonly kind: 'value'; readonly value: unknown };

interface Trace {
  readonly params: readonly Node[];
  readonly roots: readonly Node[];
  readonly outDef: TreeDef;
  readonly outputs: readonly OutputLeaf[];
  /** Per fusing backend (by name): the program and where its leaves come from. */
  readonly compiled: Map<string, { program: Program; sources: LeafSource[] }>;
}

const objectIds = new WeakMap<object, number>();
let nextObjectId = 1;

/** A cache-key fragment for a static value: by value for primitives, by identity otherwise. */
function staticKey(value: unknown): string {
  // String(-0) is "0", but x / -0 is not x / 0; NaN keys as "NaN", so a NaN argument hits the cache.
  if (Object.is(value, -0)) return 'number:-0';
  if (value === null || ['number', 'string', 'boolean', 'undefined', 'bigint'].includes(typeof value)) return `${typeof value}:${String(value)}`;
  const obj = value as object;
  if (!objectIds.has(obj)) objectIds.set(obj, nextObjectId++);
  return `obj:${objectIds.get(obj)}`;
}

function normalizeStatic(staticArgnums: JitOptions['staticArgnums']): number[] {
  const list = staticArgnums === undefined ? [] : typeof staticArgnums === 'number' ? [staticArgnums] : [...staticArgnums];
  for (const a of list) if (!Number.isInteger(a) || a < 0) throw new ArgumentError(`jit: staticArgnums ${JSON.stringify(staticArgnums)} must be non-negative whole numbers`);
  return list;
}

interface Flattened {
  /** Per argument: its tree structure and leaves (undefined for static arguments). */
  readonly trees: ({ leaves: unknown[]; def: TreeDef } | undefined)[];
  readonly tensors: Tensor[];
  readonly signature: string;
}

function flattenArguments(args: readonly unknown[], statics: ReadonlySet<number>): Flattened {
  const tensors: Tensor[] = [];
  const parts: string[] = [];
  const trees = args.map((arg, i) => {
    if (statics.has(i)) {
      parts.push(`S${staticKey(arg)}`);
      return undefined;
    }
    const [leaves, def] = treeFlatten(arg);
    const leafKeys = leaves.map((leaf) => {
      if (!(leaf instanceof Tensor)) return staticKey(leaf);
      tensors.push(leaf);
      return `${leaf.dtype}[${leaf.shape.join(',')}]`;
    });
    parts.push(`${treeDefKey(def)}(${leafKeys.join(';')})`);
    return { leaves, def };
  });
  return { trees, tensors, signature: `${args.length}|${parts.join('|')}` };
}

/**
 * Compiles `f` per input signature: the first call with given shapes, dtypes, pytree
 * structure and static arguments traces `f` (transforms inside included) and compiles its
 * kernels; later calls with that signature run the kernels without calling `f`. Under
 * another transform (grad(jit(f)), vmap(jit(f))) jit steps aside and calls `f`.
 * @example
 * const hessians = jit(vmap(hessian((x: Tensor) => A.matmul(x).add(b).tanh().sum())));
 * hessians(X);          // traces and compiles
 * hessians(X2);         // same shapes: runs the compiled kernels
 * hessians.stats.hits;  // 1
 */
export function jit<Args extends unknown[], Out>(f: (...args: Args) => Out, opts: JitOptions = {}): Jitted<Args, Out> {
  const statics = new Set(normalizeStatic(opts.staticArgnums));
  const traces = new LruCache<string, Trace>(MAX_SIGNATURES);
  clearWithCaches(traces);
  const stats: JitStats = { traces: 0, hits: 0, misses: 0, passthrough: 0 };

  const traceFor = (args: readonly unknown[], flat: Flattened): Trace => {
    const known = traces.get(flat.signature);
    if (known) {
      stats.hits++;
      if (debugEnabled()) console.log(`[functs] jit(${f.name || 'anonymous'}): cache hit`);
      return known;
    }
    stats.misses++;
    const trace = traceOnce(f, args, flat, statics);
    stats.traces++;
    traces.set(flat.signature, trace);
    return trace;
  };

  const backendName = opts.backend;
  if (backendName !== undefined && typeof backendName !== 'string') throw new ArgumentError(`jit: backend ${JSON.stringify(backendName)} must be the name of a registered backend, e.g. 'js'`);
  // The backend is looked up at each call: a GPU backend may register after jit(f) ran.
  const onBackend = <T>(body: () => T): T => (backendName === undefined ? body() : (backendNamed(backendName, 'jit'), withBackend(backendName, body)));

  const call = (...args: Args): Out => onBackend(() => {
    const flat = flattenArguments(args, statics);
    if (flat.tensors.some((t) => t.node.readsParam)) {
      // Inside another transform the arguments are tracers: let that transform see f's ops.
      stats.passthrough++;
      return f(...args);
    }
    const trace = traceFor(args, flat);
    const values = run(trace, flat.tensors);
    // Each output tensor owns its storage: a root returned twice gets a second reference.
    const taken = new Set<number>();
    const leaves = trace.outputs.map((o) => {
      if (o.kind === 'value') return o.value;
      const storage = taken.has(o.root) ? values[o.root].view(0, values[o.root].size) : values[o.root];
      taken.add(o.root);
      return new Tensor(bufferNode(storage, o.node.shape, o.node.dtype));
    });
    return treeUnflatten(trace.outDef, leaves) as Out;
  });

  const plan = (...args: Args): Plan => onBackend(() => {
    const flat = flattenArguments(args, statics);
    if (flat.tensors.some((t) => t.node.readsParam)) throw new TransformError('jit: explain needs concrete arguments, not values traced by another transform');
    const trace = traceFor(args, flat);
    const backend = getBackend();
    return isFusingBackend(backend) ? describeProgram(compiledFor(trace, backend).program) : backend.plan(trace.roots);
  });

  return Object.assign(call, { stats, plan, clear: () => traces.clear() });
}

/** Calls `f` on Params standing for the tensor leaves of the non-static arguments. */
function traceOnce(f: (...args: never[]) => unknown, args: readonly unknown[], flat: Flattened, statics: ReadonlySet<number>): Trace {
  const started = performance.now();
  try {
    return traceCall(f, args, flat, statics);
  } finally {
    phaseMs.trace += performance.now() - started;
  }
}

function traceCall(f: (...args: never[]) => unknown, args: readonly unknown[], flat: Flattened, statics: ReadonlySet<number>): Trace {
  const params: Node[] = [];
  const callArgs = args.map((arg, i) => {
    const tree = flat.trees[i];
    if (statics.has(i) || !tree) return arg;
    const leaves = tree.leaves.map((leaf) => {
      if (!(leaf instanceof Tensor)) return leaf;
      const p = paramNode(leaf.shape, leaf.dtype, null, 'jit');
      params.push(p);
      return new Tensor(p);
    });
    return treeUnflatten(tree.def, leaves);
  });
  const result = (f as (...a: unknown[]) => unknown)(...callArgs);
  const [outLeaves, outDef] = treeFlatten(result);
  const roots: Node[] = [];
  const outputs = outLeaves.map((leaf): OutputLeaf => {
    if (!(leaf instanceof Tensor)) return { kind: 'value', value: leaf };
    let root = roots.indexOf(leaf.node);
    if (root < 0) root = roots.push(leaf.node) - 1;
    return { kind: 'tensor', root, node: leaf.node };
  });
  return { params, roots, outDef, outputs, compiled: new Map() };
}

/** The trace's program on a fusing backend. */
function compiledFor(trace: Trace, backend: FusingBackend): { program: Program; sources: LeafSource[] } {
  const known = trace.compiled.get(backend.name);
  if (known && known.program.device === backend.device) return known;
  const { program, leaves } = backend.program(trace.roots);
  const sources = leaves.map((leaf): LeafSource => {
    const index = trace.params.indexOf(leaf);
    if (index >= 0) return { kind: 'argument', index };
    if (leaf.realized) return { kind: 'captured', data: leaf.realized };
    throw new TransformError(`jit: the function reads a Param of another transform (${String(leaf.attrs.transform)}) that jit cannot bind; call jit inside that transform instead`);
  });
  const entry = { program, sources };
  trace.compiled.set(backend.name, entry);
  return entry;
}

/** Runs a trace on argument tensors: compiled kernels on a fusing backend, else the bound DAG. */
function run(trace: Trace, tensors: readonly Tensor[]): Storage[] {
  const argumentValues = realizeAll(tensors.map((t) => t.node));
  const backend: Backend = getBackend();
  if (!isFusingBackend(backend)) {
    // A backend without kernels (the interpreter) evaluates the cached trace with the
    // arguments bound; the trace and the transforms' rewrites are still reused.
    const bindings = new Map(trace.params.map((p, i) => [p, bufferNode(argumentValues[i], p.shape, p.dtype)]));
    // Outputs own their storages; a root that is an argument or a captured value is shared.
    return realizeAll(substitute(trace.roots, bindings)).map((s) => s.view(0, s.size));
  }
  const { program, sources } = compiledFor(trace, backend);
  return runProgram(
    program,
    sources.map((s) => (s.kind === 'argument' ? argumentValues[s.index] : s.data)),
  );
}
