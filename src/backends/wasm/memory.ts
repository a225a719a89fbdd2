/**
 * One WebAssembly.Memory for the wasm backend's kernels, grown as needed. A program lays a
 * run's buffers out in it (program.ts, runInKernelMemory: intermediates at their planned
 * offsets), so its kernels run in place; a kernel called on arrays elsewhere lays them out
 * from address 0 and copies them in and out.
 */
import type { TypedArray } from '../../lazy/dtype.js';

const PAGE = 65536;
/** Buffers start on 16-byte boundaries (v128 loads, f64 alignment). */
const ALIGN = 16;

export class WasmArena {
  readonly memory = new WebAssembly.Memory({ initial: 1 });

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

  /** Grows the memory to at least `bytes`. */
  reserve(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes > have) this.memory.grow(Math.ceil((bytes - have) / PAGE));
  }

  write(base: number, data: TypedArray): void {
    new Uint8Array(this.memory.buffer, base, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }

  read(base: number, into: TypedArray): void {
    new Uint8Array(into.buffer, into.byteOffset, into.byteLength).set(new Uint8Array(this.memory.buffer, base, into.byteLength));
  }
}
