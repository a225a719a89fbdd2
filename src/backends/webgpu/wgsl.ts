/**
 * WGSL generation from the kernel IR, by a grid lowering: the outer loops of a kernel that
 * hold nothing but index arithmetic and one inner loop (the output loops above its
 * reductions and stores) become the thread grid, one thread per iteration of the innermost
 * of them; what lies inside runs serially in each thread, as the IR says (the register tiles
 * the scheduler made become several outputs per thread). Every shape is baked in as a
 * constant, so the text is the pipeline cache key.
 *
 * Values are f32 or i32 (bool is an i32 of 0 or 1, stored as i32 in device memory); WGSL
 * has no float64, and a kernel that needs one is refused with a DeviceError naming the op.
 * Reductions accumulate in the accumulator's own type (f32), not in float64 as the CPU
 * backends do: results agree with the reference to float32 tolerance, not bit for bit.
 */
import type { DType } from '../../lazy/dtype.js';
import { DeviceError } from '../../lazy/errors.js';
import type { KernelIR, Operand, Stmt, Value } from '../../fusion/kernel.js';

type Scalar = 'f32' | 'i32';

/** The grid of a kernel: its extent and the workgroups that cover it. */
export interface GridLaunch {
  /** Threads that do work (one per iteration of the grid loops). */
  readonly threads: number;
  readonly workgroupSize: number;
  /** Workgroups along x and y (x at most the device's per-dimension cap). */
  readonly workgroups: readonly [number, number];
}

export interface WgslKernel {
  readonly source: string;
  readonly packing?: Packing;
  readonly launch: GridLaunch;
  /** Device element type of each of the IR's buffers. */
  readonly elementTypes: readonly Scalar[];
}

export interface WgslOptions {
  /** Threads per workgroup. */
  readonly workgroupSize: number;
  /** The device's maxComputeWorkgroupsPerDimension. */
  readonly maxWorkgroupsPerDimension: number;
  /** Bytes of workgroup memory a kernel may use to stage small inputs (0: none). */
  readonly workgroupStorageBytes: number;
  /** The device's maxStorageBuffersPerShaderStage. */
  readonly maxStorageBuffers: number;
}

/**
 * Inputs packed into one binding, where a kernel has more buffers than the device binds:
 * the device copies each into the packed buffer at its word offset before the launch.
 */
export interface Packing {
  readonly buffers: readonly number[];
  readonly offsets: readonly number[];
  readonly words: number;
  /** The binding of the packed buffer. */
  readonly binding: number;
}

/** Inputs up to this many elements per thread of a workgroup are staged in workgroup memory. */
const STAGE_ELEMENTS_PER_THREAD = 16;

/** The element type a buffer of `dtype` has on the device; `op` names the refused op. */
export function deviceScalar(dtype: DType, op: string): Scalar {
  switch (dtype) {
    case 'float32': return 'f32';
    case 'int32':
    case 'bool': return 'i32';
    case 'float64': throw new DeviceError(`${op}: the webgpu backend has no float64 (WGSL has none); cast to float32 first (x.astype('float32')), or compute float64 programs on a CPU backend (setBackend('js'))`);
    default: return dtype satisfies never;
  }
}

/** What a constant operand is written as in WGSL, in the type its use needs. */
function literal(v: number, type: Scalar): string {
  if (type === 'i32') {
    const i = v | 0;
    // -2^31 has no i32 literal form (the minus applies to an out-of-range 2147483648).
    return i === -2147483648 ? 'i32(-2147483647 - 1)' : `${i}i`;
  }
  const f = Math.fround(v);
  // Constant expressions may not be infinite or NaN: these come from private variables.
  if (Number.isNaN(f)) return 'bitcast<f32>(nan_bits)';
  if (f === Infinity) return 'bitcast<f32>(inf_bits)';
  if (f === -Infinity) return 'bitcast<f32>(ninf_bits)';
  if (Object.is(f, -0)) return 'bitcast<f32>(0x80000000u)';
  // Shortest decimal of the float32's exact value as a double: converts back exactly.
  const text = String(f);
  return `${text.includes('.') || text.includes('e') ? text : `${text}.0`}f`.replace('e+', 'e');
}

/** WGSL helpers the generated code may call (emitted only when used). */
const HELPERS: Record<string, string> = {
  fmax: `fn fmax(a: f32, b: f32) -> f32 { return select(max(a, b), a + b, a != a || b != b); }`,
  ftanh: `fn ftanh(x: f32) -> f32 { return tanh(clamp(x, -15.0f, 15.0f)); }`,
  flog1p: `fn flog1p(x: f32) -> f32 { let u = 1.0f + x; if (u == 1.0f) { return x; } return log(u) * x / (u - 1.0f); }`,
  fexpm1: `fn fexpm1(x: f32) -> f32 { if (abs(x) < 1e-5f) { return x + 0.5f * x * x; } return exp(x) - 1.0f; }`,
  flogistic: `fn flogistic(x: f32) -> f32 { if (x >= 0.0f) { return 1.0f / (1.0f + exp(-x)); } let e = exp(x); return e / (1.0f + e); }`,
  fpow: `fn fpow(a: f32, b: f32) -> f32 {
  if (b == 0.0f) { return 1.0f; }
  if (a >= 0.0f) { return pow(a, b); }
  if (floor(b) != b) { return bitcast<f32>(nan_bits); }
  let m = pow(-a, b);
  return select(m, -m, floor(b * 0.5f) * 2.0f != b);
}`,
  fround: `fn fround(x: f32) -> f32 { return round(x); }`,
  // JavaScript's ToInt32 (what an Int32Array store does): truncation, then modulo 2^32; NaN and
  // infinities give 0. WGSL's i32() saturates instead.
  toint32: `fn toint32(x: f32) -> i32 {
  if (abs(x) < 2147483648.0f) { return i32(x); }
  if (x - x != 0.0f) { return 0i; }
  let t = trunc(x);
  return bitcast<i32>(u32(t - floor(t / 4294967296.0f) * 4294967296.0f));
}`,
  floordiv: `fn floordiv(x: i32, by: i32) -> i32 { let q = x / by; return select(q, q - 1i, (x % by != 0i) && (x < 0i)); }`,
  floormod: `fn floormod(x: i32, by: i32) -> i32 { return ((x % by) + by) % by; }`,
  wrapindex: `fn wrapindex(x: i32, size: i32) -> i32 { return clamp(select(x, x + size, x < 0i), 0i, size - 1i); }`,
  fmix32: `fn fmix32(x: u32) -> u32 { var h = x; h ^= h >> 16u; h *= 0x85ebca6bu; h ^= h >> 13u; h *= 0xc2b2ae35u; h ^= h >> 16u; return h; }`,
  keyedbits: `fn keyedbits(k0: i32, k1: i32, counter: i32) -> i32 {
  let a = u32(k0); let b = u32(k1);
  var h = fmix32(u32(counter) ^ (a * 0x9e3779b1u));
  h = fmix32(h + b);
  h = fmix32(h ^ ((a ^ 0x5bd1e995u) * 0x27d4eb2fu));
  return bitcast<i32>(fmix32(h + b * 0x165667b1u));
}`,
  randombits: `fn randombits(seed: u32, counter: u32) -> u32 {
  var h = ((seed ^ 0x9e3779b9u) * 0x85ebca6bu) ^ ((counter + 0x632be5abu) * 0xc2b2ae35u);
  h ^= h >> 16u; h *= 0x7feb352du; h ^= h >> 15u; h *= 0x846ca68bu; h ^= h >> 16u;
  h = (h ^ counter) * 0x9e3779b1u; h ^= h >> 15u;
  return h;
}`,
  uniformat: `fn uniformat(seed: u32, counter: u32) -> f32 { return f32(randombits(seed, counter) >> 8u) / 16777216.0f; }`,
  normalat: `fn normalat(seed: u32, counter: u32) -> f32 {
  let u1 = 1.0f - uniformat(seed, 2u * counter);
  let u2 = uniformat(seed, 2u * counter + 1u);
  return sqrt(-2.0f * log(u1)) * cos(6.283185307179586f * u2);
}`,
};
const HELPER_DEPENDENCIES: Record<string, string[]> = {
  keyedbits: ['fmix32'],
  uniformat: ['randombits'],
  normalat: ['uniformat', 'randombits'],
};

/** The WGSL spelling of each elementwise primitive on operands already in the op's type. */
type OpSpelling = (args: readonly string[], type: Scalar) => string;
const call = (name: string): OpSpelling => (a) => `${name}(${a.join(', ')})`;
export const WGSL_OPS: Record<string, OpSpelling> = {
  neg: (a) => `(-${a[0]})`,
  recip: (a) => `(1.0f / ${a[0]})`,
  sqrt: call('sqrt'),
  exp: call('exp'),
  log: call('log'),
  sin: call('sin'),
  cos: call('cos'),
  tanh: call('ftanh'),
  log1p: call('flog1p'),
  expm1: call('fexpm1'),
  abs: call('abs'),
  sign: call('sign'),
  floor: call('floor'),
  ceil: call('ceil'),
  round: call('fround'),
  stop_gradient: (a) => a[0],
  add: (a) => `(${a[0]} + ${a[1]})`,
  mul: (a) => `(${a[0]} * ${a[1]})`,
  div: (a) => `(${a[0]} / ${a[1]})`,
  pow: call('fpow'),
  max: (a, type) => (type === 'f32' ? `fmax(${a[0]}, ${a[1]})` : `max(${a[0]}, ${a[1]})`),
  logistic: call('flogistic'),
  // lt, eq, where, cast and random_bits type their operands themselves (see primValue).
  lt: (a) => `select(0i, 1i, ${a[0]} < ${a[1]})`,
  eq: (a) => `select(0i, 1i, ${a[0]} == ${a[1]})`,
  where: (a) => `select(${a[2]}, ${a[1]}, ${a[0]} != 0i)`,
  cast: (a) => a[0],
  random_bits: call('keyedbits'),
};

/** The helpers a spelling calls (by the names it contains). */
function helpersIn(text: string, used: Set<string>): void {
  for (const name of Object.keys(HELPERS)) {
    if (text.includes(`${name}(`)) {
      used.add(name);
      for (const d of HELPER_DEPENDENCIES[name] ?? []) used.add(d);
    }
  }
}

class WgslWriter {
  readonly types = new Map<string, Scalar>();
  readonly helpers = new Set<string>();
  /** Input buffers read from their workgroup-memory copy (`w<i>`) instead of device memory. */
  readonly staged = new Set<number>();
  /** Packed input buffers: their word offset in the packed binding `bp`. */
  readonly packed = new Map<number, number>();
  constructor(private readonly elementTypes: readonly Scalar[]) {}

  private typeOf(o: Operand): Scalar | null {
    return typeof o === 'string' ? this.types.get(o) ?? 'i32' : null;
  }

  /** The operand as a value of `type` (literals typed, names converted where they differ). */
  as(o: Operand, type: Scalar): string {
    if (typeof o !== 'string') return literal(o.literal, type);
    const has = this.types.get(o) ?? 'i32';
    return has === type ? o : `${type}(${o})`;
  }

  /** The type two operands are compared in: f32 when either is, else i32. */
  private common(a: Operand, b: Operand): Scalar {
    const ta = this.typeOf(a);
    const tb = this.typeOf(b);
    if (ta === 'f32' || tb === 'f32') return 'f32';
    if (ta === null && tb === null) {
      const la = (a as { literal: number }).literal;
      const lb = (b as { literal: number }).literal;
      return Number.isInteger(la) && Number.isInteger(lb) ? 'i32' : 'f32';
    }
    return 'i32';
  }

  value(v: Value): { text: string; type: Scalar } {
    switch (v.kind) {
      case 'load': {
        const type = this.elementTypes[v.buffer];
        const offset = this.packed.get(v.buffer);
        if (offset !== undefined) return { text: `bitcast<${type}>(bp[${offset}i + ${this.as(v.index, 'i32')}])`, type };
        return { text: `${this.staged.has(v.buffer) ? 'w' : 'b'}${v.buffer}[${this.as(v.index, 'i32')}]`, type };
      }
      case 'affine': {
        const parts = v.terms.map((t) => (t.coef === 1 ? this.as(t.value, 'i32') : `${this.as(t.value, 'i32')} * ${literal(t.coef, 'i32')}`));
        if (typeof v.base === 'string' || v.base.literal !== 0) parts.unshift(this.as(v.base, 'i32'));
        return { text: parts.join(' + '), type: 'i32' };
      }
      case 'divmod': {
        const x = this.as(v.arg, 'i32');
        const by = literal(v.by, 'i32');
        if (v.nonNegative) return { text: `(${x} ${v.op === 'div' ? '/' : '%'} ${by})`, type: 'i32' };
        return { text: `${v.op === 'div' ? 'floordiv' : 'floormod'}(${x}, ${by})`, type: 'i32' };
      }
      case 'random': {
        const fn = v.distribution === 'normal' ? 'normalat' : 'uniformat';
        return { text: `${fn}(${(v.seed >>> 0)}u, u32(${this.as(v.index, 'i32')}))`, type: 'f32' };
      }
      case 'convert': return this.convert(v.dtype, v.arg);
      case 'select': {
        const type = this.typeOf(v.then) ?? 'f32';
        const test = v.bounds.map((b) => `${this.as(b.index, 'i32')} >= ${literal(b.lo, 'i32')} && ${this.as(b.index, 'i32')} <= ${literal(b.hi, 'i32')}`).join(' && ');
        return { text: `select(${literal(0, type)}, ${this.as(v.then, type)}, ${test})`, type };
      }
      case 'check': return { text: `wrapindex(${this.as(v.arg, 'i32')}, ${literal(v.size, 'i32')})`, type: 'i32' };
      case 'prim': return this.prim(v.op, v.dtype, v.args);
      default: return v satisfies never;
    }
  }

  private convert(dtype: DType, arg: Operand): { text: string; type: Scalar } {
    const from = this.typeOf(arg);
    switch (dtype) {
      case 'float32': return { text: this.as(arg, 'f32'), type: 'f32' };
      case 'int32': return { text: from === 'f32' ? `toint32(${arg as string})` : this.as(arg, 'i32'), type: 'i32' };
      case 'bool': return { text: `(${from === 'f32' ? `toint32(${arg as string})` : this.as(arg, 'i32')} & 255i)`, type: 'i32' };
      case 'float64': return { text: this.as(arg, 'f32'), type: deviceScalar('float64', 'convert') };
      default: return dtype satisfies never;
    }
  }

  private prim(op: string, dtype: DType, args: readonly Operand[]): { text: string; type: Scalar } {
    const type = deviceScalar(dtype, op);
    const spelling = WGSL_OPS[op];
    if (!spelling) throw new Error(`functs internal error: the webgpu backend has no spelling for the op ${op}`);
    let operands: string[];
    switch (op) {
      case 'lt':
      case 'eq': {
        const t = this.common(args[0], args[1]);
        operands = args.map((a) => this.as(a, t));
        break;
      }
      case 'where': operands = [this.as(args[0], 'i32'), this.as(args[1], type), this.as(args[2], type)]; break;
      case 'cast': {
        const from = this.typeOf(args[0]) ?? 'f32';
        const x = this.as(args[0], from);
        if (dtype === 'bool') operands = [`select(0i, 1i, ${x} != ${literal(0, from)})`];
        else if (dtype === 'int32' && from === 'f32') operands = [`toint32(${x})`];
        else operands = [this.as(args[0], type)];
        break;
      }
      case 'random_bits': operands = args.map((a) => this.as(a, 'i32')); break;
      default: operands = args.map((a) => this.as(a, type));
    }
    const text = spelling(operands, type);
    helpersIn(text, this.helpers);
    return { text, type };
  }

  statements(stmts: readonly Stmt[], indent: string, out: string[]): void {
    for (const s of stmts) {
      switch (s.kind) {
        case 'let': {
          const { text, type } = this.value(s.value);
          helpersIn(text, this.helpers);
          this.types.set(s.name, type);
          out.push(`${indent}let ${s.name}: ${type} = ${text};`);
          break;
        }
        case 'loop':
          this.types.set(s.index, 'i32');
          out.push(`${indent}for (var ${s.index}: i32 = 0i; ${s.index} < ${literal(s.extent, 'i32')}; ${s.index}++) {`);
          this.statements(s.body, indent + '  ', out);
          out.push(`${indent}}`);
          break;
        case 'accumulator': {
          const type = this.accumulatorTypes.get(s.name) ?? 'f32';
          this.types.set(s.name, type);
          const start = s.op === 'sum' ? literal(0, type) : type === 'f32' ? literal(-Infinity, 'f32') : 'i32(-2147483647 - 1)';
          out.push(`${indent}var ${s.name}: ${type} = ${start};`);
          break;
        }
        case 'accumulate': {
          const type = this.types.get(s.name) ?? 'f32';
          const v = this.as(s.value, type);
          if (s.op === 'sum') out.push(`${indent}${s.name} += ${v};`);
          else {
            out.push(`${indent}${s.name} = ${type === 'f32' ? 'fmax' : 'max'}(${s.name}, ${v});`);
            if (type === 'f32') this.helpers.add('fmax');
          }
          break;
        }
        case 'store': out.push(`${indent}b${s.buffer}[${this.as(s.index, 'i32')}] = ${this.as(s.value, this.elementTypes[s.buffer])};`); break;
        case 'scatterAdd': out.push(`${indent}b${s.buffer}[${this.as(s.index, 'i32')}] += ${this.as(s.value, this.elementTypes[s.buffer])};`); break;
        default: s satisfies never;
      }
    }
  }

  /** Accumulator types, from the values accumulated into them (known before emission). */
  readonly accumulatorTypes = new Map<string, Scalar>();
}

/** The loops that become the grid: from the top, while a scope holds only lets and one loop. */
function gridChain(body: readonly Stmt[]): { loops: Extract<Stmt, { kind: 'loop' }>[]; preludes: Stmt[][]; inner: readonly Stmt[] } {
  const loops: Extract<Stmt, { kind: 'loop' }>[] = [];
  const preludes: Stmt[][] = [];
  let scope = body;
  for (;;) {
    const loopStmts = scope.filter((s) => s.kind === 'loop');
    const onlyLets = scope.every((s) => s.kind === 'let' || s.kind === 'loop');
    if (loopStmts.length !== 1 || !onlyLets) break;
    const loop = loopStmts[0] as Extract<Stmt, { kind: 'loop' }>;
    // Lets after the loop at this level are unused by it; lets before it run in every thread.
    preludes.push(scope.filter((s) => s.kind === 'let'));
    loops.push(loop);
    scope = loop.body;
  }
  return { loops, preludes, inner: scope };
}

/** Infers accumulator types: an accumulator takes the type of what is accumulated into it. */
function inferAccumulators(writer: WgslWriter, stmts: readonly Stmt[]): void {
  // A dry run of typing: lets are typed in order, so run the value typing without output.
  const walk = (list: readonly Stmt[]) => {
    for (const s of list) {
      if (s.kind === 'let') writer.types.set(s.name, writer.value(s.value).type);
      else if (s.kind === 'loop') {
        writer.types.set(s.index, 'i32');
        walk(s.body);
      } else if (s.kind === 'accumulate') {
        const t = typeof s.value === 'string' ? writer.types.get(s.value) ?? 'i32' : Number.isInteger(s.value.literal) ? 'i32' : 'f32';
        writer.accumulatorTypes.set(s.name, s.wrapsInt32 ? 'i32' : t);
        writer.types.set(s.name, writer.accumulatorTypes.get(s.name)!);
      } else if (s.kind === 'accumulator') {
        writer.types.set(s.name, 'f32');
      }
    }
  };
  walk(stmts);
  writer.types.clear();
  writer.helpers.clear();
}

/** The first op computing a float64 value, to name in the error. */
function firstFloat64Op(stmts: readonly Stmt[]): string | undefined {
  for (const s of stmts) {
    if (s.kind === 'let' && s.value.kind === 'prim' && s.value.dtype === 'float64') return s.value.op;
    if (s.kind === 'loop') {
      const inner = firstFloat64Op(s.body);
      if (inner) return inner;
    }
  }
  return undefined;
}

/** The buffers a kernel loads from. */
function loadedBuffers(stmts: readonly Stmt[], into = new Set<number>()): Set<number> {
  for (const s of stmts) {
    if (s.kind === 'let' && s.value.kind === 'load') into.add(s.value.buffer);
    else if (s.kind === 'loop') loadedBuffers(s.body, into);
  }
  return into;
}

/** Generates the WGSL of a kernel and its launch grid. */
export function generateWgsl(ir: KernelIR, options: WgslOptions): WgslKernel {
  if (ir.kind === 'call') throw new Error('functs internal error: call kernels have no WGSL form');
  const float64Op = firstFloat64Op(ir.body);
  const elementTypes = ir.buffers.map((b) => deviceScalar(b.dtype, float64Op ?? `a kernel with a float64 ${b.role}`));
  const writer = new WgslWriter(elementTypes);
  // Scatter kernels add into their output in one thread (WGSL has no float atomics).
  const scatter = ir.kind === 'scatter';
  // More buffers than the device binds (the scheduler's cap is not a guarantee): the last
  // inputs share one binding.
  let packing: Packing | undefined;
  if (ir.buffers.length > options.maxStorageBuffers) {
    const count = ir.buffers.length - options.maxStorageBuffers + 1;
    const buffers = ir.buffers.map((_, i) => i).slice(-count);
    if (buffers.some((i) => ir.buffers[i].role !== 'input')) throw new Error(`functs internal error: a kernel of ${ir.buffers.length} buffers has too many outputs to bind`);
    const offsets: number[] = [];
    let words = 0;
    for (const i of buffers) {
      offsets.push(words);
      writer.packed.set(i, words);
      words += ir.buffers[i].size;
    }
    packing = { buffers, offsets, words, binding: buffers[0] };
  }
  inferAccumulators(writer, ir.body);
  const chain = scatter ? { loops: [], preludes: [], inner: ir.body } : gridChain(ir.body);
  const threads = chain.loops.reduce((n, l) => n * l.extent, 1);
  const workgroupSize = threads === 1 ? 1 : options.workgroupSize;
  const groups = Math.max(1, Math.ceil(threads / workgroupSize));
  const x = Math.min(groups, options.maxWorkgroupsPerDimension);
  const y = Math.ceil(groups / x);
  if (y > options.maxWorkgroupsPerDimension) throw new Error(`functs internal error: a kernel of ${threads} threads exceeds the device's grid`);

  const body: string[] = [];
  body.push(`  let g = (wid.y * ${x}u + wid.x) * ${workgroupSize}u + lid.x;`);
  // Small inputs every thread reads (a weight matrix, a bias) are copied into workgroup
  // memory by the workgroup together, before any thread leaves.
  const stagedDeclarations: string[] = [];
  if (workgroupSize > 1 && options.workgroupStorageBytes > 0) {
    let room = Math.floor(options.workgroupStorageBytes / 4);
    const loaded = loadedBuffers(ir.body);
    ir.buffers.forEach((b, i) => {
      if (b.role !== 'input' || !loaded.has(i) || writer.packed.has(i) || b.size === 0 || b.size > workgroupSize * STAGE_ELEMENTS_PER_THREAD || b.size > room) return;
      room -= b.size;
      writer.staged.add(i);
      stagedDeclarations.push(`var<workgroup> w${i}: array<${elementTypes[i]}, ${b.size}>;`);
      body.push(`  for (var k: u32 = lid.x; k < ${b.size}u; k += ${workgroupSize}u) { w${i}[k] = b${i}[k]; }`);
    });
    if (writer.staged.size) body.push('  workgroupBarrier();');
  }
  body.push(`  if (g >= ${threads}u) { return; }`);
  // The grid loops' indices from the thread number, innermost fastest.
  let stride = 1;
  const indices: string[] = [];
  for (let k = chain.loops.length - 1; k >= 0; k--) {
    const loop = chain.loops[k];
    writer.types.set(loop.index, 'i32');
    const q = stride === 1 ? 'g' : `(g / ${stride}u)`;
    indices.unshift(`  let ${loop.index}: i32 = i32(${k === 0 ? q : `${q} % ${loop.extent}u`});`);
    stride *= loop.extent;
  }
  body.push(...indices);
  for (const prelude of chain.preludes) writer.statements(prelude, '  ', body);
  if (scatter) {
    for (const [i, b] of ir.buffers.entries()) {
      if (b.role === 'output') body.push(`  for (var z: i32 = 0i; z < ${literal(b.size, 'i32')}; z++) { b${i}[z] = ${literal(0, elementTypes[i])}; }`);
    }
  }
  writer.statements(chain.inner, '  ', body);

  const declarations = ir.buffers.flatMap((b, i) => (writer.packed.has(i) ? [] : [`@group(0) @binding(${i}) var<storage, ${b.role === 'input' ? 'read' : 'read_write'}> b${i}: array<${elementTypes[i]}>;`]));
  if (packing) declarations.push(`@group(0) @binding(${packing.binding}) var<storage, read> bp: array<u32>;`);
  const helpers = [...writer.helpers].sort((a, b) => Object.keys(HELPERS).indexOf(a) - Object.keys(HELPERS).indexOf(b)).map((h) => HELPERS[h]);
  const source = [
    'var<private> nan_bits: u32 = 0x7fc00000u;',
    'var<private> inf_bits: u32 = 0x7f800000u;',
    'var<private> ninf_bits: u32 = 0xff800000u;',
    ...declarations,
    ...stagedDeclarations,
    ...helpers,
    `@compute @workgroup_size(${workgroupSize})`,
    `fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {`,
    ...body,
    `}`,
  ].join('\n');
  return { source, launch: { threads, workgroupSize, workgroups: [x, y] }, elementTypes, ...(packing ? { packing } : {}) };
}
