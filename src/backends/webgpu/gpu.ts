/// <reference types="@webgpu/types" />
/**
 * The WebGPU device: functs' Device seam (src/backends/device.ts) over a GPUDevice.
 *
 * - Buffers are pooled by byte size: a released buffer waits in its size's free list and the
 *   next allocation of that size takes it (a jitted function asks for the same sizes on every
 *   call), up to a byte budget for idle buffers; beyond it they are destroyed.
 * - Launches are encoded into one open compute pass and submitted together: when a value is
 *   read back, before an upload (queue writes run at submission order, so pending dispatches
 *   must be submitted before a pooled buffer is overwritten), every 64 dispatches, and at the
 *   end of the current JavaScript job.
 * - Pipelines are cached per WGSL text.
 * - A handle dropped without `release` is returned to the pool by a FinalizationRegistry (a
 *   safety net: `dispose()` frees device memory at once).
 * - bool values are i32 on the device (WGSL storage has no bytes); float64 is refused.
 */
import { allocate, dtypeOfTypedArray, type DType, type TypedArray } from '../../lazy/dtype.js';
import { DeviceError } from '../../lazy/errors.js';
import type { KernelIR } from '../../fusion/kernel.js';
import type { RegisterTile } from '../../fusion/tiling.js';
import { noSyncRead, type Device, type DeviceCaps, type Executable } from '../device.js';
import { deviceScalar, generateWgsl, type GridLaunch, type Packing } from './wgsl.js';

/** A buffer of this device: `size` elements of `dtype` at byte `offset` of a GPUBuffer. */
export interface GpuBuffer {
  readonly gpu: GPUBuffer;
  readonly dtype: DType;
  readonly size: number;
  /** Byte offset within `gpu` (views). */
  readonly offset: number;
  /** True when this handle owns `gpu` (not a view bound at an offset). */
  readonly owns: boolean;
}

export interface WgslExecutable extends Executable {
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
  /** Bind groups by the identities and offsets of their buffers (pooled buffers recur call after call). */
  readonly bindGroups: Map<string, GPUBindGroup>;
  readonly launch: GridLaunch;
  readonly ir: KernelIR;
  readonly packing?: Packing;
}

/** Live and pooled buffers, for tests that memory stays flat and for `explain`. */
export interface GpuMemoryStats {
  /** GPUBuffers created and not destroyed (in use or idle in the pool). */
  readonly liveBuffers: number;
  readonly liveBytes: number;
  /** Of those, idle in the pool. */
  readonly pooledBuffers: number;
  readonly pooledBytes: number;
  readonly pipelines: number;
}

export interface WebGPUDeviceOptions {
  /** Outputs per thread of contractions (default: measured on the H200, see GPU_TILE). */
  readonly registerTile?: RegisterTile;
  /** The backend's name (default 'webgpu'); another name registers a second backend. */
  readonly name?: string;
  /** Threads per workgroup (default: 256, or the device's limit if lower). */
  readonly workgroupSize?: number;
  /** Bytes of idle buffers the pool keeps (default 512 MiB). */
  readonly poolBytes?: number;
}

/**
 * Outputs per thread of a contraction (inner x outer loop), chosen by measurement on the
 * H200 (bench/RESULTS.md, 2026-11-30): 4 x 2 for short rows (D=8 Hessians: 1,968M/s, against
 * 1,688M/s with 4 x 4), 4 x 4 where the outer loop is long (D=32: 155M/s, against 114M/s).
 */
const GPU_TILE: RegisterTile = { inner: 4, outer: 2, longOuter: { minExtent: 16, factor: 4 } };

/** Storage buffers are sized in multiples of this many bytes (and never empty). */
const SIZE_QUANTUM = 256;
/** Bind groups kept per kernel. */
const MAX_BIND_GROUPS = 8;
/** Dispatches encoded before the pending work is submitted. */
const MAX_PENDING_DISPATCHES = 64;

export class WebGPUDevice implements Device<GpuBuffer, WgslExecutable> {
  readonly name: string;
  readonly caps: DeviceCaps;
  readonly workgroupSize: number;
  private readonly pool = new Map<number, GPUBuffer[]>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly poolBudget: number;
  private live = 0;
  private liveBytes = 0;
  private pooledCount = 0;
  private pooledBytes = 0;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pending = 0;
  private flushQueued = false;
  private lost = false;
  private readonly errors: string[] = [];
  /** Handles dropped without release give their GPUBuffer back to the pool. */
  private readonly finalizer = new FinalizationRegistry<GPUBuffer>((gpu) => this.recycle(gpu));

  constructor(readonly device: GPUDevice, options: WebGPUDeviceOptions = {}) {
    const limits = device.limits;
    this.name = options.name ?? 'webgpu';
    this.workgroupSize = Math.min(options.workgroupSize ?? 256, limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
    this.poolBudget = options.poolBytes ?? 512 * 2 ** 20;
    this.caps = {
      float64: false, syncRead: false, kernelForm: 'grid', memory: 'buffers',
      maxBuffers: Math.min(limits.maxStorageBuffersPerShaderStage, limits.maxBindingsPerBindGroup, 16),
      registerTiles: options.registerTile ?? GPU_TILE,
    };
    void device.lost.then(() => {
      this.lost = true;
    });
    // Validation errors arrive asynchronously; the next read reports them.
    device.addEventListener('uncapturederror', (event) => {
      this.errors.push((event as GPUUncapturedErrorEvent).error.message);
    });
  }

  /** What the device holds now. */
  memoryStats(): GpuMemoryStats {
    return { liveBuffers: this.live, liveBytes: this.liveBytes, pooledBuffers: this.pooledCount, pooledBytes: this.pooledBytes, pipelines: this.pipelines.size };
  }

  private createBuffer(bytes: number): GPUBuffer {
    const free = this.pool.get(bytes);
    const pooled = free?.pop();
    if (pooled) {
      this.pooledCount--;
      this.pooledBytes -= bytes;
      return pooled;
    }
    this.live++;
    this.liveBytes += bytes;
    return this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  }

  /** A GPUBuffer goes back to its size's free list, or is destroyed past the pool's budget. */
  private recycle(gpu: GPUBuffer): void {
    const bytes = gpu.size;
    if (this.pooledBytes + bytes > this.poolBudget) {
      // Destroying waits for submitted work that uses it; pending work must be submitted first.
      this.flush();
      gpu.destroy();
      this.live--;
      this.liveBytes -= bytes;
      return;
    }
    const free = this.pool.get(bytes) ?? [];
    free.push(gpu);
    this.pool.set(bytes, free);
    this.pooledCount++;
    this.pooledBytes += bytes;
  }

  /** Frees every idle pooled buffer now. */
  trimPool(): void {
    this.flush();
    for (const [bytes, list] of this.pool) {
      for (const gpu of list) {
        gpu.destroy();
        this.live--;
        this.liveBytes -= bytes;
      }
    }
    this.pool.clear();
    this.pooledCount = 0;
    this.pooledBytes = 0;
  }

  private readonly ids = new WeakMap<GPUBuffer, number>();
  private nextId = 0;
  private idOf(gpu: GPUBuffer): number {
    let id = this.ids.get(gpu);
    if (id === undefined) this.ids.set(gpu, (id = this.nextId++));
    return id;
  }

  private handle(gpu: GPUBuffer, dtype: DType, size: number): GpuBuffer {
    const buffer: GpuBuffer = { gpu, dtype, size, offset: 0, owns: true };
    this.finalizer.register(buffer, gpu, buffer);
    return buffer;
  }

  alloc(dtype: DType, size: number): GpuBuffer {
    deviceScalar(dtype, 'alloc');
    const bytes = Math.max(SIZE_QUANTUM, Math.ceil((size * 4) / SIZE_QUANTUM) * SIZE_QUANTUM);
    return this.handle(this.createBuffer(bytes), dtype, size);
  }

  upload(data: TypedArray): GpuBuffer {
    const dtype = dtypeOfTypedArray(data);
    if (dtype === 'float64') throw new DeviceError('upload: the webgpu backend has no float64 (WGSL has none); pass float32 data (new Float32Array(...), or x.astype(\'float32\')), or use a CPU backend for float64');
    const buffer = this.alloc(dtype, data.length);
    const words = dtype === 'bool' ? Int32Array.from(data) : data;
    // Queue writes happen at submission order: dispatches still pending may read this pooled buffer.
    this.flush();
    if (words.byteLength > 0) this.device.queue.writeBuffer(buffer.gpu, 0, words.buffer, words.byteOffset, words.byteLength);
    return buffer;
  }

  view(buffer: GpuBuffer, offset: number, size: number): GpuBuffer {
    const byteOffset = buffer.offset + offset * 4;
    if (byteOffset % this.device.limits.minStorageBufferOffsetAlignment === 0) {
      return { gpu: buffer.gpu, dtype: buffer.dtype, size, offset: byteOffset, owns: false };
    }
    // An offset a binding cannot take: a copy of the elements.
    const copy = this.alloc(buffer.dtype, size);
    if (size > 0) {
      this.endPass();
      this.commandEncoder().copyBufferToBuffer(buffer.gpu, byteOffset, copy.gpu, 0, size * 4);
      this.scheduleFlush();
    }
    return copy;
  }

  /** A new buffer holding the same elements. */
  copy(buffer: GpuBuffer): GpuBuffer {
    const copy = this.alloc(buffer.dtype, buffer.size);
    if (buffer.size > 0) {
      this.endPass();
      this.commandEncoder().copyBufferToBuffer(buffer.gpu, buffer.offset, copy.gpu, 0, buffer.size * 4);
      this.scheduleFlush();
    }
    return copy;
  }

  release(buffer: GpuBuffer): void {
    if (!buffer.owns) return;
    this.finalizer.unregister(buffer);
    this.recycle(buffer.gpu);
  }

  compile(ir: KernelIR): WgslExecutable {
    if (ir.kind === 'call') throw new DeviceError(`${ir.call?.op ?? 'call'}: the webgpu backend has no kernel for this linear-algebra routine; compute it on a CPU backend (jit(f, { backend: 'js' }), or setBackend('js'))`);
    const { source, launch, packing } = generateWgsl(ir, {
      maxStorageBuffers: this.device.limits.maxStorageBuffersPerShaderStage, workgroupSize: this.workgroupSize, maxWorkgroupsPerDimension: this.device.limits.maxComputeWorkgroupsPerDimension, workgroupStorageBytes: Math.min(16384, this.device.limits.maxComputeWorkgroupStorageSize) });
    let pipeline = this.pipelines.get(source);
    if (!pipeline) {
      const module = this.device.createShaderModule({ code: source });
      pipeline = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      this.pipelines.set(source, pipeline);
    }
    return { pipeline, layout: pipeline.getBindGroupLayout(0), bindGroups: new Map(), launch, ir, source, ...(packing ? { packing } : {}) };
  }

  private commandEncoder(): GPUCommandEncoder {
    return (this.encoder ??= this.device.createCommandEncoder());
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  launch(exe: WgslExecutable, given: readonly GpuBuffer[]): void {
    if (this.lost) throw new Error('functs: the WebGPU device was lost; initialize it again (initWebGPU())');
    let buffers = given;
    let packed: GpuBuffer | undefined;
    if (exe.packing) {
      // The inputs beyond the device's binding limit, copied into one buffer (ordered before the dispatch).
      const { packing } = exe;
      packed = this.alloc('int32', packing.words);
      this.endPass();
      packing.buffers.forEach((i, k) => {
        const b = given[i];
        if (b.size > 0) this.commandEncoder().copyBufferToBuffer(b.gpu, b.offset, packed!.gpu, packing.offsets[k] * 4, b.size * 4);
      });
      buffers = [...given.slice(0, packing.binding), packed];
    }
    const key = buffers.map((b) => `${this.idOf(b.gpu)}@${b.offset}:${b.size}`).join(',');
    let bindGroup = exe.bindGroups.get(key);
    if (!bindGroup) {
      const entries = buffers.map((b, i): GPUBindGroupEntry => ({ binding: i, resource: { buffer: b.gpu, offset: b.offset, size: Math.max(4, b.size * 4) } }));
      bindGroup = this.device.createBindGroup({ layout: exe.layout, entries });
      // A few per kernel: a jitted call's buffers come back from the pool in the same order.
      if (exe.bindGroups.size >= MAX_BIND_GROUPS) exe.bindGroups.delete(exe.bindGroups.keys().next().value!);
      exe.bindGroups.set(key, bindGroup);
    }
    this.pass ??= this.commandEncoder().beginComputePass();
    this.pass.setPipeline(exe.pipeline);
    this.pass.setBindGroup(0, bindGroup);
    this.pass.dispatchWorkgroups(exe.launch.workgroups[0], exe.launch.workgroups[1]);
    // Commands run in order: a later copy into the recycled buffer comes after this dispatch.
    if (packed) this.release(packed);
    if (++this.pending >= MAX_PENDING_DISPATCHES) this.flush();
    else this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      this.flush();
    });
  }

  /** Submits the encoded work. */
  flush(): void {
    this.endPass();
    if (!this.encoder) return;
    const commands = this.encoder.finish();
    this.encoder = null;
    this.pending = 0;
    this.device.queue.submit([commands]);
  }

  readSync(): TypedArray {
    throw noSyncRead(this, 'dataSync');
  }

  async read(buffer: GpuBuffer): Promise<TypedArray> {
    const out = allocate(buffer.dtype, buffer.size);
    if (buffer.size === 0) return out;
    const bytes = buffer.size * 4;
    const staging = this.device.createBuffer({ size: Math.ceil(bytes / 4) * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(buffer.gpu, buffer.offset, staging, 0, bytes);
    this.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ);
      const words = staging.getMappedRange();
      if (buffer.dtype === 'bool') (out as Uint8Array).set(new Int32Array(words));
      else new Uint8Array(out.buffer, out.byteOffset, bytes).set(new Uint8Array(words));
      staging.unmap();
    } finally {
      staging.destroy();
    }
    if (this.errors.length) {
      const messages = this.errors.splice(0);
      throw new Error(`functs internal error: the WebGPU device reported ${messages.length} error(s): ${messages.join('; ').slice(0, 2000)}`);
    }
    return out;
  }

  /** Resolves when every submitted launch has finished (for timing). */
  async finish(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
  }
}
