/**
 * The WebGPU backend's public entry: the fusion scheduler's kernels lowered to WGSL
 * (wgsl.ts) and run on a GPUDevice (gpu.ts), buffers kept on the device. Its declarations
 * name none of WebGPU's types, so a program using functs needs no @webgpu/types.
 */
import { startWebGPU, stopWebGPU } from './start.js';

export interface WebGPUInitOptions {
  /**
   * Node only: Dawn's toggles for `create()` (e.g. `['backend=vulkan', 'adapter=NVIDIA']`).
   * Default: Dawn's own choice of adapter, then OpenGL ES in compatibility mode (CPU-only
   * Linux machines with Mesa; EGL_PLATFORM is set to 'surfaceless' when unset).
   */
  readonly dawnFlags?: readonly string[];
  /** 'compatibility' for OpenGL ES adapters (default: tried after 'core' finds none). */
  readonly featureLevel?: 'core' | 'compatibility';
  readonly powerPreference?: 'low-power' | 'high-performance';
  /** A GPUDevice made elsewhere (request its adapter's limits: the defaults cap a binding at 128 MiB). */
  readonly device?: object;
  /** Threads per workgroup (default 256, or the device's limit if lower). */
  readonly workgroupSize?: number;
  /** Bytes of idle buffers the device keeps for reuse (default 512 MiB). */
  readonly poolBytes?: number;
}

/**
 * Starts the WebGPU device and registers the 'webgpu' backend (select it with
 * `setBackend('webgpu')` or `jit(f, { backend: 'webgpu' })`); resolves to a description of
 * the adapter. Throws a DeviceError when no adapter is available. Calling it again returns
 * the device already started.
 * @example
 * await initWebGPU();                 // navigator.gpu, or Dawn in Node
 * const hessians = jit(vmap(hessian(f)), { backend: 'webgpu' });
 * const h = await hessians(X).data(); // dataSync() would throw: GPU reads are asynchronous
 */
export async function initWebGPU(options: WebGPUInitOptions = {}): Promise<{ readonly adapter: string }> {
  const { adapter } = await startWebGPU(options);
  return { adapter };
}

/**
 * Destroys the WebGPU device (its buffers go with it; values computed on it can no longer be
 * read), so that a Node process can exit; the next `initWebGPU()` starts a new one.
 * @example
 * await initWebGPU();
 * // ...
 * destroyWebGPU();
 */
export function destroyWebGPU(): void {
  stopWebGPU();
}
