/** The plan of a program in words: its kernels in order, with their source and their costs. */
import { bytesPerElement, type DType } from '../lazy/dtype.js';
import type { Program, ProgramStep } from './program.js';

export interface BufferInfo {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly bytes: number;
}

export interface KernelInfo {
  readonly name: string;
  /** What the kernel computes, e.g. "reduce_sum(mul(input, input)) -> float32[4096, 8, 8]". */
  readonly summary: string;
  /** The generated source (JavaScript for the js backend). */
  readonly source: string;
  /** The kernel IR in its canonical text form (the kernel cache key). */
  readonly ir: string;
  readonly inputs: readonly BufferInfo[];
  readonly outputs: readonly BufferInfo[];
  /** Bytes of the buffers read and written (each counted once). */
  readonly bytesRead: number;
  readonly bytesWritten: number;
  /** Estimated operations executed (loads, arithmetic and index math, weighted). */
  readonly operations: number;
}

/** What `explain` returns: the kernels in execution order; `toString()` prints them. */
export interface Plan {
  readonly backend: string;
  readonly kernels: readonly KernelInfo[];
  toString(): string;
}

function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}

export function describeKernel(k: KernelInfo): string {
  const buffers = (list: readonly BufferInfo[]) => list.map((b) => `${b.dtype}[${b.shape.join(', ')}]`).join(', ') || 'none';
  return [
    `${k.name}: ${k.summary}`,
    `  reads ${buffers(k.inputs)} (${formatCount(k.bytesRead)}B), writes ${buffers(k.outputs)} (${formatCount(k.bytesWritten)}B), ~${formatCount(k.operations)} operations`,
    k.source.replace(/^/gm, '    '),
  ].join('\n');
}

function kernelInfo(step: ProgramStep): KernelInfo {
  const buffers = step.ir.buffers.map((b, i) => ({ info: { dtype: b.dtype, shape: step.shapes[i], bytes: b.size * bytesPerElement(b.dtype) }, role: b.role }));
  const inputs = buffers.filter((b) => b.role === 'input').map((b) => b.info);
  const outputs = buffers.filter((b) => b.role === 'output').map((b) => b.info);
  return {
    name: step.name,
    summary: step.summary,
    source: step.kernel.source,
    ir: step.ir.text,
    inputs,
    outputs,
    bytesRead: inputs.reduce((s, b) => s + b.bytes, 0),
    bytesWritten: outputs.reduce((s, b) => s + b.bytes, 0),
    operations: step.ir.operations,
  };
}

/** One program step as `explain` prints it. */
export function describeStep(step: ProgramStep): string {
  return describeKernel(kernelInfo(step));
}

/** The plan of a compiled program. */
export function describeProgram(program: Program): Plan {
  const kernels = program.steps.map(kernelInfo);
  return {
    backend: program.backend,
    kernels,
    toString: () => [`plan (${program.backend} backend): ${kernels.length} kernel${kernels.length === 1 ? '' : 's'}`, ...kernels.map(describeKernel)].join('\n'),
  };
}
