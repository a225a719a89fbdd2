/**
 * The gpu.js backend: a Device (src/backends/device.ts) whose kernels are the scheduler's
 * kernels in grid form (lower.ts), each run as gpu.js kernels, so they reach WebGL2/WebGL in
 * browsers and, in Node, gpu.js's WebGPU mode (a Dawn device through `navigator.gpu`), its
 * WebAssembly mode or its CPU mode. Values stay on the device between kernels (`pipeline:
 * true` results) and are read back only when read. gpu.js is not a dependency of functs:
 * the page or program passes its `GPU` class to `registerGpuJs`, which picks gpu.js's mode
 * (its own automatic choice unless one is given) and reports it; `explain` names it on every
 * kernel.
 *
 * A buffer's state is a value now, or a promise of one in gpu.js's WebGPU mode, where every
 * kernel call answers with a promise: launches then chain on their inputs' promises, which
 * keeps them ordered and `launch` synchronous, and only `read` waits.
 */
import { allocate, type DType, type TypedArray } from '../../lazy/dtype.js';
import { ArgumentError } from '../../lazy/errors.js';
import { primitiveRule } from '../../lazy/primitive.js';
import { registerBackend } from '../../lazy/realize.js';
import type { KernelIR } from '../../fusion/kernel.js';
import { clearCaches, fusingBackend, type FusingBackend } from '../../fusion/program.js';
import { compileJs } from '../js/codegen.js';
import { noSyncRead, type Device, type Executable } from '../device.js';
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
  /** A kernel that also writes what its sub-kernels return (gpu.js's kernel maps). */
  createKernelMap?(subKernels: Readonly<Record<string, string>>, source: string, settings: Readonly<Record<string, unknown>>): GpuJsKernel;
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

/** A gpu.js device texture or buffer handle (a `pipeline: true` result). */
interface DeviceValue {
  toArray(): unknown;
  delete?(): void;
}

/** What a buffer holds: its elements on the host, on the device, or both. */
interface Held {
  readonly host?: TypedArray;
  readonly value?: DeviceValue;
}

/** A gpu.js device buffer: `state` is what it holds, or (WebGPU mode) a promise of it. */
export interface GpuJsBuffer {
  readonly dtype: DType;
  readonly size: number;
  state: Held | Promise<Held> | null;
  /** Launches still to read it (WebGPU mode): it is deleted only after them. */
  readers: Promise<unknown>[];
}

/** A kernel compiled for gpu.js: its grid kernels, or a host function when it has no grid form. */
interface GpuJsExecutable extends Executable {
  /** How many of the kernel's buffers (the first ones) it writes. */
  readonly outputs: number;
  readonly grid?: readonly GridKernel[];
  readonly host?: (...buffers: TypedArray[]) => void;
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

function isPromise(x: unknown): x is Promise<unknown> {
  return typeof x === 'object' && x !== null && typeof (x as { then?: unknown }).then === 'function';
}

/** `f(x)`, or a promise of it when `x` is a promise. */
function then<T, U>(x: T | Promise<T>, f: (value: T) => U | Promise<U>): U | Promise<U> {
  return isPromise(x) ? (x as Promise<T>).then(f) : f(x as T);
}

function all<T>(xs: readonly (T | Promise<T>)[]): T[] | Promise<T[]> {
  return xs.some(isPromise) ? Promise.all(xs) : (xs as T[]);
}

function convert(values: ArrayLike<number>, dtype: DType, size: number): TypedArray {
  if (values.length < size) throw new Error(`functs internal error: gpu.js returned ${values.length} values for a buffer of ${size}`);
  const out = allocate(dtype, size);
  for (let i = 0; i < size; i++) out[i] = values[i];
  return out;
}

/** The elements of a held value on the host (reading the device value back). */
function hostOf(held: Held, dtype: DType, size: number): TypedArray | Promise<TypedArray> {
  if (held.host) return held.host;
  return then(held.value!.toArray() as ArrayLike<number> | Promise<ArrayLike<number>>, (values) => convert(values, dtype, size));
}

/** A grid kernel's argument: the device value, or the host elements as float32 (gpu.js uploads them). */
function argumentOf(held: Held): DeviceValue | Float32Array {
  if (held.value) return held.value;
  const host = held.host!;
  return host instanceof Float32Array ? host : Float32Array.from(host);
}

/** The gpu.js device; `registerGpuJs` makes one per GPU instance. */
class GpuJsDevice implements Device<GpuJsBuffer, GpuJsExecutable> {
  readonly name = 'gpujs';
  readonly caps;
  /** gpu.js kernels per grid kernel and argument kinds (a texture compiles differently from an array). */
  private readonly kernels = new WeakMap<GridKernel, Map<string, GpuJsKernel>>();
  /** Kernels that copy a slice of a device value (views), per (offset, size). */
  private readonly slicers = new Map<string, GpuJsKernel>();

  /** Kernels with several outputs become gpu.js kernel maps (else one kernel per output). */
  private readonly kernelMaps: boolean;

  constructor(readonly gpu: GpuJsInstance, readonly mode: GpuJsMode) {
    // gpu.js has kernel maps in WebGL2 (four draw buffers are guaranteed) and its CPU mode;
    // its WebGPU and wasm modes refuse them. Elsewhere the scheduler does not merge siblings,
    // since a split kernel would compute their shared work twice. WebGL guarantees 16 texture
    // units to a fragment shader; gpu.js keeps a few.
    this.kernelMaps = (mode === 'webgl2' || mode === 'cpu') && typeof gpu.createKernelMap === 'function';
    this.caps = { float64: true, syncRead: mode !== 'webgpu', kernelForm: 'grid', maxBuffers: 12, maxOutputs: this.kernelMaps ? 4 : 1, memory: 'buffers' } as const;
  }

  alloc(dtype: DType, size: number): GpuJsBuffer {
    return { dtype, size, state: null, readers: [] };
  }

  /** Keeps the host elements; gpu.js uploads them when a kernel first takes them. */
  upload(data: TypedArray): GpuJsBuffer {
    return { dtype: dtypeOf(data), size: data.length, state: { host: data }, readers: [] };
  }

  view(buffer: GpuJsBuffer, offset: number, size: number): GpuJsBuffer {
    const state = then(this.held(buffer), (held): Held | Promise<Held> => {
      if (held.host) return { host: held.host.subarray(offset, offset + size) };
      const key = `${offset}:${size}`;
      let slicer = this.slicers.get(key);
      if (!slicer) {
        slicer = this.gpu.createKernel(`function (a) { return a[this.thread.x + ${offset}]; }`, { output: [size], pipeline: true, immutable: true, precision: 'single' });
        this.slicers.set(key, slicer);
      }
      return then(slicer(held.value) as DeviceValue | Float32Array | Promise<DeviceValue | Float32Array>, (value) => resultOf(value, buffer.dtype, size));
    });
    return { dtype: buffer.dtype, size, state, readers: [] };
  }

  release(buffer: GpuJsBuffer): void {
    const state = buffer.state;
    buffer.state = null;
    if (!state) return;
    const free = () => then(state, (held) => held.value?.delete?.());
    if (buffer.readers.length) void Promise.all(buffer.readers).then(free, free);
    else void free();
  }

  compile(ir: KernelIR): GpuJsExecutable {
    const outputs = ir.buffers.filter((b) => b.role === 'output').length;
    if (ir.call) {
      const call = ir.call;
      const compute = primitiveRule(call.op).compute!;
      return { outputs, host: (out, ...inputs) => compute(out, inputs, call), source: `// gpu.js: runs on the CPU (hand-written ${call.op})` };
    }
    const lowered = lowerToGrid(ir, { kernelMaps: this.kernelMaps });
    if (lowered.kind === 'host') {
      const js = compileJs(ir);
      return { outputs, host: js.run, source: `// gpu.js: runs on the CPU (${lowered.reason})\n${js.source}` };
    }
    const header = `// gpu.js ${this.mode}: ${lowered.kernels.length} kernel${lowered.kernels.length > 1 ? 's' : ''}, one thread per output element`;
    return { outputs, grid: lowered.kernels, source: [header, ...lowered.kernels.map((k) => `// writes b${[k.output, ...k.mapped.map((m) => m.buffer)].join(', b')}[${k.size}]${k.mapped.length ? ` (a kernel map: ${k.mapped.map((m) => m.source).join(' ')})` : ''}\n${k.source}`)].join('\n') };
  }

  launch(exe: GpuJsExecutable, buffers: readonly GpuJsBuffer[]): void {
    if (exe.grid) {
      for (const k of exe.grid) {
        const inputs = k.inputs.map((i) => buffers[i]);
        type Result = DeviceValue | Float32Array;
        const called = then(all(inputs.map((b) => this.held(b))), (held) => {
          const args = held.map(argumentOf);
          return this.gpuKernel(k, args)(...args) as Result | Record<string, Result> | Promise<Result | Record<string, Result>>;
        });
        if (k.mapped.length === 0) {
          this.settle(buffers[k.output], then(called, (value) => resultOf(value as Result, k.dtype, k.size)), inputs);
          continue;
        }
        const part = (name: string, b: number) => then(called, (values) => resultOf((values as Record<string, Result>)[name], buffers[b].dtype, k.size));
        this.settle(buffers[k.output], part('result', k.output), inputs);
        for (const m of k.mapped) this.settle(buffers[m.buffer], part(m.name, m.buffer), inputs);
      }
      return;
    }
    // No grid form: the kernel runs on the host, on its inputs read back.
    const { host } = exe;
    const isOutput = (i: number) => i < exe.outputs;
    const computed = then(
      all(buffers.map((b, i) => (isOutput(i) ? null : then(this.held(b), (held) => hostOf(held, b.dtype, b.size))))),
      (arrays) => {
        const args = arrays.map((a, i) => a ?? allocate(buffers[i].dtype, buffers[i].size));
        host!(...args);
        return args;
      },
    );
    const inputs = buffers.filter((_, i) => !isOutput(i));
    buffers.forEach((b, i) => {
      if (isOutput(i)) this.settle(b, then(computed, (args) => ({ host: args[i] })), inputs);
    });
  }

  readSync(buffer: GpuJsBuffer): TypedArray {
    const state = this.held(buffer);
    if (isPromise(state) || !this.caps.syncRead) throw noSyncRead(this, 'dataSync');
    const host = hostOf(state, buffer.dtype, buffer.size);
    if (isPromise(host)) throw noSyncRead(this, 'dataSync');
    return host;
  }

  async read(buffer: GpuJsBuffer): Promise<TypedArray> {
    const held = await this.held(buffer);
    return hostOf(held, buffer.dtype, buffer.size);
  }

  /** The buffer's state, settled (resolves once the kernels writing it have been called). */
  settled(buffer: GpuJsBuffer): Promise<void> {
    return Promise.resolve(this.held(buffer)).then(() => undefined);
  }

  /**
   * A buffer whose elements are on the device already (a copy kernel ran): for measuring
   * kernels without uploads. gpu.js otherwise uploads host elements at every launch.
   */
  resident(data: Float32Array): GpuJsBuffer {
    const copy = this.gpu.createKernel('function (a) { return a[this.thread.x]; }', { output: [data.length], pipeline: true, immutable: true, precision: 'single' });
    const state = then(copy(data) as DeviceValue | Float32Array | Promise<DeviceValue | Float32Array>, (value) => resultOf(value, 'float32', data.length));
    return { dtype: 'float32', size: data.length, state, readers: [] };
  }

  private held(buffer: GpuJsBuffer): Held | Promise<Held> {
    if (!buffer.state) throw new Error('functs internal error: a gpu.js buffer was read before it was written, or after it was released');
    return buffer.state;
  }

  private settle(output: GpuJsBuffer, state: Held | Promise<Held>, inputs: readonly GpuJsBuffer[]): void {
    output.state = state;
    if (isPromise(state)) for (const input of inputs) input.readers.push(state.catch(() => undefined));
  }

  private gpuKernel(k: GridKernel, args: readonly (DeviceValue | Float32Array)[]): GpuJsKernel {
    const kinds = args.map((a) => (ArrayBuffer.isView(a) ? 'a' : 't')).join('');
    let perKind = this.kernels.get(k);
    if (!perKind) this.kernels.set(k, (perKind = new Map()));
    let kernel = perKind.get(kinds);
    if (!kernel) {
      const settings = { output: [k.size], pipeline: true, immutable: true, precision: 'single', tactic: 'precision', loopMaxIterations: Math.max(1000, k.longestLoop + 1) };
      kernel = k.mapped.length
        ? this.gpu.createKernelMap!(Object.fromEntries(k.mapped.map((m) => [m.name, m.source])), k.source, settings)
        : this.gpu.createKernel(k.source, settings);
      perKind.set(kinds, kernel);
    }
    return kernel;
  }
}

/** A kernel's result: a device value, or (gpu.js's CPU and WebAssembly modes) the elements. */
function resultOf(value: DeviceValue | Float32Array, dtype: DType, size: number): Held {
  if (!ArrayBuffer.isView(value)) return { value };
  return { host: dtype === 'float32' && value.length === size ? value : convert(value, dtype, size) };
}

function dtypeOf(x: TypedArray): DType {
  if (x instanceof Float64Array) return 'float64';
  if (x instanceof Int32Array) return 'int32';
  if (x instanceof Uint8Array) return 'bool';
  return 'float32';
}

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

let current: { device: GpuJsDevice; backend: FusingBackend } | undefined;

/**
 * Registers the gpu.js backend with gpu.js's `GPU` class (functs does not depend on gpu.js:
 * pass the one your page or program loads) and returns the mode gpu.js runs in: 'webgl2' or
 * 'webgl' in browsers, 'headlessgl' in Node with the `gl` package, 'webasm' or 'cpu' where
 * no GL context exists, 'webgpu' when asked for (reads are then asynchronous: `await
 * tensor.data()`). Select it with `setBackend('gpujs')`. Float32 kernels run on gpu.js;
 * kernels with float64 or int32 arithmetic, random draws, checked gathers, scatters and
 * linear-algebra calls run on the CPU (explain says which).
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
  const device = new GpuJsDevice(gpu, mode);
  // Kernels compiled for another GPU instance belong to it.
  clearCaches();
  current = { device, backend: fusingBackend(device) };
  registerBackend(current.backend);
  return mode;
}

/** The registered gpu.js device and backend (for benchmarks), or undefined. */
export function gpujsDevice(): { device: GpuJsDevice; backend: FusingBackend } | undefined {
  return current;
}

export type { GpuJsDevice };
