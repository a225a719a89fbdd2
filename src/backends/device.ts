/**
 * The device seam: what a backend must provide to run functs' kernels, and the Storage a
 * computed node holds.
 *
 * The contract, in order of a run:
 * - The fusion scheduler turns a DAG into kernels (target-neutral `KernelIR`); the device
 *   `compile`s each one once (programs cache the result per device and IR text). A device
 *   with `caps.kernelForm === 'grid'` lowers the IR to threads itself.
 * - A run `alloc`s its output buffers, `upload`s leaves that live elsewhere (once per
 *   Storage: the copy is cached), and `launch`es the kernels in order. `launch` returns as
 *   soon as the work is *ordered* (a GPU encodes and submits; its queue keeps the order), so
 *   `realize()` stays synchronous on every device.
 * - Only reading back may be asynchronous: `read` always works; `readSync` works where
 *   `caps.syncRead` is true and otherwise throws a DeviceError telling the user to
 *   `await tensor.data()`.
 * - `release` hands a buffer back (a device may pool it). A program releases its
 *   intermediates right after launching the kernels that use them: a device that runs
 *   asynchronously must not reuse a released buffer before the launches already ordered.
 *
 * A backend is built from a device and registered by name, possibly after an async init:
 * `registerBackend(fusingBackend(device))` (src/fusion/program.ts, src/lazy/realize.ts), then
 * `setBackend(device.name)` or `jit(f, { backend: device.name })`.
 *
 * Buffers are opaque to everything but their device (CPU devices use typed arrays). A
 * Storage is one value's elements on one device (a view: an offset into a buffer it shares
 * with other views), plus a host copy once one was read or given; `dispose()` releases the
 * device memory when its last view goes.
 */
import type { DType, TypedArray } from '../lazy/dtype.js';
import { ArgumentError, DeviceError } from '../lazy/errors.js';
import type { KernelIR } from '../fusion/kernel.js';
import type { RegisterTiles } from '../fusion/tiling.js';

/** How a device runs a kernel: serial loop nests (CPU: js, wasm) or a grid of threads (GPU). */
export type KernelForm = 'loops' | 'grid';

/**
 * Where a device's buffers and a program's intermediates live:
 * - `'host'`: buffers are JavaScript typed arrays; a program's intermediates are views of
 *   one host arena at their memory-plan offsets (js, interp).
 * - `'linear'`: buffers handed to and from the user are typed arrays, but kernels run in the
 *   device's own linear memory (`Device.linearMemory`, WebAssembly's): a program lays a
 *   run's intermediates out there; leaves and roots the device keeps in that memory are
 *   used in place, others are copied in and out (wasm).
 * - `'buffers'`: buffers are device objects (GPU); intermediates are allocated per run and
 *   released after their last launch (the device pools them).
 */
export type MemoryKind = 'host' | 'linear' | 'buffers';

/** What a device declares it can do; the scheduler and the programs plan within it. */
export interface DeviceCaps {
  /** float64 buffers and arithmetic (WebGPU has none). */
  readonly float64: boolean;
  /** `readSync` works (CPU devices); false where reading back is asynchronous only (GPU). */
  readonly syncRead: boolean;
  readonly kernelForm: KernelForm;
  /** The most buffers (outputs and inputs) one kernel may take; sibling merging stays within it. */
  readonly maxBuffers: number;
  /** The most outputs one kernel may write (unbounded when absent): gpu.js writes one per kernel. */
  readonly maxOutputs?: number;
  readonly memory: MemoryKind;
  /**
   * How the scheduler tiles a contraction's outputs in registers for this device: unroll
   * factors (default 4 x 2, the CPU's; WebGPU takes more outputs per thread), or 'lanes' (wasm:
   * 4x4 tiles around the loop that runs in f32x4 lanes). A 'grid' device without it is not tiled.
   */
  readonly registerTiles?: RegisterTiles;
}

/** A handle on device memory holding elements of one dtype; only its device looks inside. */
export type DeviceBuffer = object;

/** A kernel compiled by a device. */
export interface Executable {
  /** The generated source, for `explain` and FUNCTS_DEBUG. */
  readonly source: string;
}

/**
 * A memory kernels run in (caps.memory 'linear'). A run takes one scratch block for what it
 * lays out itself; values the device keeps in the memory between runs (its `alloc`s and
 * `upload`s, where it can) are used where they are.
 */
export interface KernelMemory {
  /**
   * The run's scratch block of at least `bytes`: the memory's buffer now, the block's byte
   * address, and whether the last run on this block was `owner`'s (what it left there, the
   * leaves it copied in, is still there).
   */
  scratch(bytes: number, owner: object): { readonly buffer: ArrayBuffer; readonly base: number; readonly again: boolean };
  /** Whether `array` already lies in this memory (kernels read and write it in place). */
  holds(array: TypedArray): boolean;
}

/** The seam every backend's device implements (see the module comment for the contract). */
export interface Device<B extends DeviceBuffer = DeviceBuffer, E extends Executable = Executable> {
  readonly name: string;
  readonly caps: DeviceCaps;
  /** caps.memory 'linear': the memory kernels run in. */
  readonly linearMemory?: KernelMemory;
  /** A buffer of `size` elements of `dtype`, contents unspecified (may come from a pool). */
  alloc(dtype: DType, size: number): B;
  /** A buffer holding `data`. Values are immutable, so a host device may keep `data` itself. */
  upload(data: TypedArray): B;
  /**
   * A buffer standing for elements [offset, offset + size) of `buffer`, without a copy where
   * the device can (a subarray, a binding offset). Released before its parent.
   */
  view(buffer: B, offset: number, size: number): B;
  /**
   * Hands a buffer back; called once per buffer from alloc, upload or view, possibly from a
   * finalizer (a Storage collected without dispose), so between any two jobs.
   */
  release(buffer: B): void;
  /**
   * Compiles one kernel (throws DeviceError for a kernel it cannot run, e.g. float64 on
   * WebGPU). Kernels of kind 'call' (opaque linear algebra) are run by the program itself on
   * host and linear memory devices; a 'buffers' device receives them here and may refuse.
   */
  compile(ir: KernelIR): E;
  /** Orders a kernel to run on `buffers` (the IR's buffers in order: outputs, then inputs). */
  launch(exe: E, buffers: readonly B[]): void;
  /**
   * The buffer's elements (a typed array of the dtype it was allocated or uploaded with),
   * now. Throws DeviceError (`noSyncRead`) unless caps.syncRead. May be the device's own
   * memory: callers copy before handing it out.
   */
  readSync(buffer: B): TypedArray;
  /** The buffer's elements, once every launch ordered before has finished. */
  read(buffer: B): Promise<TypedArray>;
}

/**
 * The DeviceError for reading synchronously from a device that cannot; devices throw it from
 * `readSync`, and `Tensor.dataSync()` lets it through.
 */
export function noSyncRead(device: Device, what: string): DeviceError {
  return new DeviceError(`${what}: the ${device.name} device cannot read values synchronously; use \`await tensor.data()\` instead of dataSync()/toArray()/item()`);
}

/** Counts the live views of one allocation, so the memory goes back when the last is disposed. */
interface Allocation {
  views: number;
}

/** What a Storage holds on devices, apart from the Storage itself (so a finalizer can release it). */
interface Held {
  readonly device: Device | null;
  /** The value's own buffer on `device` (a view where the Storage is one); null once released. */
  own: DeviceBuffer | null;
  /** The buffer this one views (released with the last view), or null for an allocation of its own. */
  readonly parent: { readonly buffer: DeviceBuffer; readonly allocation: Allocation } | null;
  readonly allocation: Allocation;
  /** Copies uploaded to other devices. */
  copies: Map<Device, DeviceBuffer> | null;
}

function release(held: Held): void {
  if (held.copies) for (const [device, copy] of held.copies) device.release(copy);
  held.copies = null;
  const { device, parent } = held;
  const buffer = held.own;
  held.own = null;
  if (!device || !buffer) return;
  if (parent && parent.buffer !== buffer) device.release(buffer);
  if (--held.allocation.views === 0) device.release(parent ? parent.buffer : buffer);
}

/**
 * The safety net for device memory (caps.memory 'buffers') whose Storage was collected
 * without `dispose()`: finalizers run late or never (V8 keeps objects made during a
 * synchronous job alive until it ends), so `dispose()` stays the way to free memory now.
 */
const safetyNet = new FinalizationRegistry<Held>(release);

/**
 * The value of a computed node: `size` elements of `dtype`, held on a device (`buffer` on
 * `device`), as a host typed array (`device` null: data the user gave, or a value read
 * back), or both. Views (`view`) share their parent's allocation; values are immutable,
 * so sharing is safe. Copies made for other devices are cached per device.
 */
export class Storage {
  private host: TypedArray | null;
  private readonly held: Held;
  private released = false;
  private guarded = false;

  private constructor(
    readonly dtype: DType,
    readonly size: number,
    /** The device the value lives on; null for a host-only value. */
    readonly device: Device | null,
    buffer: DeviceBuffer | null,
    host: TypedArray | null,
    parent: Held['parent'],
    allocation: Allocation,
  ) {
    this.host = host;
    this.held = { device, own: buffer, parent, allocation, copies: null };
    if (device?.caps.memory === 'buffers') this.guard();
  }

  private guard(): void {
    if (this.guarded) return;
    this.guarded = true;
    safetyNet.register(this, this.held, this);
  }

  /** The value's own buffer on `device` (already a view where this Storage is one); null once disposed. */
  get buffer(): DeviceBuffer | null {
    return this.held.own;
  }

  /** A value held in host memory (the user's data); it is uploaded to a device on first use. */
  static fromHost(data: TypedArray, dtype: DType): Storage {
    return new Storage(dtype, data.length, null, null, data, null, { views: 1 });
  }

  /** A value a device computed into `buffer` (which the Storage now owns). */
  static onDevice(device: Device, buffer: DeviceBuffer, dtype: DType, size: number): Storage {
    return new Storage(dtype, size, device, buffer, null, null, { views: 1 });
  }

  /** A value already disposed (what a lazy value disposed before it was computed holds). */
  static freed(dtype: DType, size: number): Storage {
    const storage = new Storage(dtype, size, null, null, null, null, { views: 1 });
    storage.dispose();
    return storage;
  }

  /** True once `dispose()` ran: the value is gone. */
  get disposed(): boolean {
    return this.released;
  }

  /** Elements [offset, offset + size) of this value, sharing its memory. */
  view(offset: number, size: number): Storage {
    this.check('realize');
    if (!(Number.isInteger(offset) && Number.isInteger(size) && offset >= 0 && size >= 0 && offset + size <= this.size)) {
      throw new ArgumentError(`Storage.view: elements [${offset}, ${offset + size}) lie outside a value of ${this.size} elements`);
    }
    const { parent, allocation } = this.held;
    const buffer = this.buffer;
    const owner = parent ?? (buffer ? { buffer, allocation } : null);
    // A whole view of an allocation's own buffer is that buffer; anything else is a device view.
    const whole = offset === 0 && size === this.size && !parent;
    const viewBuffer = this.device && buffer ? (whole ? buffer : this.device.view(buffer, offset, size)) : null;
    const host = this.host ? (whole ? this.host : this.host.subarray(offset, offset + size)) : null;
    allocation.views++;
    return new Storage(this.dtype, size, this.device, viewBuffer, host, owner, allocation);
  }

  /**   * The elements as a typed array, now: the host copy, or read from the device (which throws
   * a DeviceError where it cannot read synchronously). Do not write to it: it may be the
   * device's memory or shared with other values.
   */
  readSync(what = 'dataSync'): TypedArray {
    this.check(what);
    if (this.host) return this.host;
    const device = this.device!;
    if (!device.caps.syncRead) throw noSyncRead(device, what);
    const data = device.readSync(this.buffer!);
    // Host-memory devices hand back their buffer itself: nothing to cache.
    if (device.caps.memory === 'buffers') this.host = data;
    return data;
  }

  /** The elements when they can be had synchronously (a host copy, or a device with syncRead); else null. */
  readableNow(): TypedArray | null {
    if (this.released) return null;
    return this.host || this.device?.caps.syncRead ? this.readSync() : null;
  }

  /** The elements as a typed array, once the device has computed them (do not write to it). */
  async read(): Promise<TypedArray> {
    this.check('data');
    if (this.host) return this.host;
    const device = this.device!;
    const data = await device.read(this.buffer!);
    if (device.caps.memory === 'buffers' && !this.released) this.host = data;
    return data;
  }

  /**
   * A buffer on `device` holding exactly these elements, for a program's leaf: this value's
   * own buffer on its device; elsewhere a copy, uploaded once and kept.
   */
  bufferOn(device: Device, what = 'realize'): DeviceBuffer {
    this.check(what);
    if (device === this.device) return this.buffer!;
    // Host and linear memory devices take typed arrays: any value readable now will do.
    const known = this.held.copies?.get(device);
    if (known) return known;
    if (device.caps.memory !== 'buffers' && (this.host || this.device?.caps.memory !== 'buffers')) return device.upload(this.readSync(what));
    if (!this.host && this.device && !this.device.caps.syncRead) {
      throw new DeviceError(`${what}: a value computed on the ${this.device.name} device is needed on ${device.name}, and ${this.device.name} cannot read synchronously; \`await tensor.data()\` it first, or compute it on ${device.name}`);
    }
    const copy = device.upload(this.readSync(what));
    (this.held.copies ??= new Map()).set(device, copy);
    this.guard();
    return copy;
  }

  /**
   * Frees the value's device memory (the allocation goes when its last view is disposed);
   * later use throws an ArgumentError. Disposing twice does nothing.
   */
  dispose(): void {
    if (this.released) return;
    this.released = true;
    this.host = null;
    if (this.guarded) safetyNet.unregister(this);
    release(this.held);
  }

  private check(what: string): void {
    if (this.released) throw new ArgumentError(`${what}: the tensor's value was freed by dispose(); compute it again, or dispose it only after its last use`);
  }
}
