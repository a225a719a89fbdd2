/**
 * Kernel IR -> one WebAssembly module. The kernel is one exported function `kernel` taking the
 * byte address of each of the IR's buffers (inputs, then outputs) in an imported memory, so
 * where the buffers live is decided at run time, not baked in. Loop indices and index
 * arithmetic are i32; data values are f64, as JavaScript numbers are in the JS backend:
 * float32 values are rounded where the IR converts or stores them, int32 arithmetic wraps as
 * an Int32Array store does, so results agree with the JS backend (and the interpreter) to the
 * last bit except where a float32 transcendental's approximation differs (see math.ts).
 */
import type { DType } from '../../lazy/dtype.js';
import { operandsOf, type KernelIR, type Operand, type Stmt, type Value } from '../../fusion/kernel.js';
import { opCost } from '../../fusion/expr.js';
import { Code, ModuleBuilder, Op, Simd, type ValType } from './encoder.js';
import { absX4, clampExpArgX4, expX4, f32x4Const, negX4, tanhX4 } from './simd-math.js';
import { HELPER_DEFS, IMPORTED_MATH, withDependencies, type Callee, type Helper, type ImportedMath } from './math.js';
import { ELEMENTWISE_OPS, Unsupported, WASM_OPS, castTo, type ElementwiseOp } from './ops.js';
import { parallelLoop, type ParallelLoop } from './parallel.js';
import { declareGemm, matchContraction, type GemmPacking, type GemmTuning } from './gemm.js';
import { emitColumnSweep, matchColumnSweep, sweepTuning } from './colsweep.js';

/** The kernel uses something this backend does not compile; the JS compiler takes it. */
/** What the compiler cannot take: the JS compiler compiles that kernel instead. */
export { Unsupported };

/** Ops whose float32 result is exact (never rounded): the scheduler does not round them on its rounded path (isExact in kernel.ts). */
const EXACT_OPS = new Set(['neg', 'abs', 'max', 'where', 'stop_gradient', 'floor', 'ceil', 'round', 'sign', 'lt', 'eq', 'cast']);

/** A lane nest's scatter stores under one buffer and index terms, held back (holdScatter). */
interface PendingScatters {
  readonly buffer: number;
  /** Elements between lanes. */
  readonly step: number;
  stores: { readonly constant: number; readonly index: Operand; readonly value: number }[];
}

/** Ops whose result jumps, so their operands must carry the reference's exact bits. */
function isDiscontinuous(op: string, dtype: DType): boolean {
  return ['lt', 'eq', 'floor', 'ceil', 'round', 'sign'].includes(op) || (op === 'cast' && (dtype === 'int32' || dtype === 'bool'));
}

/** v128.load64_zero: 8 bytes into the low half of a v128 (not in encoder.ts's table). */
const V128_LOAD64_ZERO = 93;
/** f32x4.demote_f64x2_zero: two doubles rounded to float32 in lanes 0-1, zeros above (not in encoder.ts's table). */
const F32X4_DEMOTE_F64X2_ZERO = 94;

/** A loop the f32x4 path does not take: it is compiled by the scalar path instead. */
class NotVectorizable extends Error {}

type Loop = Extract<Stmt, { kind: 'loop' }>;

/** Float32 ops with an f32x4 form (vectorPrim). */
const LANE_OPS = new Set(['add', 'mul', 'div', 'max', 'neg', 'abs', 'sqrt', 'floor', 'ceil', 'round', 'stop_gradient', 'recip', 'tanh', 'exp']);

/** A loop nest being emitted with four iterations of its outer loop in f32x4 lanes. */
interface LaneNest {
  readonly loop: Loop;
  /** Names whose value differs between the lanes (they depend on the lane loop's index). */
  readonly varying: ReadonlySet<string>;
  /** Per varying index value: its step between lanes (the value held is the first lane's). */
  readonly strides: Map<string, number>;
  /** Per varying data value (and accumulator): its v128 local. */
  readonly lanes: Map<string, number>;
  /** Per uniform float value used by a varying one: its splat. */
  readonly splats: Map<string, number>;
  /** Uniform float values used by varying ones (splatted where defined). */
  readonly splatted: ReadonlySet<string>;
  /** Names used by uniform values (a uniform load used by lanes alone is loaded as a splat). */
  readonly usedByUniform: ReadonlySet<string>;
  /** Lets of deferred tails (deferredTails): not computed where the IR has them. */
  readonly deferredLets: ReadonlySet<string>;
  /** Stores whose tail is deferred: the value each writes in the nest (its tail's source). */
  readonly deferredSources: ReadonlyMap<Stmt, string>;
}

/** Ops a deferred tail may hold (vectorPrim's), and those that make deferring it pay. */
const TAIL_OPS = LANE_OPS;
const COSTLY_TAIL_OPS = new Set(['tanh', 'exp']);

/**
 * The stores of one output buffer in a lane nest whose values are one elementwise function
 * (with a transcendental in it) of one lane value each, its source: the nest stores the
 * sources, and after each iteration of the lane loop a pass over the elements that iteration
 * wrote (contiguous, each written once) applies the function in place, four vectors at a time.
 * In the nest, a block's tails (the D=8 Hessian's eight tanh per block of h) were independent
 * chains that TurboFan interleaved, spilling most of their temporaries; in the pass they run as
 * a streaming loop does. The same f32x4 operations on the same values: the same bits.
 */
interface DeferredTail {
  readonly buffer: number;
  /** The tail of the first store, in order: re-emitted by the pass with `source` bound to the stored element. */
  readonly lets: readonly Extract<Stmt, { kind: 'let' }>[];
  readonly source: string;
  /** The name of the stored value (the tail's last let). */
  readonly value: Operand;
  /** Elements each iteration of the lane loop writes (its index's coefficient in the stores). */
  readonly perIteration: number;
  /** The first of them, where the lane loop's index and the outside terms are 0. */
  readonly first: number;
  /** Index values from outside the nest in the stores' indices, with their coefficients. */
  readonly outside: readonly (readonly [string, number])[];
}

/** Names in `loop`'s body that depend on its index (loads, arithmetic, accumulators declared inside). */
function varyingNames(loop: Loop): Set<string> {
  const varying = new Set<string>([loop.index]);
  const visit = (list: readonly Stmt[]): void => {
    for (const st of list) {
      if (st.kind === 'loop') visit(st.body);
      else if (st.kind === 'accumulator') varying.add(st.name);
      else if (st.kind === 'let' && operandsOf(st.value).some((o) => typeof o === 'string' && varying.has(o))) varying.add(st.name);
    }
  };
  visit(loop.body);
  return varying;
}

/** Step per iteration of `loop` of every index value in its body (0: the same in every iteration). */
function stridesIn(loop: Loop): Map<string, number> {
  const strides = new Map<string, number>([[loop.index, 1]]);
  const of = (o: Operand): number => (typeof o === 'string' ? strides.get(o) ?? 0 : 0);
  const visit = (list: readonly Stmt[]): void => {
    for (const st of list) {
      if (st.kind === 'loop') visit(st.body);
      else if (st.kind === 'let' && st.value.kind === 'affine') {
        const v = st.value;
        strides.set(st.name, v.terms.reduce((sum, t) => sum + t.coef * of(t.value), of(v.base)));
      } else if (st.kind === 'let' && st.value.kind === 'divmod' && of(st.value.arg) !== 0) strides.set(st.name, NaN);
    }
  };
  visit(loop.body);
  return strides;
}

/**
 * Cost of one statement per execution, in additions, with lanes along the loop `strides` is
 * for: gathers cost six; `evenLanes`: stride-2 loads are two loads and a shuffle.
 */
function stmtCost(st: Stmt, strides: ReadonlyMap<string, number>, evenLanes = false): number {
  const access = (index: Operand): number => {
    const s = typeof index === 'string' ? strides.get(index) ?? 0 : 0;
    return s === 0 || s === 1 ? 1 : s === 2 && evenLanes ? 2 : 6;
  };
  switch (st.kind) {
    case 'let':
      switch (st.value.kind) {
        case 'load': return access(st.value.index);
        case 'prim': return opCost(st.value.op);
        case 'affine': return 0.5;
        case 'convert': return 0.5;
        default: return 1;
      }
    case 'store': return access(st.index);
    case 'accumulate': return 1;
    default: return 0;
  }
}

/**
 * Estimated cost of `list` (run `trips` times) as the default path compiles it: innermost loops
 * whose extent is a multiple of 4 in lanes along themselves (with a horizontal sum per
 * accumulator when they end), everything else one element at a time.
 */
function defaultCost(list: readonly Stmt[], trips: number): number {
  let cost = 0;
  for (const st of list) {
    if (st.kind !== 'loop') {
      cost += trips * stmtCost(st, new Map());
      continue;
    }
    const innermost = !st.body.some((b) => b.kind === 'loop');
    const laneable = st.body.every((b) => b.kind !== 'let' || b.value.kind !== 'prim' || (b.value.dtype === 'float32' && LANE_OPS.has(b.value.op)));
    if (innermost && laneable && st.extent % 4 === 0) {
      const strides = stridesIn(st);
      const accumulators = new Set(st.body.flatMap((b) => (b.kind === 'accumulate' ? [b.name] : [])));
      cost += (trips * st.extent / 4) * st.body.reduce((sum, b) => sum + stmtCost(b, strides), 0) + trips * 8 * accumulators.size;
    } else {
      cost += defaultCost(st.body, trips * st.extent);
    }
  }
  return cost;
}

/** Estimated cost of `loop` (run `trips` times) with four of its iterations in lanes; Infinity where it cannot be. */
function laneCost(loop: Loop, trips: number): number {
  if (loop.extent % 4 !== 0) return Infinity;
  const strides = stridesIn(loop);
  const varying = varyingNames(loop);
  const declared = new Set<string>();
  const walk = (list: readonly Stmt[], n: number): number => {
    let cost = 0;
    for (const st of list) {
      if (st.kind === 'loop') cost += walk(st.body, n * st.extent);
      else {
        if (st.kind === 'accumulator') declared.add(st.name);
        if (st.kind === 'accumulate' && !declared.has(st.name)) return Infinity;
        if (st.kind === 'let' && varying.has(st.name)) {
          const v = st.value;
          if (v.kind === 'prim' && !(v.dtype === 'float32' && LANE_OPS.has(v.op))) return Infinity;
          if (v.kind === 'divmod' || v.kind === 'select' || v.kind === 'random' || v.kind === 'check') return Infinity;
        }
        cost += n * stmtCost(st, strides, true);
      }
    }
    return cost;
  };
  return walk(loop.body, (trips * loop.extent) / 4);
}

/**
 * An innermost loop's body split into independent reductions, one list per accumulator (the
 * accumulates and the lets they need, in body order), where that is legal and reads no data
 * twice: no stores, at least two accumulators, no load needed by two of them. Else the body whole.
 */
function independentChains(body: readonly Stmt[]): (readonly Stmt[])[] {
  if (body.some((st) => st.kind !== 'let' && st.kind !== 'accumulate')) return [body];
  const names = [...new Set(body.flatMap((st) => (st.kind === 'accumulate' ? [st.name] : [])))];
  if (names.length < 2) return [body];
  const lets = new Map<string, Extract<Stmt, { kind: 'let' }>>();
  for (const st of body) if (st.kind === 'let') lets.set(st.name, st);
  const loadOwner = new Map<string, string>();
  const groups: Stmt[][] = [];
  for (const name of names) {
    const needed = new Set<string>();
    const pending: Operand[] = body.flatMap((st) => (st.kind === 'accumulate' && st.name === name ? [st.value] : []));
    while (pending.length) {
      const o = pending.pop()!;
      if (typeof o !== 'string' || needed.has(o) || !lets.has(o)) continue;
      needed.add(o);
      const def = lets.get(o)!;
      if (def.value.kind === 'load') {
        if (loadOwner.has(o) && loadOwner.get(o) !== name) return [body];
        loadOwner.set(o, name);
      }
      pending.push(...operandsOf(def.value));
    }
    groups.push(body.filter((st) => (st.kind === 'let' && needed.has(st.name)) || (st.kind === 'accumulate' && st.name === name)));
  }
  return groups;
}

const BYTES: Record<DType, number> = { float32: 4, float64: 8, int32: 4, bool: 1 };
const LOG2_BYTES: Record<DType, number> = { float32: 2, float64: 3, int32: 2, bool: 0 };

function isElementwiseOp(op: string): op is ElementwiseOp {
  return (ELEMENTWISE_OPS as readonly string[]).includes(op);
}

interface Local {
  readonly index: number;
  readonly type: 'i32' | 'f64';
  /** An f64 holding an int32 value (an int32 or bool result): stores truncate it directly. */
  readonly intValued: boolean;
}

/** How often each name is used in `body`: as an operand, an accumulated or stored value, or a store's index. */
function nameUseCounts(body: readonly Stmt[]): Map<string, number> {
  const uses = new Map<string, number>();
  const count = (o: Operand) => typeof o === 'string' && uses.set(o, (uses.get(o) ?? 0) + 1);
  const walk = (list: readonly Stmt[]): void => {
    for (const st of list) {
      if (st.kind === 'loop') walk(st.body);
      else if (st.kind === 'let') operandsOf(st.value).forEach(count);
      else if (st.kind === 'accumulate') count(st.value);
      else if (st.kind === 'store' || st.kind === 'scatterAdd') {
        count(st.value);
        count(st.index);
      }
    }
  };
  walk(body);
  return uses;
}

/** Emits the body of the kernel function. */
class BodyEmitter {
  code = new Code();
  /** Innermost loops compiled to f32x4 lanes (for explain and tests). */
  vectorLoops = 0;
  /** Groups of four scatter stores of lane nests written as 4x4 transposes (holdScatter; for explain and tests). */
  transposedStores = 0;
  /** Deferred tails of lane nests, each a pass after every iteration (DeferredTail; for explain and tests). */
  deferredTailPasses = 0;
  readonly locals: ValType[] = [];
  private readonly named = new Map<string, Local>();
  /** The range of each index value (loop indices, index arithmetic), for loads that may stray. */
  private readonly ranges = new Map<string, readonly [number, number]>();

  /**
   * Values on a path that must match the reference bit for bit: everything that feeds a
   * discontinuous op (a comparison, a rounding, a cast to an integer), where an approximation's
   * last bits could flip the result. The IR rounds every float32 op, so rounding alone does
   * not mark such a path; elsewhere transcendentals use the bounded approximations.
   */
  private readonly roundedAtOnce = new Set<string>();
  /** Every let's value, by name (the f32x4 paths look at how a summand was computed). */
  private readonly valueOf = new Map<string, Value>();
  /** Loops chosen (by the cost model) to run four of their iterations in f32x4 lanes. */
  private readonly outerChoice = new Set<string>();
  /** Loops compiled as four iterations in lanes, by index name (for explain and tests). */
  readonly laneLoops: string[] = [];
  /** relaxed_madd instructions emitted (for explain and tests). */
  fusedMultiplyAdds = 0;
  /** Loop nests the cost model has looked at. */
  private readonly analyzed = new Set<string>();
  /** While emitting a loop nest in lanes: the lane loop, and per name its vector local or stride. */
  private nest: LaneNest | null = null;
  /** Per block of a lane nest: byte addresses computed, by buffer and index less its constant. */
  private readonly addressScopes: Map<string, { local: number; constant: number }>[] = [];
  /** Per block of a lane nest: the two vectors of a stride-2 load, by address key and constant (its odd partner reuses them). */
  private readonly pairScopes: Map<string, { low: number; high: number }>[] = [];
  /**
   * Per block of a lane nest: its scatter stores held back (by buffer and index terms), so that
   * four of them to consecutive elements are written as a 4x4 transpose and four v128 stores
   * (a W tile's four h values of four examples) instead of sixteen lane stores.
   */
  private readonly scatterScopes: Map<string, PendingScatters>[] = [];
  /** Per block of a lane nest: its stores that complete a group of four (groupableStores), the only ones held. */
  private readonly groupScopes: Set<Stmt>[] = [];

  constructor(
    private readonly ir: KernelIR,
    private readonly callee: Callee,
    private readonly simd = false,
    /** The loop to run in lanes with its nest (null: none); undefined: the cost model picks. */
    private readonly laneLoop?: string | null,
    /** The loop threads split: it runs from the parameter after the buffers to the one after that. */
    private readonly parallel: ParallelLoop | null = null,
    /** Emit sums of products in lane nests as relaxed_madd (see WasmOptions.fma). */
    private readonly fma = false,
    /** Defer lane nests' elementwise tails of stores to a pass (see WasmOptions.deferTails). */
    private readonly deferTails = true,
  ) {
    const definitions = new Map<string, readonly Operand[]>();
    const pending: string[] = [];
    const mark = (operands: readonly Operand[]) => operands.forEach((o) => typeof o === 'string' && pending.push(o));
    const visit = (list: readonly Stmt[]): void => {
      for (const st of list) {
        if (st.kind === 'loop') visit(st.body);
        else if (st.kind === 'let') {
          definitions.set(st.name, operandsOf(st.value));
          this.valueOf.set(st.name, st.value);
          if (st.value.kind === 'prim' && isDiscontinuous(st.value.op, st.value.dtype)) mark(st.value.args);
        } else if (st.kind === 'accumulate') definitions.set(st.name, [...(definitions.get(st.name) ?? []), st.value]);
      }
    };
    visit(ir.body);
    while (pending.length) {
      const name = pending.pop()!;
      if (this.roundedAtOnce.has(name)) continue;
      this.roundedAtOnce.add(name);
      mark(definitions.get(name) ?? []);
    }
    if (fma) this.findFusedProducts(ir.body);
  }

  /**
   * Products a sum takes in the same loop body, used nowhere else: `t = a * b; r =
   * convert.float32(t); acc += r` becomes one relaxed_madd(a, b, acc) in a lane nest.
   */
  private readonly fusedSummands = new Map<string, readonly [Operand, Operand]>();
  /** The lets (products and their roundings) a fused summand replaces. */
  private readonly fusedLets = new Set<string>();

  private findFusedProducts(body: readonly Stmt[]): void {
    const uses = nameUseCounts(body);
    const visit = (list: readonly Stmt[]): void => {
      const local = new Map<string, Value>();
      for (const st of list) {
        if (st.kind === 'loop') visit(st.body);
        else if (st.kind === 'let') local.set(st.name, st.value);
        else if (st.kind === 'accumulate' && st.op === 'sum' && !st.wrapsInt32 && typeof st.value === 'string' && uses.get(st.value) === 1) {
          const rounded = local.get(st.value);
          if (rounded?.kind !== 'convert' || rounded.dtype !== 'float32' || typeof rounded.arg !== 'string' || uses.get(rounded.arg) !== 1) continue;
          const product = local.get(rounded.arg);
          if (product?.kind !== 'prim' || product.op !== 'mul' || product.dtype !== 'float32') continue;
          if (this.roundedAtOnce.has(st.value) || this.roundedAtOnce.has(rounded.arg)) continue;
          this.fusedSummands.set(st.value, [product.args[0], product.args[1]]);
          this.fusedLets.add(st.value).add(rounded.arg);
        }
      }
    };
    visit(body);
  }

  private newLocal(type: ValType): number {
    this.locals.push(type);
    return this.ir.buffers.length + (this.parallel ? 2 : 0) + this.locals.length - 1;
  }

  /** Sets a loop's index to its first iteration: 0, or the chunk's start for the parallel loop. */
  private loopStart(loop: Loop, i: number): void {
    if (loop.index === this.parallel?.index) this.code.get(this.ir.buffers.length).set(i);
    else this.code.i32Const(0).set(i);
  }

  /** Pushes the end of a loop's iterations: its extent, or the chunk's end for the parallel loop. */
  private loopEnd(loop: Loop): void {
    if (loop.index === this.parallel?.index) this.code.get(this.ir.buffers.length + 1);
    else this.code.i32Const(loop.extent);
  }

  private define(name: string, type: 'i32' | 'f64', intValued = false): Local {
    if (this.named.has(name)) throw new Error(`functs internal error: ${name} defined twice in a kernel`);
    const local = { index: this.newLocal(type), type, intValued };
    this.named.set(name, local);
    return local;
  }

  private lookup(name: string): Local {
    const local = this.named.get(name);
    if (!local) throw new Error(`functs internal error: ${name} used before its definition`);
    return local;
  }

  /** Pushes an operand as an f64. */
  private f64(o: Operand): void {
    if (typeof o !== 'string') {
      this.code.f64Const(o.literal);
      return;
    }
    const local = this.lookup(o);
    this.code.get(local.index);
    if (local.type === 'i32') this.code.op(Op.f64_convert_i32_s);
  }

  /** Pushes an index operand as an i32. */
  private i32(o: Operand): void {
    if (typeof o !== 'string') {
      if (!Number.isInteger(o.literal) || Math.abs(o.literal) >= 2 ** 31) throw new Unsupported(`index literal ${o.literal}`);
      this.code.i32Const(o.literal);
      return;
    }
    const local = this.lookup(o);
    if (local.type !== 'i32') throw new Unsupported('a data-dependent index');
    this.code.get(local.index);
  }

  private rangeOf(o: Operand): readonly [number, number] {
    if (typeof o !== 'string') return [o.literal, o.literal];
    return this.ranges.get(o) ?? [-Infinity, Infinity];
  }

  /** The interval an index value lies in, from its operands' intervals. */
  private indexRange(v: Value): readonly [number, number] {
    if (v.kind === 'affine') {
      let [lo, hi] = this.rangeOf(v.base);
      for (const t of v.terms) {
        const [a, b] = this.rangeOf(t.value);
        lo += Math.min(a * t.coef, b * t.coef);
        hi += Math.max(a * t.coef, b * t.coef);
      }
      return [lo, hi];
    }
    if (v.kind === 'divmod') {
      const [a, b] = this.rangeOf(v.arg);
      if (v.op === 'div') return [Math.floor(a / v.by), Math.floor(b / v.by)];
      return a >= 0 && b < v.by ? [a, b] : [0, v.by - 1];
    }
    return [-Infinity, Infinity];
  }

  private isIntValued(o: Operand): boolean {
    if (typeof o !== 'string') return Number.isInteger(o.literal) && Math.abs(o.literal) < 2 ** 31;
    const local = this.lookup(o);
    return local.type === 'i32' || local.intValued;
  }

  /** Pushes the byte address of element `index` of buffer `buffer`; returns the constant offset. */
  private address(buffer: number, index: Operand, clamp = false): number {
    const { dtype, size } = this.ir.buffers[buffer];
    this.code.get(buffer);
    if (typeof index !== 'string' && Number.isInteger(index.literal) && index.literal >= 0 && index.literal < size) {
      return index.literal * BYTES[dtype];
    }
    const [lo, hi] = this.rangeOf(index);
    if (clamp && !(lo >= 0 && hi < size)) {
      // A load under a guard (padding) may be computed outside its buffer and then discarded:
      // it reads a clamped element instead of leaving the memory.
      const last = Math.max(size - 1, 0);
      const scratch = this.newLocal('i32');
      this.i32(index);
      this.code.set(scratch);
      this.code.get(scratch).i32Const(last).get(scratch).i32Const(last).op(Op.i32_lt_s).op(Op.select).set(scratch);
      this.code.get(scratch).i32Const(0).get(scratch).i32Const(0).op(Op.i32_gt_s).op(Op.select);
    } else {
      this.i32(index);
    }
    if (LOG2_BYTES[dtype] > 0) this.code.i32Const(LOG2_BYTES[dtype]).op(Op.i32_shl);
    this.code.op(Op.i32_add);
    return 0;
  }

  private load(buffer: number, index: Operand): void {
    const dtype = this.ir.buffers[buffer].dtype;
    const offset = this.address(buffer, index, true);
    switch (dtype) {
      case 'float32': this.code.mem(Op.f32_load, 2, offset).op(Op.f64_promote_f32); break;
      case 'float64': this.code.mem(Op.f64_load, 3, offset); break;
      case 'int32': this.code.mem(Op.i32_load, 2, offset).op(Op.f64_convert_i32_s); break;
      case 'bool': this.code.mem(Op.i32_load8_u, 0, offset).op(Op.f64_convert_i32_u); break;
      default: dtype satisfies never;
    }
  }

  /** Stores as a typed-array assignment does: float32 rounds, int32 and bool take ToInt32 (and its low byte). */
  private store(buffer: number, index: Operand, value: Operand): void {
    const dtype = this.ir.buffers[buffer].dtype;
    const offset = this.address(buffer, index);
    switch (dtype) {
      case 'float32':
        this.f64(value);
        this.code.op(Op.f32_demote_f64).mem(Op.f32_store, 2, offset);
        break;
      case 'float64':
        this.f64(value);
        this.code.mem(Op.f64_store, 3, offset);
        break;
      case 'int32':
      case 'bool':
        this.int32(value);
        this.code.mem(dtype === 'int32' ? Op.i32_store : Op.i32_store8, dtype === 'int32' ? 2 : 0, offset);
        break;
      default: dtype satisfies never;
    }
  }

  /** Pushes ToInt32 of an operand. */
  private int32(value: Operand): void {
    if (typeof value === 'string' && this.lookup(value).type === 'i32') {
      this.i32(value);
      return;
    }
    this.f64(value);
    // An int32 value truncates exactly (and a broken assumption traps instead of storing a wrong value).
    if (this.isIntValued(value)) this.code.op(Op.i32_trunc_f64_s);
    else this.code.call(this.callee.helper('toInt32'));
  }

  /** Pushes a value; returns its local type and whether it holds an int32 value. */
  private value(v: Value, name?: string): { type: 'i32' | 'f64'; intValued: boolean } {
    const c = this.code;
    switch (v.kind) {
      case 'load':
        this.load(v.buffer, v.index);
        return { type: 'f64', intValued: this.ir.buffers[v.buffer].dtype === 'int32' || this.ir.buffers[v.buffer].dtype === 'bool' };
      case 'prim': {
        if (!isElementwiseOp(v.op)) throw new Unsupported(`op ${v.op}`);
        const args = v.args;
        WASM_OPS[v.op]({
          code: c,
          dtype: v.dtype,
          arg: (i) => this.f64(args[i]),
          helper: (h) => this.callee.helper(h),
          math: (m) => this.callee.math(m),
          simd: this.simd,
          exact: name !== undefined && this.roundedAtOnce.has(name),
          v128: () => this.newLocal('v128'),
        });
        return { type: 'f64', intValued: v.dtype === 'int32' || v.dtype === 'bool' };
      }
      case 'affine': {
        this.i32(v.base);
        for (const t of v.terms) {
          this.i32(t.value);
          if (t.coef !== 1) c.i32Const(t.coef).op(Op.i32_mul);
          c.op(Op.i32_add);
        }
        return { type: 'i32', intValued: true };
      }
      case 'divmod': {
        const by = v.by;
        if (v.nonNegative) {
          this.i32(v.arg);
          c.i32Const(by).op(v.op === 'div' ? Op.i32_div_s : Op.i32_rem_s);
        } else if (v.op === 'div') {
          // Floor division: the truncated quotient, minus one where the remainder is negative.
          this.i32(v.arg);
          c.i32Const(by).op(Op.i32_div_s);
          this.i32(v.arg);
          c.i32Const(by).op(Op.i32_rem_s).i32Const(31).op(Op.i32_shr_s).op(Op.i32_add);
        } else {
          this.i32(v.arg);
          c.i32Const(by).op(Op.i32_rem_s);
          this.i32(v.arg);
          c.i32Const(by).op(Op.i32_rem_s).i32Const(31).op(Op.i32_shr_s).i32Const(by).op(Op.i32_and).op(Op.i32_add);
        }
        return { type: 'i32', intValued: true };
      }
      case 'convert':
        this.f64(v.arg);
        if (v.dtype === 'bool') {
          c.call(this.callee.helper('toInt32')).i32Const(255).op(Op.i32_and).op(Op.f64_convert_i32_u);
        } else {
          castTo(c, v.dtype, () => this.callee.helper('toInt32'));
        }
        return { type: 'f64', intValued: v.dtype === 'int32' || v.dtype === 'bool' };
      case 'select': {
        this.f64(v.then);
        c.f64Const(0);
        v.bounds.forEach((b, i) => {
          this.i32(b.index);
          c.i32Const(b.lo).op(Op.i32_ge_s);
          this.i32(b.index);
          c.i32Const(b.hi).op(Op.i32_le_s).op(Op.i32_and);
          if (i > 0) c.op(Op.i32_and);
        });
        c.op(Op.select);
        return { type: 'f64', intValued: this.isIntValued(v.then) };
      }
      case 'random': throw new Unsupported('random');
      case 'check': throw new Unsupported('a checked gather index');
      default: return v satisfies never;
    }
  }

  /**
   * An innermost float32 loop as f32x4 lanes: iteration i computes elements i..i+3. Index
   * arithmetic stays scalar (the first lane's index) with a known stride per loop step; loads
   * and stores of stride 1 are v128 accesses, other positive strides four scalar accesses,
   * values from outside the loop are splatted once before it, and each accumulator gets a
   * vector partner that is reduced into it after the loop. All or nothing: anything else in
   * the body leaves the loop to the scalar path.
   */
  private tryVectorLoop(loop: Extract<Stmt, { kind: 'loop' }>): boolean {
    if (loop.extent < 4 || loop.extent % 4 !== 0 || loop.body.some((st) => st.kind === 'loop')) return false;
    const namedBefore = new Set(this.named.keys());
    const transposedBefore = this.transposedStores;
    const saved = this.code;
    this.code = new Code();
    try {
      this.vectorLoop(loop);
    } catch (e) {
      if (!(e instanceof NotVectorizable)) throw e;
      for (const name of [...this.named.keys()]) if (!namedBefore.has(name)) this.named.delete(name);
      this.code = saved;
      return false;
    }
    saved.bytes(this.code.view());
    this.code = saved;
    this.vectorLoops++;
    return true;
  }

  private vectorLoop(loop: Extract<Stmt, { kind: 'loop' }>): void {
    const c = this.code;
    const strides = new Map<string, number>([[loop.index, 1]]);
    const lanes = new Map<string, number>();
    const splats = new Map<string, number>();
    // max: f32x4 lanes (exact). sum: f32x4 partial sums where the summand is an inexact op
    // the IR did not round (the scheduler rounds every op on the way to an equality, so such
    // a sum does not reach one); otherwise two f64x2 partial sums (lanes 0-1 and 2-3), so the
    // sum keeps float64 precision as the interpreter's does. A sum that reaches an equality
    // stays on the scalar path, in the reference's order: four f64 partial sums of float32
    // terms can round to the other side of a float32 tie (the thorough property run found
    // [-3.9e-10, 0, 1000029.1875, 1000031.75] summing to 2000060.875 against 2000061).
    for (const st of loop.body) if (st.kind === 'accumulate' && st.op === 'sum' && this.roundedAtOnce.has(st.name)) throw new NotVectorizable();
    const wide = new Set<string>();
    for (const st of loop.body) if (st.kind === 'accumulate' && st.op === 'sum' && !this.roughSummand(st.value)) wide.add(st.name);
    // A contiguous load only a float64 sum takes is read as two halves of 8 bytes, each promoted
    // to f64x2 on its way in (cvtps2pd from memory), instead of a v128 load, a promotion and a
    // shuffle and a promotion of its upper half.
    const uses = new Map<string, number>();
    for (const st of loop.body) {
      const operands: Operand[] = st.kind === 'let' ? operandsOf(st.value) : st.kind === 'accumulate' ? [st.value] : st.kind === 'store' ? [st.value, st.index] : [];
      for (const o of operands) if (typeof o === 'string') uses.set(o, (uses.get(o) ?? 0) + 1);
    }
    const halves = new Set<string>();
    for (const st of loop.body) {
      if (st.kind !== 'accumulate' || !wide.has(st.name) || typeof st.value !== 'string' || uses.get(st.value) !== 1) continue;
      const def = loop.body.find((d): d is Extract<Stmt, { kind: 'let' }> => d.kind === 'let' && d.name === st.value);
      if (def?.value.kind === 'load') halves.add(def.name);
    }
    const halfAddress = new Map<string, number>();
    const halfOffset = new Map<string, number>();
    type VectorAccumulator = { local: number; high: number; value: number; op: 'sum' | 'max'; wide: boolean };
    // Reductions of independent data (the rows of a row sum's tile: their streams 4 KiB apart
    // ran at half the speed of one row at a time) run as one loop per chain (independentChains).
    const groups = independentChains(loop.body);
    // Sums and maxima carry a chain of dependent additions from one iteration to the next;
    // copies of the body with accumulators of their own (combined in order after the loop) run
    // that many chains side by side, up to 8 vector registers of accumulators. The loop is
    // then never the one threads split (it has accumulators), and its order is the same on
    // any number of threads.
    const copiesOf = new Map<string, number>();
    const groupCopies = groups.map((group) => {
      const names = [...new Set(group.flatMap((st) => (st.kind === 'accumulate' ? [st.name] : [])))];
      const registers = names.reduce((n, name) => n + (wide.has(name) ? 2 : 1), 0);
      const copies = registers === 0 ? 1 : Math.max(1, Math.min(4, Math.floor(8 / registers)));
      for (const name of names) copiesOf.set(name, copies);
      return copies;
    });
    const vaccs = new Map<string, VectorAccumulator[]>();
    const stride = (o: Operand): number => (typeof o === 'string' ? strides.get(o) ?? 0 : 0);
    const tmp = (): number => this.newLocal('v128');
    // Values from outside the loop, splatted once.
    for (const st of loop.body) {
      const operands: Operand[] = st.kind === 'let' ? operandsOf(st.value) : st.kind === 'accumulate' || st.kind === 'store' ? [st.value] : [];
      for (const o of operands) {
        if (typeof o !== 'string' || splats.has(o) || !this.named.has(o)) continue;
        const local = this.named.get(o)!;
        if (local.type !== 'f64') continue;
        const v = tmp();
        c.get(local.index).op(Op.f32_demote_f64).simd(Simd.f32x4_splat).set(v);
        splats.set(o, v);
      }
      if (st.kind === 'accumulate' && !vaccs.has(st.name)) {
        const value = tmp();
        vaccs.set(st.name, Array.from({ length: copiesOf.get(st.name)! }, () => {
          const v = tmp();
          const high = tmp();
          f32x4Const(c, st.op === 'sum' ? 0 : -Infinity);
          c.set(v);
          f32x4Const(c, 0);
          c.set(high);
          return { local: v, high, value, op: st.op, wide: wide.has(st.name) };
        }));
      }
    }
    const i = this.define(loop.index, 'i32').index;
    this.ranges.set(loop.index, [0, loop.extent - 1]);
    const lane = (o: Operand): void => {
      if (typeof o !== 'string') return f32x4Const(c, Math.fround(o.literal));
      const v = lanes.get(o) ?? splats.get(o);
      if (v !== undefined) {
        c.get(v);
        return;
      }
      const local = this.named.get(o);
      if (!local || local.type !== 'i32') throw new NotVectorizable();
      // An index value used as data: its four lanes, converted.
      const s = stride(o);
      c.get(local.index).simd(Simd.i32x4_splat).simd(Simd.v128_const);
      c.bytes(new Uint8Array(new Int32Array([0, s, 2 * s, 3 * s]).buffer));
      c.simd(Simd.i32x4_add).simd(Simd.f32x4_convert_i32x4_s);
    };
    // Per copy of the body: byte addresses computed, by buffer and index less its constant, so
    // that accesses a constant apart (the rows of a row sum's tile) share one address and an
    // offset, as the lane nests' sharedAddress does.
    let addresses = new Map<string, { local: number; constant: number }>();
    /** Pushes the first lane's address; returns the byte step between lanes (0: one element) and a constant byte offset to add. */
    const access = (buffer: number, index: Operand): { step: number; offset: number } => {
      const { dtype, size } = this.ir.buffers[buffer];
      if (dtype !== 'float32') throw new NotVectorizable();
      const s = stride(index);
      if (s < 0) throw new NotVectorizable();
      const [lo, hi] = this.rangeOf(index);
      if (!(lo >= 0 && hi < size)) throw new NotVectorizable();
      const { constant, terms } = this.linear(index);
      const key = `${buffer}|${[...terms].filter(([, coef]) => coef !== 0).sort(([x], [y]) => (x < y ? -1 : 1)).map(([n, coef]) => `${n}*${coef}`).join('+')}`;
      const hit = addresses.get(key);
      if (hit && constant >= hit.constant && (constant - hit.constant) * 4 < 2 ** 20) {
        c.get(hit.local);
        return { step: s * 4, offset: (constant - hit.constant) * 4 };
      }
      const local = this.newLocal('i32');
      c.get(buffer);
      this.i32(index);
      c.i32Const(2).op(Op.i32_shl).op(Op.i32_add).tee(local);
      addresses.set(key, { local, constant });
      return { step: s * 4, offset: 0 };
    };
    const scratchAddress = this.newLocal('i32');
    /** One copy of the body (four iterations in lanes), summing into the copy's accumulators. */
    const body = (copy: number, list: readonly Stmt[]): void => {
      addresses = new Map();
      for (const st of list) {
        switch (st.kind) {
          case 'let': {
            const v = st.value;
            if (v.kind === 'affine') {
              const { type } = this.value(v);
              if (type !== 'i32') throw new NotVectorizable();
              // Later copies set the locals the first defined (each copy computes its own before use).
              c.set(strides.has(st.name) ? this.lookup(st.name).index : this.define(st.name, 'i32').index);
              this.ranges.set(st.name, this.indexRange(v));
              strides.set(st.name, v.terms.reduce((sum, t) => sum + t.coef * stride(t.value), stride(v.base)));
              break;
            }
            if (v.kind === 'load' && halves.has(st.name)) {
              const { step, offset } = access(v.buffer, v.index);
              if (step !== 4) throw new NotVectorizable();
              if (!halfAddress.has(st.name)) halfAddress.set(st.name, this.newLocal('i32'));
              c.set(halfAddress.get(st.name)!);
              halfOffset.set(st.name, offset);
              break;
            }
            if (v.kind === 'load') {
              const { step, offset } = access(v.buffer, v.index);
              if (step === 4) c.simdMem(Simd.v128_load, 2, offset);
              else if (step === 0) c.mem(Op.f32_load, 2, offset).simd(Simd.f32x4_splat);
              else {
                c.tee(scratchAddress).mem(Op.f32_load, 2, offset).simd(Simd.f32x4_splat);
                for (let k = 1; k < 4; k++) c.get(scratchAddress).mem(Op.f32_load, 2, offset + k * step).simd(Simd.f32x4_replace_lane).byte(k);
              }
            } else if (v.kind === 'prim') {
              if (v.dtype !== 'float32') throw new NotVectorizable();
              if ((v.op === 'tanh' || v.op === 'exp') && this.roundedAtOnce.has(st.name)) throw new NotVectorizable();
              this.vectorPrim(v.op, v.args, lane, tmp);
            } else if (v.kind === 'convert' && v.dtype === 'float32') {
              lane(v.arg);
            } else {
              throw new NotVectorizable();
            }
            if (!lanes.has(st.name)) lanes.set(st.name, tmp());
            c.set(lanes.get(st.name)!);
            break;
          }
          case 'accumulate': {
            const acc = vaccs.get(st.name)![copy];
            if (!acc.wide) {
              c.get(acc.local);
              lane(st.value);
              c.simd(acc.op === 'sum' ? Simd.f32x4_add : Simd.f32x4_max).set(acc.local);
              break;
            }
            const address = typeof st.value === 'string' ? halfAddress.get(st.value) : undefined;
            if (address !== undefined) {
              const offset = halfOffset.get(st.value as string)!;
              c.get(acc.local).get(address).simdMem(V128_LOAD64_ZERO, 2, offset).simd(Simd.f64x2_promote_low_f32x4).simd(Simd.f64x2_add).set(acc.local);
              c.get(acc.high).get(address).simdMem(V128_LOAD64_ZERO, 2, offset + 8).simd(Simd.f64x2_promote_low_f32x4).simd(Simd.f64x2_add).set(acc.high);
              break;
            }
            lane(st.value);
            c.set(acc.value);
            addPromotedHalves(c, acc.value, acc.local, acc.high);
            break;
          }
          case 'store': {
            if (stride(st.index) === 0) throw new NotVectorizable();
            const { step, offset } = access(st.buffer, st.index);
            if (step === 4) {
              lane(st.value);
              c.simdMem(Simd.v128_store, 2, offset);
            } else {
              c.set(scratchAddress);
              for (let k = 0; k < 4; k++) {
                c.get(scratchAddress);
                lane(st.value);
                c.simd(Simd.f32x4_extract_lane).byte(k).mem(Op.f32_store, 2, offset + k * step);
              }
            }
            break;
          }
          default: throw new NotVectorizable();
        }
      }
    };
    const advance = (): void => {
      c.get(i).i32Const(4).op(Op.i32_add).set(i);
    };
    groups.forEach((group, g) => {
      const copies = groupCopies[g];
      this.loopStart(loop, i);
      if (copies > 1) {
        // The copies while a whole group of them is left, then one at a time (the parallel
        // loop's chunks and extents that are not a multiple of 4 * copies leave a rest).
        c.open(Op.block).open(Op.loop);
        c.get(i).i32Const(4 * copies).op(Op.i32_add);
        this.loopEnd(loop);
        c.op(Op.i32_gt_s).op(Op.br_if).u32(1);
        for (let k = 0; k < copies; k++) {
          body(k, group);
          advance();
        }
        c.op(Op.br).u32(0).op(Op.end).op(Op.end);
        c.open(Op.block).open(Op.loop);
        c.get(i);
        this.loopEnd(loop);
        c.op(Op.i32_ge_s).op(Op.br_if).u32(1);
        body(0, group);
        advance();
        c.op(Op.br).u32(0).op(Op.end).op(Op.end);
      } else {
        c.open(Op.loop);
        body(0, group);
        c.get(i).i32Const(4).op(Op.i32_add).tee(i);
        this.loopEnd(loop);
        c.op(Op.i32_lt_s).op(Op.br_if).u32(0).op(Op.end);
      }
    });
    // Reduce each vector accumulator (its copies first, in order) into its scalar one.
    for (const [name, [{ local, high, op, wide: isWide }, ...others]] of vaccs) {
      for (const other of others) {
        if (isWide) {
          c.get(local).get(other.local).simd(Simd.f64x2_add).set(local);
          c.get(high).get(other.high).simd(Simd.f64x2_add).set(high);
        } else {
          c.get(local).get(other.local).simd(op === 'sum' ? Simd.f32x4_add : Simd.f32x4_max).set(local);
        }
      }
      const acc = this.lookup(name).index;
      if (isWide) {
        c.get(local).simd(Simd.f64x2_extract_lane).byte(0).get(local).simd(Simd.f64x2_extract_lane).byte(1).op(Op.f64_add);
        c.get(high).simd(Simd.f64x2_extract_lane).byte(0).get(high).simd(Simd.f64x2_extract_lane).byte(1).op(Op.f64_add).op(Op.f64_add);
      } else {
        const combine = op === 'sum' ? Op.f32_add : Op.f32_max;
        c.get(local).simd(Simd.f32x4_extract_lane).byte(0).get(local).simd(Simd.f32x4_extract_lane).byte(1).op(combine);
        c.get(local).simd(Simd.f32x4_extract_lane).byte(2).get(local).simd(Simd.f32x4_extract_lane).byte(3).op(combine).op(combine);
        c.op(Op.f64_promote_f32);
      }
      const v = this.newLocal('f64');
      c.set(v);
      if (op === 'sum') c.get(acc).get(v).op(Op.f64_add).set(acc);
      else c.get(v).get(acc).get(v).get(acc).op(Op.f64_gt).get(v).get(v).op(Op.f64_ne).op(Op.i32_or).op(Op.select).set(acc);
    }
  }

  /**
   * Picks, for the loop nest under `root`, the loop (if any) whose iterations should run four
   * at a time in lanes: the one the cost model (loads by stride, horizontal sums) prefers to
   * the default path of vectorizing innermost loops, where that saves at least a fifth.
   */
  private chooseLanes(root: Loop): void {
    let best: { index: string; gain: number } | null = null;
    const visit = (loop: Loop, trips: number): void => {
      this.analyzed.add(loop.index);
      if (loop.body.some((st) => st.kind === 'loop')) {
        const before = defaultCost([loop], trips);
        const after = laneCost(loop, trips);
        if (after < 0.8 * before && (!best || before - after > best.gain)) best = { index: loop.index, gain: before - after };
      }
      for (const st of loop.body) if (st.kind === 'loop') visit(st, trips * loop.extent);
    };
    visit(root, 1);
    if (this.laneLoop !== undefined) {
      if (this.laneLoop !== null) this.outerChoice.add(this.laneLoop);
      return;
    }
    if (best) this.outerChoice.add((best as { index: string }).index);
  }

  /**
   * A loop nest with four iterations of its outer loop `loop` in f32x4 lanes: values that
   * depend on its index are v128 (index values: the first lane's, with a known step between
   * lanes), the rest stay scalar and are splatted where a lane value uses them; inner loops run
   * as they are, once for all four lanes, so a reduction inside keeps one accumulator per lane
   * and ends with no horizontal sum (an outer product, when the loop is a contraction's output
   * axis). All or nothing, like tryVectorLoop.
   */
  private tryOuterVector(loop: Loop): boolean {
    if (loop.extent < 4 || loop.extent % 4 !== 0) return false;
    const namedBefore = new Set(this.named.keys());
    const transposedBefore = this.transposedStores;
    const saved = this.code;
    this.code = new Code();
    let tailCount = 0;
    try {
      const varying = varyingNames(loop);
      const splatted = new Set<string>();
      const usedByUniform = new Set<string>();
      const collect = (list: readonly Stmt[]): void => {
        for (const st of list) {
          if (st.kind === 'let' && !varying.has(st.name)) for (const o of operandsOf(st.value)) if (typeof o === 'string') usedByUniform.add(o);
          if (st.kind === 'loop') collect(st.body);
          // The nest runs iterations out of order: it may not read what it writes.
          else if (st.kind === 'let' && st.value.kind === 'load' && this.ir.buffers[st.value.buffer].role === 'output') throw new NotVectorizable();
          else if ((st.kind === 'let' && varying.has(st.name)) || st.kind === 'accumulate' || st.kind === 'store') {
            const operands = st.kind === 'let' ? (st.value.kind === 'load' || st.value.kind === 'affine' ? [] : operandsOf(st.value)) : [st.value];
            for (const o of operands) if (typeof o === 'string' && !varying.has(o)) splatted.add(o);
          }
        }
      };
      collect(loop.body);
      const tails = this.deferTails ? this.deferredTails(loop, varying) : [];
      const deferredLets = new Set<string>();
      const deferredSources = new Map<Stmt, string>();
      for (const tail of tails) for (const name of tail.skipped) deferredLets.add(name);
      for (const tail of tails) for (const [st, source] of tail.sources) deferredSources.set(st, source);
      this.nest = { loop, varying, strides: new Map([[loop.index, 1]]), lanes: new Map(), splats: new Map(), splatted, usedByUniform, deferredLets, deferredSources };
      const c = this.code;
      // Uniform values from outside the nest, splatted once before it.
      for (const name of splatted) if (this.named.has(name)) this.splat(name);
      const i = this.define(loop.index, 'i32').index;
      this.ranges.set(loop.index, [0, loop.extent - 1]);
      this.loopStart(loop, i);
      c.open(Op.loop);
      this.laneStmts(loop.body);
      for (const tail of tails) this.tailPass(tail.tail, i);
      tailCount = tails.length;
      c.get(i).i32Const(4).op(Op.i32_add).tee(i);
      this.loopEnd(loop);
      c.op(Op.i32_lt_s).op(Op.br_if).u32(0).op(Op.end);
    } catch (e) {
      if (!(e instanceof NotVectorizable)) throw e;
      for (const name of [...this.named.keys()]) if (!namedBefore.has(name)) this.named.delete(name);
      this.code = saved;
      this.nest = null;
      this.transposedStores = transposedBefore;
      return false;
    }
    this.nest = null;
    saved.bytes(this.code.view());
    this.code = saved;
    this.laneLoops.push(loop.index);
    this.deferredTailPasses += tailCount;
    return true;
  }

  /** How often each name is used (operands, accumulated and stored values, store indices). */
  private useCounts: Map<string, number> | null = null;

  private usesOf(name: string): number {
    this.useCounts ??= nameUseCounts(this.ir.body);
    return this.useCounts.get(name) ?? 0;
  }

  /**
   * The tails a lane nest over `loop` defers (DeferredTail): per output buffer, every store of
   * it in the nest has a tail of the same shape (the longest chain of TAIL_OPS lets in the
   * store's block back to one source, used by nothing else, with a tanh or exp in it), and the
   * stores of one iteration of the lane loop write each of `perIteration` consecutive elements
   * once (enumerated over the loops inside the nest), at least four.
   */
  private deferredTails(loop: Loop, varying: ReadonlySet<string>): { tail: DeferredTail; skipped: readonly string[]; sources: ReadonlyMap<Stmt, string> }[] {
    type Let = Extract<Stmt, { kind: 'let' }>;
    interface Found { readonly store: Extract<Stmt, { kind: 'store' }>; readonly lets: readonly Let[]; readonly source: string; readonly shape: string; readonly inner: readonly Loop[] }
    const insideNest = new Set<string>();
    const byBuffer = new Map<number, Found[]>();
    const rejected = new Set<number>();
    const tailOf = (store: Extract<Stmt, { kind: 'store' }>, block: ReadonlyMap<string, { st: Let; at: number }>): Omit<Found, 'store' | 'inner'> | null => {
      if (typeof store.value !== 'string') return null;
      const frontier = new Set<string>([store.value]);
      const tail: Let[] = [];
      let best: Omit<Found, 'store' | 'inner'> | null = null;
      for (;;) {
        if (frontier.size === 1 && tail.some((l) => l.value.kind === 'prim' && COSTLY_TAIL_OPS.has(l.value.op))) {
          const [source] = frontier;
          // Lanes all of it (a uniform let is computed by the scalar path in the nest, with its own bits).
          if (this.valueOf.has(source) && varying.has(source) && tail.every((l) => varying.has(l.name))) best = { lets: [...tail].reverse(), source, shape: '' };
        }
        // The latest definition first (names from outside the block come before all of it):
        // the frontier stays a cut of the chain, so a single name in it dominates the value.
        let latest: { st: Let; at: number } | undefined;
        for (const name of frontier) {
          const def = block.get(name);
          if (def && (!latest || def.at > latest.at)) latest = def;
        }
        if (!latest) break;
        const v = latest.st.value;
        const tailable = (v.kind === 'prim' && v.dtype === 'float32' && TAIL_OPS.has(v.op)) || (v.kind === 'convert' && v.dtype === 'float32' && typeof v.arg === 'string');
        if (!tailable || this.fusedLets.has(latest.st.name) || this.roundedAtOnce.has(latest.st.name)) break;
        frontier.delete(latest.st.name);
        tail.push(latest.st);
        for (const o of operandsOf(v)) if (typeof o === 'string') frontier.add(o);
      }
      if (!best) return null;
      // Used by nothing but the tail and the store.
      const names = new Set(best.lets.map((l) => l.name));
      const inTail = new Map<string, number>();
      for (const l of best.lets) for (const o of operandsOf(l.value)) if (typeof o === 'string') inTail.set(o, (inTail.get(o) ?? 0) + 1);
      for (const name of names) if (this.usesOf(name) !== (inTail.get(name) ?? 0) + (store.value === name ? 1 : 0)) return null;
      const rename = (o: Operand): string => (typeof o !== 'string' ? `${o.literal}` : o === best!.source ? '$s' : names.has(o) ? `$${best!.lets.findIndex((l) => l.name === o)}` : `?${o}`);
      const shape = best.lets.map((l) => `${l.value.kind}:${l.value.kind === 'prim' ? l.value.op : ''}:${operandsOf(l.value).map(rename).join(',')}`).join(';') + `->${rename(store.value)}`;
      return { ...best, shape };
    };
    const visit = (list: readonly Stmt[], inner: readonly Loop[]): void => {
      const block = new Map<string, { st: Let; at: number }>();
      list.forEach((st, at) => {
        if (st.kind === 'let') {
          block.set(st.name, { st, at });
          insideNest.add(st.name);
        }
      });
      for (const st of list) {
        if (st.kind === 'loop') {
          insideNest.add(st.index);
          visit(st.body, [...inner, st]);
        } else if (st.kind === 'store') {
          if (rejected.has(st.buffer)) continue;
          const found = this.ir.buffers[st.buffer].dtype === 'float32' ? tailOf(st, block) : null;
          if (!found) {
            rejected.add(st.buffer);
            byBuffer.delete(st.buffer);
            continue;
          }
          const list = byBuffer.get(st.buffer);
          if (list) list.push({ ...found, store: st, inner });
          else byBuffer.set(st.buffer, [{ ...found, store: st, inner }]);
        }
      }
    };
    visit(loop.body, []);
    const result: { tail: DeferredTail; skipped: readonly string[]; sources: ReadonlyMap<Stmt, string> }[] = [];
    for (const [buffer, found] of byBuffer) {
      if (found.some((f) => f.shape !== found[0].shape)) continue;
      // Where the stores of one iteration of the lane loop write.
      let perIteration = 0;
      let outside: string | null = null;
      const outsideTerms: [string, number][] = [];
      const positions: number[] = [];
      let ok = true;
      for (const f of found) {
        const { constant, terms } = this.linear(f.store.index);
        const enumerated: [number, number][] = [];
        const here: [string, number][] = [];
        let coefL = 0;
        for (const [name, coef] of terms) {
          if (coef === 0) continue;
          const k = f.inner.findIndex((l) => l.index === name);
          if (name === loop.index) coefL = coef;
          else if (k >= 0) enumerated.push([k, coef]);
          else if (varying.has(name) || insideNest.has(name) || this.named.get(name)?.type !== 'i32') ok = false;
          else here.push([name, coef]);
        }
        const key = here.sort(([a], [b]) => (a < b ? -1 : 1)).map(([n, c]) => `${n}*${c}`).join('+');
        if (outside === null) {
          outside = key;
          outsideTerms.push(...here);
          perIteration = coefL;
        } else if (outside !== key || perIteration !== coefL) ok = false;
        if (!ok) break;
        const trips = f.inner.reduce((n, l) => n * l.extent, 1);
        if (positions.length + trips > 1 << 16) {
          ok = false;
          break;
        }
        for (let t = 0; t < trips; t++) {
          let at = constant;
          let rest = t;
          for (let k = f.inner.length - 1; k >= 0; k--) {
            const value = rest % f.inner[k].extent;
            rest = Math.floor(rest / f.inner[k].extent);
            for (const [j, coef] of enumerated) if (j === k) at += coef * value;
          }
          positions.push(at);
        }
      }
      if (!ok || perIteration < 4 || positions.length !== perIteration) continue;
      const first = Math.min(...positions);
      const seen = new Uint8Array(perIteration);
      if (positions.some((p) => p - first >= perIteration || seen[p - first]++)) continue;
      const [model] = found;
      result.push({
        tail: { buffer, lets: model.lets, source: model.source, value: model.store.value, perIteration, first, outside: outsideTerms },
        skipped: found.flatMap((f) => f.lets.map((l) => l.name)),
        sources: new Map(found.map((f) => [f.store as Stmt, f.source])),
      });
    }
    return result;
  }

  /**
   * After an iteration of a lane nest: the deferred tail over the elements it wrote (their
   * sources, stored by the nest), in place, four vectors (or two, or one) at a time.
   */
  private tailPass(tail: DeferredTail, i: number): void {
    const nest = this.nest!;
    const c = this.code;
    const at = this.newLocal('i32');
    const end = this.newLocal('i32');
    c.get(tail.buffer).get(i).i32Const(tail.perIteration).op(Op.i32_mul);
    if (tail.first !== 0) c.i32Const(tail.first).op(Op.i32_add);
    for (const [name, coef] of tail.outside) c.get(this.lookup(name).index).i32Const(coef).op(Op.i32_mul).op(Op.i32_add);
    // Four lanes' iterations: perIteration vectors of four elements.
    c.i32Const(2).op(Op.i32_shl).op(Op.i32_add).tee(at).i32Const(16 * tail.perIteration).op(Op.i32_add).set(end);
    // Four vectors an iteration: independent chains for the core to overlap, few enough that
    // TurboFan spills little of them (one: latency-bound; eight: spills; measured).
    const unroll = tail.perIteration % 4 === 0 ? 4 : tail.perIteration % 2 === 0 ? 2 : 1;
    const zs = Array.from({ length: unroll }, () => this.newLocal('v128'));
    // a + (-x) (1 - t^2 of a tanh's derivative, say) as a - x: one instruction for four, the
    // same result (IEEE subtraction is the addition of the negation).
    const negated = new Map<string, Operand>();
    for (const l of tail.lets) {
      if (l.value.kind !== 'prim' || l.value.op !== 'neg' || this.usesOf(l.name) !== 1) continue;
      if (tail.lets.some((m) => m.value.kind === 'prim' && m.value.op === 'add' && m.value.args.includes(l.name))) negated.set(l.name, l.value.args[0]);
    }
    c.open(Op.loop);
    zs.forEach((z, u) => c.get(at).simdMem(Simd.v128_load, 2, 16 * u).set(z));
    zs.forEach((z, u) => {
      nest.lanes.set(tail.source, z);
      for (const l of tail.lets) {
        const v = l.value;
        if (negated.has(l.name)) continue;
        const negatedArg = v.kind === 'prim' && v.op === 'add' ? v.args.find((o) => typeof o === 'string' && negated.has(o)) : undefined;
        if (v.kind === 'prim' && negatedArg !== undefined) {
          this.laneOf(v.args[0] === negatedArg ? v.args[1] : v.args[0]);
          this.laneOf(negated.get(negatedArg as string)!);
          c.simd(Simd.f32x4_sub);
        } else if (v.kind === 'prim') this.vectorPrim(v.op, v.args, (o) => this.laneOf(o), () => this.newLocal('v128'));
        else if (v.kind === 'convert') this.laneOf(v.arg);
        else throw new Error('functs internal error: a deferred tail holds a ' + v.kind);
        const local = this.newLocal('v128');
        c.set(local);
        nest.lanes.set(l.name, local);
      }
      c.get(at);
      this.laneOf(tail.value);
      c.simdMem(Simd.v128_store, 2, 16 * u);
    });
    c.get(at).i32Const(16 * unroll).op(Op.i32_add).tee(at).get(end).op(Op.i32_lt_u).op(Op.br_if).u32(0).op(Op.end);
  }

  /** Splats a uniform value for the lanes that use it. */
  private splat(name: string): void {
    const nest = this.nest!;
    const local = this.lookup(name);
    const v = this.newLocal('v128');
    if (local.type === 'i32') this.code.get(local.index).simd(Simd.i32x4_splat).simd(Simd.f32x4_convert_i32x4_s);
    else if (local.intValued) throw new NotVectorizable();
    else this.code.get(local.index).op(Op.f32_demote_f64).simd(Simd.f32x4_splat);
    this.code.set(v);
    nest.splats.set(name, v);
  }

  /** Pushes an operand's four lanes inside a lane nest. */
  private laneOf(o: Operand): void {
    const nest = this.nest!;
    const c = this.code;
    if (typeof o !== 'string') return f32x4Const(c, Math.fround(o.literal));
    const v = nest.lanes.get(o) ?? nest.splats.get(o);
    if (v !== undefined) {
      c.get(v);
      return;
    }
    const local = this.named.get(o);
    const s = nest.strides.get(o);
    if (!local || local.type !== 'i32' || s === undefined) throw new NotVectorizable();
    // A varying index value used as data: its four lanes, converted.
    c.get(local.index).simd(Simd.i32x4_splat).simd(Simd.v128_const);
    c.bytes(new Uint8Array(new Int32Array([0, s, 2 * s, 3 * s]).buffer));
    c.simd(Simd.i32x4_add).simd(Simd.f32x4_convert_i32x4_s);
  }

  /** Checks a float32 load in a lane nest; returns the byte step between lanes. */
  private laneStep(buffer: number, index: Operand): number {
    const nest = this.nest!;
    const { dtype, size, role } = this.ir.buffers[buffer];
    if (dtype !== 'float32' || role === 'output') throw new NotVectorizable();
    const s = typeof index === 'string' ? nest.strides.get(index) ?? NaN : NaN;
    // Lanes at positive steps only: a lane's address is the first one's plus a constant offset.
    if (!Number.isFinite(s) || s <= 0) throw new NotVectorizable();
    const [lo, hi] = this.rangeOf(index);
    if (!(lo >= 0 && hi < size)) throw new NotVectorizable();
    return s * 4;
  }

  /** An index as a constant plus a sum of atoms (loop indices, divmod results), through affine lets; `key` names the sum. */
  private linear(o: Operand): { readonly constant: number; readonly terms: ReadonlyMap<string, number> } {
    if (typeof o !== 'string') return { constant: o.literal, terms: new Map() };
    const v = this.valueOf.get(o);
    if (v?.kind !== 'affine') return { constant: 0, terms: new Map([[o, 1]]) };
    const base = this.linear(v.base);
    let constant = base.constant;
    const terms = new Map(base.terms);
    for (const t of v.terms) {
      const inner = this.linear(t.value);
      constant += t.coef * inner.constant;
      for (const [name, coef] of inner.terms) terms.set(name, (terms.get(name) ?? 0) + t.coef * coef);
    }
    return { constant, terms };
  }

  /**
   * Pushes the byte address of a float32 element of `buffer` in a lane nest; returns a
   * constant byte offset to add. Indices that differ by a constant (a register tile's rows and
   * columns) share one address computed once per block, the difference going into the
   * access's offset.
   */
  private sharedAddress(buffer: number, index: Operand): { offset: number; key: string; constant: number } {
    const { constant, terms } = this.linear(index);
    const key = `${buffer}|${[...terms].filter(([, coef]) => coef !== 0).sort(([a], [b]) => (a < b ? -1 : 1)).map(([n, coef]) => `${n}*${coef}`).join('+')}`;
    const scopes = this.addressScopes;
    for (let k = scopes.length - 1; k >= 0; k--) {
      const hit = scopes[k].get(key);
      if (hit && constant >= hit.constant && (constant - hit.constant) * 4 < 2 ** 20) {
        this.code.get(hit.local);
        return { offset: (constant - hit.constant) * 4, key, constant };
      }
    }
    const local = this.newLocal('i32');
    this.code.get(buffer);
    this.i32(index);
    this.code.i32Const(2).op(Op.i32_shl).op(Op.i32_add).tee(local);
    scopes[scopes.length - 1].set(key, { local, constant });
    return { offset: 0, key, constant };
  }

  /** Lane nests' float64 sums (sumsData): their f64x2 partial sums of lanes 0-1 and 2-3, and a scratch for the summand. */
  private readonly wideLanes = new Map<string, { low: number; high: number; value: number }>();

  /** Whether accumulator `name` under `loop` sums data (a summand that is not an inexact op: see roughSummand). */
  private sumsData(loop: Loop, name: string): boolean {
    const visit = (list: readonly Stmt[]): boolean => list.some((st) => (st.kind === 'loop' ? visit(st.body) : st.kind === 'accumulate' && st.name === name && st.op === 'sum' && !this.roughSummand(st.value)));
    return visit(loop.body);
  }

  /** The statements of a lane nest. */
  private laneStmts(list: readonly Stmt[]): void {
    this.addressScopes.push(new Map());
    this.pairScopes.push(new Map());
    this.scatterScopes.push(new Map());
    this.groupScopes.push(this.groupableStores(list));
    try {
      this.laneBlock(list);
      this.flushScatters();
    } finally {
      this.addressScopes.pop();
      this.pairScopes.pop();
      this.scatterScopes.pop();
      this.groupScopes.pop();
    }
  }

  /** An index's terms as a key (with its buffer), and its constant. */
  private indexKey(buffer: number, index: Operand): { key: string; constant: number } {
    const { constant, terms } = this.linear(index);
    return { key: `${buffer}|${[...terms].filter(([, coef]) => coef !== 0).sort(([a], [b]) => (a < b ? -1 : 1)).map(([n, coef]) => `${n}*${coef}`).join('+')}`, constant };
  }

  /**
   * The stores of a block that fall in groups of four to consecutive elements (same buffer and
   * index terms, constants c..c+3, each stored once): only these are held back, so a store
   * that would never be grouped keeps its value live no longer than before.
   */
  private groupableStores(list: readonly Stmt[]): Set<Stmt> {
    const byKey = new Map<string, Map<number, Stmt[]>>();
    for (const st of list) {
      if (st.kind !== 'store') continue;
      const { key, constant } = this.indexKey(st.buffer, st.index);
      let constants = byKey.get(key);
      if (!constants) byKey.set(key, (constants = new Map()));
      constants.set(constant, [...(constants.get(constant) ?? []), st]);
    }
    const grouped = new Set<Stmt>();
    for (const constants of byKey.values()) {
      if ([...constants.values()].some((stores) => stores.length > 1)) continue;
      const sorted = [...constants.keys()].sort((a, b) => a - b);
      for (let i = 0; i + 3 < sorted.length; ) {
        const c = sorted[i];
        if (sorted[i + 3] === c + 3) {
          for (let d = 0; d < 4; d++) grouped.add(constants.get(c + d)![0]);
          i += 4;
        } else i++;
      }
    }
    return grouped;
  }

  /** Writes the block's held scatter stores of `buffer` (all of them where undefined), in the order they came. */
  private flushScatters(buffer?: number): void {
    const pending = this.scatterScopes[this.scatterScopes.length - 1];
    for (const [key, group] of pending) {
      if (buffer !== undefined && group.buffer !== buffer) continue;
      for (const store of group.stores) this.scatterStore(group.buffer, store.index, store.value, group.step);
      pending.delete(key);
    }
  }

  /** Stores the lanes of local `value` at elements index, index + step, ... of `buffer`, one store32_lane each. */
  private scatterStore(buffer: number, index: Operand, value: number, step: number): void {
    const c = this.code;
    c.get(buffer);
    this.i32(index);
    c.i32Const(2).op(Op.i32_shl).op(Op.i32_add);
    const address = this.newLocal('i32');
    c.set(address);
    for (let k = 0; k < 4; k++) c.get(address).get(value).simdMem(Simd.v128_store32_lane, 2, k * step * 4).byte(k);
  }

  /**
   * Holds a scatter store (lanes `step` >= 4 elements apart) until its block has four to
   * consecutive elements with the same index terms; those are transposed in registers, so
   * that each lane's four elements go out as one v128 store.
   */
  private holdScatter(buffer: number, index: Operand, value: number, step: number): void {
    const { key, constant } = this.indexKey(buffer, index);
    const pending = this.scatterScopes[this.scatterScopes.length - 1];
    let group = pending.get(key);
    // Stores to this buffer under other index terms keep their order relative to this group.
    for (const [other, g] of pending) {
      if (other !== key && g.buffer === buffer) {
        for (const store of g.stores) this.scatterStore(g.buffer, store.index, store.value, g.step);
        pending.delete(other);
      }
    }
    if (group && (group.step !== step || group.stores.some((st) => st.constant === constant))) {
      for (const store of group.stores) this.scatterStore(buffer, store.index, store.value, group.step);
      pending.delete(key);
      group = undefined;
    }
    if (!group) pending.set(key, (group = { buffer, step, stores: [] }));
    group.stores.push({ constant, index, value });
    const first = group.stores.find((st) => [1, 2, 3].every((d) => group!.stores.some((o) => o.constant === st.constant + d)));
    if (!first) return;
    const four = [0, 1, 2, 3].map((d) => group!.stores.find((o) => o.constant === first.constant + d)!);
    group.stores = group.stores.filter((st) => !four.includes(st));
    this.transposedStores++;
    if (group.stores.length === 0) pending.delete(key);
    // Transposed: vector l holds lane l of the four values, the four consecutive elements from
    // first.index + l * step.
    const c = this.code;
    const v = four.map((st) => st.value);
    const t = [0, 1, 2, 3].map(() => this.newLocal('v128'));
    const shuffle = (a: number, b: number, lanes: readonly number[], into: number): void => {
      c.get(a).get(b).simd(Simd.i8x16_shuffle);
      for (const l of lanes) for (let k = 0; k < 4; k++) c.byte(4 * l + k);
      c.set(into);
    };
    shuffle(v[0], v[1], [0, 4, 1, 5], t[0]);
    shuffle(v[0], v[1], [2, 6, 3, 7], t[1]);
    shuffle(v[2], v[3], [0, 4, 1, 5], t[2]);
    shuffle(v[2], v[3], [2, 6, 3, 7], t[3]);
    const rows = [0, 1, 2, 3].map(() => this.newLocal('v128'));
    shuffle(t[0], t[2], [0, 1, 4, 5], rows[0]);
    shuffle(t[0], t[2], [2, 3, 6, 7], rows[1]);
    shuffle(t[1], t[3], [0, 1, 4, 5], rows[2]);
    shuffle(t[1], t[3], [2, 3, 6, 7], rows[3]);
    c.get(buffer);
    this.i32(first.index);
    c.i32Const(2).op(Op.i32_shl).op(Op.i32_add);
    const address = this.newLocal('i32');
    c.set(address);
    for (let l = 0; l < 4; l++) c.get(address).get(rows[l]).simdMem(Simd.v128_store, 2, l * step * 4);
  }

  private laneBlock(list: readonly Stmt[]): void {
    const nest = this.nest!;
    const c = this.code;
    for (const st of list) {
      switch (st.kind) {
        case 'let': {
          const v = st.value;
          // A product a fused multiply-add takes (its accumulate computes it).
          if (this.fusedLets.has(st.name) && nest.varying.has(st.name)) break;
          // A deferred tail's: its pass computes it.
          if (nest.deferredLets.has(st.name)) break;
          if (!nest.varying.has(st.name) && v.kind === 'load' && nest.splatted.has(st.name) && !nest.usedByUniform.has(st.name) && this.ir.buffers[v.buffer].dtype === 'float32') {
            // A uniform float32 load only lanes use: one element loaded into all four.
            const [lo, hi] = this.rangeOf(v.index);
            const offset = lo >= 0 && hi < this.ir.buffers[v.buffer].size ? this.sharedAddress(v.buffer, v.index).offset : this.address(v.buffer, v.index, true);
            const local = this.newLocal('v128');
            c.simdMem(Simd.v128_load32_splat, 2, offset).set(local);
            nest.splats.set(st.name, local);
            break;
          }
          if (!nest.varying.has(st.name)) {
            // Uniform: computed once for the four lanes, as the scalar path does.
            const { type, intValued } = this.value(v, st.name);
            c.set(this.define(st.name, type, intValued).index);
            if (type === 'i32') this.ranges.set(st.name, this.indexRange(v));
            if (nest.splatted.has(st.name)) this.splat(st.name);
            break;
          }
          if (v.kind === 'affine') {
            const { type } = this.value(v);
            if (type !== 'i32') throw new NotVectorizable();
            c.set(this.define(st.name, 'i32').index);
            this.ranges.set(st.name, this.indexRange(v));
            const stride = (o: Operand): number => (typeof o === 'string' ? nest.strides.get(o) ?? 0 : 0);
            nest.strides.set(st.name, v.terms.reduce((sum, t) => sum + t.coef * stride(t.value), stride(v.base)));
            break;
          }
          if (v.kind === 'load') {
            const step = this.laneStep(v.buffer, v.index);
            const [, hi] = this.rangeOf(v.index);
            const { constant, terms } = this.linear(v.index);
            const pairs = this.pairScopes[this.pairScopes.length - 1];
            const pairKey = (k: number) => `${v.buffer}|${[...terms].filter(([, coef]) => coef !== 0).sort(([a], [b]) => (a < b ? -1 : 1)).map(([n, coef]) => `${n}*${coef}`).join('+')}@${k}`;
            const partner = step === 8 ? pairs.get(pairKey(constant - 1)) : undefined;
            if (partner) {
              // The odd lanes of the two vectors its even partner (one element before) loaded.
              c.get(partner.low).get(partner.high).simd(Simd.i8x16_shuffle);
              c.bytes([4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31]);
            } else {
              const { offset } = this.sharedAddress(v.buffer, v.index);
              if (step === 4) c.simdMem(Simd.v128_load, 2, offset);
              else if (step === 8 && hi + 1 < this.ir.buffers[v.buffer].size) {
                // Every other element: two contiguous loads and their even lanes (a row of a
                // register tile's unrolled pair, say), in place of four scalar loads.
                const address = this.newLocal('i32');
                const low = this.newLocal('v128');
                const high = this.newLocal('v128');
                c.tee(address).simdMem(Simd.v128_load, 2, offset).set(low).get(address).simdMem(Simd.v128_load, 2, offset + 16).set(high);
                c.get(low).get(high).simd(Simd.i8x16_shuffle);
                c.bytes([0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27]);
                pairs.set(pairKey(constant), { low, high });
              } else {
                // A gather: each lane loaded in place (load32_lane: one instruction where a
                // scalar load and a replace_lane are two).
                const address = this.newLocal('i32');
                const gathered = this.newLocal('v128');
                c.tee(address).simdMem(Simd.v128_load32_splat, 2, offset).set(gathered);
                for (let k = 1; k < 4; k++) c.get(address).get(gathered).simdMem(Simd.v128_load32_lane, 2, offset + k * step).byte(k).set(gathered);
                c.get(gathered);
              }
            }
          } else if (v.kind === 'prim') {
            if (v.dtype !== 'float32') throw new NotVectorizable();
            if ((v.op === 'tanh' || v.op === 'exp') && this.roundedAtOnce.has(st.name)) throw new NotVectorizable();
            this.vectorPrim(v.op, v.args, (o) => this.laneOf(o), () => this.newLocal('v128'));
          } else if (v.kind === 'convert' && v.dtype === 'float32' && typeof v.arg === 'string' && this.wideLanes.has(v.arg)) {
            // A float64 sum rounded to float32: each f64x2 demoted (round to nearest, as
            // f32.demote_f64), the two halves joined.
            const { low, high } = this.wideLanes.get(v.arg)!;
            c.get(low).simd(F32X4_DEMOTE_F64X2_ZERO).get(high).simd(F32X4_DEMOTE_F64X2_ZERO).simd(Simd.i8x16_shuffle);
            c.bytes([0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]);
          } else if (v.kind === 'convert' && v.dtype === 'float32') {
            this.laneOf(v.arg);
          } else {
            throw new NotVectorizable();
          }
          const local = this.newLocal('v128');
          c.set(local);
          nest.lanes.set(st.name, local);
          break;
        }
        case 'loop': {
          this.flushScatters();
          const i = this.define(st.index, 'i32').index;
          this.ranges.set(st.index, [0, st.extent - 1]);
          if (st.extent <= 0) break;
          c.i32Const(0).set(i).open(Op.loop);
          this.laneStmts(st.body);
          c.get(i).i32Const(1).op(Op.i32_add).tee(i).i32Const(st.extent).op(Op.i32_lt_s).op(Op.br_if).u32(0).op(Op.end);
          break;
        }
        case 'accumulator': {
          if (st.op === 'sum' && this.sumsData(nest.loop, st.name)) {
            // A sum of data (loads, exact ops) keeps float64 precision, as tryVectorLoop's:
            // two f64x2 partial sums per lane pair, read only by its rounding to float32.
            const low = this.newLocal('v128');
            const high = this.newLocal('v128');
            f32x4Const(c, 0);
            c.set(low);
            f32x4Const(c, 0);
            c.set(high);
            this.wideLanes.set(st.name, { low, high, value: this.newLocal('v128') });
            break;
          }
          // One accumulator per lane, in float32: only sums of products (or maxima), as tryVectorLoop.
          const v = this.newLocal('v128');
          f32x4Const(c, st.op === 'sum' ? 0 : -Infinity);
          c.set(v);
          nest.lanes.set(st.name, v);
          break;
        }
        case 'accumulate': {
          const wide = this.wideLanes.get(st.name);
          if (wide) {
            if (st.wrapsInt32 || this.roundedAtOnce.has(st.name) || st.op !== 'sum') throw new NotVectorizable();
            this.laneOf(st.value);
            c.set(wide.value);
            addPromotedHalves(c, wide.value, wide.low, wide.high);
            break;
          }
          const v = nest.lanes.get(st.name);
          if (v === undefined || st.wrapsInt32) throw new NotVectorizable();
          if (st.op === 'sum' && !this.roughSummand(st.value)) throw new NotVectorizable();
          if (this.roundedAtOnce.has(st.name)) throw new NotVectorizable();
          const fused = typeof st.value === 'string' && nest.varying.has(st.value) ? this.fusedSummands.get(st.value) : undefined;
          if (fused) {
            this.laneOf(fused[0]);
            this.laneOf(fused[1]);
            c.get(v).simd(Simd.f32x4_relaxed_madd).set(v);
            this.fusedMultiplyAdds++;
            break;
          }
          c.get(v);
          this.laneOf(st.value);
          c.simd(st.op === 'sum' ? Simd.f32x4_add : Simd.f32x4_max).set(v);
          break;
        }
        case 'store': {
          const { dtype, size } = this.ir.buffers[st.buffer];
          // A deferred tail's store writes its source; the pass after the iteration the rest.
          const stored = nest.deferredSources.get(st) ?? st.value;
          const s = typeof st.index === 'string' ? nest.strides.get(st.index) ?? 0 : 0;
          if (dtype !== 'float32' || s <= 0 || !Number.isFinite(s)) throw new NotVectorizable();
          const [lo, hi] = this.rangeOf(st.index);
          if (!(lo >= 0 && hi < size)) throw new NotVectorizable();
          if (s >= 4 && this.groupScopes[this.groupScopes.length - 1].has(st)) {
            // A scatter (lanes a row of four or more apart) of a group of four: held, to go out together.
            this.laneOf(stored);
            const value = this.newLocal('v128');
            c.set(value);
            this.holdScatter(st.buffer, st.index, value, s);
            break;
          }
          this.flushScatters(st.buffer);
          c.get(st.buffer);
          this.i32(st.index);
          c.i32Const(2).op(Op.i32_shl).op(Op.i32_add);
          if (s === 1) {
            this.laneOf(stored);
            c.simdMem(Simd.v128_store, 2);
          } else {
            // A scatter: each lane stored from the vector (store32_lane: one instruction
            // where an extract_lane and a scalar store are two).
            const address = this.newLocal('i32');
            c.set(address);
            for (let k = 0; k < 4; k++) {
              c.get(address);
              this.laneOf(stored);
              c.simdMem(Simd.v128_store32_lane, 2, k * s * 4).byte(k);
            }
          }
          break;
        }
        default: throw new NotVectorizable();
      }
    }
  }

  /**
   * Whether a summand may be summed in f32x4 partial sums: the result of an inexact op (a
   * product, say) that reaches no comparison (roundedAtOnce), looking through the IR's float32
   * rounding of it. Other sums keep float64 precision.
   */
  private roughSummand(o: Operand): boolean {
    if (typeof o !== 'string' || this.roundedAtOnce.has(o)) return false;
    let def = this.valueOf.get(o);
    if (def?.kind === 'convert' && def.dtype === 'float32' && typeof def.arg === 'string') {
      if (this.roundedAtOnce.has(def.arg)) return false;
      def = this.valueOf.get(def.arg);
    }
    return def?.kind === 'prim' && !EXACT_OPS.has(def.op);
  }

  /** A float32 primitive on lanes (the ops with an f32x4 form; the rest stay scalar). */
  private vectorPrim(op: string, args: readonly Operand[], lane: (o: Operand) => void, tmp: () => number): void {
    const c = this.code;
    const binary: Record<string, number> = { add: Simd.f32x4_add, mul: Simd.f32x4_mul, div: Simd.f32x4_div, max: Simd.f32x4_max };
    const unary: Record<string, number> = { sqrt: Simd.f32x4_sqrt, floor: Simd.f32x4_floor, ceil: Simd.f32x4_ceil, round: Simd.f32x4_nearest };
    if (op in binary) {
      lane(args[0]);
      lane(args[1]);
      c.simd(binary[op]);
    } else if (op in unary) {
      lane(args[0]);
      c.simd(unary[op]);
    } else if (op === 'neg') {
      lane(args[0]);
      negX4(c);
    } else if (op === 'abs') {
      lane(args[0]);
      absX4(c);
    } else if (op === 'stop_gradient') {
      lane(args[0]);
    } else if (op === 'recip') {
      f32x4Const(c, 1);
      lane(args[0]);
      c.simd(Simd.f32x4_div);
    } else if (op === 'tanh' || op === 'exp') {
      const x = tmp();
      lane(args[0]);
      // Beyond [-104, 89] e^x is 0 or Infinity in float32.
      if (op === 'exp') clampExpArgX4(c);
      c.set(x);
      if (op === 'tanh') tanhX4(c, x, tmp);
      else expX4(c, x, tmp);
    } else {
      throw new NotVectorizable();
    }
  }

  stmts(list: readonly Stmt[]): void {
    const c = this.code;
    for (const s of list) {
      switch (s.kind) {
        case 'let': {
          const { type, intValued } = this.value(s.value, s.name);
          c.set(this.define(s.name, type, intValued).index);
          if (type === 'i32') this.ranges.set(s.name, this.indexRange(s.value));
          break;
        }
        case 'loop': {
          if (this.simd && !this.nest && !this.analyzed.has(s.index)) this.chooseLanes(s);
          if (this.simd && !this.nest && this.outerChoice.has(s.index) && this.tryOuterVector(s)) break;
          if (this.simd && this.tryVectorLoop(s)) break;
          const i = this.define(s.index, 'i32').index;
          this.ranges.set(s.index, [0, s.extent - 1]);
          if (s.extent <= 0) break;
          this.loopStart(s, i);
          c.open(Op.loop);
          this.stmts(s.body);
          c.get(i).i32Const(1).op(Op.i32_add).tee(i);
          this.loopEnd(s);
          c.op(Op.i32_lt_s).op(Op.br_if).u32(0);
          c.op(Op.end);
          break;
        }
        case 'accumulator':
          c.f64Const(s.op === 'sum' ? 0 : -Infinity).set(this.define(s.name, 'f64').index);
          break;
        case 'accumulate': {
          const acc = this.lookup(s.name).index;
          if (s.op === 'sum') {
            c.get(acc);
            this.f64(s.value);
            c.op(Op.f64_add).set(acc);
          } else {
            // NaN wins and stays: take v where v > acc or v is NaN.
            this.f64(s.value);
            c.get(acc);
            this.f64(s.value);
            c.get(acc).op(Op.f64_gt);
            this.f64(s.value);
            this.f64(s.value);
            c.op(Op.f64_ne).op(Op.i32_or).op(Op.select).set(acc);
          }
          break;
        }
        case 'store': this.store(s.buffer, s.index, s.value); break;
        case 'scatterAdd': throw new Unsupported('scatter');
        default: s satisfies never;
      }
    }
  }
}

/** A compiled module's bytes and what it imports. */
export interface WasmKernelModule {
  readonly bytes: Uint8Array<ArrayBuffer>;
  readonly imports: readonly ImportedMath[];
  readonly helpers: readonly Helper[];
  /** How many innermost loops run on f32x4 lanes. */
  readonly vectorLoops: number;
  /**
   * The loops whose iterations run four at a time in f32x4 lanes with the loops inside them
   * (outer-product style: a reduction inside keeps one accumulator per lane).
   */
  readonly laneLoops: readonly string[];
  /** Groups of four strided stores in lane nests written as a 4x4 transpose and four v128 stores. */
  readonly transposedStores: number;
  /** Elementwise tails of lane nests' stores run as a pass after each iteration (DeferredTail). */
  readonly deferredTails: number;
  /**
   * The loop threads may split (parallel.ts): the kernel then takes two more i32 parameters
   * after the buffers' addresses, the first and the end of that loop's iterations to run.
   */
  readonly parallel: ParallelLoop | null;
  /** How many sums of products are `f32x4.relaxed_madd` (WasmOptions.fma). */
  readonly fusedMultiplyAdds: number;
  /**
   * The contraction run as a GEMM (gemm.ts), with a second pass for its epilogue; null: none.
   * `scratchBytes`: what it uses at the top of the memory (the arena must keep them free: WasmArena.needScratch).
   */
  /** `mirrored`: a symmetric C's blocks I <= J computed, each stored at (I, J) and (J, I); `diagonalPacked`: its diagonal blocks as three vectors; `packing`: B's packing, run once per call before the split (null: packed inside the kernel, or not packed) (gemm.ts). */
  readonly gemm: { readonly M: number; readonly N: number; readonly K: number; readonly batch: number; readonly epilogue: boolean; readonly scratchBytes: number; readonly mirrored: boolean; readonly diagonalPacked: boolean; readonly packing: GemmPacking | null } | null;
  /** Column sums swept by rows into float64 partial rows at the top of the memory (colsweep.ts); null: none. */
  readonly columnSweep: { readonly columns: number; readonly rows: number; readonly scratchBytes: number } | null;
}

/**
 * Float32 lanes summed in float64: the f32x4 in local `value` promoted half by half, lanes 0-1
 * added into the f64x2 local `low` and lanes 2-3 into `high`.
 */
function addPromotedHalves(c: Code, value: number, low: number, high: number): void {
  c.get(low).get(value).simd(Simd.f64x2_promote_low_f32x4).simd(Simd.f64x2_add).set(low);
  c.get(high).get(value).get(value).simd(Simd.i8x16_shuffle);
  c.bytes([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]);
  c.simd(Simd.f64x2_promote_low_f32x4).simd(Simd.f64x2_add).set(high);
}

/** Whether this engine validates a module with a v128 instruction (every current browser and Node >= 16 do). */
export const SIMD_SUPPORTED: boolean = (() => {
  const builder = new ModuleBuilder(null);
  const fn = builder.declare({ params: [], results: [] });
  const code = new Code();
  f32x4Const(code, 1);
  code.op(Op.drop);
  fn.define([], code);
  try {
    return WebAssembly.validate(builder.encode());
  } catch {
    return false;
  }
})();

/**
 * Whether this engine validates relaxed SIMD's `f32x4.relaxed_madd` (Node 22 and current
 * browsers by default; Node 20 only with --experimental-wasm-relaxed-simd).
 */
export const RELAXED_SIMD_SUPPORTED: boolean = SIMD_SUPPORTED && (() => {
  const builder = new ModuleBuilder(null);
  const fn = builder.declare({ params: [], results: [] });
  const code = new Code();
  for (let k = 0; k < 3; k++) f32x4Const(code, 1);
  code.simd(Simd.f32x4_relaxed_madd).op(Op.drop);
  fn.define([], code);
  try {
    return WebAssembly.validate(builder.encode());
  } catch {
    return false;
  }
})();

/** How a kernel is compiled (for tests and benchmarks; the defaults are what the backend uses). */
export interface WasmOptions {
  /** f32x4 lanes (default: where the engine has SIMD). */
  readonly simd?: boolean;
  /**
   * Sums of products in lane nests as `f32x4.relaxed_madd` (default: where the engine has
   * relaxed SIMD). Fused or not is the engine's choice: a fused product-sum rounds once where
   * the reference rounds twice, within the float32 tolerance sums are compared at.
   */
  readonly fma?: boolean;
  /** The loop whose iterations run four at a time in lanes with its nest (null: none); default: the cost model's choice. */
  readonly laneLoop?: string | null;
  /** false: no parallel loop (the kernel takes only the buffers' addresses). */
  readonly parallel?: boolean;
  /** Import the memory as shared (it must then be a shared memory; default false). */
  readonly sharedMemory?: boolean;
  /** false: contractions go through the loop compiler, not the GEMM (default: the GEMM where SIMD is on). */
  readonly gemm?: boolean;
  /** The GEMM's register tile and cache blocks (default DEFAULT_GEMM_TUNING; for benchmarks). */
  readonly gemmTuning?: GemmTuning;
  /** Column sums of float32 data swept by rows (colsweep.ts; default true where SIMD is). */
  readonly columnSweep?: boolean;
  /** Lane nests' elementwise tails of stores as a pass after each iteration (DeferredTail; default true). */
  readonly deferTails?: boolean;
}

const lcm = (a: number, b: number): number => {
  let [x, y] = [a, b];
  while (y) [x, y] = [y, x % y];
  return (a / x) * b;
};

/** Compiles a kernel IR to a module; throws Unsupported where the JS compiler must take it. */
export function emitKernelModule(ir: KernelIR, options: WasmOptions = {}): WasmKernelModule {
  if (ir.kind !== 'map') throw new Unsupported(`${ir.kind} kernels`);
  let parallel = options.parallel === false ? null : parallelLoop(ir);
  // First pass: which helpers and imports the body calls (indices do not matter yet). A body
  // that calls none is already final: it is kept, not emitted a second time.
  const wantedHelpers = new Set<Helper>();
  const wantedMath = new Set<ImportedMath>();
  const simd = options.simd ?? SIMD_SUPPORTED;
  const fma = simd && (options.fma ?? RELAXED_SIMD_SUPPORTED);
  // A contraction runs as a GEMM; what the kernel does with the sums (its epilogue) is the
  // loop compiler's, over the GEMM's output.
  const contraction = simd && options.gemm !== false ? matchContraction(ir) : null;
  // Column sums of float32 data: swept by rows into a partial row of float64 sums first, the
  // body then reads each column's sum (colsweep.ts).
  const sweep = simd && !contraction && options.columnSweep !== false ? matchColumnSweep(ir, parallel) : null;
  const bodyIr = contraction ? contraction.epilogue : sweep ? sweep.rewritten : ir;
  let recorder: BodyEmitter | null = null;
  if (bodyIr) {
    recorder = new BodyEmitter(bodyIr, {
      helper: (h) => (wantedHelpers.add(h), 0),
      math: (m) => (wantedMath.add(m), 0),
    }, simd, options.laneLoop, parallel, fma, options.deferTails ?? true);
    recorder.stmts(bodyIr.body);
  }
  const helpers = withDependencies(wantedHelpers);
  for (const h of helpers) {
    const probe = new Code();
    HELPER_DEFS[h].body(probe, { helper: () => 0, math: (m) => (wantedMath.add(m), 0) });
  }
  const imports = IMPORTED_MATH.filter((m) => wantedMath.has(m));

  const builder = new ModuleBuilder({ module: 'env', name: 'memory', shared: options.sharedMemory ?? false });
  const mathIndex = new Map<ImportedMath, number>();
  for (const m of imports) mathIndex.set(m, builder.importFunction('m', m, m === 'pow' ? { params: ['f64', 'f64'], results: ['f64'] } : { params: ['f64'], results: ['f64'] }));
  const parameterCount = ir.buffers.length + (parallel ? 2 : 0);
  const kernelFn = builder.declare({ params: Array.from({ length: parameterCount }, () => 'i32' as const), results: [] }, 'kernel');
  const helperFns = new Map<Helper, ReturnType<ModuleBuilder['declare']>>();
  for (const h of helpers) helperFns.set(h, builder.declare(HELPER_DEFS[h].type));
  const callee: Callee = {
    helper: (h) => {
      const fn = helperFns.get(h);
      if (!fn) throw new Error(`functs internal error: wasm helper ${h} not declared`);
      return fn.index;
    },
    math: (m) => {
      const index = mathIndex.get(m);
      if (index === undefined) throw new Error(`functs internal error: Math.${m} not imported`);
      return index;
    },
  };
  for (const h of helpers) {
    const code = new Code();
    HELPER_DEFS[h].body(code, callee);
    helperFns.get(h)!.define(HELPER_DEFS[h].locals, code);
  }
  const code = new Code();
  let gemm: WasmKernelModule['gemm'] = null;
  let gemmFusedMultiplyAdds = 0;
  if (contraction) {
    const { entry, fusedMultiplyAdds, scratchBytes, mirrored, diagonalPacked, rowGrain, packing } = declareGemm(builder, contraction.layout, ir.buffers.length, parallel?.index ?? null, { fma, tuning: options.gemmTuning, sharedMemory: options.sharedMemory ?? false });
    // Chunks in whole row tiles of the GEMM; where an epilogue's loops run after it, still in
    // whole blocks of four f32x4 lanes (parallel.ts's reason for its grain): 20 rows for 5-row
    // tiles. Without one, chunks of a tile: the last chunk of 20 rows (a 512 matmul: 0.3 ms)
    // left the other thread waiting 0.2-0.5 ms per call, measured.
    if (parallel && contraction.epilogue === null && rowGrain > 1) parallel = { ...parallel, grain: rowGrain };
    else if (parallel && parallel.grain % rowGrain !== 0) parallel = { ...parallel, grain: lcm(parallel.grain % 4 === 0 ? 4 : parallel.grain, rowGrain) };
    for (let p = 0; p < parameterCount; p++) code.get(p);
    code.call(entry);
    const { M, N, K, batch } = contraction.layout;
    gemm = { M, N, K, batch: batch.reduce((n, l) => n * l.extent, 1), epilogue: contraction.epilogue !== null, scratchBytes, mirrored, diagonalPacked, packing };
    gemmFusedMultiplyAdds = fusedMultiplyAdds;
  }
  const body = !bodyIr ? null : wantedHelpers.size === 0 && wantedMath.size === 0 ? recorder : new BodyEmitter(bodyIr, callee, simd, options.laneLoop, parallel, fma, options.deferTails ?? true);
  if (body && bodyIr && sweep) {
    if (body !== recorder) body.stmts(bodyIr.body);
    const inner = builder.declare({ params: Array.from({ length: parameterCount + 1 }, () => 'i32' as const), results: [] });
    inner.define(body.locals, body.code);
    const sweepLocals: ValType[] = [];
    const local = (t: 'i32'): number => (sweepLocals.push(t), parameterCount + sweepLocals.length - 1);
    const scratch = local('i32');
    emitColumnSweep(code, sweep, ir.buffers.length, parallel !== null, scratch, local);
    for (let p = 0; p < ir.buffers.length; p++) code.get(p);
    code.get(scratch);
    if (parallel) code.get(ir.buffers.length).get(ir.buffers.length + 1);
    code.call(inner.index);
    kernelFn.define(sweepLocals, code);
  } else {
    if (body && bodyIr) {
      if (body !== recorder) body.stmts(bodyIr.body);
      code.bytes(body.code.view());
    }
    kernelFn.define(body?.locals ?? [], code);
  }
  const columnSweep = sweep ? { columns: sweep.iterations * sweep.columnsPerIteration, rows: sweep.rows, scratchBytes: sweep.scratchBytes } : null;
  // A chunk of a sweep is a span of columns swept down every row: narrow spans (a few cache
  // lines a row, a new page each) lose the streaming, so threads take wide ones.
  const split = sweep && parallel ? { ...parallel, grain: Math.max(parallel.grain, Math.ceil(sweepTuning.chunkColumns / sweep.columnsPerIteration)) } : parallel;
  return { bytes: builder.encode(), imports, helpers, vectorLoops: body?.vectorLoops ?? 0, laneLoops: body?.laneLoops ?? [], transposedStores: body?.transposedStores ?? 0, deferredTails: body?.deferredTailPasses ?? 0, parallel: split, fusedMultiplyAdds: (body?.fusedMultiplyAdds ?? 0) + gemmFusedMultiplyAdds, gemm, columnSweep };
}

/** A module exporting the named helpers under their own names (to test the approximations alone). */
export function emitHelperModule(wanted: readonly Helper[], sharedMemory = false): WasmKernelModule {
  const helpers = withDependencies(wanted);
  const builder = new ModuleBuilder({ module: 'env', name: 'memory', shared: sharedMemory });
  const mathIndex = new Map<ImportedMath, number>();
  for (const m of IMPORTED_MATH) mathIndex.set(m, builder.importFunction('m', m, m === 'pow' ? { params: ['f64', 'f64'], results: ['f64'] } : { params: ['f64'], results: ['f64'] }));
  const fns = new Map(helpers.map((h) => [h, builder.declare(HELPER_DEFS[h].type, h)] as const));
  const callee: Callee = { helper: (h) => fns.get(h)!.index, math: (m) => mathIndex.get(m)! };
  for (const h of helpers) {
    const code = new Code();
    HELPER_DEFS[h].body(code, callee);
    fns.get(h)!.define(HELPER_DEFS[h].locals, code);
  }
  return { bytes: builder.encode(), imports: IMPORTED_MATH, helpers, vectorLoops: 0, laneLoops: [], transposedStores: 0, deferredTails: 0, parallel: null, fusedMultiplyAdds: 0, gemm: null, columnSweep: null };
}

/** A module exporting `tanh` and `exp` of one float32 through the f32x4 approximations (lane 0). */
export function emitVectorMathModule(): Uint8Array<ArrayBuffer> {
  const builder = new ModuleBuilder(null);
  for (const name of ['tanh', 'exp'] as const) {
    const fn = builder.declare({ params: ['f32'], results: ['f32'] }, name);
    const locals: ValType[] = [];
    const tmp = (): number => (locals.push('v128'), locals.length);
    const code = new Code();
    const x = tmp();
    code.get(0).simd(Simd.f32x4_splat);
    if (name === 'exp') clampExpArgX4(code);
    code.set(x);
    if (name === 'tanh') tanhX4(code, x, tmp);
    else expX4(code, x, tmp);
    code.simd(Simd.f32x4_extract_lane).byte(0);
    fn.define(locals, code);
  }
  return builder.encode();
}
