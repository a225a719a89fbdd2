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
import type { KernelIR, Operand, Stmt, Value } from '../../fusion/kernel.js';
import { Code, ModuleBuilder, Op, type ValType } from './encoder.js';
import { HELPER_DEFS, IMPORTED_MATH, withDependencies, type Callee, type Helper, type ImportedMath } from './math.js';
import { ELEMENTWISE_OPS, WASM_OPS, castTo, type ElementwiseOp } from './ops.js';

/** The kernel uses something this backend does not compile; the JS compiler takes it. */
export class Unsupported extends Error {}

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

/** Emits the body of the kernel function. */
class BodyEmitter {
  readonly code = new Code();
  readonly locals: ValType[] = [];
  private readonly named = new Map<string, Local>();
  /** The range of each index value (loop indices, index arithmetic), for loads that may stray. */
  private readonly ranges = new Map<string, readonly [number, number]>();

  constructor(
    private readonly ir: KernelIR,
    private readonly callee: Callee,
  ) {}

  private newLocal(type: ValType): number {
    this.locals.push(type);
    return this.ir.buffers.length + this.locals.length - 1;
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
  private value(v: Value): { type: 'i32' | 'f64'; intValued: boolean } {
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

  stmts(list: readonly Stmt[]): void {
    const c = this.code;
    for (const s of list) {
      switch (s.kind) {
        case 'let': {
          const { type, intValued } = this.value(s.value);
          c.set(this.define(s.name, type, intValued).index);
          if (type === 'i32') this.ranges.set(s.name, this.indexRange(s.value));
          break;
        }
        case 'loop': {
          const i = this.define(s.index, 'i32').index;
          this.ranges.set(s.index, [0, s.extent - 1]);
          if (s.extent <= 0) break;
          c.i32Const(0).set(i);
          c.open(Op.loop);
          this.stmts(s.body);
          c.get(i).i32Const(1).op(Op.i32_add).tee(i).i32Const(s.extent).op(Op.i32_lt_s).op(Op.br_if).u32(0);
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
}

/** Compiles a kernel IR to a module; throws Unsupported where the JS compiler must take it. */
export function emitKernelModule(ir: KernelIR): WasmKernelModule {
  if (ir.kind !== 'map') throw new Unsupported(`${ir.kind} kernels`);
  // First pass: which helpers and imports the body calls (indices do not matter yet).
  const wantedHelpers = new Set<Helper>();
  const wantedMath = new Set<ImportedMath>();
  const recorder = new BodyEmitter(ir, {
    helper: (h) => (wantedHelpers.add(h), 0),
    math: (m) => (wantedMath.add(m), 0),
  });
  recorder.stmts(ir.body);
  const helpers = withDependencies(wantedHelpers);
  for (const h of helpers) {
    const probe = new Code();
    HELPER_DEFS[h].body(probe, { helper: () => 0, math: (m) => (wantedMath.add(m), 0) });
  }
  const imports = IMPORTED_MATH.filter((m) => wantedMath.has(m));

  const builder = new ModuleBuilder();
  const mathIndex = new Map<ImportedMath, number>();
  for (const m of imports) mathIndex.set(m, builder.importFunction('m', m, m === 'pow' ? { params: ['f64', 'f64'], results: ['f64'] } : { params: ['f64'], results: ['f64'] }));
  const kernelFn = builder.declare({ params: ir.buffers.map(() => 'i32'), results: [] }, 'kernel');
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
  const body = new BodyEmitter(ir, callee);
  body.stmts(ir.body);
  kernelFn.define(body.locals, body.code);
  return { bytes: builder.encode(), imports, helpers };
}

/** A module exporting the named helpers under their own names (to test the approximations alone). */
export function emitHelperModule(wanted: readonly Helper[]): WasmKernelModule {
  const helpers = withDependencies(wanted);
  const builder = new ModuleBuilder();
  const mathIndex = new Map<ImportedMath, number>();
  for (const m of IMPORTED_MATH) mathIndex.set(m, builder.importFunction('m', m, m === 'pow' ? { params: ['f64', 'f64'], results: ['f64'] } : { params: ['f64'], results: ['f64'] }));
  const fns = new Map(helpers.map((h) => [h, builder.declare(HELPER_DEFS[h].type, h)] as const));
  const callee: Callee = { helper: (h) => fns.get(h)!.index, math: (m) => mathIndex.get(m)! };
  for (const h of helpers) {
    const code = new Code();
    HELPER_DEFS[h].body(code, callee);
    fns.get(h)!.define(HELPER_DEFS[h].locals, code);
  }
  return { bytes: builder.encode(), imports: IMPORTED_MATH, helpers };
}
