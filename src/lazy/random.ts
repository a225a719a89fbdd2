/**
 * A counter-based generator: the value at position `i` of a random tensor is a pure
 * function of (seed, i), so results never depend on evaluation order or on fusion.
 * Backends that generate code call these same functions.
 */

/** 32 random bits for (seed, counter): two rounds of a murmur-style finalizer. */
export function randomBits(seed: number, counter: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(counter + 0x632be5ab, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  h = Math.imul(h ^ counter, 0x9e3779b1);
  h ^= h >>> 15;
  return h >>> 0;
}

/** Uniform in [0, 1), with 24 significant bits so that float32 never rounds it to 1. */
export function uniformAt(seed: number, counter: number): number {
  return (randomBits(seed, counter) >>> 8) / 16777216;
}

/** Standard normal by Box-Muller on two independent counters. */
export function normalAt(seed: number, counter: number): number {
  const u1 = 1 - uniformAt(seed, 2 * counter);
  const u2 = uniformAt(seed, 2 * counter + 1);
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** The murmur3 finalizer: a bijection on 32-bit words with full avalanche. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

/**
 * 32 random bits (as a signed int32) for element `counter` of the stream of the key
 * (k0, k1): the `random_bits` primitive behind the key-based `random` namespace. For a
 * fixed key the map counter -> bits is a bijection (each step is), so a stream never
 * repeats within 2^32 draws; every input word passes through two finalizer rounds. Inputs
 * are taken modulo 2^32, as an Int32Array store would, so a kernel that kept an int32 sum
 * unwrapped in a float64 gets the reference's bits.
 */
export function keyedBits(k0: number, k1: number, counter: number): number {
  let h = fmix32((counter | 0) ^ Math.imul(k0 | 0, 0x9e3779b1));
  h = fmix32((h + (k1 | 0)) | 0);
  h = fmix32(h ^ Math.imul((k0 | 0) ^ 0x5bd1e995, 0x27d4eb2f));
  return fmix32((h + Math.imul(k1 | 0, 0x165667b1)) | 0) | 0;
}
