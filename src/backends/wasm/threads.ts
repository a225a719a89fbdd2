/**
 * Threads for the wasm backend: a pool of workers on the backend's one shared
 * WebAssembly.Memory. A kernel whose outermost loop has independent iterations (parallel.ts)
 * is run in chunks of that loop, taken from an atomic counter by the main thread and the
 * workers alike, so a slow or late worker costs little (the two cores here run unevenly);
 * the main thread then waits for the chunks others took. Chunks shrink as the loop runs out
 * (each takes a share of what is left, guided scheduling), so the last chunk a slow thread
 * holds is a small one. Every chunk runs the same code on
 * the same elements whatever the thread count, so results are bit for bit the same.
 *
 * Node's worker_threads and os are looked up when threads are first wanted, never imported,
 * so a browser bundle carries no Node built-in; in a browser, Web Workers serve when the page
 * is cross-origin isolated (shared memory), one thread otherwise.
 *
 * The control block is a SharedArrayBuffer of its own: a job counter workers sleep on, the
 * count of iterations done, a failure flag, the claim word (generation << 32 | the next
 * iteration to claim:
 * a claim is a compare-exchange that also checks the generation, so a worker that read an
 * older job can never take a chunk of a newer one) and the job (kernel id, chunk layout,
 * the buffers' addresses). Kernel modules reach workers by message, before the first job
 * that needs them; a Node worker reads them synchronously from its port.
 */
import { ArgumentError } from '../../lazy/errors.js';

/** Int32 slots of the control block. */
const SIGNAL = 0;
const DONE = 1;
const FAILED = 2;
/** Chunks run by workers, ever (for tests: proof that the workers took part). */
const WORKER_CHUNKS = 3;
/** How long a worker spins after a job before it sleeps, in microseconds. */
const SPIN = 6;
/** Workers started and waiting for jobs (the pool joins them in as they arrive). */
const READY = 7;
/** BigInt64 slot (bytes 16-23) of the claim word. */
const CLAIM = 2;
const JOB = 8;
const MAX_ARGS = 64;
const CONTROL_BYTES = Math.ceil(((JOB + 5 + MAX_ARGS) * 4) / 8) * 8;
/** The next iteration while a job is being written: past any loop, so no claim can succeed. */
const WRITING = 0xffffffffn;

/** How the split is tuned (tests lower the thresholds to split even tiny kernels). */
export const parallelTuning = {
  /** Kernels estimated below this many operations run on the main thread alone. */
  minOperations: 200_000,
  /** A chunk is at least this many operations... */
  minChunkOperations: 20_000,
  /** ...and takes 1 / (threads x this) of the iterations left. */
  chunksPerThread: 2,
  /** false: the main thread only waits while the workers run every chunk (tests of the workers' path). */
  mainThreadTakesChunks: true,
  /**
   * After a job a worker spins this long before it sleeps in Atomics.wait, and the main
   * thread spins this long for the workers' last chunks before it sleeps: a program's
   * kernels follow one another within microseconds, and waking a sleeping thread costs
   * tens of microseconds on a VM.
   */
  spinMicroseconds: 200,
};

/** What a worker is sent at start. */
interface WorkerInit {
  readonly memory: WebAssembly.Memory;
  readonly control: SharedArrayBuffer;
  readonly kernels: readonly { readonly id: number; readonly module: WebAssembly.Module }[];
}

interface WorkerHandle {
  post(message: { kernel: number; module: WebAssembly.Module } | { forget: number }): void;
  terminate(): void;
}

/** Where threads come from: Node's worker_threads or a browser's Web Workers. */
interface Platform {
  readonly cores: number;
  /** Whether this thread may block in Atomics.wait (a browser's main thread may not). */
  readonly canBlock: boolean;
  spawn(init: WorkerInit): WorkerHandle;
}

/**
 * The worker's program, plain JavaScript for both platforms: sleep on the job counter, join
 * the current job, claim chunks until none is left.
 */
const WORKER_SOURCE = `
'use strict';
const isNode = typeof require === 'function' && typeof process === 'object';
let memory, ctl, claim, port = null, receive = null, running = false;
const modules = new Map(), kernels = new Map();
const math = { exp: Math.exp, log: Math.log, sin: Math.sin, cos: Math.cos, tanh: Math.tanh, log1p: Math.log1p, expm1: Math.expm1, pow: Math.pow };
function accept(message) {
  if (message.kernel !== undefined) modules.set(message.kernel, message.module);
  else if (message.forget !== undefined) { modules.delete(message.forget); kernels.delete(message.forget); }
}
function kernel(id) {
  let fn = kernels.get(id);
  if (fn) return fn;
  if (!modules.has(id) && receive) for (let m; (m = receive(port)); ) accept(m.message);
  const module = modules.get(id);
  if (!module) return undefined;
  fn = new WebAssembly.Instance(module, { env: { memory }, m: math }).exports.kernel;
  kernels.set(id, fn);
  return fn;
}
// Takes chunks of the open job; false when its kernel has not arrived yet.
function work() {
  const seen = Atomics.load(claim, ${CLAIM});
  if ((seen & ${WRITING}n) === ${WRITING}n) return true;
  const generation = seen >> 32n;
  const id = Atomics.load(ctl, ${JOB}), share = Atomics.load(ctl, ${JOB + 1}), least = Atomics.load(ctl, ${JOB + 2});
  const extent = Atomics.load(ctl, ${JOB + 3}), argc = Atomics.load(ctl, ${JOB + 4});
  const args = new Array(argc + 2);
  for (let k = 0; k < argc; k++) args[k] = Atomics.load(ctl, ${JOB + 5} + k);
  if (Atomics.load(claim, ${CLAIM}) >> 32n !== generation) return true;
  const fn = kernel(id);
  // Node reads its port synchronously: a kernel missing there is never coming; skip the job.
  if (!fn) return receive !== null;
  for (;;) {
    const s = Atomics.load(claim, ${CLAIM});
    if (s >> 32n !== generation) return true;
    const start = Number(s & 0xffffffffn);
    if (start >= extent) return true;
    const end = Math.min(extent, start + Math.max(least, Math.ceil((extent - start) / share / least) * least));
    if (Atomics.compareExchange(claim, ${CLAIM}, s, (generation << 32n) | BigInt(end)) !== s) continue;
    args[argc] = start;
    args[argc + 1] = end;
    try { fn(...args); } catch { Atomics.store(ctl, ${FAILED}, 1); }
    Atomics.add(ctl, ${WORKER_CHUNKS}, 1);
    if (Atomics.add(ctl, ${DONE}, end - start) + end - start === extent) Atomics.notify(ctl, ${DONE});
  }
}
function loop() {
  running = true;
  let seen = Atomics.load(ctl, ${SIGNAL});
  for (;;) {
    // A browser worker lacking the job's kernel returns to its event loop to receive it.
    if (!work()) { running = false; return; }
    // The next kernel of a program usually comes within microseconds: wait for it awake.
    const until = performance.now() + Atomics.load(ctl, ${SPIN}) / 1000;
    while (Atomics.load(ctl, ${SIGNAL}) === seen && performance.now() < until);
    Atomics.wait(ctl, ${SIGNAL}, seen);
    seen = Atomics.load(ctl, ${SIGNAL});
  }
}
function start(init) {
  memory = init.memory;
  ctl = new Int32Array(init.control);
  claim = new BigInt64Array(init.control);
  for (const k of init.kernels) modules.set(k.id, k.module);
  Atomics.add(ctl, ${READY}, 1);
  loop();
}
if (isNode) {
  const threads = require('worker_threads');
  port = threads.workerData.port;
  receive = threads.receiveMessageOnPort;
  start(threads.workerData);
} else {
  self.onmessage = (event) => {
    if (event.data.init) start(event.data.init);
    else { accept(event.data); if (!running && ctl) loop(); }
  };
}
`;

type NodeWorkerThreads = typeof import('node:worker_threads');
type NodeOs = typeof import('node:os');

/** A Node built-in, where this is Node (process.getBuiltinModule: no import for a bundler to follow). */
function nodeBuiltin<T>(name: string): T | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  return proc?.getBuiltinModule?.(name) as T | undefined;
}

function nodePlatform(threads: NodeWorkerThreads): Platform {
  const os = nodeBuiltin<NodeOs>('node:os');
  return {
    cores: os?.availableParallelism?.() ?? os?.cpus().length ?? 1,
    canBlock: true,
    spawn(init) {
      const { port1, port2 } = new threads.MessageChannel();
      // execArgv: []: the worker's source is a plain script; the parent's options
      // (`--input-type=module`, loaders such as tsx) would change how it is read and break it.
      const worker = new threads.Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { ...init, port: port2 }, transferList: [port2] });
      // Workers sleep in Atomics.wait between jobs: they must not keep the process alive.
      worker.unref();
      port1.unref();
      return {
        post: (message) => port1.postMessage(message),
        terminate: () => {
          port1.close();
          void worker.terminate();
        },
      };
    },
  };
}

interface BrowserGlobals {
  crossOriginIsolated?: boolean;
  navigator?: { hardwareConcurrency?: number };
  Worker?: new (url: string) => { postMessage(message: unknown): void; terminate(): void };
  Blob?: new (parts: string[], options: { type: string }) => unknown;
  URL?: { createObjectURL(blob: unknown): string };
  Atomics: typeof Atomics;
}

function browserPlatform(g: BrowserGlobals): Platform | null {
  const { Worker, Blob, URL } = g;
  if (!g.crossOriginIsolated || !Worker || !Blob || !URL) return null;
  let canBlock = true;
  try {
    // A browser's main thread may not block: it spins instead while workers finish.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
  } catch {
    canBlock = false;
  }
  let url: string | undefined;
  return {
    cores: g.navigator?.hardwareConcurrency ?? 1,
    canBlock,
    spawn(init) {
      url ??= URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
      const worker = new Worker(url);
      worker.postMessage({ init });
      return { post: (message) => worker.postMessage(message), terminate: () => worker.terminate() };
    },
  };
}

let platformFound: Platform | null | undefined;

/** The platform's threads, or null where there are none (no shared memory, no workers). */
function platform(): Platform | null {
  if (platformFound !== undefined) return platformFound;
  const g = globalThis as unknown as BrowserGlobals;
  const threads = nodeBuiltin<NodeWorkerThreads>('node:worker_threads');
  if (threads) platformFound = nodePlatform(threads);
  else if (typeof (globalThis as { process?: unknown }).process === 'object' && !g.Worker) platformFound = null; // Node without getBuiltinModule (before 20.16): one thread
  else platformFound = browserPlatform(g);
  return platformFound;
}

/** A kernel as the pool knows it: its module (sent to workers) and the main thread's function. */
export interface PoolKernel {
  readonly id: number;
  readonly module: WebAssembly.Module;
}

/** Kernels the workers may need, by id; forgotten when their compiled kernel is collected. */
const kernelModules = new Map<number, WebAssembly.Module>();
let nextKernelId = 0;
const forgetKernel = new FinalizationRegistry<number>((id) => {
  kernelModules.delete(id);
  pool?.forget(id);
});

/** Registers a kernel module for the workers, for as long as `owner` lives. */
export function poolKernel(module: WebAssembly.Module, owner: object): PoolKernel {
  const id = nextKernelId++;
  kernelModules.set(id, module);
  forgetKernel.register(owner, id);
  return { id, module };
}

class Pool {
  private readonly ctl: Int32Array;
  private readonly claim: BigInt64Array;
  private readonly workers: WorkerHandle[] = [];
  private readonly delivered = new Set<number>();
  private generation = 0n;

  constructor(
    private readonly platform: Platform,
    readonly memory: WebAssembly.Memory,
    readonly size: number,
  ) {
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    this.ctl = new Int32Array(control);
    this.claim = new BigInt64Array(control);
    const kernels = [...kernelModules].map(([id, module]) => ({ id, module }));
    for (const { id } of kernels) this.delivered.add(id);
    for (let i = 1; i < size; i++) this.workers.push(platform.spawn({ memory, control, kernels }));
    workersSpawned += size - 1;
  }

  forget(id: number): void {
    if (!this.delivered.delete(id)) return;
    for (const w of this.workers) w.post({ forget: id });
  }

  /** Workers started so far (each takes a few tens of milliseconds to start). */
  get ready(): number {
    return Atomics.load(this.ctl, READY);
  }

  /** Chunks the workers of this pool have run. */
  get workerChunks(): number {
    return Atomics.load(this.ctl, WORKER_CHUNKS);
  }

  close(): void {
    for (const w of this.workers) w.terminate();
  }

  /**
   * Runs `fn` over a loop of `extent` iterations on every thread, in chunks of 1 / `share` of
   * the iterations left, rounded up to a multiple of `least` (the smallest chunk).
   */
  run(kernel: PoolKernel, fn: (...args: number[]) => void, bases: readonly number[], extent: number, share: number, least: number): void {
    const { ctl, claim } = this;
    if (bases.length > MAX_ARGS) throw new Error(`functs internal error: a parallel kernel takes at most ${MAX_ARGS} buffers`);
    if (!this.delivered.has(kernel.id)) {
      for (const w of this.workers) w.post({ kernel: kernel.id, module: kernel.module });
      this.delivered.add(kernel.id);
    }
    const generation = ++this.generation << 32n;
    Atomics.store(claim, CLAIM, generation | WRITING);
    Atomics.store(ctl, JOB, kernel.id);
    Atomics.store(ctl, JOB + 1, share);
    Atomics.store(ctl, JOB + 2, least);
    Atomics.store(ctl, JOB + 3, extent);
    Atomics.store(ctl, JOB + 4, bases.length);
    bases.forEach((b, k) => Atomics.store(ctl, JOB + 5 + k, b));
    Atomics.store(ctl, DONE, 0);
    Atomics.store(ctl, FAILED, 0);
    Atomics.store(ctl, SPIN, parallelTuning.spinMicroseconds);
    Atomics.store(claim, CLAIM, generation);
    Atomics.add(ctl, SIGNAL, 1);
    Atomics.notify(ctl, SIGNAL);

    const args = [...bases, 0, 0];
    const argc = bases.length;
    let failure: unknown;
    while (parallelTuning.mainThreadTakesChunks) {
      const s = Atomics.load(claim, CLAIM);
      const start = Number(s & 0xffffffffn);
      if (start >= extent) break;
      const end = chunkEnd(start, extent, share, least);
      if (Atomics.compareExchange(claim, CLAIM, s, generation | BigInt(end)) !== s) continue;
      args[argc] = start;
      args[argc + 1] = end;
      try {
        fn(...args);
      } catch (e) {
        failure ??= e;
      }
      Atomics.add(ctl, DONE, end - start);
    }
    const until = performance.now() + parallelTuning.spinMicroseconds / 1000;
    for (let done = Atomics.load(ctl, DONE); done < extent; done = Atomics.load(ctl, DONE)) {
      if (this.platform.canBlock && performance.now() >= until) Atomics.wait(ctl, DONE, done);
    }
    if (failure !== undefined) throw failure;
    // A chunk failed on a worker: the whole loop again here, which throws the error itself
    // (or computes the values, if only the worker could not run the kernel).
    if (Atomics.load(ctl, FAILED)) fn(...bases, 0, extent);
  }
}

/** Where the chunk starting at `start` ends (the worker's source computes the same). */
function chunkEnd(start: number, extent: number, share: number, least: number): number {
  return Math.min(extent, start + Math.max(least, Math.ceil((extent - start) / share / least) * least));
}

let pool: Pool | null = null;
let requested: number | undefined;
/** Chunks run by the workers of pools closed before the current one. */
let closedWorkerChunks = 0;
let workersSpawned = 0;

/** How many workers of the current pool have started (for tests and measurements). */
export function startedWorkers(): number {
  return pool?.ready ?? 0;
}

/** How many workers this process has constructed, in every pool (for tests: a first call constructs none). */
export function spawnedWorkers(): number {
  return workersSpawned;
}

/** How many chunks worker threads have run so far, in every pool (for tests). */
export function workerChunkCount(): number {
  return closedWorkerChunks + (pool?.workerChunks ?? 0);
}

function replacePool(next: Pool | null): void {
  if (pool) {
    closedWorkerChunks += pool.workerChunks;
    pool.close();
  }
  pool = next;
}

/** The default count, found once (it reads the environment, which costs microseconds per kernel launch). */
let defaultFound: number | undefined;

function defaultThreads(): number {
  if (defaultFound !== undefined) return defaultFound;
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.FUNCTS_THREADS;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (Number.isInteger(n) && n >= 1) return (defaultFound = n);
  }
  return (defaultFound = platform()?.cores ?? 1);
}

/**
 * Sets how many threads the wasm backend runs a kernel on (the main thread and n - 1
 * workers); 'auto' (the default) is the number of cores (`os.availableParallelism()` in
 * Node, `navigator.hardwareConcurrency` in a cross-origin isolated page; one thread where
 * there is no shared memory), or the environment variable FUNCTS_THREADS where set (read at
 * the first kernel launch that asks). Results
 * are the same bits for every thread count. Returns the count in effect before.
 * @example
 * setThreads(1);       // everything on the main thread
 * setThreads('auto');  // one thread per core
 */
export function setThreads(n: number | 'auto'): number {
  if (n !== 'auto' && !(Number.isInteger(n) && n >= 1 && n <= 256)) {
    throw new ArgumentError(`setThreads: ${String(n)} threads; pass a whole number from 1 to 256, or 'auto'`);
  }
  const previous = getThreads();
  requested = n === 'auto' ? undefined : n;
  // A pool of another size is replaced when next needed; one thread keeps it asleep, so
  // switching between one thread and many costs nothing.
  return previous;
}

/**
 * The number of threads the wasm backend runs kernels on (see setThreads).
 * @example
 * getThreads(); // 2 on a two-core machine
 */
export function getThreads(): number {
  return requested ?? defaultThreads();
}

/**
 * Runs a kernel whose loop of `extent` iterations splits in chunks of `grain`, on as many
 * threads as are set and the work pays for; `operations` is the kernel's estimated work.
 */
export function runSplit(kernel: PoolKernel, fn: (...args: number[]) => void, memory: WebAssembly.Memory, bases: readonly number[], extent: number, grain: number, operations: number, firstRun = false): void {
  // Before anything else, as the rule below would: a process's first call does not even look
  // up its threads (Node's worker_threads module, loaded on that first look, costs it 2 ms).
  if (firstRun && !pool && parallelTuning.mainThreadTakesChunks) {
    fn(...bases, 0, extent);
    return;
  }
  const threads = operations >= parallelTuning.minOperations ? getThreads() : 1;
  const perIteration = operations / extent;
  // The smallest chunk: whole blocks of `grain`, at least minChunkOperations of work.
  const least = Math.max(1, Math.ceil(parallelTuning.minChunkOperations / Math.max(perIteration * grain, 1e-9))) * grain;
  const shared = isShared(memory);
  if (threads <= 1 || least >= extent || !shared || !platform()) {
    fn(...bases, 0, extent);
    return;
  }
  // A kernel's first run does not construct a pool (that costs the main thread milliseconds,
  // and the workers' start, tens of milliseconds of CPU, would share the cores with the rest
  // of a process's first call: 79 -> 119 ms CPU and 110 -> 153 ms wall measured on two loaded
  // cores), so the pool starts at the second run of a split kernel; until a worker has
  // started, the main thread runs kernels whole: no call ever waits for the pool.
  const needsPool = !pool || pool.size !== threads || pool.memory !== memory;
  if (needsPool && firstRun && parallelTuning.mainThreadTakesChunks) {
    fn(...bases, 0, extent);
    return;
  }
  const running = poolFor(memory, threads);
  if (running.ready === 0 && parallelTuning.mainThreadTakesChunks) {
    fn(...bases, 0, extent);
    return;
  }
  running.run(kernel, fn, bases, extent, threads * parallelTuning.chunksPerThread, least);
}

/** Whether each memory seen is shared (a memory's buffer, read from a shared memory, costs a call into the engine). */
const sharedMemories = new WeakMap<WebAssembly.Memory, boolean>();

function isShared(memory: WebAssembly.Memory): boolean {
  let shared = sharedMemories.get(memory);
  if (shared === undefined) sharedMemories.set(memory, (shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer));
  return shared;
}

function poolFor(memory: WebAssembly.Memory, threads: number): Pool {
  if (!pool || pool.size !== threads || pool.memory !== memory) replacePool(new Pool(platform()!, memory, threads));
  return pool!;
}

