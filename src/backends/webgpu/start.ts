/// <reference types="@webgpu/types" />
/**
 * Starting the WebGPU device: `navigator.gpu` in browsers, the `webgpu` npm package (Dawn)
 * in Node, with the adapter's own limits; the backend is then registered as 'webgpu'. The
 * public entry (index.ts) wraps this without naming WebGPU's types, so that the published
 * declarations need no @webgpu/types.
 */
import { DeviceError } from '../../lazy/errors.js';
import { registerBackend } from '../../lazy/realize.js';
import { clearCaches, fusingBackend } from '../../fusion/program.js';
import { WebGPUDevice, type WebGPUDeviceOptions } from './gpu.js';

export interface WebGPUStartOptions extends WebGPUDeviceOptions {
  /**
   * Node only: Dawn's toggles for `create()` (e.g. `['backend=vulkan', 'adapter=NVIDIA']`).
   * Default: Dawn's own choice of adapter, then OpenGL ES in compatibility mode (CPU-only
   * Linux machines with Mesa; EGL_PLATFORM is set to 'surfaceless' when unset).
   */
  readonly dawnFlags?: readonly string[];
  /** 'compatibility' for OpenGL ES adapters (default: tried after 'core' finds none). */
  readonly featureLevel?: 'core' | 'compatibility';
  readonly powerPreference?: 'low-power' | 'high-performance';
  /** A GPUDevice made elsewhere (its adapter's limits requested by the caller). */
  readonly device?: object;
}

let current: { device: WebGPUDevice; adapter: string; keep: unknown } | undefined;
let starting: Promise<{ device: WebGPUDevice; adapter: string }> | undefined;

interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

async function adapterFrom(gpu: GPU, options: WebGPUStartOptions): Promise<GPUAdapter | null> {
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

/** Starts the device and registers the 'webgpu' backend (see `initWebGPU`, the public form); resolves to the device. */
export function startWebGPU(options: WebGPUStartOptions = {}): Promise<{ device: WebGPUDevice; adapter: string }> {
  if (current) return Promise.resolve(current);
  starting ??= start(options).finally(() => {
    starting = undefined;
  });
  return starting;
}

async function start(options: WebGPUStartOptions): Promise<{ device: WebGPUDevice; adapter: string }> {
  let gpuDevice = options.device as GPUDevice | undefined;
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
  // Compiled kernels are cached by device name: those of an earlier webgpu device are stale.
  clearCaches();
  registerBackend(fusingBackend(device));
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

/** Destroys the started device (see `destroyWebGPU`, the public form). */
export function stopWebGPU(): void {
  if (!current) return;
  current.device.trimPool();
  current.device.device.destroy();
  current = undefined;
  clearCaches();
}

