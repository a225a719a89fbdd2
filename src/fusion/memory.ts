/**
 * Memory planning for programs. A program's intermediates live in one arena: each buffer
 * gets a byte offset, and two buffers share bytes only when their lifetimes (from the step
 * that writes one to the last step that reads it) do not overlap, so a program's peak
 * scratch is what is live at once rather than the sum of every intermediate (vmap's chunks
 * under jit reuse one chunk's bytes). Arenas are kept between runs in one pool with a byte
 * budget shared by every program; the least recently run program's arena goes first.
 */
import { bytesPerElement, type DType, type TypedArray } from '../lazy/dtype.js';

/** Views start at multiples of this many bytes (a float64, or a 128-bit SIMD lane). */
const ALIGNMENT = 16;

export interface MemoryPlan {
  /** Byte offset of each planned buffer in the arena (undefined: not in the arena). */
  readonly offsets: readonly (number | undefined)[];
  /** Bytes the arena needs. */
  readonly bytes: number;
}

export interface PlannedBuffer {
  readonly dtype: DType;
  readonly size: number;
}

/**
 * Offsets for the buffers `planned` says belong in the arena, from their lifetimes:
 * `writtenAt[k]` is the step that writes buffer k, `lastReadAt[k]` the last step reading it.
 * Steps are walked in order; a step's outputs are placed (first fit among the freed gaps,
 * else at the end) before the buffers it reads for the last time are freed, so a kernel
 * never writes over its own inputs.
 */
export function planMemory(buffers: readonly PlannedBuffer[], planned: (k: number) => boolean, writtenAt: readonly number[], lastReadAt: readonly number[], stepCount: number): MemoryPlan {
  const offsets: (number | undefined)[] = new Array(buffers.length);
  const writtenBy: number[][] = Array.from({ length: stepCount }, () => []);
  const freedAfter: number[][] = Array.from({ length: stepCount }, () => []);
  buffers.forEach((_, k) => {
    if (!planned(k)) return;
    writtenBy[writtenAt[k]].push(k);
    freedAfter[Math.max(writtenAt[k], lastReadAt[k])].push(k);
  });
  const free: { start: number; end: number }[] = []; // sorted, disjoint, coalesced
  let end = 0;
  const bytesOf = (k: number) => Math.ceil((buffers[k].size * bytesPerElement(buffers[k].dtype)) / ALIGNMENT) * ALIGNMENT;
  for (let step = 0; step < stepCount; step++) {
    for (const k of writtenBy[step]) {
      const need = bytesOf(k);
      const gap = free.findIndex((g) => g.end - g.start >= need);
      if (gap < 0) {
        offsets[k] = end;
        end += need;
      } else {
        offsets[k] = free[gap].start;
        free[gap].start += need;
        if (free[gap].start === free[gap].end) free.splice(gap, 1);
      }
    }
    for (const k of freedAfter[step]) release(free, offsets[k]!, offsets[k]! + bytesOf(k));
  }
  return { offsets, bytes: end };
}

/** Returns [start, end) to the sorted free list, merging it with its neighbours. */
function release(free: { start: number; end: number }[], start: number, end: number): void {
  let i = 0;
  while (i < free.length && free[i].start < start) i++;
  free.splice(i, 0, { start, end });
  if (i + 1 < free.length && free[i].end === free[i + 1].start) {
    free[i].end = free[i + 1].end;
    free.splice(i + 1, 1);
  }
  if (i > 0 && free[i - 1].end === free[i].start) {
    free[i - 1].end = free[i].end;
    free.splice(i, 1);
  }
}

/** Typed-array views of an arena, one per planned buffer. */
export function arenaViews(plan: MemoryPlan, buffers: readonly PlannedBuffer[]): (TypedArray | undefined)[] {
  const arena = new ArrayBuffer(plan.bytes);
  return buffers.map((b, k) => {
    const offset = plan.offsets[k];
    return offset === undefined ? undefined : viewOf(arena, offset, b.dtype, b.size);
  });
}

/** A typed array of `dtype` over `size` elements of `memory` from byte `offset`. */
export function viewOf(memory: ArrayBuffer, offset: number, dtype: DType, size: number): TypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(memory, offset, size);
    case 'float64': return new Float64Array(memory, offset, size);
    case 'int32': return new Int32Array(memory, offset, size);
    case 'bool': return new Uint8Array(memory, offset, size);
    default: return dtype satisfies never;
  }
}

/**
 * Arenas kept between runs, least recently used first out, within one byte budget for
 * all programs together. An arena larger than the budget is never kept: its program
 * allocates one per run.
 */
export class ArenaPool<K> {
  private readonly arenas = new Map<K, { views: (TypedArray | undefined)[]; bytes: number }>();
  private held = 0;

  constructor(private budget: number) {}

  /** The views for `key`'s arena, made by `make` (and kept if the budget allows). */
  acquire(key: K, bytes: number, make: () => (TypedArray | undefined)[]): (TypedArray | undefined)[] {
    const known = this.arenas.get(key);
    if (known) {
      this.arenas.delete(key);
      this.arenas.set(key, known);
      return known.views;
    }
    const views = make();
    if (bytes <= this.budget) {
      this.arenas.set(key, { views, bytes });
      this.held += bytes;
      this.evictTo(this.budget);
    }
    return views;
  }

  /** Bytes of arena memory held now. */
  get bytes(): number {
    return this.held;
  }

  get count(): number {
    return this.arenas.size;
  }

  get limit(): number {
    return this.budget;
  }

  setLimit(bytes: number): void {
    this.budget = bytes;
    this.evictTo(bytes);
  }

  clear(): void {
    this.evictTo(0);
  }

  private evictTo(bytes: number): void {
    for (const [key, arena] of this.arenas) {
      if (this.held <= bytes) break;
      this.arenas.delete(key);
      this.held -= arena.bytes;
    }
  }
}
