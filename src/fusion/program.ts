/**
 * Programs: a schedule whose kernels are compiled by a backend, with numbered buffer slots,
 * runnable again on new leaf values. Two caches make repeated work cheap: programs are kept
 * per DAG structure (two DAGs that differ only in the values of their leaves share one), and
 * compiled kernels per canonical kernel IR and backend.
 */
import { allocate, bytesPerElement, dtypeOfTypedArray, type DType, type TypedArray } from '../lazy/dtype.js';
import { ArgumentError } from '../lazy/errors.js';
import { checkAllocatable } from '../lazy/build.js';
import type { Node } from '../lazy/node.js';
import { primitiveRule, type CallSignature } from '../lazy/primitive.js';
import { topoSort } from '../lazy/node.js';
import type { Backend } from '../lazy/realize.js';
import { sizeOf } from '../lazy/shape.js';
import { LruCache } from './cache.js';
import type { KernelIR } from './kernel.js';
import { isInputLeaf, schedule, type Schedule } from './schedule.js';
import { factoringSwitch } from './factor.js';
import type { RegisterTile } from './tiling.js';
import { describeStep } from './explain.js';
import { ArenaPool, arenaViews, planMemory, viewOf, type MemoryPlan } from './memory.js';

/** A kernel compiled by a backend: call `run` with the IR's buffers in order. */
export interface CompiledKernel {
  readonly run: (...buffers: TypedArray[]) => void;
  /** The generated source, for `explain` and FUNCTS_DEBUG. */
  readonly source: string;
}

/** What a fusing backend provides: code generation for one kernel. */
export interface KernelCompiler {
  readonly name: string;
  /** The most buffers one kernel may take. */
  readonly maxBuffers: number;
  /** Register tile of contractions, where the target wants another than the CPU default. */
  readonly registerTile?: RegisterTile;
  compile(ir: KernelIR): CompiledKernel;
  /**
   * The memory the compiled kernels run in, where it is not the JavaScript heap
   * (WebAssembly's): a program then lays every buffer of a run out there, intermediates at
   * their planned offsets, so kernels read and write in place and only the leaves are copied
   * in and the roots out.
   */
  readonly memory?: KernelMemory;
}

/** A memory kernels run in: `reserve` grows it to at least `bytes` and returns its buffer now. */
export interface KernelMemory {
  reserve(bytes: number): ArrayBuffer;
}

export interface ProgramStep {
  readonly name: string;
  readonly ir: KernelIR;
  readonly kernel: CompiledKernel;
  /** Slot of each of the IR's buffers. */
  readonly slots: readonly number[];
  /** What the kernel computes, e.g. "reduce_sum(exp(...)) -> float32[4096, 8]". */
  readonly summary: string;
  /** Shapes of the IR's buffers (outputs first, then inputs). */
  readonly shapes: readonly (readonly number[])[];
}

/**
 * A compiled schedule. Slots 0..leafCount-1 hold the leaves; then come the buffers the
 * kernels write: the roots' are allocated per run, the intermediates' once per program.
 */
export interface Program {
  readonly backend: string;
  readonly leafCount: number;
  readonly buffers: readonly { readonly dtype: DType; readonly size: number }[];
  readonly steps: readonly ProgramStep[];
  /** Slot of each root. */
  readonly outputs: readonly number[];
  /** Which of `buffers` (by index) hold roots: those are allocated fresh on every run. */
  readonly rootBuffers: ReadonlySet<number>;
  /**
   * Where the intermediates live: offsets in one arena, shared by buffers whose lifetimes do
   * not overlap. Runs are synchronous and intermediates never escape, so one arena serves
   * every run of the program while the scratch pool keeps it.
   */
  readonly memory: MemoryPlan;
  /** The compiler's own memory, where its kernels run (see KernelCompiler.memory). */
  readonly kernelMemory?: KernelMemory;
}

/** Default byte budget for the arenas of all programs together. */
const DEFAULT_SCRATCH_BUDGET = 256 * 2 ** 20;

const kernelCache = new LruCache<string, CompiledKernel>(1024);
const programCache = new LruCache<string, Program>(256);
const scratchPool = new ArenaPool<Program>(DEFAULT_SCRATCH_BUDGET);
/** Caches elsewhere (jit's traces) that clearCaches empties too. */
const dependentCaches = new Set<WeakRef<{ clear(): void }>>();

/** Hit and miss counters of the caches (for tests and FUNCTS_DEBUG). */
export function cacheStats(): { programs: { hits: number; misses: number; size: number }; kernels: { hits: number; misses: number; size: number } } {
  return {
    programs: { hits: programCache.hits, misses: programCache.misses, size: programCache.size },
    kernels: { hits: kernelCache.hits, misses: kernelCache.misses, size: kernelCache.size },
  };
}

/** What the caches hold now. */
export interface CacheInfo {
  /** Compiled programs kept (one per DAG structure and backend). */
  readonly programs: number;
  /** Compiled kernels kept (one per kernel IR and backend). */
  readonly kernels: number;
  /** Bytes of intermediate buffers kept between runs, for all programs together. */
  readonly scratchBytes: number;
  /** The most bytes of intermediates kept between runs (see setCacheLimits). */
  readonly scratchBudget: number;
}

/**
 * What functs' caches hold: compiled programs and kernels, and the bytes of intermediate
 * buffers kept between runs (bounded by a budget shared by all programs).
 * @example
 * cacheInfo(); // { programs: 3, kernels: 5, scratchBytes: 1048576, scratchBudget: 268435456 }
 */
export function cacheInfo(): CacheInfo {
  return { programs: programCache.size, kernels: kernelCache.size, scratchBytes: scratchPool.bytes, scratchBudget: scratchPool.limit };
}

/**
 * Empties every cache: compiled programs and kernels, kept intermediates and the traces of
 * every jitted function. Values already computed are unaffected; the next call of anything
 * compiles again.
 * @example
 * clearCaches();
 * cacheInfo().scratchBytes; // 0
 */
export function clearCaches(): void {
  kernelCache.clear();
  programCache.clear();
  scratchPool.clear();
  for (const ref of dependentCaches) {
    const cache = ref.deref();
    if (cache) cache.clear();
    else dependentCaches.delete(ref);
  }
}

/**
 * Runs `body` with the scheduler's broadcast factoring off (it reassociates float32
 * products), for tests of the kernels' exact arithmetic; programs planned with it on are
 * forgotten before and after.
 */
export function withoutFactoring<T>(body: () => T): T {
  clearCaches();
  factoringSwitch.enabled = false;
  try {
    return body();
  } finally {
    factoringSwitch.enabled = true;
    clearCaches();
  }
}

/** Registers a cache (held weakly) that clearCaches empties too. */
export function clearWithCaches(cache: { clear(): void }): void {
  dependentCaches.add(new WeakRef(cache));
}

/**
 * Sets the byte budget for intermediates kept between runs, for all programs together
 * (default 256 MiB); a smaller budget frees the least recently used at once. A program
 * whose intermediates exceed the budget allocates them on every run instead.
 * @example
 * setCacheLimits({ scratchBytes: 64 * 2 ** 20 });
 */
export function setCacheLimits(limits: { readonly scratchBytes?: number }): void {
  const bytes = limits.scratchBytes;
  if (bytes === undefined) return;
  if (!(Number.isFinite(bytes) && bytes >= 0)) throw new ArgumentError(`setCacheLimits: scratchBytes ${String(bytes)} must be a non-negative number of bytes`);
  scratchPool.setLimit(bytes);
}

/** True when the environment variable FUNCTS_DEBUG is set (and not 0): kernels print as they run. */
export function debugEnabled(): boolean {
  const value = typeof process !== 'undefined' ? process.env?.FUNCTS_DEBUG : undefined;
  return value !== undefined && value !== '' && value !== '0';
}

/** The attribute part of a node's structural key (leaf identities excluded by the caller). */
function attrsPart(node: Node): string {
  return node.key.split('|').slice(4).join('|');
}

/**
 * A string equal for two DAGs exactly when they have the same structure, whatever the values
 * of their leaves, and those leaves in canonical order.
 */
export function structureOf(roots: readonly Node[]): { key: string; leaves: Node[] } {
  const order = topoSort(roots, isInputLeaf);
  const local = new Map<Node, number>();
  const leaves: Node[] = [];
  const parts: string[] = [];
  for (const node of order) {
    local.set(node, local.size);
    if (isInputLeaf(node)) {
      leaves.push(node);
      parts.push(`in:${node.dtype}:${node.shape.join('x')}`);
    } else {
      parts.push(`${node.op}|${node.dtype}|${node.shape.join('x')}|${node.inputs.map((i) => local.get(i)).join(',')}|${attrsPart(node)}`);
    }
  }
  return { key: `${parts.join(';')}=>${roots.map((r) => local.get(r)).join(',')}`, leaves };
}

/** A short description of what a node computes, movement ops skipped: "sin(mul(input, const))". */
function describe(node: Node, depth = 2): string {
  let n = node;
  while (n.rule.kind === 'movement' && !isInputLeaf(n)) n = n.inputs[0];
  if (isInputLeaf(n)) return 'input';
  if (n.rule.kind === 'leaf') return n.op;
  if (depth === 0) return '...';
  return `${n.op}(${n.inputs.map((i) => describe(i, depth - 1)).join(', ')})`;
}

/** A call step runs the opaque primitive's own function on the (CPU) buffers. */
function callStep(call: CallSignature): CompiledKernel {
  const compute = primitiveRule(call.op).compute;
  if (!compute) throw new Error(`functs internal error: the opaque primitive ${call.op} has no compute function`);
  return { run: (out, ...inputs) => compute(out, inputs, call), source: `// calls the hand-written ${call.op} on its input buffers` };
}

function compileKernel(ir: KernelIR, compiler: KernelCompiler): CompiledKernel {
  if (ir.call) return callStep(ir.call);
  const key = `${compiler.name}\n${ir.text}`;
  const known = kernelCache.get(key);
  if (known) return known;
  const compiled = compiler.compile(ir);
  kernelCache.set(key, compiled);
  return compiled;
}

/** Compiles a schedule into a program. */
export function compileSchedule(plan: Schedule, compiler: KernelCompiler): Program {
  const slotOf = new Map<Node, number>();
  plan.leaves.forEach((leaf, i) => slotOf.set(leaf, i));
  const buffers: { dtype: DType; size: number }[] = [];
  for (const k of plan.kernels) {
    for (const o of k.outputs) {
      checkAllocatable(o.op, o.shape, o.dtype);
      slotOf.set(o, plan.leaves.length + buffers.length);
      buffers.push({ dtype: o.dtype, size: sizeOf(o.shape) });
    }
  }
  const steps = plan.kernels.map((k, i): ProgramStep => ({
    name: `kernel${i}`,
    ir: k.ir,
    kernel: compileKernel(k.ir, compiler),
    slots: [...k.outputs, ...k.inputs].map((n) => slotOf.get(n)!),
    summary: `${k.outputs.map((o) => `${describe(o)} -> ${o.dtype}[${o.shape.join(', ')}]`).join('; ')}`,
    shapes: [...k.outputs, ...k.inputs].map((n) => n.shape),
  }));
  const outputs = plan.roots.map((r) => slotOf.get(r)!);
  const rootBuffers = new Set(outputs.map((slot) => slot - plan.leaves.length));
  const memory = planIntermediates(buffers, steps, plan.leaves.length, rootBuffers);
  return { backend: compiler.name, leafCount: plan.leaves.length, buffers, steps, outputs, rootBuffers, memory, kernelMemory: compiler.memory };
}

/** Arena offsets for the buffers that are neither leaves nor roots, from their lifetimes. */
function planIntermediates(buffers: readonly { dtype: DType; size: number }[], steps: readonly ProgramStep[], leafCount: number, rootBuffers: ReadonlySet<number>): MemoryPlan {
  const writtenAt: number[] = new Array(buffers.length).fill(0);
  const lastReadAt: number[] = new Array(buffers.length).fill(0);
  steps.forEach((step, s) => {
    const outputCount = step.ir.buffers.filter((b) => b.role === 'output').length;
    step.slots.forEach((slot, i) => {
      const k = slot - leafCount;
      if (k < 0) return;
      if (i < outputCount) writtenAt[k] = s;
      else lastReadAt[k] = s;
    });
  });
  return planMemory(buffers, (k) => !rootBuffers.has(k), writtenAt, lastReadAt, steps.length);
}

/** The program computing `roots` (from the cache when a DAG of this structure was seen), and its leaves. */
export function programFor(roots: readonly Node[], compiler: KernelCompiler): { program: Program; leaves: Node[] } {
  const { key, leaves } = structureOf(roots);
  const cacheKey = `${compiler.name}\n${key}`;
  let program = programCache.get(cacheKey);
  if (!program) {
    program = compileSchedule(schedule(roots, { maxBuffers: compiler.maxBuffers, registerTile: compiler.registerTile }), compiler);
    programCache.set(cacheKey, program);
  }
  return { program, leaves };
}

/** Runs a program on leaf values; returns the value of each root (fresh arrays). */
export function runProgram(program: Program, leafValues: readonly TypedArray[]): TypedArray[] {
  if (program.kernelMemory) return runInKernelMemory(program, program.kernelMemory, leafValues);
  const slots: TypedArray[] = new Array(program.leafCount + program.buffers.length);
  for (let i = 0; i < program.leafCount; i++) slots[i] = leafValues[i];
  const { memory, buffers } = program;
  const scratch = scratchPool.acquire(program, memory.bytes, () => arenaViews(memory, buffers));
  buffers.forEach((b, k) => {
    slots[program.leafCount + k] = scratch[k] ?? allocate(b.dtype, b.size);
  });
  runSteps(program, slots);
  // A root that is itself a leaf (jit of the identity) is copied, never aliased.
  return program.outputs.map((s) => (s < program.leafCount ? slots[s].slice() : slots[s]));
}

/** Byte offsets of every slot of a program in its kernel memory, and the bytes it needs. */
const kernelMemoryLayouts = new WeakMap<Program, { offsets: number[]; bytes: number }>();

/**
 * Runs a program whose kernels live in their own memory: the leaves are copied in, the
 * intermediates sit at their planned arena offsets and the roots after them, so every
 * kernel reads and writes in place; the roots are copied out (they escape to the user, and
 * the memory serves the next run).
 */
function runInKernelMemory(program: Program, kernelMemory: KernelMemory, leafValues: readonly TypedArray[]): TypedArray[] {
  let layout = kernelMemoryLayouts.get(program);
  if (!layout) {
    layout = kernelMemoryLayout(program, leafValues);
    kernelMemoryLayouts.set(program, layout);
  }
  const memory = kernelMemory.reserve(layout.bytes);
  const slots = layout.offsets.map((offset, slot): TypedArray => {
    if (slot >= program.leafCount) {
      const { dtype, size } = program.buffers[slot - program.leafCount];
      return viewOf(memory, offset, dtype, size);
    }
    const leaf = leafValues[slot];
    const copy = viewOf(memory, offset, dtypeOfTypedArray(leaf), leaf.length);
    new Uint8Array(copy.buffer, copy.byteOffset, copy.byteLength).set(new Uint8Array(leaf.buffer, leaf.byteOffset, leaf.byteLength));
    return copy;
  });
  runSteps(program, slots);
  return program.outputs.map((s) => slots[s].slice());
}

function kernelMemoryLayout(program: Program, leafValues: readonly TypedArray[]): { offsets: number[]; bytes: number } {
  const align = (n: number) => Math.ceil(n / 16) * 16;
  const offsets: number[] = [];
  let end = 0;
  leafValues.forEach((leaf) => {
    offsets.push(end);
    end = align(end + leaf.byteLength);
  });
  const arenaBase = end;
  end += program.memory.bytes;
  program.buffers.forEach((b, k) => {
    const planned = program.memory.offsets[k];
    if (planned !== undefined) {
      offsets.push(arenaBase + planned);
    } else {
      offsets.push(end);
      end = align(end + b.size * bytesPerElement(b.dtype));
    }
  });
  return { offsets, bytes: end };
}

function runSteps(program: Program, slots: readonly TypedArray[]): void {
  const debug = debugEnabled();
  for (const step of program.steps) {
    const args = step.slots.map((s) => slots[s]);
    if (debug) {
      const start = performance.now();
      step.kernel.run(...args);
      logStep(step, performance.now() - start);
    } else {
      step.kernel.run(...args);
    }
  }
}

const described = new WeakSet<ProgramStep>();

/** FUNCTS_DEBUG: the kernel's full description the first time it runs, its timing every time. */
function logStep(step: ProgramStep, ms: number): void {
  if (!described.has(step)) {
    described.add(step);
    console.log(`[functs] ${describeStep(step)}`);
  }
  console.log(`[functs] ${step.name} ran in ${ms.toFixed(3)} ms`);
}

/** A backend that fuses: it schedules the DAG into kernels and compiles them with `compiler`. */
export interface FusingBackend extends Backend {
  readonly compiler: KernelCompiler;
}

export function isFusingBackend(backend: Backend): backend is FusingBackend {
  return 'compiler' in backend;
}

/** The first fusing backend made: it plans for backends that do not fuse (the interpreter). */
let planningFallback: KernelCompiler | undefined;

/**
 * The compiler whose plans `backend` runs, for jit and explain: its own when it fuses, else
 * that of the first fusing backend made, so that the transforms name no backend.
 */
export function planningCompiler(backend: Backend): KernelCompiler {
  if (isFusingBackend(backend)) return backend.compiler;
  if (!planningFallback) throw new Error('functs internal error: no fusing backend is registered to plan with');
  return planningFallback;
}

/** A backend that schedules, fuses and compiles with `compiler`. */
export function fusingBackend(compiler: KernelCompiler): FusingBackend {
  planningFallback ??= compiler;
  return {
    name: compiler.name,
    compiler,
    realize(roots) {
      const { program, leaves } = programFor(roots, compiler);
      const values = runProgram(
        program,
        leaves.map((l) => l.realized!),
      );
      roots.forEach((root, i) => {
        root.realized = values[i];
        root.inputs = [];
      });
    },
  };
}
