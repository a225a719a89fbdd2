/**
 * The WebAssembly backend: the fusion scheduler's kernels compiled to wasm bytecode (see
 * compile.ts and README.md). Kernels it cannot compile (random draws, checked gathers,
 * scatters) are compiled by the JS compiler instead, so a program never fails for lack of a
 * wasm lowering. functs' default backend; kernels whose outermost loop has independent
 * iterations run on several threads (threads.ts).
 */
import { allocate, bytesPerElement, type DType, type TypedArray } from '../../lazy/dtype.js';
import type { KernelIR } from '../../fusion/kernel.js';
import { viewOf } from '../../fusion/memory.js';
import { fusingBackend, type CompiledKernel } from '../../fusion/program.js';
import { cpuDevice } from '../cpu.js';
import { compileJs } from '../js/codegen.js';
import { Unsupported, emitHelperModule, emitKernelModule, emitVectorMathModule, type WasmOptions } from './compile.js';
import { HELPERS, type Helper } from './math.js';
import { WasmArena } from './memory.js';
import { poolKernel, runSplit } from './threads.js';

/** The one memory every kernel of this backend runs in (shared with the worker threads where it can be). */
export const wasmArena = new WasmArena();

// The workers start at a split kernel's second run (threads.ts runSplit), not at import: their
// start would share the cores with a process's first call, which runs on this thread alone.

const MATH_IMPORTS = { exp: Math.exp, log: Math.log, sin: Math.sin, cos: Math.cos, tanh: Math.tanh, log1p: Math.log1p, expm1: Math.expm1, pow: Math.pow };

type KernelFunction = (...baseAddresses: number[]) => void;

/** Instantiates a kernel module on the backend's memory. */
export function instantiateKernel(module: WebAssembly.Module, arena: WasmArena = wasmArena): KernelFunction {
  return kernelExports(module, arena).kernel;
}

function kernelExports(module: WebAssembly.Module, arena: WasmArena = wasmArena): { kernel: KernelFunction } {
  const instance = new WebAssembly.Instance(module, { env: { memory: arena.memory }, m: MATH_IMPORTS });
  return instance.exports as unknown as { kernel: KernelFunction };
}

/**
 * A compiled wasm kernel. `runAt` takes the buffers' byte addresses (the layout is the
 * caller's); `run` lays the typed arrays out in the arena, copies the inputs in, runs, and
 * copies the outputs out.
 */
export interface WasmKernel extends CompiledKernel {
  readonly runAt: (...baseAddresses: number[]) => void;
}

export function compileWasm(ir: KernelIR, options: WasmOptions = {}): CompiledKernel {
  let module;
  try {
    module = emitKernelModule(ir, { sharedMemory: wasmArena.shared, ...options });
  } catch (e) {
    if (!(e instanceof Unsupported)) throw e;
    const js = compileJs(ir);
    return { run: js.run, source: `// wasm: compiled by the JS compiler instead (${e.message})\n${js.source}` };
  }
  // A GEMM packs into the top of the memory: the arena keeps that much past every buffer.
  if (module.gemm?.scratchBytes) wasmArena.needScratch(module.gemm.scratchBytes);
  if (module.columnSweep) wasmArena.needScratch(module.columnSweep.scratchBytes);
  const compiled = new WebAssembly.Module(module.bytes);
  const { kernel: kernelFn } = kernelExports(compiled);
  // A GEMM's packing of B, once per call before the split (gemm.ts GemmPacking): split too.
  const packing = module.gemm?.packing;
  const packModule = packing ? new WebAssembly.Module(packing.bytes) : null;
  const packFn = packModule ? kernelExports(packModule).kernel : null;
  const { parallel } = module;
  // A kernel with a parallel loop takes that loop's range after the addresses; the pool
  // splits it between threads where the work pays for them.
  let fn: KernelFunction = kernelFn;
  if (parallel) {
    const { extent, grain } = parallel;
    const operations = ir.operations;
    let handle: ReturnType<typeof poolKernel> | undefined;
    let packHandle: ReturnType<typeof poolKernel> | undefined;
    fn = (...bases) => {
      const firstRun = handle === undefined;
      handle ??= poolKernel(compiled, kernel);
      if (packing && packModule && packFn) {
        packHandle ??= poolKernel(packModule, kernel);
        runSplit(packHandle, packFn, wasmArena.memory, bases, packing.units, 1, (packing.units * packing.bytesPerUnit) / 4, firstRun);
      }
      runSplit(handle, kernelFn, wasmArena.memory, bases, extent, grain, operations, firstRun);
    };
  }
  const outputs = ir.buffers.flatMap((b, i) => (b.role === 'output' ? [i] : []));
  const inputs = ir.buffers.flatMap((b, i) => (b.role === 'input' ? [i] : []));
  const kernel: WasmKernel = {
    runAt: fn,
    run: (...buffers: TypedArray[]) => {
      // A program on this backend lays its buffers out in the memory itself: run in place.
      if (buffers.every((b) => wasmArena.holds(b))) return fn(...buffers.map((b) => b.byteOffset));
      // Arrays elsewhere (a kernel called directly): blocks of their own, never the scratch
      // block a program run may be using.
      const blocks = buffers.map((b) => (wasmArena.holds(b) ? -1 : wasmArena.alloc(b.byteLength)));
      try {
        for (const i of inputs) if (blocks[i] >= 0) wasmArena.write(blocks[i], buffers[i]);
        fn(...buffers.map((b, i) => (blocks[i] >= 0 ? blocks[i] : b.byteOffset)));
        for (const i of outputs) if (blocks[i] >= 0) wasmArena.read(blocks[i], buffers[i]);
      } finally {
        for (const block of blocks) if (block >= 0) wasmArena.release(block);
      }
    },
    source: `// wasm module: ${module.bytes.length} bytes${parallel ? `, threads split loop ${parallel.index} (chunks of ${parallel.grain})` : ''}${module.vectorLoops ? `, ${module.vectorLoops} f32x4 loop${module.vectorLoops > 1 ? 's' : ''}` : ''}${module.laneLoops.length ? `, f32x4 lanes over loop ${module.laneLoops.join(', ')} (vector accumulators${module.transposedStores ? `; ${module.transposedStores} store groups transposed` : ''}${module.deferredTails ? `; ${module.deferredTails} elementwise tail${module.deferredTails > 1 ? 's' : ''} deferred to a pass` : ''})` : ''}${module.gemm ? `, GEMM ${module.gemm.batch > 1 ? `${module.gemm.batch} x ` : ''}${module.gemm.M}x${module.gemm.N}x${module.gemm.K}${module.gemm.epilogue ? ' + epilogue' : ''}${module.gemm.mirrored ? `, symmetric output: blocks I <= J computed, mirrored in registers${module.gemm.diagonalPacked ? ', diagonal blocks as 3 vectors' : ''}` : ''}` : ''}${module.columnSweep ? `, column sums swept by rows (${module.columnSweep.columns} columns, ${module.columnSweep.rows} rows)` : ''}${module.fusedMultiplyAdds ? `, ${module.fusedMultiplyAdds} relaxed_madd` : ''}${module.helpers.length ? `, helpers ${module.helpers.join(', ')}` : ''}${module.imports.length ? `, imports Math.${module.imports.join(', Math.')}` : ''}\n${ir.text}`,
  };
  return kernel;
}

/**
 * How many bytes of outputs the memory may hold between runs (see `ResidentOutputs`).
 */
export const residentLimits = { outputBytes: 2 ** 30 };

interface Block {
  readonly base: number;
  readonly bytes: number;
  live: boolean;
}

/**
 * Outputs kept in the wasm memory between runs (shared memory only): a program writes its
 * roots in blocks of their own (`alloc`: a view of a block, freed by `release`, i.e.
 * Storage.dispose, or once the view is collected), so a result is returned without a copy
 * out and a call on it copies nothing in. A value nobody disposes is freed only once the
 * garbage collector has found it and the event loop has turned (finalizers never run inside
 * a synchronous loop), so outputs take room the memory has (holes left by disposed values),
 * and grow it only while the outputs kept stay within twice the largest one seen (the small
 * values a program keeps, weights say, leave room for its result): a loop that drops its
 * results grows the memory once or twice, and its further results go to host arrays, which
 * the collector frees as usual. At most `residentLimits.outputBytes` in all.
 */
class ResidentOutputs {
  private outputBytes = 0;
  /** The largest output asked for: outputs kept may grow the memory up to twice this many bytes together. */
  private largest = 0;
  /** Each view `alloc` made, to its block. */
  private readonly blocks = new WeakMap<TypedArray, Block>();
  private readonly collected = new FinalizationRegistry<Block>((block) => this.free(block));

  constructor(private readonly arena: WasmArena) {}

  /** Bytes of outputs held now (for tests). */
  get bytes(): number {
    return this.outputBytes;
  }

  alloc(dtype: DType, size: number): TypedArray {
    const bytes = size * bytesPerElement(dtype);
    this.largest = Math.max(this.largest, bytes);
    if (!this.arena.shared || bytes === 0 || this.outputBytes + bytes > residentLimits.outputBytes) return allocate(dtype, size);
    const base = this.tryAlloc(bytes, this.outputBytes + bytes <= 2 * this.largest);
    if (base < 0) return allocate(dtype, size);
    const block: Block = { base, bytes, live: true };
    this.outputBytes += bytes;
    const view = viewOf(this.arena.buffer, base, dtype, size);
    this.blocks.set(view, block);
    this.collected.register(view, block, block);
    return view;
  }

  release(buffer: TypedArray): void {
    const block = this.blocks.get(buffer);
    if (!block) return;
    this.collected.unregister(block);
    this.free(block);
  }

  private tryAlloc(bytes: number, grow: boolean): number {
    try {
      return this.arena.alloc(bytes, grow);
    } catch (error) {
      if (error instanceof RangeError) return -1;
      throw error;
    }
  }

  private free(block: Block): void {
    if (!block.live) return;
    block.live = false;
    this.outputBytes -= block.bytes;
    this.arena.release(block.base);
  }
}

/** The outputs the wasm device keeps in its memory between runs. */
export const residentOutputs = new ResidentOutputs(wasmArena);

const cpu = cpuDevice('wasm', {
  // Lane nests run four iterations of a loop in f32x4 lanes: 4x4 tiles around a contiguous loop.
  registerTiles: 'lanes',
  compile: (ir) => compileWasm(ir),
  maxBuffers: 32,
  linearMemory: {
    scratch(bytes, owner) {
      const { base, again } = wasmArena.scratchFor(bytes, owner);
      return { buffer: wasmArena.buffer, base, again };
    },
    holds: (array) => wasmArena.holds(array),
  },
});

/**
 * Compiles kernel IR to WebAssembly (the JS compiler takes what it cannot); a program lays
 * its intermediates out in the arena's memory, where the kernels run, and its outputs stay
 * there (residentOutputs) until they are disposed or collected.
 */
export const wasmDevice: typeof cpu = {
  ...cpu,
  alloc: (dtype, size) => residentOutputs.alloc(dtype, size),
  release: (buffer) => residentOutputs.release(buffer),
};

export const wasmBackend = fusingBackend(wasmDevice);

/** The helper functions of math.ts as callable JavaScript functions (for tests and measurements). */
export function wasmMathHelpers(): Record<Helper, (...xs: number[]) => number> {
  const { bytes } = emitHelperModule(HELPERS, wasmArena.shared);
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: wasmArena.memory }, m: MATH_IMPORTS });
  return instance.exports as unknown as Record<Helper, (...xs: number[]) => number>;
}

/** The f32x4 approximations applied to one float32 (for tests and measurements). */
export function wasmVectorMath(): { tanh: (x: number) => number; exp: (x: number) => number } {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(emitVectorMathModule()), {});
  return instance.exports as unknown as { tanh: (x: number) => number; exp: (x: number) => number };
}
