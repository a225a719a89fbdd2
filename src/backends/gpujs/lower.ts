/**
 * Lowering of the kernel IR to gpu.js kernel functions (the grid form): one thread per
 * output element. The scheduler plans gpu.js programs with `kernelForm: 'grid'` (no
 * register tiles), so a map kernel's body is a chain of output loops with one store per
 * output buffer in the innermost; the store's index is a bijective affine function of those
 * loops (a mixed radix), and a thread recovers every loop index from its own output index
 * (`this.thread.x` over the flattened output, so any rank fits gpu.js's three dimensions).
 * Values placed outside the innermost loop are computed by every thread that needs them;
 * reduction loops stay loops with constant bounds. A kernel with several outputs becomes a
 * gpu.js kernel map where gpu.js has them (outputs at one index: one shared body, the others
 * written through identity sub-kernels), else one gpu.js kernel per output, each keeping only
 * the statements its value needs.
 *
 * Index arithmetic is done in float32 (gpu.js's GL backends have no exact integer division),
 * with divisions offset by one half so that they never land on a rounding boundary: exact
 * while every index is below 2^24, which the lowering checks. What has no grid form (scatter
 * and call kernels, random bits, checked gathers, float64 or int32 arithmetic) is reported
 * with the reason, and the backend runs that kernel on the CPU.
 */
import type { DType } from '../../lazy/dtype.js';
import { operandsOf, type KernelIR, type Operand, type Stmt, type Value } from '../../fusion/kernel.js';
import { GPUJS_OPS, type Spelling } from './ops.js';

/** Float32 index arithmetic is exact below this. */
export const MAX_GRID_INDEX = 2 ** 24;

/**
 * One gpu.js kernel: a function of some of the IR's buffers, computing one output buffer, or
 * (a kernel map) several over the same elements: the others through gpu.js sub-kernels.
 */
export interface GridKernel {
  /** The kernel function's source, `function (b1, b2) { ... return v; }`. */
  readonly source: string;
  /** The IR buffer its result is. */
  readonly output: number;
  /** Further IR buffers it writes, each through the sub-kernel `o<buffer>` (an identity function). */
  readonly mapped: readonly { readonly buffer: number; readonly name: string; readonly source: string }[];
  /** The IR buffers it reads, in the order of the function's parameters. */
  readonly inputs: readonly number[];
  /** Elements of the output (the thread count). */
  readonly size: number;
  readonly dtype: DType;
  /** The longest loop in the body (gpu.js's loopMaxIterations must cover it). */
  readonly longestLoop: number;
}

export type Lowering = { readonly kind: 'grid'; readonly kernels: readonly GridKernel[] } | { readonly kind: 'host'; readonly reason: string };

class NoGridForm extends Error {}

function literal(v: number): string {
  // GLSL has no Infinity or NaN literals: the largest float32 stands in for Infinity.
  if (Number.isNaN(v)) return '(0 / 0)';
  if (v === Infinity || v > 3.4028234663852886e38) return '3.4028234663852886e38';
  if (v === -Infinity || v < -3.4028234663852886e38) return '(-3.4028234663852886e38)';
  return v < 0 || Object.is(v, -0) ? `(${v})` : String(v);
}

function operand(o: Operand): string {
  return typeof o === 'string' ? o : literal(o.literal);
}

function spell(v: Value): string {
  switch (v.kind) {
    case 'load': return `b${v.buffer}[${operand(v.index)}]`;
    case 'prim': {
      if (v.dtype === 'int32' || v.dtype === 'float64') throw new NoGridForm(`${v.op} computes in ${v.dtype} (gpu.js computes in float32)`);
      const rule: Spelling = GPUJS_OPS[v.op];
      if (rule === null) throw new NoGridForm(`${v.op} needs 32-bit integer arithmetic`);
      return rule(v.args.map(operand), v.dtype);
    }
    case 'affine': {
      const parts = v.terms.map((t) => (t.coef === 1 ? operand(t.value) : `${operand(t.value)} * ${literal(t.coef)}`));
      if (typeof v.base === 'string' || v.base.literal !== 0) parts.unshift(operand(v.base));
      return `(${parts.join(' + ')})`;
    }
    case 'divmod': {
      // x integer-valued: (x + 1/2) / by is never within rounding of an integer.
      const x = operand(v.arg);
      const quotient = `Math.floor((${x} + 0.5) / ${v.by})`;
      return v.op === 'div' ? quotient : `(${x} - ${v.by} * ${quotient})`;
    }
    case 'random': throw new NoGridForm('random draws use 32-bit integer hashing');
    case 'convert':
      switch (v.dtype) {
        case 'float32': return `Math.fround(${operand(v.arg)})`;
        case 'bool': return `(${operand(v.arg)} > 0 ? 1 : 0)`;
        default: throw new NoGridForm(`a value is stored as ${v.dtype} (gpu.js computes in float32)`);
      }
    case 'select': {
      const test = v.bounds.map((b) => `${operand(b.index)} >= ${b.lo} && ${operand(b.index)} <= ${b.hi}`).join(' && ');
      return `((${test}) ? ${operand(v.then)} : 0)`;
    }
    case 'check': throw new NoGridForm(`checked indices (${v.what.split(':')[0]}) must throw IndexError, which a GPU thread cannot`);
    default: return v satisfies never;
  }
}

interface OutputLoop {
  readonly index: string;
  readonly extent: number;
}

function containsStore(s: Stmt): boolean {
  return s.kind === 'store' || s.kind === 'scatterAdd' || (s.kind === 'loop' && s.body.some(containsStore));
}

/** The chain of output loops (those holding the stores), outermost first, and the stores. */
function outputChain(body: readonly Stmt[]): { loops: OutputLoop[]; stores: Extract<Stmt, { kind: 'store' }>[] } {
  const loops: OutputLoop[] = [];
  const stores: Extract<Stmt, { kind: 'store' }>[] = [];
  let level = body;
  for (;;) {
    const inner = level.filter((s) => s.kind === 'loop' && containsStore(s));
    stores.push(...level.filter((s): s is Extract<Stmt, { kind: 'store' }> => s.kind === 'store'));
    if (inner.length === 0) break;
    if (inner.length > 1) throw new NoGridForm('stores in sibling loops');
    const loop = inner[0] as Extract<Stmt, { kind: 'loop' }>;
    loops.push({ index: loop.index, extent: loop.extent });
    level = loop.body;
  }
  return { loops, stores };
}

/** Every value definition in the body, by name. */
function definitions(body: readonly Stmt[], into = new Map<string, Value>()): Map<string, Value> {
  for (const s of body) {
    if (s.kind === 'let') into.set(s.name, s.value);
    else if (s.kind === 'loop') definitions(s.body, into);
  }
  return into;
}

/** An index operand as constant + sum(coef * loop index), or null when it is not affine in the loops. */
function linearForm(o: Operand, defs: ReadonlyMap<string, Value>, loops: ReadonlySet<string>): { constant: number; coefs: Map<string, number> } | null {
  if (typeof o !== 'string') return { constant: o.literal, coefs: new Map() };
  if (loops.has(o)) return { constant: 0, coefs: new Map([[o, 1]]) };
  const v = defs.get(o);
  if (!v || v.kind !== 'affine') return null;
  const base = linearForm(v.base, defs, loops);
  if (!base) return null;
  for (const t of v.terms) {
    const term = linearForm(t.value, defs, loops);
    if (!term) return null;
    base.constant += term.constant * t.coef;
    for (const [name, c] of term.coefs) base.coefs.set(name, (base.coefs.get(name) ?? 0) + c * t.coef);
  }
  return base;
}

/**
 * Statements computing each output loop's index from the thread's output index `e`: the
 * store index must be a mixed radix over the loops (a bijection onto the output).
 */
function threadIndices(loops: readonly OutputLoop[], index: Operand, defs: ReadonlyMap<string, Value>, size: number): string[] {
  const form = linearForm(index, defs, new Set(loops.map((l) => l.index)));
  if (!form || form.constant !== 0) throw new NoGridForm('the store index is not a plain function of the output loops');
  const byStride = loops.map((l) => ({ loop: l, stride: form.coefs.get(l.index) ?? 0 })).sort((a, b) => b.stride - a.stride);
  let expected = 1;
  for (let k = byStride.length - 1; k >= 0; k--) {
    if (byStride[k].stride !== expected) throw new NoGridForm('the store index does not cover the output once');
    expected *= byStride[k].loop.extent;
  }
  if (expected !== size) throw new NoGridForm('the store index does not cover the output once');
  return byStride.map(({ loop, stride }, k) => {
    const quotient = stride === 1 ? 'e' : `Math.floor((e + 0.5) / ${stride})`;
    if (k === 0) return `const ${loop.index} = ${quotient};`;
    const outer = `Math.floor((e + 0.5) / ${stride * loop.extent})`;
    return `const ${loop.index} = ${quotient} - ${loop.extent} * ${outer};`;
  });
}

/** The names a store's value needs, through lets and accumulators (a fixpoint over the body). */
function neededNames(body: readonly Stmt[], roots: readonly Operand[]): Set<string> {
  const needed = new Set<string>();
  const add = (o: Operand) => {
    if (typeof o === 'string') needed.add(o);
  };
  roots.forEach(add);
  let before = -1;
  while (needed.size !== before) {
    before = needed.size;
    const walk = (stmts: readonly Stmt[]) => {
      for (const s of stmts) {
        if (s.kind === 'let' && needed.has(s.name)) operandsOf(s.value).forEach(add);
        else if (s.kind === 'accumulate' && needed.has(s.name)) add(s.value);
        else if (s.kind === 'loop') walk(s.body);
      }
    };
    walk(body);
  }
  return needed;
}

function emit(stmts: readonly Stmt[], chain: ReadonlySet<string>, needed: ReadonlySet<string>, indent: string, out: string[]): number {
  let longest = 0;
  for (const s of stmts) {
    switch (s.kind) {
      case 'let':
        if (needed.has(s.name)) out.push(`${indent}const ${s.name} = ${spell(s.value)};`);
        break;
      case 'loop': {
        if (chain.has(s.index)) {
          longest = Math.max(longest, emit(s.body, chain, needed, indent, out));
          break;
        }
        const body: string[] = [];
        const inner = emit(s.body, chain, needed, indent + '  ', body);
        if (body.length === 0) break;
        out.push(`${indent}for (let ${s.index} = 0; ${s.index} < ${s.extent}; ${s.index}++) {`, ...body, `${indent}}`);
        longest = Math.max(longest, s.extent, inner);
        break;
      }
      case 'accumulator':
        if (needed.has(s.name)) out.push(`${indent}let ${s.name} = ${s.op === 'sum' ? '0' : literal(-Infinity)};`);
        break;
      case 'accumulate':
        if (!needed.has(s.name)) break;
        if (s.wrapsInt32) throw new NoGridForm('an int32 sum wraps around');
        out.push(s.op === 'sum' ? `${indent}${s.name} += ${operand(s.value)};` : `${indent}${s.name} = Math.max(${s.name}, ${operand(s.value)});`);
        break;
      case 'store':
        break;
      case 'scatterAdd': throw new NoGridForm('scatter kernels add into memory');
      default: s satisfies never;
    }
  }
  return longest;
}

type Store = Extract<Stmt, { kind: 'store' }>;

/** One gpu.js kernel computing the outputs `stores` write (all at one index). */
function lowerOutputs(ir: KernelIR, stores: readonly Store[], loops: readonly OutputLoop[], defs: ReadonlyMap<string, Value>): GridKernel {
  const [main, ...rest] = stores;
  const { size, dtype } = ir.buffers[main.buffer];
  const needed = neededNames(ir.body, stores.map((s) => s.value));
  const lines: string[] = [];
  const longestLoop = emit(ir.body, new Set(loops.map((l) => l.index)), needed, '  ', lines);
  const inputs = ir.buffers.flatMap((b, i) => (b.role === 'input' && lines.some((line) => line.includes(`b${i}[`)) ? [i] : []));
  const mapped = rest.map((s) => ({ buffer: s.buffer, name: `o${s.buffer}`, source: `function o${s.buffer}(v) { return v; }` }));
  const source = [
    `function (${inputs.map((i) => `b${i}`).join(', ')}) {`,
    '  const e = this.thread.x;',
    ...threadIndices(loops, main.index, defs, size).map((line) => `  ${line}`),
    ...lines,
    ...rest.map((s, k) => `  const m${k} = ${mapped[k].name}(${operand(s.value)});`),
    `  return ${operand(main.value)};`,
    '}',
  ].join('\n');
  return { source, output: main.buffer, mapped, inputs, size, dtype, longestLoop };
}

/**
 * The gpu.js kernels of one kernel IR, or why it has none (it then runs on the CPU). With
 * `kernelMaps`, outputs stored at one index share a kernel (gpu.js's kernel maps).
 */
export function lowerToGrid(ir: KernelIR, options: { readonly kernelMaps?: boolean } = {}): Lowering {
  try {
    if (ir.kind !== 'map') throw new NoGridForm(ir.kind === 'scatter' ? 'scatter kernels add into memory' : 'hand-written linear algebra runs on the CPU');
    for (const b of ir.buffers) {
      if (b.dtype === 'float64' || b.dtype === 'int32') throw new NoGridForm(`a ${b.dtype} buffer (gpu.js computes in float32)`);
      if (b.size >= MAX_GRID_INDEX) throw new NoGridForm(`a buffer of ${b.size} elements (float32 index arithmetic is exact below 2^24)`);
    }
    const { loops, stores } = outputChain(ir.body);
    const defs = definitions(ir.body);
    const groups = new Map<string, Store[]>();
    ir.buffers.forEach((b, i) => {
      if (b.role !== 'output') return;
      const mine = stores.filter((s) => s.buffer === i);
      if (mine.length !== 1) throw new NoGridForm(`${mine.length} stores into one output`);
      const key = options.kernelMaps ? `${typeof mine[0].index === 'string' ? mine[0].index : mine[0].index.literal}:${b.size}` : String(i);
      groups.set(key, [...(groups.get(key) ?? []), mine[0]]);
    });
    return { kind: 'grid', kernels: [...groups.values()].map((group) => lowerOutputs(ir, group, loops, defs)) };
  } catch (e) {
    if (e instanceof NoGridForm) return { kind: 'host', reason: e.message };
    throw e;
  }
}
