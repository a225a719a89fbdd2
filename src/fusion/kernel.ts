/**
 * The kernel IR: loops, SSA values (loads, elementwise primitives, index arithmetic,
 * guards), accumulators and stores. It is built from a kernel's expressions by placing every
 * value in the outermost loop where its operands exist (loop-invariant code motion, which
 * also hoists the partial sums of index arithmetic and turns a reduction whose result does
 * not depend on an inner loop into a stage computed once per outer iteration — the rows of a
 * softmax). Names are assigned in emission order, so the printed IR is canonical and serves
 * as the key of the compiled-kernel cache. A float32 op is rounded to float32 where it is
 * computed, as the reference stores every node in its dtype: kernels and reference agree
 * bit for bit, overflow to Infinity and underflow included (reductions accumulate in
 * float64 in both; only the order of their additions may differ).
 */
import type { DType } from '../lazy/dtype.js';
import type { Node } from '../lazy/node.js';
import type { CallSignature, ElementwiseOp } from '../lazy/primitive.js';
import { coefficientOf, rangeOf, varsOf, type Affine, type Atom, type LoopVar } from './affine.js';
import { exprOrder, opCost, type Expr, type ReduceExpr } from './expr.js';

/** A value used by a statement: the name of an earlier value, or a number literal. */
export type Operand = string | { readonly literal: number };

export type Value =
  | { readonly kind: 'load'; readonly buffer: number; readonly index: Operand }
  | { readonly kind: 'prim'; readonly op: ElementwiseOp; readonly dtype: DType; readonly args: readonly Operand[] }
  /** base + sum(term * coef): integer index arithmetic. */
  | { readonly kind: 'affine'; readonly base: Operand; readonly terms: readonly { readonly value: Operand; readonly coef: number }[] }
  /** Floor division or floor remainder by a positive constant; `nonNegative` allows truncating forms. */
  | { readonly kind: 'divmod'; readonly op: 'div' | 'mod'; readonly arg: Operand; readonly by: number; readonly nonNegative: boolean }
  | { readonly kind: 'random'; readonly distribution: 'uniform' | 'normal'; readonly seed: number; readonly index: Operand }
  /** What storing into a buffer of `dtype` does to a number (float32 rounding, int32 wrap-around). */
  | { readonly kind: 'convert'; readonly dtype: DType; readonly arg: Operand }
  /** `then` where every `lo <= index <= hi`, 0 elsewhere. */
  | { readonly kind: 'select'; readonly bounds: readonly { readonly index: Operand; readonly lo: number; readonly hi: number }[]; readonly then: Operand }
  /** A data-dependent index: throws IndexError outside [-size, size), wraps negatives. */
  | { readonly kind: 'check'; readonly arg: Operand; readonly size: number; readonly what: string };

/** The operands a value reads (every backend's dependency walks use this one list). */
export function operandsOf(v: Value): Operand[] {
  switch (v.kind) {
    case 'load': return [v.index];
    case 'prim': return [...v.args];
    case 'affine': return [v.base, ...v.terms.map((t) => t.value)];
    case 'divmod': return [v.arg];
    case 'random': return [v.index];
    case 'convert': return [v.arg];
    case 'select': return [v.then, ...v.bounds.map((b) => b.index)];
    case 'check': return [v.arg];
    default: return v satisfies never;
  }
}

export type Stmt =
  | { readonly kind: 'let'; readonly name: string; readonly value: Value }
  | { readonly kind: 'loop'; readonly index: string; readonly extent: number; readonly body: readonly Stmt[] }
  | { readonly kind: 'accumulator'; readonly name: string; readonly op: 'sum' | 'max' }
  /** `wrapsInt32`: an int32 sum, wrapped at every step as int32 arithmetic is. */
  | { readonly kind: 'accumulate'; readonly name: string; readonly op: 'sum' | 'max'; readonly value: Operand; readonly wrapsInt32?: boolean }
  | { readonly kind: 'store'; readonly buffer: number; readonly index: Operand; readonly value: Operand }
  /** out[index] += value, for scatter kernels (accumulated in float64, then stored). */
  | { readonly kind: 'scatterAdd'; readonly buffer: number; readonly index: Operand; readonly value: Operand };

export interface BufferSpec {
  readonly dtype: DType;
  readonly size: number;
  readonly role: 'input' | 'output';
  /**
   * For an output: proved symmetric (fusion/symmetry.ts). Two axes of `extent` elements at
   * element strides `strides`: the element at i along the first and j along the second
   * equals the one at j and i, the rest of the index the same. A backend may compute one
   * of each pair and write both (wasm's GEMM), or ignore it. Part of the kernel's text. A
   * fact about the program's inputs (the Hessian's stored P): on other inputs such a kernel
   * may write other values.
   */
  readonly symmetric?: { readonly extent: number; readonly strides: readonly [number, number] };
}

/** One kernel, ready for a backend to compile. */
export interface KernelIR {
  /** 'call': no loops; the program calls the opaque primitive's hand-written function. */
  readonly kind: 'map' | 'scatter' | 'call';
  /** For 'call' kernels: the op and its signature. */
  readonly call?: CallSignature;
  /** Inputs first, then outputs, in the order the compiled function takes them. */
  readonly buffers: readonly BufferSpec[];
  readonly body: readonly Stmt[];
  /** The canonical text: equal text means an equal kernel. */
  readonly text: string;
  /** Estimated arithmetic (operations executed, reductions' loops included). */
  readonly operations: number;
}

/** What to store: `value` at `index` of the buffer numbered `buffer`. */
export interface StoreSpec {
  readonly buffer: number;
  readonly index: Affine;
  readonly value: Expr;
}

interface Scope {
  readonly parent: Scope | null;
  readonly depth: number;
  readonly variable: LoopVar | null;
  readonly name: string;
  /** Product of the extents of the loops enclosing (and including) this scope. */
  readonly trips: number;
  readonly stmts: Stmt[];
}

/** A strided store counts this many strided loads (measured: scattered writes are slow). */
const STRIDED_STORE_WEIGHT = 4;

/**
 * Ops whose result is a float32 value when their operands are (cast to float32 rounds by
 * itself); every other float32 op is rounded where it is computed.
 */
const KEEPS_FLOAT32 = new Set(['neg', 'abs', 'max', 'where', 'stop_gradient', 'floor', 'ceil', 'round', 'sign', 'cast']);

/** Places expressions into loops and emits the statements of one kernel. */
class Emitter {
  private readonly names = new Map<number, Operand>();
  private readonly indexNames = new Map<string, Operand>();
  private readonly scopeOfVar = new Map<number, Scope>();
  /** How many times each expression is evaluated (by id), given where it was placed. */
  readonly trips = new Map<number, number>();
  private nextName = 0;
  private nextLoop = 0;
  /** Estimated operations executed (each statement's cost times its trips). */
  operations = 0;
  /** Accesses that stride through memory in their innermost loop, times their trips. */
  stridedAccesses = 0;
  readonly root: Scope = { parent: null, depth: 0, variable: null, name: '', trips: 1, stmts: [] };

  constructor(private readonly bufferOf: (source: Node) => number) {}

  /**
   * Counts a load or store at `index` placed in `scope` that does not walk memory
   * contiguously; a store counts `weight` times (scattered writes cost more than reads).
   */
  noteAccess(scope: Scope, index: Affine, weight = 1): void {
    const v = scope.variable;
    if (!v) return;
    const stride = Math.abs(coefficientOf(index, v));
    if (stride > 1 || (stride === 0 && varsOf(index).has(v.id))) this.stridedAccesses += weight * scope.trips;
  }

  openLoop(v: LoopVar, parent: Scope): Scope {
    const scope: Scope = { parent, depth: parent.depth + 1, variable: v, name: `i${this.nextLoop++}`, trips: parent.trips * v.extent, stmts: [] };
    this.scopeOfVar.set(v.id, scope);
    return scope;
  }

  closeLoop(scope: Scope): void {
    scope.parent!.stmts.push({ kind: 'loop', index: scope.name, extent: scope.variable!.extent, body: scope.stmts });
  }

  /** The innermost open scope among those of `vars` (all lie on one chain). */
  private homeOf(vars: Iterable<LoopVar>): Scope {
    let home = this.root;
    for (const v of vars) {
      const scope = this.scopeOfVar.get(v.id);
      if (!scope) throw new Error(`functs internal error: loop variable ${v.id} used outside its loop`);
      if (scope.depth > home.depth) home = scope;
    }
    return home;
  }

  private define(scope: Scope, value: Value, cost = 1): string {
    const name = `t${this.nextName++}`;
    scope.stmts.push({ kind: 'let', name, value });
    this.operations += cost * scope.trips;
    return name;
  }

  /** The operand holding the value of an index expression, built from hoisted partial sums. */
  index(a: Affine): Operand {
    if (a.terms.length === 0) return { literal: a.constant };
    const known = this.indexNames.get(a.key);
    if (known !== undefined) return known;
    // Terms in order of loop depth: each partial sum lives in the outermost loop it can.
    const terms = a.terms.map((t) => ({ term: t, scope: this.homeOf(varsOf({ terms: [t], constant: 0, key: '' }).values()) }));
    terms.sort((x, y) => x.scope.depth - y.scope.depth);
    let base: Operand = { literal: a.constant };
    let i = 0;
    while (i < terms.length) {
      const scope = terms[i].scope;
      const group: { value: Operand; coef: number }[] = [];
      for (; i < terms.length && terms[i].scope === scope; i++) group.push({ value: this.atom(terms[i].term.atom), coef: terms[i].term.coef });
      if (typeof base !== 'string' && base.literal === 0 && group.length === 1 && group[0].coef === 1) {
        base = group[0].value;
        continue;
      }
      // Partial sums are shared between index expressions with the same prefix.
      const partialKey = `${printOperand(base)}+${group.map((g) => `${printOperand(g.value)}*${g.coef}`).join('+')}`;
      const known = this.indexNames.get(partialKey);
      if (known !== undefined) {
        base = known;
        continue;
      }
      base = this.define(scope, { kind: 'affine', base, terms: group }, group.length);
      this.indexNames.set(partialKey, base);
    }
    this.indexNames.set(a.key, base);
    return base;
  }

  private atom(atom: Atom): Operand {
    switch (atom.kind) {
      case 'var': return this.scopeOfVar.get(atom.v.id)!.name;
      case 'div':
      case 'mod': {
        const key = atom.key;
        const known = this.indexNames.get(key);
        if (known !== undefined) return known;
        const arg = this.index(atom.of);
        const scope = this.homeOf(varsOf(atom.of).values());
        const name = this.define(scope, { kind: 'divmod', op: atom.kind, arg, by: atom.by, nonNegative: rangeOf(atom.of)[0] >= 0 }, 2);
        this.indexNames.set(key, name);
        return name;
      }
      case 'dyn': return this.value(atom.value as Expr);
      default: return atom satisfies never;
    }
  }

  /** The operand holding `e`, emitting it (and what it needs) where it belongs. */
  value(e: Expr): Operand {
    if (e.kind === 'const') return { literal: e.value };
    const known = this.names.get(e.id);
    if (known !== undefined) return known;
    const name = this.emit(e);
    this.names.set(e.id, name);
    this.trips.set(e.id, this.homeOf(e.vars).trips);
    return name;
  }

  private emit(e: Exclude<Expr, { kind: 'const' }>): Operand {
    const home = this.homeOf(e.vars);
    switch (e.kind) {
      case 'load':
        this.noteAccess(home, e.index);
        return this.define(home, { kind: 'load', buffer: this.bufferOf(e.source), index: this.index(e.index) });
      case 'index': {
        // An index is already a number; only bool, or float32 beyond 2^24, changes it.
        const index = this.index(e.index);
        const exact = e.dtype !== 'bool' && (e.dtype !== 'float32' || Math.max(...rangeOf(e.index).map(Math.abs)) <= 2 ** 24);
        return exact ? index : this.define(home, { kind: 'prim', op: 'cast', dtype: e.dtype, args: [index] }, 0);
      }
      case 'random': {
        // Rounded at once, as the reference stores a random tensor in its dtype.
        const drawn = this.define(home, { kind: 'random', distribution: e.distribution, seed: e.seed, index: this.index(e.index) }, 30);
        return e.dtype === 'float64' ? drawn : this.define(home, { kind: 'convert', dtype: e.dtype, arg: drawn }, 0);
      }
      case 'check': return this.define(home, { kind: 'check', arg: this.value(e.value), size: e.size, what: e.what }, 2);
      case 'guard': {
        const bounds = e.bounds.map((b) => ({ index: this.index(b.index), lo: b.lo, hi: b.hi }));
        return this.define(home, { kind: 'select', bounds, then: this.value(e.value) });
      }
      case 'op': {
        // Every float32 operand is a float32 value already: each op is rounded where it is
        // computed, as the reference stores every node in its dtype, so a float32 program
        // overflows, underflows and compares exactly as the reference does.
        const args = e.args.map((a) => this.value(a));
        const computed = this.define(home, { kind: 'prim', op: e.op, dtype: e.dtype, args }, opCost(e.op));
        // The rounding costs nothing in the scheduler's model, so it never changes a plan.
        return e.dtype === 'float32' && !KEEPS_FLOAT32.has(e.op) ? this.define(home, { kind: 'convert', dtype: 'float32', arg: computed }, 0) : computed;
      }
      case 'reduce': return this.reduction(e, home);
      default: return e satisfies never;
    }
  }

  /** Reductions by their first loop variable: those sharing loops are emitted as one nest. */
  private readonly reductionsByLoop = new Map<number, ReduceExpr[]>();

  registerReductions(exprs: readonly Expr[]): void {
    for (const e of exprs) {
      if (e.kind !== 'reduce') continue;
      const list = this.reductionsByLoop.get(e.loops[0].id) ?? [];
      list.push(e);
      this.reductionsByLoop.set(e.loops[0].id, list);
    }
  }

  private reduction(e: ReduceExpr, home: Scope): Operand {
    const group = this.reductionsByLoop.get(e.loops[0].id) ?? [e];
    const accumulators = group.map((r) => {
      const acc = `a${this.nextName++}`;
      home.stmts.push({ kind: 'accumulator', name: acc, op: r.op });
      return acc;
    });
    const scopes: Scope[] = [];
    let parent = home;
    for (const v of e.loops) {
      parent = this.openLoop(v, parent);
      scopes.push(parent);
    }
    const bodies = group.map((r) => this.value(r.body));
    group.forEach((r, i) => {
      const wrapsInt32 = r.op === 'sum' && r.dtype === 'int32';
      parent.stmts.push({ kind: 'accumulate', name: accumulators[i], op: r.op, value: bodies[i], ...(wrapsInt32 ? { wrapsInt32 } : {}) });
    });
    this.operations += parent.trips * group.length;
    for (let i = scopes.length - 1; i >= 0; i--) this.closeLoop(scopes[i]);
    const names = group.map((r, i) => this.define(home, { kind: 'convert', dtype: r.dtype, arg: accumulators[i] }, 0));
    group.forEach((r, i) => {
      if (r === e) return;
      this.names.set(r.id, names[i]);
      this.trips.set(r.id, home.trips);
    });
    return names[group.indexOf(e)];
  }
}

/** A kernel's IR and, for the scheduler, how often each of its expressions runs. */
export interface PlacedKernel {
  readonly body: readonly Stmt[];
  readonly operations: number;
  /** Loads and stores that stride through memory in their innermost loop (times trips). */
  readonly stridedAccesses: number;
  readonly trips: ReadonlyMap<number, number>;
}

/** The expressions stores compute: their values and the data-dependent parts of their indices. */
export function storeExprs(stores: readonly StoreSpec[]): Expr[] {
  const roots: Expr[] = [];
  for (const s of stores) {
    roots.push(s.value);
    collectDynamic(s.index, roots);
  }
  return roots;
}

/** The data-dependent parts (gather checks) of a store's index, appended to `roots`. */
function collectDynamic(a: Affine, roots: Expr[]): void {
  for (const { atom } of a.terms) {
    if (atom.kind === 'dyn') roots.push(atom.value as Expr);
    else if (atom.kind === 'div' || atom.kind === 'mod') collectDynamic(atom.of, roots);
  }
}

const storeOrders = new WeakMap<readonly StoreSpec[], readonly Expr[]>();

/**
 * exprOrder(storeExprs(stores)), walked once per stores array: the scheduler's analysis of a
 * draft and the placement of its kernel (the same array when finishing changed nothing) share it.
 */
export function storeOrder(stores: readonly StoreSpec[]): readonly Expr[] {
  let order = storeOrders.get(stores);
  if (!order) storeOrders.set(stores, (order = exprOrder(storeExprs(stores))));
  return order;
}

/**
 * Places a kernel's expressions into its loops. `loops` are the output loops (outermost
 * first); `bufferOf` numbers the buffers that loads read; stores name output buffers by number.
 */
export function placeKernel(kind: KernelIR['kind'], loops: readonly LoopVar[], bufferOf: (source: Node) => number, stores: readonly StoreSpec[]): PlacedKernel {
  const emitter = new Emitter(bufferOf);
  emitter.registerReductions(storeOrder(stores));
  const scopes: Scope[] = [];
  let scope = emitter.root;
  for (const v of loops) {
    scope = emitter.openLoop(v, scope);
    scopes.push(scope);
  }
  for (const store of stores) {
    emitter.noteAccess(scope, store.index, STRIDED_STORE_WEIGHT);
    const index = emitter.index(store.index);
    const value = emitter.value(store.value);
    scope.stmts.push({ kind: kind === 'scatter' ? 'scatterAdd' : 'store', buffer: store.buffer, index, value });
  }
  for (let i = scopes.length - 1; i >= 0; i--) emitter.closeLoop(scopes[i]);
  return { body: emitter.root.stmts, operations: emitter.operations, stridedAccesses: emitter.stridedAccesses, trips: emitter.trips };
}

function printOperand(o: Operand): string {
  if (typeof o === 'string') return o;
  const v = o.literal;
  return Object.is(v, -0) ? '-0' : String(v);
}

function printValue(v: Value): string {
  const p = printOperand;
  switch (v.kind) {
    case 'load': return `load b${v.buffer}[${p(v.index)}]`;
    case 'prim': return `${v.op}.${v.dtype}(${v.args.map(p).join(', ')})`;
    case 'affine': return [...(typeof v.base === 'string' || v.base.literal !== 0 ? [p(v.base)] : []), ...v.terms.map((t) => (t.coef === 1 ? p(t.value) : `${p(t.value)}*${t.coef}`))].join(' + ');
    case 'divmod': return `${p(v.arg)} ${v.op === 'div' ? '//' : '%'} ${v.by}`;
    case 'random': return `random.${v.distribution}(${v.seed}, ${p(v.index)})`;
    case 'convert': return `convert.${v.dtype}(${p(v.arg)})`;
    case 'select': return `${v.bounds.map((b) => `${b.lo} <= ${p(b.index)} <= ${b.hi}`).join(' && ')} ? ${p(v.then)} : 0`;
    case 'check': return `check(${p(v.arg)}, ${v.size})`;
    default: return v satisfies never;
  }
}

function printStmts(stmts: readonly Stmt[], indent: string, out: string[]): void {
  for (const s of stmts) {
    switch (s.kind) {
      case 'let': out.push(`${indent}${s.name} = ${printValue(s.value)}`); break;
      case 'loop':
        out.push(`${indent}for ${s.index} < ${s.extent} {`);
        printStmts(s.body, indent + '  ', out);
        out.push(`${indent}}`);
        break;
      case 'accumulator': out.push(`${indent}${s.name} = ${s.op === 'sum' ? '0' : '-inf'}`); break;
      case 'accumulate': out.push(`${indent}${s.name} ${s.op === 'sum' ? (s.wrapsInt32 ? '+=.int32' : '+=') : 'max='} ${printOperand(s.value)}`); break;
      case 'store': out.push(`${indent}b${s.buffer}[${printOperand(s.index)}] = ${printOperand(s.value)}`); break;
      case 'scatterAdd': out.push(`${indent}b${s.buffer}[${printOperand(s.index)}] += ${printOperand(s.value)}`); break;
      default: s satisfies never;
    }
  }
}

/** The canonical text of a kernel (also what `explain` shows as its IR). */
export function printKernel(kind: KernelIR['kind'], buffers: readonly BufferSpec[], body: readonly Stmt[]): string {
  const header = buffers.map((b, i) => `b${i}: ${b.role} ${b.dtype}[${b.size}]${b.symmetric ? ` symmetric(${b.symmetric.extent} at ${b.symmetric.strides.join(', ')})` : ''}`).join(', ');
  const out = [`${kind} kernel(${header}) {`];
  printStmts(body, '  ', out);
  out.push('}');
  return out.join('\n');
}
