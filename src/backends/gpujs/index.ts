/**
 * The gpu.js backend: the fusion scheduler's kernels in grid form (lower.ts), each run as a
 * gpu.js kernel, so they reach WebGL2/WebGL in browsers and, in Node, gpu.js's WebGPU mode
 * (a Dawn device through `navigator.gpu`), its WebAssembly mode or its CPU mode. Values stay
 * on the device between the kernels of a program (`pipeline: true` textures) and only the
 * program's roots are read back. gpu.js is not a dependency of functs: the page or program
 * passes its `GPU` class to `registerGpuJs`, which picks gpu.js's mode (its own automatic
 * choice unless one is given) and reports it; `explain` names it on every kernel.
 */
import { allocate, type DType, type TypedArray } from '../../lazy/dtype.js';
import { ArgumentError } from '../../lazy/errors.js';
import { registerBackend } from '../../lazy/realize.js';
import type { KernelIR } from '../../fusion/kernel.js';
import { clearCaches, fusingBackend, type CompiledKernel, type KernelCompiler, type Program } from '../../fusion/program.js';
import { compileJs } from '../js/codegen.js';
import { lowerToGrid, type GridKernel } from './lower.js';

/** What functs needs of a gpu.js kernel (a callable with settings). */
export interface GpuJsKernel {
  (...args: unknown[]): unknown;
  readonly kernel?: { readonly constructor: { readonly name: string } };
  destroy?(removeCanvasReferences?: boolean): void;
}

/** What functs needs of a gpu.js `GPU` instance. */
export interface GpuJsInstance {
  createKernel(source: string, settings: Readonly<Record<string, unknown>>): GpuJsKernel;
  destroy?(): unknown;
}

/** gpu.js's `GPU` class, as `import { GPU } from 'gpu.js'` or the browser build's global gives it. */
export type GpuJsClass = new (settings?: { mode?: string }) => GpuJsInstance;

/** The gpu.js modes functs reports. */
export type GpuJsMode = 'webgl2' | 'webgl' | 'headlessgl' | 'webgpu' | 'webasm' | 'cpu' | 'dev';

export interface GpuJsOptions {
  /** gpu.js's mode ('webgl2', 'webgpu', 'cpu', ...); by default gpu.js chooses the best it finds. */
  readonly mode?: string;
}

/** A gpu.js device texture or buffer handle (`pipeline: true` results). */
interface DeviceValue {
  toArray(): unknown;
  delete?(): void;
}

const KERNEL_CLASS_MODES: Readonly<Record<string, GpuJsMode>> = {
  WebGL2Kernel: 'webgl2',
  WebGLKernel: 'webgl',
  HeadlessGLKernel: 'headlessgl',
  WebGPUKernel: 'webgpu',
  WebAssemblyKernel: 'webasm',
  CPUKernel: 'cpu',
  DevKernel: 'dev',
};

interface Context {
  readonly gpu: GpuJsInstance;
  readonly mode: GpuJsMode;
  /** gpu.js kernels per grid kernel and argument kinds (an array and a texture compile differently). */
  readonly kernels: WeakMap<GridKernel, Map<string, GpuJsKernel>>;
}

let context: Context | undefined;

function activeContext(): Context {
  if (!context) throw new ArgumentError("gpujs backend: call registerGpuJs(GPU) with gpu.js's GPU class before using it");
  return context;
}

/** A kernel compiled for gpu.js: its grid kernels, or none when it runs on the CPU. */
interface GpuJsCompiled extends CompiledKernel {
  readonly grid?: readonly GridKernel[];
}

function compileGpuJs(ir: KernelIR): GpuJsCompiled {
  const lowered = lowerToGrid(ir);
  const host = compileJs(ir);
  if (lowered.kind === 'host') return { run: host.run, source: `// gpu.js: runs on the CPU (${lowered.reason})\n${host.source}` };
  const { mode } = activeContext();
  const header = `// gpu.js ${mode}: ${lowered.kernels.length} kernel${lowered.kernels.length > 1 ? 's' : ''}, one thread per output element`;
  const source = [header, ...lowered.kernels.map((k) => `// writes b${k.output}[${k.size}]\n${k.source}`)].join('\n');
  // `run` on host arrays (outside a program): upload, compute, read back.
  const run = (...buffers: TypedArray[]) => {
    const slots: Slot[] = [...buffers];
    const it = runGrid(lowered.kernels, slots, (i) => i);
    drainSync(it);
    for (const k of lowered.kernels) buffers[k.output].set(drainSync(readHost(slots[k.output], k.dtype, k.size)));
    for (const k of lowered.kernels) release(slots[k.output]);
  };
  return { run, source, grid: lowered.kernels };
}

type Slot = TypedArray | DeviceValue;

function isDeviceValue(x: Slot): x is DeviceValue {
  return !ArrayBuffer.isView(x);
}

function isPromise(x: unknown): x is Promise<unknown> {
  return typeof x === 'object' && x !== null && typeof (x as { then?: unknown }).then === 'function';
}

/** Steps that may wait for the device (gpu.js's WebGPU mode answers with promises). */
type Steps<T> = Generator<Promise<unknown>, T, unknown>;

function drainSync<T>(it: Steps<T>): T {
  const r = it.next();
  if (!r.done) {
    throw new ArgumentError(`gpujs backend: gpu.js's ${context?.mode ?? ''} mode answers asynchronously; synchronous reads (toArray, item, dataSync) need a synchronous mode such as webgl2, webasm or cpu`);
  }
  return r.value;
}

async function drainAsync<T>(it: Steps<T>): Promise<T> {
  let r = it.next();
  while (!r.done) r = it.next(await r.value);
  return r.value;
}

function* settle(x: unknown): Steps<unknown> {
  return isPromise(x) ? yield x : x;
}

function asFloat32(x: TypedArray): Float32Array {
  return x instanceof Float32Array ? x : Float32Array.from(x);
}

/** A slot's value as a host array of `dtype` (reading a device value back). */
function* readHost(slot: Slot, dtype: DType, size: number): Steps<TypedArray> {
  const values = isDeviceValue(slot) ? ((yield* settle(slot.toArray())) as ArrayLike<number>) : slot;
  if (values.length < size) throw new Error(`functs internal error: gpu.js returned ${values.length} values for a buffer of ${size}`);
  const out = allocate(dtype, size);
  for (let i = 0; i < size; i++) out[i] = values[i];
  return out;
}

function release(slot: Slot | undefined): void {
  if (slot && isDeviceValue(slot)) slot.delete?.();
}

function gpuKernel(ctx: Context, k: GridKernel, args: readonly Slot[]): GpuJsKernel {
  const kinds = args.map((a) => (isDeviceValue(a) ? 't' : 'a')).join('');
  let perKind = ctx.kernels.get(k);
  if (!perKind) ctx.kernels.set(k, (perKind = new Map()));
  let kernel = perKind.get(kinds);
  if (!kernel) {
    kernel = ctx.gpu.createKernel(k.source, {
      output: [k.size],
      pipeline: true,
      immutable: true,
      precision: 'single',
      tactic: 'precision',
      loopMaxIterations: Math.max(1000, k.longestLoop + 1),
    });
    perKind.set(kinds, kernel);
  }
  return kernel;
}

/** Runs grid kernels on slots (`slotOf` maps the IR's buffer numbers to slots). */
function* runGrid(kernels: readonly GridKernel[], slots: Slot[], slotOf: (buffer: number) => number): Steps<void> {
  const ctx = activeContext();
  for (const k of kernels) {
    const args = k.inputs.map((i) => {
      const value = slots[slotOf(i)];
      return isDeviceValue(value) ? value : asFloat32(value);
    });
    const out = yield* settle(gpuKernel(ctx, k, args)(...args));
    slots[slotOf(k.output)] = out as Slot;
  }
}

/**
 * Runs a program: grid kernels on the device, the rest on the CPU. With `readBack`, the roots
 * come back as host arrays (the only values read back); without, as they are (device values
 * the caller deletes). Every other device value made is deleted before it returns.
 */
function* execute(program: Program, leafValues: readonly Slot[], readBack: boolean): Steps<Slot[]> {
  const slots: Slot[] = new Array(program.leafCount + program.buffers.length);
  leafValues.forEach((v, i) => (slots[i] = v));
  const made: Slot[] = [];
  const results: Slot[] = [];
  try {
    for (const step of program.steps) {
      const compiled = step.kernel as GpuJsCompiled;
      if (compiled.grid && !step.ir.call) {
        yield* runGrid(compiled.grid, slots, (i) => step.slots[i]);
        for (const k of compiled.grid) made.push(slots[step.slots[k.output]]);
        continue;
      }
      const args: TypedArray[] = [];
      for (let i = 0; i < step.slots.length; i++) {
        const spec = step.ir.buffers[i];
        const value = slots[step.slots[i]];
        if (spec.role === 'output') args.push(allocate(spec.dtype, spec.size));
        else args.push(isDeviceValue(value) ? yield* readHost(value, spec.dtype, spec.size) : value);
      }
      step.kernel.run(...args);
      step.ir.buffers.forEach((spec, i) => {
        if (spec.role === 'output') slots[step.slots[i]] = args[i];
      });
    }
    for (const s of program.outputs) {
      const value = slots[s];
      if (!readBack) {
        results.push(value);
        continue;
      }
      if (s < program.leafCount) {
        // A root that is a leaf (jit of the identity): read back leaves are host arrays.
        results.push(isDeviceValue(value) ? value : value.slice());
        continue;
      }
      const { dtype, size } = program.buffers[s - program.leafCount];
      results.push(isDeviceValue(value) ? yield* readHost(value, dtype, size) : convertTo(value, dtype));
    }
    return results;
  } finally {
    const kept = new Set(readBack ? [] : results);
    made.filter((m) => !kept.has(m)).forEach(release);
  }
}

function dtypeOf(x: TypedArray): DType {
  if (x instanceof Float64Array) return 'float64';
  if (x instanceof Int32Array) return 'int32';
  if (x instanceof Uint8Array) return 'bool';
  return 'float32';
}

/** A host result of the wrong array type (gpu.js's CPU modes give Float32Arrays for bool outputs). */
function convertTo(x: TypedArray, dtype: DType): TypedArray {
  if (dtypeOf(x) === dtype) return x;
  const out = allocate(dtype, x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i];
  return out;
}

/** Runs a gpu.js program and waits for the device: the way to run in gpu.js's WebGPU mode. */
export async function runGpuJsProgramAsync(program: Program, leafValues: readonly TypedArray[]): Promise<TypedArray[]> {
  return (await drainAsync(execute(program, leafValues, true))) as TypedArray[];
}

/**
 * Runs a gpu.js program on leaves that may already be on the device (gpu.js `pipeline`
 * results) and leaves the roots there: for measuring kernel time without transfers. The
 * caller deletes the returned device values.
 */
export function launchGpuJsProgramAsync(program: Program, leaves: readonly unknown[]): Promise<unknown[]> {
  return drainAsync(execute(program, leaves as Slot[], false));
}

/** The gpu.js compiler: grid kernels, one output each (gpu.js's kernel maps are not in every mode). */
export const gpujsCompiler: KernelCompiler = {
  name: 'gpujs',
  // WebGL guarantees 16 texture units for a fragment shader; gpu.js keeps a few.
  maxBuffers: 12,
  maxOutputs: 1,
  kernelForm: 'grid',
  compile: compileGpuJs,
  runProgram: (program, leafValues) => drainSync(execute(program, leafValues, true)) as TypedArray[],
};

export const gpujsBackend = fusingBackend(gpujsCompiler);

/** Runs a tiny kernel to learn which of its modes gpu.js chose. */
function probeMode(gpu: GpuJsInstance, requested: string | undefined): GpuJsMode {
  if (requested === 'webgpu') return 'webgpu';
  const probe = gpu.createKernel('function () { return this.thread.x * 0.5; }', { output: [4], precision: 'single' });
  const result = probe();
  const name = probe.kernel?.constructor.name ?? '';
  const mode = KERNEL_CLASS_MODES[name];
  if (isPromise(result)) return mode ?? 'webgpu';
  const values = Array.from(result as ArrayLike<number>);
  if (values.join(',') !== '0,0.5,1,1.5') throw new ArgumentError(`registerGpuJs: gpu.js's probe kernel computed [${values.join(', ')}] instead of [0, 0.5, 1, 1.5] in mode ${name || requested || 'auto'}`);
  probe.destroy?.();
  return mode ?? 'cpu';
}

/**
 * Registers the gpu.js backend with gpu.js's `GPU` class (functs does not depend on gpu.js:
 * pass the one your page or program loads) and returns the mode gpu.js runs in: 'webgl2' or
 * 'webgl' in browsers, 'headlessgl' in Node with the `gl` package, 'webasm' or 'cpu' where
 * no GL context exists, 'webgpu' when asked for. Select it with `setBackend('gpujs')`.
 * Float32 kernels run on gpu.js; kernels with float64 or int32 arithmetic, random draws,
 * checked gathers, scatters and linear-algebra calls run on the CPU (explain says which).
 * @example
 * import { GPU } from 'gpu.js';
 * registerGpuJs(GPU);          // 'webgl2' in a browser
 * setBackend('gpujs');
 * vmap(hessian(f))(xs).toArray();
 */
export function registerGpuJs(GPU: GpuJsClass, options: GpuJsOptions = {}): GpuJsMode {
  if (typeof GPU !== 'function') throw new ArgumentError(`registerGpuJs: expected gpu.js's GPU class, got ${typeof GPU}; import { GPU } from 'gpu.js'`);
  const gpu = new GPU(options.mode ? { mode: options.mode } : {});
  const mode = probeMode(gpu, options.mode);
  if (context) context.gpu.destroy?.();
  context = { gpu, mode, kernels: new WeakMap() };
  // Kernels compiled for another GPU instance belong to it.
  clearCaches();
  registerBackend(gpujsBackend);
  return mode;
}

/** The mode of the registered gpu.js backend, or null when none is registered. */
export function gpujsMode(): GpuJsMode | null {
  return context?.mode ?? null;
}
