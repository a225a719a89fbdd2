/**
 * The WebAssembly backend: the fusion scheduler's kernels compiled to wasm bytecode (see
 * compile.ts and README.md). Kernels it cannot compile (random draws, checked gathers,
 * scatters) are compiled by the JS compiler instead, so a program never fails for lack of a
 * wasm lowering. functs' default backend; kernels whose outermost loop has independent
 * iterations run on several threads (threads.ts).
 */
import type { TypedArray } from '../../lazy/dtype.js';
import type { KernelIR } from '../../fusion/kernel.js';
import { fusingBackend, type CompiledKernel } from '../../fusion/program.js';
import { cpuDevice } from '../cpu.js';
import { compileJs } from '../js/codegen.js';
import { Unsupported, emitHelperModule, emitKernelModule, emitVectorMathModule, type WasmOptions } from './compile.js';
import { HELPERS, type Helper } from './math.js';
import { WasmArena } from './memory.js';
import { poolKernel, runSplit } from './threads.js';

/** The one memory every kernel of this backend runs in (shared with the worker threads where it can be). */
export const wasmArena = new WasmArena();

const MATH_IMPORTS = { exp: Math.exp, log: Math.log, sin: Math.sin, cos: Math.cos, tanh: Math.tanh, log1p: Math.log1p, expm1: Math.expm1, pow: Math.pow };

type KernelFunction = (...baseAddresses: number[]) => void;

/** Instantiates a kernel module on the backend's memory. */
export function instantiateKernel(module: WebAssembly.Module, arena: WasmArena = wasmArena): KernelFunction {
  const instance = new WebAssembly.Instance(module, { env: { memory: arena.memory }, m: MATH_IMPORTS });
  return instance.exports.kernel as KernelFunction;
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
  const compiled = new WebAssembly.Module(module.bytes);
  const kernelFn = instantiateKernel(compiled);
  const { parallel } = module;
  // A kernel with a parallel loop takes that loop's range after the addresses; the pool
  // splits it between threads where the work pays for them.
  let fn: KernelFunction = kernelFn;
  if (parallel) {
    const { extent, grain } = parallel;
    const operations = ir.operations;
    let handle: ReturnType<typeof poolKernel> | undefined;
    fn = (...bases) => {
      handle ??= poolKernel(compiled, kernel);
      runSplit(handle, kernelFn, wasmArena.memory, bases, extent, grain, operations);
    };
  }
  const outputs = ir.buffers.flatMap((b, i) => (b.role === 'output' ? [i] : []));
  const inputs = ir.buffers.flatMap((b, i) => (b.role === 'input' ? [i] : []));
  const kernel: WasmKernel = {
    runAt: fn,
    run: (...buffers: TypedArray[]) => {
      // A program on this backend lays its buffers out in the memory itself: run in place.
      const memory = wasmArena.memory.buffer;
      if (buffers.every((b) => b.buffer === memory)) return fn(...buffers.map((b) => b.byteOffset));
      const bases = wasmArena.layout(buffers);
      for (const i of inputs) wasmArena.write(bases[i], buffers[i]);
      fn(...bases);
      for (const i of outputs) wasmArena.read(bases[i], buffers[i]);
    },
    source: `// wasm module: ${module.bytes.length} bytes${parallel ? `, threads split loop ${parallel.index} (chunks of ${parallel.grain})` : ''}${module.vectorLoops ? `, ${module.vectorLoops} f32x4 loop${module.vectorLoops > 1 ? 's' : ''}` : ''}${module.laneLoops.length ? `, f32x4 lanes over loop ${module.laneLoops.join(', ')} (vector accumulators)` : ''}${module.gemm ? `, GEMM ${module.gemm.batch > 1 ? `${module.gemm.batch} x ` : ''}${module.gemm.M}x${module.gemm.N}x${module.gemm.K}${module.gemm.epilogue ? ' + epilogue' : ''}` : ''}${module.fusedMultiplyAdds ? `, ${module.fusedMultiplyAdds} relaxed_madd` : ''}${module.helpers.length ? `, helpers ${module.helpers.join(', ')}` : ''}${module.imports.length ? `, imports Math.${module.imports.join(', Math.')}` : ''}\n${ir.text}`,
  };
  return kernel;
}

/**
 * Compiles kernel IR to WebAssembly (the JS compiler takes what it cannot); a program lays
 * its buffers out in the arena's memory, where the kernels run.
 */
export const wasmDevice = cpuDevice('wasm', {
  // Lane nests run four iterations of a loop in f32x4 lanes: 4x4 tiles around a contiguous loop.
  registerTiles: 'lanes',
  compile: (ir) => compileWasm(ir),
  maxBuffers: 32,
  linearMemory: {
    reserve(bytes) {
      wasmArena.reserve(bytes);
      return wasmArena.memory.buffer;
    },
  },
});

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
