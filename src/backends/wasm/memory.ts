/**
 * One WebAssembly.Memory for the wasm backend's kernels, grown as needed. A program lays a
 * run's buffers out in it (program.ts, runInKernelMemory: intermediates at their planned
 * offsets), so its kernels run in place; a kernel called on arrays elsewhere lays them out
 * from address 0 and copies them in and out. Where the engine allows (Node; browsers when
 * the page is cross-origin isolated) the memory is shared, so worker threads run chunks of
 * a kernel on the same buffers (threads.ts); kernels then import it as a shared memory.
 */
import type { TypedArray } from '../../lazy/dtype.js';
import { MAX_MEMORY_PAGES } from './encoder.js';

const PAGE = 65536;
/** The most scratch a kernel may ask for (the GEMM packs B's tiles into it, gemm.ts). */
export const KERNEL_SCRATCH_BYTES = 4 * 2 ** 20;
/** Buffers start on 16-byte boundaries (v128 loads, f64 alignment). */
const ALIGN = 16;

/** A shared memory of one page, or null where this engine or page makes none. */
function sharedMemory(): WebAssembly.Memory | null {
  if (typeof SharedArrayBuffer === 'undefined') return null;
  if ((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === false) return null;
  // A shared memory reserves its maximum up front: a smaller one where 4 GiB of address space is not to be had.
  for (const maximum of [MAX_MEMORY_PAGES, MAX_MEMORY_PAGES / 4]) {
    try {
      return new WebAssembly.Memory({ initial: 1, maximum, shared: true });
    } catch {
      // try the next size
    }
  }
  return null;
}

export class WasmArena {
  readonly memory: WebAssembly.Memory;
  /** Whether `memory` is shared (kernels must then import it as shared). */
  readonly shared: boolean;

  constructor(shared = true) {
    const memory = shared ? sharedMemory() : null;
    this.memory = memory ?? new WebAssembly.Memory({ initial: 1 });
    this.shared = memory !== null;
  }

  /** Byte addresses for `buffers` laid out one after another; grows the memory to hold them. */
  layout(buffers: readonly TypedArray[]): number[] {
    let end = 0;
    const bases = buffers.map((b) => {
      const base = end;
      end = Math.ceil((base + b.byteLength) / ALIGN) * ALIGN;
      return base;
    });
    this.reserve(end);
    return bases;
  }

  /**
   * Scratch the compiled kernels use at the top of the memory (the most any asked for,
   * `needScratch`): the memory's last `scratchBytes` bytes lie past every buffer, so no buffer
   * may end above the memory's length less these bytes.
   */
  private scratchBytes = 0;
  /** The largest `reserve` so far: every buffer ends below it. */
  private reserved = 0;

  /** A kernel uses up to `bytes` at the top of the memory (it reads the memory's size when it runs). */
  needScratch(bytes: number): void {
    if (bytes <= this.scratchBytes) return;
    this.scratchBytes = bytes;
    this.reserve(this.reserved);
  }

  /** Grows the memory to at least `bytes`, and the kernels' scratch above them. */
  reserve(bytes: number): void {
    this.reserved = Math.max(this.reserved, bytes);
    const have = this.memory.buffer.byteLength;
    const need = bytes + this.scratchBytes;
    if (need > have) this.memory.grow(Math.ceil((need - have) / PAGE));
  }

  write(base: number, data: TypedArray): void {
    new Uint8Array(this.memory.buffer, base, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }

  read(base: number, into: TypedArray): void {
    new Uint8Array(into.buffer, into.byteOffset, into.byteLength).set(new Uint8Array(this.memory.buffer, base, into.byteLength));
  }
}
