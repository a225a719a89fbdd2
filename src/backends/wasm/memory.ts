/**
 * One WebAssembly.Memory for the wasm backend's kernels, grown as needed, and a block
 * allocator over it. A program's run takes one scratch block (leaves copied in, the
 * intermediates at their planned offsets: program.ts, runInKernelMemory), so its kernels run
 * in place; values may also live in the memory between runs in blocks of their own (index.ts:
 * outputs a program wrote, and copies of host inputs), so a call on them copies nothing in.
 * Where the engine allows (Node; browsers when the page is cross-origin isolated) the memory
 * is shared, so worker threads run chunks of a kernel on the same buffers (threads.ts);
 * kernels then import it as a shared memory. Only a shared memory keeps values between runs:
 * growing an unshared one detaches every view of it.
 */
import type { TypedArray } from '../../lazy/dtype.js';
import { MAX_MEMORY_PAGES } from './encoder.js';

const PAGE = 65536;
/** The most scratch a kernel may ask for (the GEMM packs B's tiles into it, gemm.ts). */
export const KERNEL_SCRATCH_BYTES = 4 * 2 ** 20;
/** Blocks start on cache-line boundaries (v128 loads and f64 need 16; two threads' chunks should not share a line). */
const ALIGN = 64;

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

const roundUp = (bytes: number): number => Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);

export class WasmArena {
  readonly memory: WebAssembly.Memory;
  /** Whether `memory` is shared (kernels must then import it as shared; values may live in it between runs). */
  readonly shared: boolean;
  /** End of the highest block ever handed out; the memory is at least this long. */
  private top = 0;
  /** Free ranges below `top`, sorted by address, never adjacent (merged on release). */
  private readonly holes: { base: number; bytes: number }[] = [];
  /** Size of every block handed out and not yet released, by address. */
  private readonly live = new Map<number, number>();
  private scratchBlock: { base: number; bytes: number } | null = null;
  /** Who ran on the scratch block last (a program), and on which block. */
  private scratchOwner: object | null = null;
  private scratchOwnerBlock: object | null = null;
  /** Every buffer object the memory has had (a shared memory gives a new one after each grow; old views stay valid). */
  private readonly buffers = new WeakSet<ArrayBufferLike>();

  constructor(shared = true) {
    const memory = shared ? sharedMemory() : null;
    this.memory = memory ?? new WebAssembly.Memory({ initial: 1 });
    this.shared = memory !== null;
    this.current = this.memory.buffer;
    this.buffers.add(this.current);
  }

  /**
   * The memory's buffer as of its last growth here (`reserve`, the only place it grows):
   * reading `memory.buffer` of a shared memory costs a call into the engine, and a program run
   * asks for it once per buffer. Where something else grew the memory, this is an older buffer
   * of the same memory: `holds` still answers right, and `buffer` checks the length.
   */
  private current: ArrayBuffer;

  /** The memory's buffer now. */
  get buffer(): ArrayBuffer {
    const buffer = this.memory.buffer;
    if (buffer !== this.current) {
      this.current = buffer;
      this.buffers.add(buffer);
    }
    return buffer;
  }

  /** Whether `array` is a view of this memory (kernels can then use it where it is). */
  holds(array: TypedArray): boolean {
    const buffer = array.buffer;
    if (buffer === this.current) return true;
    if (buffer === this.memory.buffer) return true;
    return this.shared && this.buffers.has(buffer);
  }

  /** Bytes of the memory in blocks now (scratch included). */
  get usedBytes(): number {
    let bytes = 0;
    for (const b of this.live.values()) bytes += b;
    return bytes;
  }

  /**
   * The address of a new block of at least `bytes` (64-byte aligned; contents unspecified),
   * the lowest hole that fits or else past the end, growing the memory (where `grow` is false:
   * -1 instead). Throws a RangeError where the memory cannot grow that far.
   */
  alloc(bytes: number, grow = true): number {
    const size = roundUp(bytes);
    let base = -1;
    for (let i = 0; i < this.holes.length; i++) {
      const hole = this.holes[i];
      if (hole.bytes < size) continue;
      base = hole.base;
      if (hole.bytes === size) this.holes.splice(i, 1);
      else this.holes[i] = { base: hole.base + size, bytes: hole.bytes - size };
      break;
    }
    if (base < 0) {
      base = this.top;
      if (!grow && base + size + this.kernelScratchBytes > this.memory.buffer.byteLength) return -1;
      this.reserve(base + size);
      this.top = base + size;
    }
    this.live.set(base, size);
    return base;
  }

  /** Hands back the block at `base` (from alloc). */
  release(base: number): void {
    const size = this.live.get(base);
    if (size === undefined) throw new Error(`functs internal error: wasm memory block ${base} released twice or never allocated`);
    this.live.delete(base);
    let at = this.holes.findIndex((h) => h.base > base);
    if (at < 0) at = this.holes.length;
    let hole = { base, bytes: size };
    const next = this.holes[at];
    if (next && hole.base + hole.bytes === next.base) {
      hole = { base, bytes: hole.bytes + next.bytes };
      this.holes.splice(at, 1);
    }
    const previous = this.holes[at - 1];
    if (previous && previous.base + previous.bytes === base) {
      hole = { base: previous.base, bytes: previous.bytes + hole.bytes };
      this.holes.splice(--at, 1);
    }
    // A hole at the end goes back to the top: the next block past the end starts there.
    if (hole.base + hole.bytes === this.top) this.top = hole.base;
    else this.holes.splice(at, 0, hole);
  }

  /**
   * The block of one synchronous run (a program's leaves, intermediates and copied-out roots,
   * or a kernel called on arrays elsewhere): at least `bytes`, the same block for every run
   * while it is big enough, contents unspecified.
   */
  scratch(bytes: number): number {
    return this.scratchFor(bytes, null).base;
  }

  /**
   * The scratch block for a run by `owner`, and whether the last run on it was `owner`'s, on
   * this same block: what that run left in it (the leaves it copied in) is still there.
   */
  scratchFor(bytes: number, owner: object | null): { base: number; again: boolean } {
    let block = this.scratchBlock;
    if (!block || block.bytes < bytes) {
      if (block) this.release(block.base);
      this.scratchBlock = null;
      const base = this.alloc(bytes);
      block = this.scratchBlock = { base, bytes: roundUp(bytes) };
    }
    const again = owner !== null && this.scratchOwner === owner && this.scratchOwnerBlock === block;
    this.scratchOwner = owner;
    this.scratchOwnerBlock = block;
    return { base: block.base, again };
  }

  /** Addresses for `buffers` laid out one after another in the scratch block. */
  layout(buffers: readonly TypedArray[]): number[] {
    let end = 0;
    const offsets = buffers.map((b) => {
      const offset = end;
      end = Math.ceil((offset + b.byteLength) / 16) * 16;
      return offset;
    });
    const base = this.scratch(end);
    return offsets.map((o) => base + o);
  }

  /** Grows the memory to at least `bytes`. */
  /**
   * Scratch the compiled kernels use at the top of the memory (the most any asked for,
   * `needScratch`; a kernel finds it from the memory's size when it runs): every block ends
   * at least this many bytes below the memory's length.
   */
  private kernelScratchBytes = 0;

  /** A kernel uses up to `bytes` at the top of the memory while it runs. */
  needScratch(bytes: number): void {
    if (bytes <= this.kernelScratchBytes) return;
    this.kernelScratchBytes = bytes;
    this.reserve(this.top);
  }

  /** Grows the memory so that `bytes` and the kernels' scratch above them fit. */
  reserve(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    const need = bytes + this.kernelScratchBytes;
    if (need > have) this.memory.grow(Math.ceil((need - have) / PAGE));
    this.current = this.memory.buffer;
    this.buffers.add(this.current);
  }

  write(base: number, data: TypedArray): void {
    new Uint8Array(this.buffer, base, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }

  read(base: number, into: TypedArray): void {
    new Uint8Array(into.buffer, into.byteOffset, into.byteLength).set(new Uint8Array(this.buffer, base, into.byteLength));
  }
}
