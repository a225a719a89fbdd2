/**
 * The scalar expressions of a kernel: what one element of an output is, as a DAG over
 * loads, constants, index values, elementwise primitives, guards (padding) and reductions.
 * A builder hash-conses them (common subexpressions are one expression) and folds what a
 * transformed program leaves behind: constants, multiplication by one and zero, comparisons
 * of index values decided by their ranges, and sums against one-hot bases
 * (`sum_k x[k] * (k == j)` becomes `x[j]`). The zeros folded are structural ones (padding,
 * decided comparisons, symbolic zeros); a user's float constant is marked `ieee` and keeps
 * IEEE arithmetic (Infinity * 0 is NaN), as the construction-time simplifier does.
 */
import { coerce, isFloat, type DType } from '../lazy/dtype.js';
import type { Node } from '../lazy/node.js';
import { primitiveRule, scalarFunction, type ElementwiseOp } from '../lazy/primitive.js';
import {
  addIndex,
  coefficientOf,
  dynamicIndex,
  mentionsNonlinearly,
  newVar,
  rangeOf,
  scaleIndex,
  substituteIndex,
  varIndex,
  varsOf,
  withoutVar,
  type Affine,
  type LoopVar,
} from './affine.js';

interface ExprBase {
  readonly id: number;
  readonly key: string;
  readonly dtype: DType;
  /** Loop variables the value depends on, sorted by id. */
  readonly vars: readonly LoopVar[];
  /** The DAG node whose value this expression first stood for (for the scheduler's bookkeeping). */
  origin: Node | null;
}

/** `ieee`: a user's float constant, whose products and sums are not folded (Infinity * 0 is NaN). */
export interface ConstExpr extends ExprBase { readonly kind: 'const'; readonly value: number; readonly ieee?: boolean }
/** An element of a materialized buffer (an input, or the output of an earlier kernel). */
export interface LoadExpr extends ExprBase { readonly kind: 'load'; readonly source: Node; readonly index: Affine }
/** The value of an index expression (iota). */
export interface IndexValueExpr extends ExprBase { readonly kind: 'index'; readonly index: Affine }
/** Element `index` of a counter-based random tensor. */
export interface RandomExpr extends ExprBase { readonly kind: 'random'; readonly seed: number; readonly distribution: 'uniform' | 'normal'; readonly index: Affine }
/** An elementwise primitive applied to argument expressions. */
export interface OpExpr extends ExprBase { readonly kind: 'op'; readonly op: ElementwiseOp; readonly args: readonly Expr[] }
/** `value` where every bound holds, 0 elsewhere (the zero fill of padding). */
export interface GuardExpr extends ExprBase { readonly kind: 'guard'; readonly bounds: readonly Bound[]; readonly value: Expr }
/** A sum or maximum of `body` over its own loop variables. */
export interface ReduceExpr extends ExprBase { readonly kind: 'reduce'; readonly op: 'sum' | 'max'; readonly loops: readonly LoopVar[]; readonly body: Expr }
/** A gather index: checked against the axis size (throws IndexError) and wrapped if negative. */
export interface CheckExpr extends ExprBase { readonly kind: 'check'; readonly value: Expr; readonly size: number; readonly what: string }

export type Expr = ConstExpr | LoadExpr | IndexValueExpr | RandomExpr | OpExpr | GuardExpr | ReduceExpr | CheckExpr;

/** `lo <= index <= hi`. */
export interface Bound {
  readonly index: Affine;
  readonly lo: number;
  readonly hi: number;
}

/** Rough cost of one evaluation, in units of an addition (the scheduler's cost model). */
const OP_COST: Partial<Record<ElementwiseOp, number>> = {
  recip: 4, sqrt: 4, div: 4, floor: 2, ceil: 2, round: 4,
  exp: 20, log: 20, sin: 20, cos: 20, tanh: 20, log1p: 20, expm1: 20, logistic: 24, pow: 30,
};

export function opCost(op: ElementwiseOp): number {
  return OP_COST[op] ?? 1;
}

const COMMUTATIVE = new Set(['add', 'mul', 'max', 'eq']);

function unionVars(lists: readonly (readonly LoopVar[])[]): readonly LoopVar[] {
  // Hot (every op built): the lists are sorted by id, and mostly one of them holds them all.
  let widest = lists[0] ?? [];
  for (const list of lists) if (list.length > widest.length) widest = list;
  if (lists.every((list) => list === widest || list.every((v) => widest.includes(v)))) return widest;
  const byId = new Map<number, LoopVar>();
  for (const list of lists) for (const v of list) byId.set(v.id, v);
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

/** unionVars([a, b]), without the list of lists. */
function unionVars2(a: readonly LoopVar[], b: readonly LoopVar[]): readonly LoopVar[] {
  const widest = b.length > a.length ? b : a;
  const other = widest === a ? b : a;
  for (const v of other) if (!widest.includes(v)) return unionVars([a, b]);
  return widest;
}

function indexVars(a: Affine): LoopVar[] {
  return [...varsOf(a).values()].sort((x, y) => x.id - y.id);
}

function encodeNumber(v: number): string {
  return Object.is(v, -0) ? '-0' : String(v);
}

/** The factors of a product tree (through negation and guards), for one-hot detection. */
function productFactors(e: Expr, out: Expr[] = []): Expr[] {
  if (e.kind === 'op' && e.op === 'mul') e.args.forEach((a) => productFactors(a, out));
  else if (e.kind === 'op' && e.op === 'neg') productFactors(e.args[0], out);
  else if (e.kind === 'guard') productFactors(e.value, out);
  else out.push(e);
  return out;
}

/** For `cast(eq(i, j))` or `eq(i, j)` over index values: `i - j`; otherwise undefined. */
function indicatorDifference(e: Expr): Affine | undefined {
  const test = e.kind === 'op' && e.op === 'cast' ? e.args[0] : e;
  if (test.kind !== 'op' || test.op !== 'eq') return undefined;
  const [a, b] = test.args;
  if (a.kind !== 'index' || b.kind !== 'index') return undefined;
  return addIndex(a.index, scaleIndex(b.index, -1));
}

function constOf(e: Expr | undefined): number | undefined {
  return e?.kind === 'const' ? e.value : undefined;
}

/** A zero that may be folded in an op of `dtype`: structural, or of an integer dtype (no NaN, infinities, -0). */
function foldableZero(e: Expr | undefined, dtype: DType): boolean {
  return e?.kind === 'const' && e.value === 0 && (!e.ieee || !isFloat(dtype));
}

/** Operand ids below this are keyed by number (an op code and two ids in a safe integer). */
const ID_RANGE = 2 ** 21;
const opCodes = new Map<string, number>();
const dtypeCodes = new Map<string, number>();

/** A number per (op, dtype) below 2^10. */
function opCode(op: ElementwiseOp, dtype: DType): number {
  let o = opCodes.get(op);
  if (o === undefined) opCodes.set(op, (o = opCodes.size));
  let d = dtypeCodes.get(dtype);
  if (d === undefined) dtypeCodes.set(dtype, (d = dtypeCodes.size));
  if (o >= 64 || d >= 16) throw new Error(`functs internal error: no op code for ${op}:${dtype}`);
  return o * 16 + d;
}

function opKey(op: ElementwiseOp, dtype: DType, args: readonly Expr[]): string {
  return `${op}:${dtype}(${args.map((a) => a.id).join(',')})`;
}

/** An op of one or two operands, whose text key is printed when read (symmetry.ts's canonical keys read other kinds' only). */
class SmallOpExpr implements OpExpr {
  readonly kind = 'op';
  origin: Node | null = null;
  constructor(
    readonly id: number,
    readonly dtype: DType,
    readonly vars: readonly LoopVar[],
    readonly op: ElementwiseOp,
    readonly args: readonly Expr[],
  ) {}

  get key(): string {
    return opKey(this.op, this.dtype, this.args);
  }
}

/** Hash-consing construction of the expressions of one kernel. */
export class ExprBuilder {
  private readonly table = new Map<string, Expr>();
  /** Ops of one or two operands by opCode and operand ids (see op). */
  private readonly ops = new Map<number, OpExpr>();
  private nextId = 1;

  /** Expressions built so far (the work of lowering into this builder). */
  get size(): number {
    return this.nextId - 1;
  }

  private intern<E extends Expr>(key: string, make: (id: number) => E): E {
    const known = this.table.get(key);
    if (known) return known as E;
    const made = make(this.nextId++);
    this.table.set(key, made);
    return made;
  }

  constant(value: number, dtype: DType, ieee = false): ConstExpr {
    const v = coerce(value, dtype);
    const strict = ieee && isFloat(dtype);
    const key = `c:${dtype}:${encodeNumber(v)}${strict ? '!' : ''}`;
    return this.intern(key, (id) => ({ kind: 'const', id, key, dtype, vars: [], origin: null, value: v, ...(strict ? { ieee: true } : {}) }));
  }

  load(source: Node, index: Affine): LoadExpr {
    const key = `L${source.id}[${index.key}]`;
    return this.intern(key, (id) => ({ kind: 'load', id, key, dtype: source.dtype, vars: indexVars(index), origin: null, source, index }));
  }

  indexValue(index: Affine, dtype: DType): Expr {
    if (index.terms.length === 0) return this.constant(index.constant, dtype);
    const key = `I:${dtype}[${index.key}]`;
    return this.intern(key, (id) => ({ kind: 'index', id, key, dtype, vars: indexVars(index), origin: null, index }));
  }

  random(seed: number, distribution: 'uniform' | 'normal', index: Affine, dtype: DType): RandomExpr {
    const key = `R${seed}:${distribution}:${dtype}[${index.key}]`;
    return this.intern(key, (id) => ({ kind: 'random', id, key, dtype, vars: indexVars(index), origin: null, seed, distribution, index }));
  }

  check(value: Expr, size: number, what: string): CheckExpr {
    const key = `K${value.id}<${size}`;
    return this.intern(key, (id) => ({ kind: 'check', id, key, dtype: 'int32', vars: value.vars, origin: null, value, size, what }));
  }

  /** An elementwise primitive, folded where its value is known. */
  op(op: ElementwiseOp, dtype: DType, args: readonly Expr[]): Expr {
    const folded = this.fold(op, dtype, args);
    if (folded) return folded;
    // One and two operands (nearly all) skip the copy and sort.
    const ordered = !COMMUTATIVE.has(op) ? args : args.length === 2 ? (args[0].id <= args[1].id ? args : [args[1], args[0]]) : [...args].sort((a, b) => a.id - b.id);
    // Hot (every elementwise node lowered, and nearly every one new): one and two operands
    // are found by a number, and their text key is printed only if read.
    const [a, b] = ordered;
    const bId = b?.id ?? 0;
    if (a !== undefined && ordered.length <= 2 && a.id < ID_RANGE && bId < ID_RANGE) {
      const key = (opCode(op, dtype) * ID_RANGE + a.id) * ID_RANGE + bId;
      const known = this.ops.get(key);
      if (known) return known;
      const made = new SmallOpExpr(this.nextId++, dtype, b ? unionVars2(a.vars, b.vars) : a.vars, op, ordered);
      this.ops.set(key, made);
      return made;
    }
    const key = opKey(op, dtype, ordered);
    return this.intern(key, (id) => ({ kind: 'op', id, key, dtype, vars: unionVars(ordered.map((x) => x.vars)), origin: null, op, args: ordered }));
  }

  private fold(op: ElementwiseOp, dtype: DType, args: readonly Expr[]): Expr | undefined {
    const [a, b] = args;
    if (args.every((x) => x.kind === 'const')) {
      const consts = args as readonly ConstExpr[];
      const value = op === 'cast' ? consts[0].value : scalarFunction(primitiveRule(op), dtype)(...consts.map((x) => x.value));
      const ieee = consts.some((x) => x.ieee) && !(op === 'mul' && consts.some((x) => foldableZero(x, dtype)));
      return this.constant(value, dtype, ieee);
    }
    switch (op) {
      case 'add':
        // x + (-0) is x for every x; x + 0 is not for x = -0, unless the zero is structural.
        if ((foldableZero(a, dtype) || Object.is(constOf(a), -0)) && b.dtype === dtype) return b;
        if ((foldableZero(b, dtype) || Object.is(constOf(b), -0)) && a.dtype === dtype) return a;
        return undefined;
      case 'mul':
        if (constOf(a) === 1 && b.dtype === dtype) return b;
        if (constOf(b) === 1 && a.dtype === dtype) return a;
        // A structural zero times anything is zero (as JAX's symbolic zeros).
        if (foldableZero(a, dtype) || foldableZero(b, dtype)) return this.constant(0, dtype);
        return undefined;
      case 'neg':
        return a.kind === 'op' && a.op === 'neg' ? a.args[0] : undefined;
      case 'stop_gradient':
        return a;
      case 'cast':
        if (a.dtype === dtype) return a;
        if (a.kind === 'index' && dtype !== 'bool') return this.indexValue(a.index, dtype);
        return undefined;
      case 'eq':
      case 'lt':
        return this.compareIndices(op, a, b, dtype);
      case 'where': {
        const c = constOf(a);
        if (c !== undefined) return c ? args[1] : args[2];
        return args[1] === args[2] ? args[1] : undefined;
      }
      default:
        return undefined;
    }
  }

  /** eq/lt of two index values, decided when the range of their difference decides it. */
  private compareIndices(op: 'eq' | 'lt', a: Expr, b: Expr, dtype: DType): Expr | undefined {
    if (a.kind !== 'index' || b.kind !== 'index') return undefined;
    const [lo, hi] = rangeOf(addIndex(a.index, scaleIndex(b.index, -1)));
    if (op === 'eq') {
      if (lo === 0 && hi === 0) return this.constant(1, dtype);
      if (lo > 0 || hi < 0) return this.constant(0, dtype);
      return undefined;
    }
    if (hi < 0) return this.constant(1, dtype);
    if (lo >= 0) return this.constant(0, dtype);
    return undefined;
  }

  /** `value` where all bounds hold, 0 elsewhere; bounds implied by the index ranges are dropped. */
  guard(bounds: readonly Bound[], value: Expr): Expr {
    const open: Bound[] = [];
    for (const bound of bounds) {
      const [lo, hi] = rangeOf(bound.index);
      if (lo >= bound.lo && hi <= bound.hi) continue;
      if (hi < bound.lo || lo > bound.hi) return this.constant(0, value.dtype);
      open.push(bound);
    }
    if (open.length === 0 || (value.kind === 'const' && Object.is(value.value, 0))) return value;
    if (value.kind === 'guard') return this.guard([...open, ...value.bounds], value.value);
    open.sort((x, y) => (x.index.key < y.index.key ? -1 : 1));
    const key = `G[${open.map((o) => `${o.index.key}:${o.lo}:${o.hi}`).join(';')}](${value.id})`;
    const vars = unionVars([value.vars, ...open.map((o) => indexVars(o.index))]);
    return this.intern(key, (id) => ({ kind: 'guard', id, key, dtype: value.dtype, vars, origin: null, bounds: open, value }));
  }

  /**
   * A reduction of `body` over `loops`. Loops the body ignores become a multiplication (sum)
   * or vanish (max); a one-hot factor `k == j` in a sum fixes `k = j` and drops the loop.
   */
  reduce(op: 'sum' | 'max', loops: readonly LoopVar[], body: Expr, dtype: DType): Expr {
    // Over nothing: the identity of the reduction (and no body to hoist out of an empty loop).
    if (loops.some((v) => v.extent === 0)) return this.constant(op === 'sum' ? 0 : -Infinity, dtype);
    const used = loops.filter((v) => body.vars.some((u) => u.id === v.id));
    const ignored = loops.filter((v) => !used.includes(v)).reduce((n, v) => n * v.extent, 1);
    if (op === 'sum' && ignored !== 1) {
      const product = this.op('mul', dtype, [this.reduce(op, used, body, dtype), this.constant(ignored, dtype)]);
      // A sum starts from +0, so n copies of -0 sum to +0; adding an IEEE +0 says so.
      return isFloat(dtype) ? this.op('add', dtype, [product, this.constant(0, dtype, true)]) : product;
    }
    if (used.length === 0) return body.dtype === dtype ? body : this.op('cast', dtype, [body]);
    if (op === 'sum') {
      if (body.kind === 'const' && Object.is(body.value, 0)) return body;
      const folded = this.foldOneHot(used, body, dtype);
      if (folded) return folded;
    }
    const key = `S${op}:${dtype}[${used.map((v) => v.id).join(',')}](${body.id})`;
    const ownIds = new Set(used.map((v) => v.id));
    const vars = body.vars.filter((v) => !ownIds.has(v.id));
    return this.intern(key, (id) => ({ kind: 'reduce', id, key, dtype, vars, origin: null, op, loops: used, body }));
  }

  private foldOneHot(loops: readonly LoopVar[], body: Expr, dtype: DType): Expr | undefined {
    for (const factor of productFactors(body)) {
      const difference = indicatorDifference(factor);
      if (!difference) continue;
      for (const v of loops) {
        const c = coefficientOf(difference, v);
        if (Math.abs(c) !== 1 || mentionsNonlinearly(difference, v)) continue;
        // c*v + rest == 0  =>  v = -rest / c = -c * rest.
        const solution = scaleIndex(withoutVar(difference, v), -c);
        const fixed = this.substitute(body, new Map([[v.id, solution]]));
        const guarded = this.guard([{ index: solution, lo: 0, hi: v.extent - 1 }], fixed);
        return this.reduce('sum', loops.filter((u) => u !== v), guarded, dtype);
      }
    }
    return undefined;
  }

  /** `e` with loop variables replaced by index expressions (reductions get fresh loops). */
  substitute(e: Expr, map: ReadonlyMap<number, Affine>, memo = new Map<number, Expr>()): Expr {
    if (!e.vars.some((v) => map.has(v.id))) return e;
    const known = memo.get(e.id);
    if (known) return known;
    const sub = (x: Expr) => this.substitute(x, map, memo);
    const index = (a: Affine) => substituteIndex(a, map, (atom) => dynamicIndex(sub(atom.value as CheckExpr) as CheckExpr, atom.lo, atom.hi));
    let out: Expr;
    switch (e.kind) {
      case 'const': out = e; break;
      case 'load': out = this.load(e.source, index(e.index)); break;
      case 'index': out = this.indexValue(index(e.index), e.dtype); break;
      case 'random': out = this.random(e.seed, e.distribution, index(e.index), e.dtype); break;
      case 'op': out = this.op(e.op, e.dtype, e.args.map(sub)); break;
      case 'guard': out = this.guard(e.bounds.map((b) => ({ ...b, index: index(b.index) })), sub(e.value)); break;
      case 'check': out = this.check(sub(e.value), e.size, e.what); break;
      case 'reduce': {
        const fresh = e.loops.map((v) => newVar(v.extent, 'reduce'));
        const inner = new Map(map);
        e.loops.forEach((v, i) => inner.set(v.id, varIndex(fresh[i])));
        out = this.reduce(e.op, fresh, this.substitute(e.body, inner, new Map()), e.dtype);
        break;
      }
      default: return e satisfies never;
    }
    out.origin ??= e.origin;
    memo.set(e.id, out);
    return out;
  }
}

/**
 * Rebuilds `e` with some subexpressions replaced (by id); unchanged parts stay shared.
 * Used to swap reductions for versions that share their loops.
 */
export function replaceExprs(builder: ExprBuilder, e: Expr, map: ReadonlyMap<number, Expr>, memo = new Map<number, Expr>()): Expr {
  const direct = map.get(e.id);
  if (direct) return direct;
  const known = memo.get(e.id);
  if (known) return known;
  const sub = (x: Expr) => replaceExprs(builder, x, map, memo);
  let out: Expr = e;
  switch (e.kind) {
    case 'const':
    case 'load':
    case 'index':
    case 'random':
      break;
    case 'op': {
      const args = e.args.map(sub);
      if (args.some((a, i) => a !== e.args[i])) out = builder.op(e.op, e.dtype, args);
      break;
    }
    case 'guard': {
      const value = sub(e.value);
      if (value !== e.value) out = builder.guard(e.bounds, value);
      break;
    }
    case 'check': {
      const value = sub(e.value);
      if (value !== e.value) out = builder.check(value, e.size, e.what);
      break;
    }
    case 'reduce': {
      const body = sub(e.body);
      if (body !== e.body) out = builder.reduce(e.op, e.loops, body, e.dtype);
      break;
    }
    default: return e satisfies never;
  }
  out.origin ??= e.origin;
  memo.set(e.id, out);
  return out;
}

/** The data-dependent parts (gather checks) of an index expression, appended to `out`. */
function indexChildren(a: Affine, out: Expr[]): void {
  for (const { atom } of a.terms) {
    if (atom.kind === 'dyn') out.push(atom.value as CheckExpr);
    else if (atom.kind === 'div' || atom.kind === 'mod') indexChildren(atom.of, out);
  }
}

const NO_CHILDREN: readonly Expr[] = [];

/** Children of an expression, index values included (for walks over a kernel). Hot: called for every expression of every walk. */
export function childrenOf(e: Expr): readonly Expr[] {
  switch (e.kind) {
    case 'const': return NO_CHILDREN;
    case 'load':
    case 'index':
    case 'random': {
      if (e.index.terms.every((t) => t.atom.kind === 'var')) return NO_CHILDREN;
      const out: Expr[] = [];
      indexChildren(e.index, out);
      return out;
    }
    case 'op': return e.args;
    case 'guard': {
      const out: Expr[] = [e.value];
      for (const b of e.bounds) indexChildren(b.index, out);
      return out;
    }
    case 'reduce': return [e.body];
    case 'check': return [e.value];
    default: return e satisfies never;
  }
}

/**
 * Seen marks of exprOrder by expression id (a builder numbers its expressions densely):
 * `orderMarks[id] === orderStamp` during one walk. Shared from walk to walk (an array per
 * walk, off the heap past 64 bytes, cost more than the walk of a small draft); a walk that
 * starts while another is under way (from a `skip`) marks in its own array.
 */
let orderMarks: Uint32Array = new Uint32Array(1024);
const MARKS_LIMIT = 1 << 18;
let orderStamp = 0;
let ordering = false;

/**
 * Expressions reachable from `roots`, children first (without recursion), skipping those `skip` says are known.
 * Hot (every walk over a kernel): the stack is two parallel arrays, not an object per frame.
 */
export function exprOrder(roots: readonly Expr[], skip?: (e: Expr) => boolean): Expr[] {
  const nested = ordering;
  let marks: Uint32Array = nested ? new Uint32Array(1024) : orderMarks;
  let stamp = 1;
  if (!nested) {
    ordering = true;
    if (orderStamp === 0xffffffff) {
      orderMarks.fill(0);
      orderStamp = 0;
    }
    stamp = ++orderStamp;
  }
  try {
    const order: Expr[] = [];
    const exprs: Expr[] = [];
    const next: number[] = [];
    for (const root of roots) {
      if (marks[root.id] === stamp || skip?.(root)) continue;
      if (root.id >= marks.length) marks = grown(marks, root.id);
      marks[root.id] = stamp;
      exprs.push(root);
      next.push(0);
      while (exprs.length) {
        const top = exprs.length - 1;
        const e = exprs[top];
        const children = childrenOf(e);
        const k = next[top];
        if (k < children.length) {
          next[top] = k + 1;
          const child = children[k];
          if (marks[child.id] !== stamp && !skip?.(child)) {
            if (child.id >= marks.length) marks = grown(marks, child.id);
            marks[child.id] = stamp;
            exprs.push(child);
            next.push(0);
          }
        } else {
          exprs.pop();
          next.pop();
          order.push(e);
        }
      }
    }
    return order;
  } finally {
    if (!nested) {
      // A giant walk's marks are let go (the shared array would hold their memory for good).
      if (marks.length <= MARKS_LIMIT) orderMarks = marks;
      ordering = false;
    }
  }
}

/** `marks` copied into an array that holds index `id`. */
function grown(marks: Uint32Array, id: number): Uint32Array {
  const out = new Uint32Array(Math.max(2 * marks.length, id + 1));
  out.set(marks);
  return out;
}

/** The cost of evaluating `e` itself, its children not counted (a reduction: its loops times `bodyCost` and the accumulation). */
export function ownCost(e: Expr, bodyCost: number): number {
  switch (e.kind) {
    case 'const': return 0;
    case 'load': return 1;
    case 'index': return 0.5;
    case 'random': return e.distribution === 'normal' ? 60 : 30;
    case 'op': return opCost(e.op);
    case 'guard': return e.bounds.length;
    case 'check': return 2;
    case 'reduce': return e.loops.reduce((n, v) => n * v.extent, 1) * (bodyCost + 1);
    default: return e satisfies never;
  }
}

/** Cost of one evaluation of `e`, including the loops of reductions inside it. */
export function costOf(e: Expr, memo = new Map<number, number>()): number {
  const known = memo.get(e.id);
  if (known !== undefined) return known;
  costInOrder(exprOrder([e], (c) => memo.has(c.id)), memo);
  return memo.get(e.id)!;
}

/** Records in `memo` the cost (as costOf) of each of `exprs`, given children first with every child's cost known by its turn. */
export function costInOrder(exprs: readonly Expr[], memo: Map<number, number>): void {
  for (const x of exprs) {
    if (memo.has(x.id)) continue;
    // A reduction's cost is its loops times its body's; the body is not evaluated once more outside them.
    let total = ownCost(x, x.kind === 'reduce' ? memo.get(x.body.id)! : 0);
    if (x.kind !== 'reduce') for (const c of childrenOf(x)) total += memo.get(c.id)!;
    memo.set(x.id, total);
  }
}

/**
 * costInOrder for the expressions of one builder into an array indexed by id (a builder's
 * ids are dense): the scheduler costs every expression of every draft, and a Map per draft
 * cost as much as the lowering. `exprs` appear once each, children first.
 */
export function costsInOrder(exprs: readonly Expr[], costs: Float64Array): void {
  for (const x of exprs) {
    let total = ownCost(x, x.kind === 'reduce' ? costs[x.body.id] : 0);
    if (x.kind !== 'reduce') for (const c of childrenOf(x)) total += costs[c.id];
    costs[x.id] = total;
  }
}
