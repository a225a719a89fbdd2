/// <reference types="@webgpu/types" />
/**
 * The WebGPU backend: the fusion scheduler's kernels lowered to WGSL (wgsl.ts) and run on a
 * GPUDevice (gpu.ts) with buffers kept on the device (runner.ts). The device comes from
 * `navigator.gpu` in browsers and from the `webgpu` npm package (Dawn) in Node; it needs an
 * async start, `await initWebGPU()`, after which the backend is registered as 'webgpu'.
 */
import { ArgumentError, DeviceError } from '../../lazy/errors.js';
import type { KernelCompiler, CompiledKernel } from '../../fusion/program.js';
import type { KernelIR } from '../../fusion/kernel.js';
import type { RegisterTile } from '../../fusion/tiling.js';
import { WebGPUDevice, type WebGPUDeviceOptions } from './gpu.js';

export { WebGPUDevice, type GpuBuffer, type GpuMemoryStats, type WebGPUDeviceOptions } from './gpu.js';
export { runOnDevice } from './runner.js';
export { generateWgsl } from './wgsl.js';

export interface WebGPUInitOptions extends WebGPUDeviceOptions {
  /**
   * Node only: Dawn's toggles for `create()` (e.g. `['backend=vulkan', 'adapter=NVIDIA']`).
   * Default: Dawn's own choice of adapter, then OpenGL ES in compatibility mode (CPU-only
   * Linux machines with Mesa; EGL_PLATFORM is set to 'surfaceless' when unset).
   */
  readonly dawnFlags?: readonly string[];
  /** 'compatibility' for OpenGL ES adapters (default: tried after 'core' finds none). */
  readonly featureLevel?: 'core' | 'compatibility';
  readonly powerPreference?: GPUPowerPreference;
  /** A device made elsewhere (its adapter's limits requested by the caller). */
  readonly device?: GPUDevice;
}

let current: { device: WebGPUDevice; adapter: string; keep: unknown } | undefined;

interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

async function adapterFrom(gpu: GPU, options: WebGPUInitOptions): Promise<GPUAdapter | null> {
  const request = (featureLevel: 'core' | 'compatibility') => gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance', ...(featureLevel === 'compatibility' ? { featureLevel } : {}) } as GPURequestAdapterOptions);
  if (options.featureLevel) return request(options.featureLevel);
  return (await request('core')) ?? request('compatibility');
}

/** The adapter's own limits (the defaults cap a binding at 128 MiB and a workgroup at 256 threads). */
function adapterLimits(adapter: GPUAdapter): Record<string, number> {
  const limits: Record<string, number> = {};
  for (const key in adapter.limits) {
    const value = (adapter.limits as unknown as Record<string, unknown>)[key];
    if (typeof value === 'number') limits[key] = value;
  }
  return limits;
}

async function describeAdapter(adapter: GPUAdapter): Promise<string> {
  const info = (adapter as unknown as { info?: { vendor?: string; architecture?: string; device?: string; description?: string } }).info ?? {};
  return [info.vendor, info.architecture, info.device, info.description].filter((s) => s).join(' ') || 'unknown adapter';
}

/**
 * Starts the WebGPU device and registers the 'webgpu' backend; resolves to the adapter's
 * description. Throws a DeviceError when no adapter is available. Calling it again returns
 * the device already started.
 * @example
 * await initWebGPU();                 // navigator.gpu, or Dawn in Node
 * const hessians = jit(vmap(hessian(f)), { backend: 'webgpu' });
 * const h = await hessians(X).data();
 */
export async function initWebGPU(options: WebGPUInitOptions = {}): Promise<{ device: WebGPUDevice; adapter: string }> {
  if (current) return current;
  let gpuDevice = options.device;
  let adapterName = 'a device given by the caller';
  let keep: unknown = null;
  if (!gpuDevice) {
    const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
    let adapter: GPUAdapter | null = null;
    if (nav?.gpu) {
      adapter = await adapterFrom(nav.gpu, options);
    } else {
      const dawn = await loadDawn();
      Object.assign(globalThis, dawn.globals);
      if (options.dawnFlags) {
        const gpu = dawn.create([...options.dawnFlags]);
        keep = gpu;
        adapter = await adapterFrom(gpu, options);
      } else {
        const gpu = dawn.create([]);
        keep = gpu;
        adapter = await adapterFrom(gpu, { ...options, featureLevel: options.featureLevel ?? 'core' });
        if (!adapter) {
          const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env;
          if (env && !env.EGL_PLATFORM) env.EGL_PLATFORM = 'surfaceless';
          const gles = dawn.create(['backend=opengles']);
          keep = gles;
          adapter = await adapterFrom(gles, { ...options, featureLevel: 'compatibility' });
        }
      }
    }
    if (!adapter) throw new DeviceError('initWebGPU: no WebGPU adapter is available (navigator.gpu found none, or Dawn found no Vulkan, Metal, D3D12 or OpenGL ES driver); use a CPU backend (setBackend(\'wasm\') or \'js\')');
    adapterName = await describeAdapter(adapter);
    gpuDevice = await adapter.requestDevice({ requiredLimits: adapterLimits(adapter) });
  }
  const device = new WebGPUDevice(gpuDevice, options);
  current = { device, adapter: adapterName, keep };
  onInit?.(device);
  return { device, adapter: adapterName };
}

async function loadDawn(): Promise<DawnModule> {
  const name = 'webgpu';
  try {
    return (await import(name)) as DawnModule;
  } catch (error) {
    throw new DeviceError(`initWebGPU: in Node the WebGPU backend needs the npm package 'webgpu' (Dawn): npm install webgpu (${(error as Error).message})`);
  }
}

/** Registers the backend once a device exists (set by the module that wires backends). */
let onInit: ((device: WebGPUDevice) => void) | undefined;
export function whenWebGPUStarts(hook: (device: WebGPUDevice) => void): void {
  onInit = hook;
  if (current) hook(current.device);
}

/** The started device; throws when `initWebGPU()` has not resolved yet. */
export function webgpuDevice(): WebGPUDevice {
  if (!current) throw new ArgumentError("webgpu: the device is not started; `await initWebGPU()` before setBackend('webgpu')");
  return current.device;
}

/** Forgets the device (tests): the next initWebGPU starts a new one. */
export function destroyWebGPU(): void {
  if (!current) return;
  current.device.trimPool();
  current.device.device.destroy();
  current = undefined;
}

/**
 * Outputs per thread of a contraction (inner x outer loop), chosen by measurement on the
 * H200 (bench/RESULTS.md, 2026-11-30): 4 x 2 for short rows (D=8 Hessians: 1,968M/s, against
 * 1,688M/s with 4 x 4), 4 x 4 where the outer loop is long (D=32: 155M/s, against 114M/s).
 */
const GPU_TILE: RegisterTile = { inner: 4, outer: 2, longOuter: { minExtent: 16, factor: 4 } };

/**
 * The kernel compiler the scheduler plans with for this device: WGSL per kernel (the
 * program's `run` cannot be called on host arrays; the runner launches kernels instead).
 */
export function webgpuCompiler(device: WebGPUDevice, options: { registerTile?: RegisterTile; name?: string } = {}): KernelCompiler {
  return {
    name: options.name ?? 'webgpu',
    maxBuffers: device.caps.maxBuffers,
    registerTile: options.registerTile ?? GPU_TILE,
    compile(ir: KernelIR): CompiledKernel {
      if (ir.kind === 'call') return { run: () => { throw new DeviceError(`${ir.call?.op}: not on webgpu`); }, source: `// ${ir.call?.op}: a CPU routine` };
      const exe = device.compile(ir);
      return {
        run: () => {
          throw new DeviceError('webgpu: kernels run through the device (runOnDevice), not on host arrays');
        },
        source: exe.source,
      };
    },
  };
}
