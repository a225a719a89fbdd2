/**
 * Devices whose buffers are JavaScript typed arrays (the js, wasm and interp backends):
 * allocation is a typed array, upload keeps the caller's array (values are immutable),
 * views are subarrays, reading is the array itself, and a launch calls the kernel at once.
 */
import { allocate, type TypedArray } from '../lazy/dtype.js';
import { DeviceError } from '../lazy/errors.js';
import type { KernelIR } from '../fusion/kernel.js';
import type { CompiledKernel } from '../fusion/program.js';
import type { Device, KernelMemory } from './device.js';

export interface CpuDeviceOptions {
  /** Kernel code generation; absent for a device that never compiles (the interpreter). */
  readonly compile?: (ir: KernelIR) => CompiledKernel;
  readonly maxBuffers?: number;
  /** The linear memory kernels run in (wasm); absent: kernels run on the arrays themselves. */
  readonly linearMemory?: KernelMemory;
}

/** A CPU device named `name` (see the module comment). */
export function cpuDevice(name: string, options: CpuDeviceOptions = {}): Device<TypedArray, CompiledKernel> {
  const { compile, linearMemory } = options;
  return {
    name,
    caps: { float64: true, syncRead: true, kernelForm: 'loops', maxBuffers: options.maxBuffers ?? 32, memory: linearMemory ? 'linear' : 'host' },
    linearMemory,
    alloc: allocate,
    upload: (data) => data,
    view: (buffer, offset, size) => buffer.subarray(offset, offset + size),
    release() {},
    compile(ir) {
      if (!compile) throw new DeviceError(`the ${name} device runs no kernels (kernel of kind ${ir.kind})`);
      return compile(ir);
    },
    launch: (kernel, buffers) => kernel.run(...buffers),
    readSync: (buffer) => buffer,
    read: async (buffer) => buffer,
  };
}
