/**
 * Programs: a schedule whose kernels are compiled by a backend, with numbered buffer slots,
 * runnable again on new leaf values. Two caches make repeated work cheap: programs are kept
 * per DAG structure (two DAGs that differ only in the values of their leaves share one), and
 * compiled kernels per canonical kernel IR and backend.
 */
import { bytesPerElement, dtypeOfTypedArray, type DType, type TypedArray } from '../lazy/dtype.js';
import { ArgumentError, DeviceError } from '../lazy/errors.js';
import { checkAllocatable, COMMUTATIVE } from '../lazy/build.js';
import { primitiveRule, type CallSignature } from '../lazy/primitive.js';
import { holeHash, Node, rehash, structuralKey, topoSort } from '../lazy/node.js';
import type { Backend } from '../lazy/realize.js';
import { sizeOf } from '../lazy/shape.js';
import { Storage, type Device, type DeviceBuffer, type Executable, type KernelMemory } from '../backends/device.js';
import { LruCache } from './cache.js';
import type { KernelIR } from './kernel.js';
import type { RegisterTiles } from './tiling.js';
import { isInputLeaf, schedule, type Schedule } from './schedule.js';
import { factoringSwitch } from './factor.js';
import { describeProgram, describeStep, type Plan } from './explain.js';
import { ArenaPool, arenaViews, planMemory, viewOf, type MemoryPlan } from './memory.js';

/** A kernel compiled for a CPU device: call `run` with the IR's buffers (typed arrays) in order. */
export interface CompiledKernel extends Executable {
  readonly run: (...buffers: TypedArray[]) => void;
  /**
   * A kernel of a linear-memory device: the same run on its buffers' byte addresses in the
   * device's memory (a program run lays its buffers out there and calls this, with no typed
   * array per buffer).
   */
  readonly runAt?: (...byteAddresses: number[]) => void;
}

export interface ProgramStep {
  readonly name: string;
  readonly ir: KernelIR;
  /** The device's executable; for a call step on a CPU device, the program's own runner. */
  readonly kernel: Executable;
  /** Call steps on host and linear memory devices: run by the program on typed arrays, not launched. */
  readonly call?: CompiledKernel;
  /** Slot of each of the IR's buffers. */
  readonly slots: readonly number[];
  /** What the kernel computes, e.g. "reduce_sum(exp(...)) -> float32[4096, 8]". */
  readonly summary: string;
  /** Shapes of the IR's buffers (outputs first, then inputs). */
  readonly shapes: readonly (readonly number[])[];
}

/** A buffer a program's kernels write; `alias`: a part of another (a root), from element `offset` on. */
export interface ProgramBuffer {
  readonly dtype: DType;
  readonly size: number;
  readonly alias?: { readonly buffer: number; readonly offset: number };
}

/**
 * A compiled schedule. Slots 0..leafCount-1 hold the leaves; then come the buffers the
 * kernels write: the roots' are allocated per run, the intermediates' once per program.
 */
export interface Program {
  /** The device it was compiled for (and runs on). */
  readonly backend: string;
  readonly device: Device;
  readonly leafCount: number;
  readonly buffers: readonly ProgramBuffer[];
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
}

/** Default byte budget for the arenas of all programs together. */
const DEFAULT_SCRATCH_BUDGET = 256 * 2 ** 20;

const kernelCache = new LruCache<string, Executable>(1024);
const programCache = new LruCache<string, Program>(256);
const scratchPool = new ArenaPool<Program>(DEFAULT_SCRATCH_BUDGET);
/** Caches elsewhere (jit's traces) that clearCaches empties too. */
const dependentCaches = new Set<WeakRef<{ clear(): void }>>();

/**
 * Programs run and kernels (steps) launched since the process started: the work of a loop
 * counted per step, which unlike its time does not depend on the machine's load.
 */
export const programWork = { runs: 0, kernels: 0 };

/**
 * Milliseconds spent in each phase of the pipeline since the process started (the first
 * call's breakdown in bench/first-call.ts): tracing a jitted function (transforms included),
 * scheduling, building the program (kernel code generation and compilation, memory plan),
 * running programs (the kernels, copies in and out).
 */
export const phaseMs = { trace: 0, schedule: 0, build: 0, run: 0 };

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

/**
 * What a node is without its identity: its structural key with the input ids cut out
 * (`op|dtype|shape||attrs`), or an input's dtype and shape.
 */
function describeNode(node: Node): string {
  if (isInputLeaf(node)) return `in:${node.dtype}:${node.shape.join('x')}`;
  const key = node.key;
  const idsStart = key.indexOf('|', key.indexOf('|', key.indexOf('|') + 1) + 1) + 1;
  return key.slice(0, idsStart) + key.slice(key.indexOf('|', idsStart));
}

/**
 * A string equal for two DAGs exactly when they have the same structure, whatever the values
 * of their leaves, and those leaves in canonical order. Commutative operands count in either
 * order: `canonicalInputs` lists them by a hash of their structure down to the leaves (the
 * leaves as holes), not as they were built, and the key follows that order. The hash is the
 * one nodes are built with (`rehash`), so a DAG whose inputs were already values when it was
 * built is in that order already, and is walked once.
 */
export function structureOf(roots: readonly Node[]): { key: string; leaves: Node[]; canonicalInputs: (node: Node) => readonly Node[] } {
  const built = topoSort(roots, isInputLeaf);
  const index = new Map<Node, number>();
  const text: string[] = new Array(built.length);
  const hashes: number[] = new Array(built.length);
  const swapped = new Set<Node>();
  for (let k = 0; k < built.length; k++) {
    const node = built[k];
    index.set(node, k);
    text[k] = describeNode(node);
    if (isInputLeaf(node)) {
      hashes[k] = holeHash(node);
      continue;
    }
    const inputHashes = node.inputs.map((i) => hashes[index.get(i)!]);
    if (COMMUTATIVE.has(node.op) && inputHashes.length === 2) {
      const [a, b] = node.inputs;
      const [ha, hb] = inputHashes;
      // Equal hashes are equal structures over different leaves: by id they stay in the order
      // the program created them, which a loop repeats (the weights before each step's row).
      if (ha > hb || (ha === hb && a.id > b.id)) {
        swapped.add(node);
        inputHashes.reverse();
      }
    }
    hashes[k] = rehash(node, inputHashes);
  }
  const canonicalInputs = (node: Node): readonly Node[] => (swapped.has(node) ? [node.inputs[1], node.inputs[0]] : node.inputs);
  // Built in the canonical order already (the usual case): the walk is the same.
  const order = swapped.size === 0 ? built : topoSort(roots, isInputLeaf, canonicalInputs);
  const local = new Map<Node, number>();
  const leaves: Node[] = [];
  const parts: string[] = new Array(order.length);
  for (let k = 0; k < order.length; k++) {
    const node = order[k];
    local.set(node, k);
    const own = text[index.get(node)!];
    if (isInputLeaf(node)) {
      leaves.push(node);
      parts[k] = own;
    } else {
      const inputs = canonicalInputs(node);
      parts[k] = inputs.length === 1 ? `${own}|${local.get(inputs[0])}` : `${own}|${inputs.map((i) => local.get(i)).join(',')}`;
    }
  }
  return { key: `${parts.join(';')}=>${roots.map((r) => local.get(r)).join(',')}`, leaves, canonicalInputs };
}

/**
 * The DAG below `roots` with every commutative op's operands in the structure's order,
 * rebuilt where the order differs (outside the interning table: these nodes stand for the
 * same values and must not merge with the user's). The scheduler sees this form, so two DAGs
 * of one structure get one schedule, whichever was compiled first: building orders operands
 * by a hash that sees a node's unrealized history (a dataset's row before it is a view, say),
 * and broadcast factoring, which reassociates products in operand order, would otherwise give
 * the cached program of row 0 other last bits than a fresh compile of row 5's.
 */
function canonicalDag(roots: readonly Node[], canonicalInputs: (node: Node) => readonly Node[]): Node[] {
  const rebuilt = new Map<Node, Node>();
  for (const node of topoSort(roots, isInputLeaf)) {
    if (isInputLeaf(node)) continue;
    const inputs = canonicalInputs(node).map((i) => rebuilt.get(i) ?? i);
    if (inputs.every((x, k) => x === node.inputs[k])) continue;
    rebuilt.set(node, new Node(node.rule, inputs, node.shape, node.dtype, node.attrs, structuralKey(node.op, inputs, node.shape, node.dtype, node.attrs), node.hash));
  }
  return roots.map((r) => rebuilt.get(r) ?? r);
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

const deviceIds = new WeakMap<Device, number>();
let nextDeviceId = 1;

/**
 * A device's part of cache keys: its name and which device of that name (a backend
 * registered again after a new init brings a new device, whose executables differ).
 */
function deviceKey(device: Device): string {
  let id = deviceIds.get(device);
  if (id === undefined) deviceIds.set(device, (id = nextDeviceId++));
  return `${device.name}#${id}`;
}

function compileKernel(ir: KernelIR, device: Device): Executable {
  const key = `${deviceKey(device)}\n${ir.text}`;
  const known = kernelCache.get(key);
  if (known) return known;
  const compiled = device.compile(ir);
  kernelCache.set(key, compiled);
  return compiled;
}

/** Compiles a schedule into a program for `device`. */
export function compileSchedule(plan: Schedule, device: Device): Program {
  const slotOf = new Map<Node, number>();
  plan.leaves.forEach((leaf, i) => slotOf.set(leaf, i));
  const buffers: ProgramBuffer[] = [];
  const addBuffer = (o: Node, alias?: ProgramBuffer['alias']) => {
    checkAllocatable(o.op, o.shape, o.dtype);
    slotOf.set(o, plan.leaves.length + buffers.length);
    buffers.push({ dtype: o.dtype, size: sizeOf(o.shape), ...(alias ? { alias } : {}) });
  };
  // Roots that their pieces are written into come first, so the pieces can name them.
  for (const { root } of plan.aliases.values()) if (!slotOf.has(root)) addBuffer(root);
  for (const k of plan.kernels) {
    for (const o of k.outputs) {
      if (o.dtype === 'float64' && !device.caps.float64) {
        throw new DeviceError(`${o.op}: the ${device.name} device has no float64; cast to float32 first, or compute this on a CPU backend (jit(f, { backend: 'js' }))`);
      }
      const alias = plan.aliases.get(o);
      addBuffer(o, alias && { buffer: slotOf.get(alias.root)! - plan.leaves.length, offset: alias.offset });
    }
  }
  const runsCallsItself = device.caps.memory !== 'buffers';
  const steps = plan.kernels.map((k, i): ProgramStep => {
    const call = k.ir.call && runsCallsItself ? callStep(k.ir.call) : undefined;
    return {
      name: `kernel${i}`,
      ir: k.ir,
      kernel: call ?? compileKernel(k.ir, device),
      call,
      slots: [...k.outputs, ...k.inputs].map((n) => slotOf.get(n)!),
      summary: `${k.outputs.map((o) => `${describe(o)} -> ${o.dtype}[${o.shape.join(', ')}]`).join('; ')}`,
      shapes: [...k.outputs, ...k.inputs].map((n) => n.shape),
    };
  });
  const outputs = plan.roots.map((r) => slotOf.get(r)!);
  const rootBuffers = new Set(outputs.map((slot) => slot - plan.leaves.length));
  const memory = planIntermediates(buffers, steps, plan.leaves.length, (k) => rootBuffers.has(k) || buffers[k].alias !== undefined);
  return { backend: device.name, device, leafCount: plan.leaves.length, buffers, steps, outputs, rootBuffers, memory };
}

/** Arena offsets for the buffers that are neither leaves nor roots, from their lifetimes. */
function planIntermediates(buffers: readonly ProgramBuffer[], steps: readonly ProgramStep[], leafCount: number, outsideArena: (k: number) => boolean): MemoryPlan {
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
  return planMemory(buffers, (k) => !outsideArena(k), writtenAt, lastReadAt, steps.length);
}

/** The program computing `roots` on `device` (from the cache when a DAG of this structure was seen), and its leaves. */
export function programFor(roots: readonly Node[], device: Device): { program: Program; leaves: Node[] } {
  const { key, leaves, canonicalInputs } = structureOf(roots);
  const cacheKey = `${deviceKey(device)}\n${key}`;
  let program = programCache.get(cacheKey);
  if (!program) {
    const started = performance.now();
    const plan = schedule(canonicalDag(roots, canonicalInputs), { maxBuffers: device.caps.maxBuffers, maxOutputs: device.caps.maxOutputs, kernelForm: device.caps.kernelForm, registerTiles: device.caps.registerTiles,
      // Pieces written into their root are views at element offsets: host and linear memory only.
      piecesInPlace: device.caps.memory !== 'buffers',
      hoistProducts: device.caps.kernelForm === 'loops' });
    const scheduled = performance.now();
    // The leaf slots follow the structure's leaf order, which the canonical DAG's own walk
    // repeats; a later DAG of this structure, built the other way round, passes its leaves
    // in that order too.
    program = compileSchedule(plan, device);
    if (plan.leaves.some((leaf, i) => leaf !== leaves[i])) throw new Error('functs internal error: the schedule\'s leaves are not in the structure\'s order');
    phaseMs.schedule += scheduled - started;
    phaseMs.build += performance.now() - scheduled;
    programCache.set(cacheKey, program);
  }
  return { program, leaves };
}

/**
 * Runs a program on its leaves' values; returns the value of each root as a new Storage on
 * the program's device (the caller owns it). A root that is itself a leaf (jit of the
 * identity) shares the leaf's storage.
 */
export function runProgram(program: Program, leaves: readonly Storage[]): Storage[] {
  programWork.runs++;
  programWork.kernels += program.steps.length;
  const started = performance.now();
  const { device } = program;
  const buffers = leaves.map((leaf) => leaf.bufferOn(device));
  const results = device.caps.memory === 'linear'
    ? runInKernelMemory(program, device.linearMemory!, buffers as TypedArray[])
    : device.caps.memory === 'host'
      ? runOnHost(program, buffers as TypedArray[])
      : runOnDevice(program, buffers);
  phaseMs.run += performance.now() - started;
  return program.outputs.map((slot, i) => {
    if (slot < program.leafCount) return leaves[slot].view(0, leaves[slot].size);
    const { dtype, size } = program.buffers[slot - program.leafCount];
    return Storage.onDevice(device, results[i]!, dtype, size);
  });
}

/** Host memory: intermediates are views of the program's arena, roots fresh arrays. */
function runOnHost(program: Program, leafValues: readonly TypedArray[]): (TypedArray | undefined)[] {
  const slots: TypedArray[] = new Array(program.leafCount + program.buffers.length);
  for (let i = 0; i < program.leafCount; i++) slots[i] = leafValues[i];
  const { memory, buffers, device } = program;
  const scratch = scratchPool.acquire(program, memory.bytes, () => arenaViews(memory, buffers));
  buffers.forEach((b, k) => {
    if (!b.alias) slots[program.leafCount + k] = scratch[k] ?? (device.alloc(b.dtype, b.size) as TypedArray);
  });
  buffers.forEach((b, k) => {
    if (b.alias) slots[program.leafCount + k] = slots[program.leafCount + b.alias.buffer].subarray(b.alias.offset, b.alias.offset + b.size);
  });
  runSteps(program, slots);
  return program.outputs.map((s) => (s < program.leafCount ? undefined : slots[s]));
}

/**
 * Device buffers (GPU): every buffer a kernel writes is allocated for the run; the
 * intermediates are released once every kernel is launched (the device's queue orders
 * their reuse after those launches).
 */
function runOnDevice(program: Program, leafBuffers: readonly DeviceBuffer[]): (DeviceBuffer | undefined)[] {
  const { device } = program;
  const slots: DeviceBuffer[] = [...leafBuffers];
  for (const b of program.buffers) slots.push(device.alloc(b.dtype, b.size));
  runSteps(program, slots);
  program.buffers.forEach((_, k) => {
    if (!program.rootBuffers.has(k)) device.release(slots[program.leafCount + k]);
  });
  return program.outputs.map((s) => (s < program.leafCount ? undefined : slots[s]));
}

/**
 * Byte offsets of every slot of a program in its scratch block, the bytes it needs, the
 * leaves the program's last run copied there, and per slot its element type and count (for
 * the views a kernel without byte addresses, or a call step, is given).
 */
interface KernelMemoryLayout {
  readonly offsets: readonly number[];
  readonly bytes: number;
  readonly copied: (TypedArray | null)[];
  /** Per slot its byte address in this run (reused from run to run: runs are synchronous). */
  readonly addresses: number[];
}

const kernelMemoryLayouts = new WeakMap<Program, KernelMemoryLayout>();

/**
 * Runs a program whose kernels live in their own memory: the device allocates the roots
 * (first: allocating may grow the memory), the run takes its scratch block, leaves not in the
 * memory are copied into it (unless this program's last run copied the same arrays there and
 * no other run used the block since: values are immutable), the intermediates sit at their
 * planned arena offsets, so every kernel reads and writes in place. Kernels that take byte
 * addresses (`CompiledKernel.runAt`, wasm's) are called with them, so a run makes no typed
 * array for its intermediates; the others get views. Roots the device kept in the memory are
 * returned as they are; the others were written in the scratch block and are copied out.
 */
function runInKernelMemory(program: Program, kernelMemory: KernelMemory, leafValues: readonly TypedArray[]): (TypedArray | undefined)[] {
  let layout = kernelMemoryLayouts.get(program);
  if (!layout) {
    layout = kernelMemoryLayout(program, leafValues);
    kernelMemoryLayouts.set(program, layout);
  }
  const { leafCount, buffers, device, outputs } = program;
  let roots: (TypedArray | undefined)[] | undefined;
  for (const k of program.rootBuffers) {
    // (A root that is a leaf, jit of the identity, has no buffer here: k < 0.)
    if (k < 0 || buffers[k].alias) continue;
    roots ??= [];
    roots[k] = device.alloc(buffers[k].dtype, buffers[k].size) as TypedArray;
  }
  const { buffer, base, again } = kernelMemory.scratch(layout.bytes, layout);
  const { copied, offsets, addresses } = layout;
  for (let slot = 0; slot < leafCount; slot++) {
    const leaf = leafValues[slot];
    if (kernelMemory.holds(leaf)) {
      copied[slot] = null;
      addresses[slot] = leaf.byteOffset;
      continue;
    }
    const address = base + offsets[slot];
    if (!(again && copied[slot] === leaf)) new Uint8Array(buffer, address, leaf.byteLength).set(new Uint8Array(leaf.buffer, leaf.byteOffset, leaf.byteLength));
    // Held strongly (one array per leaf of a cached program): a WeakRef made or read in a
    // synchronous loop keeps its target alive until the loop's job ends.
    copied[slot] = leaf;
    addresses[slot] = address;
  }
  for (let k = 0; k < buffers.length; k++) {
    const root = roots?.[k];
    addresses[leafCount + k] = root && kernelMemory.holds(root) ? root.byteOffset : base + offsets[leafCount + k];
  }
  for (let k = 0; k < buffers.length; k++) {
    const alias = buffers[k].alias;
    if (alias) addresses[leafCount + k] = addresses[leafCount + alias.buffer] + alias.offset * bytesPerElement(buffers[k].dtype);
  }
  const viewAt = (slot: number): TypedArray => {
    if (slot < leafCount) return copied[slot] === null ? leafValues[slot] : viewOf(buffer, addresses[slot], dtypeOfTypedArray(leafValues[slot]), leafValues[slot].length);
    const { dtype, size } = buffers[slot - leafCount];
    return viewOf(buffer, addresses[slot], dtype, size);
  };
  const debug = debugEnabled();
  for (const step of program.steps) {
    const start = debug ? performance.now() : 0;
    const runAt = step.call ? undefined : (step.kernel as Partial<CompiledKernel>).runAt;
    if (runAt) runAt(...step.slots.map((s) => addresses[s]));
    else if (step.call) step.call.run(...step.slots.map(viewAt));
    else device.launch(step.kernel, step.slots.map(viewAt));
    if (debug) logStep(step, performance.now() - start);
  }
  const results: (TypedArray | undefined)[] = new Array(outputs.length);
  const returned = new Set<number>();
  for (let i = 0; i < outputs.length; i++) {
    const s = outputs[i];
    if (s < leafCount) continue;
    const root = roots?.[s - leafCount];
    // A root returned twice gets a copy the second time: each Storage owns its buffer. (A set,
    // not indexOf: one realize() of 16,000 outputs spent 140 ms in that search.)
    const first = !returned.has(s);
    returned.add(s);
    if (root && first && kernelMemory.holds(root)) results[i] = root;
    else if (root && first) results[i] = (root.set(viewAt(s)), root);
    else results[i] = viewAt(s).slice();
  }
  return results;
}

/** Offsets in the scratch block: the leaves, then the arena of intermediates, then the roots. */
function kernelMemoryLayout(program: Program, leafValues: readonly TypedArray[]): KernelMemoryLayout {
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
    if (b.alias) {
      offsets.push(-1);
    } else if (planned !== undefined) {
      offsets.push(arenaBase + planned);
    } else {
      offsets.push(end);
      end = align(end + b.size * bytesPerElement(b.dtype));
    }
  });
  program.buffers.forEach((b, k) => {
    if (b.alias) offsets[leafValues.length + k] = offsets[leafValues.length + b.alias.buffer] + b.alias.offset * bytesPerElement(b.dtype);
  });
  return { offsets, bytes: end, copied: leafValues.map(() => null), addresses: offsets.map(() => 0) };
}

function runSteps(program: Program, slots: readonly DeviceBuffer[]): void {
  const debug = debugEnabled();
  const { device } = program;
  for (const step of program.steps) {
    const args = step.slots.map((s) => slots[s]);
    const start = debug ? performance.now() : 0;
    if (step.call) step.call.run(...(args as TypedArray[]));
    else device.launch(step.kernel, args);
    if (debug) logStep(step, performance.now() - start);
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

/** A backend that fuses: it schedules the DAG into kernels and runs them on `device`. */
export interface FusingBackend extends Backend {
  /** The program computing `roots` (compiled if needed; nothing runs). */
  program(roots: readonly Node[]): { program: Program; leaves: Node[] };
}

export function isFusingBackend(backend: Backend): backend is FusingBackend {
  return 'program' in backend;
}

/**
 * A backend that schedules, fuses and compiles for `device`; register it with
 * `registerBackend` (src/lazy/realize.ts) to make it selectable by the device's name.
 */
export function fusingBackend(device: Device): FusingBackend {
  const program = (roots: readonly Node[]) => programFor(roots, device);
  return {
    name: device.name,
    device,
    program,
    plan: (roots): Plan => describeProgram(program(roots).program),
    realize(roots) {
      const { program: compiled, leaves } = program(roots);
      const values = runProgram(compiled, leaves.map((l) => l.realized!));
      roots.forEach((root, i) => {
        root.realized = values[i];
        root.inputs = [];
      });
    },
  };
}
