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
