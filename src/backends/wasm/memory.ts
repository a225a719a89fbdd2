/**
 * One WebAssembly.Memory for the wasm backend's kernels, grown as needed. For now each run lays
 * its buffers out from address 0 and copies typed arrays in and out; a program-wide memory plan
 * (buffers living in the arena between kernels, no copies) will hand kernels their addresses
 * directly through `runAt`.
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
