/**
 * Runs a compiled program's kernels on a WebGPU device, buffers staying on the device: the
 * leaves come in as device buffers, each kernel's outputs are allocated from the device's
 * pool when it runs, intermediates go back to the pool right after their last reading
 * kernel is launched (the queue keeps launches in order, so a later kernel that reuses the
 * buffer runs after), and the roots are handed to the caller.
 */
import { DeviceError } from '../../lazy/errors.js';
import type { Program } from '../../fusion/program.js';
import type { GpuBuffer, WebGPUDevice, WgslExecutable } from './gpu.js';

interface Lifetimes {
  /** Per step, the slots (of computed buffers) read for the last time there. */
  readonly freedAfter: readonly number[][];
  readonly executables: readonly WgslExecutable[];
}

const lifetimes = new WeakMap<Program, WeakMap<WebGPUDevice, Lifetimes>>();

function lifetimesOf(program: Program, device: WebGPUDevice): Lifetimes {
  let perDevice = lifetimes.get(program);
  if (!perDevice) lifetimes.set(program, (perDevice = new WeakMap()));
  const known = perDevice.get(device);
  if (known) return known;
  const roots = new Set(program.outputs);
  const lastRead = new Map<number, number>();
  program.steps.forEach((step, s) => {
    const outputs = step.ir.buffers.filter((b) => b.role === 'output').length;
    step.slots.forEach((slot, i) => {
      if (i >= outputs && slot >= program.leafCount) lastRead.set(slot, s);
    });
  });
  const freedAfter: number[][] = program.steps.map(() => []);
  program.steps.forEach((step, s) => {
    const outputs = step.ir.buffers.filter((b) => b.role === 'output').length;
    step.slots.slice(0, outputs).forEach((slot) => {
      if (roots.has(slot)) return;
      // A buffer nothing reads is freed right after the kernel that writes it.
      freedAfter[lastRead.get(slot) ?? s].push(slot);
    });
  });
  const executables = program.steps.map((step) => {
    if (step.ir.kind === 'call') throw new DeviceError(`${step.ir.call?.op ?? 'call'}: the webgpu backend has no kernel for this linear-algebra routine yet; compute it on a CPU backend (jit(f, { backend: 'js' }) or setBackend('js'))`);
    return device.compile(step.ir);
  });
  const result = { freedAfter, executables };
  perDevice.set(device, result);
  return result;
}

/**
 * Launches a program on `device` with its leaves' buffers; returns the roots' buffers (the
 * caller owns them: release each once). A root that is a leaf is copied, never aliased.
 */
export function runOnDevice(program: Program, device: WebGPUDevice, leaves: readonly GpuBuffer[]): GpuBuffer[] {
  if (leaves.length !== program.leafCount) throw new Error(`functs internal error: program takes ${program.leafCount} leaves, got ${leaves.length}`);
  const { freedAfter, executables } = lifetimesOf(program, device);
  const slots: (GpuBuffer | undefined)[] = [...leaves];
  program.steps.forEach((step, s) => {
    const outputs = step.ir.buffers.filter((b) => b.role === 'output').length;
    const buffers = step.slots.map((slot, i) => {
      if (i < outputs) {
        const spec = step.ir.buffers[i];
        return (slots[slot] = device.alloc(spec.dtype, spec.size));
      }
      return slots[slot]!;
    });
    device.launch(executables[s], buffers);
    for (const slot of freedAfter[s]) {
      device.release(slots[slot]!);
      slots[slot] = undefined;
    }
  });
  return program.outputs.map((slot) => (slot < program.leafCount ? device.copy(slots[slot]!) : slots[slot]!));
}
