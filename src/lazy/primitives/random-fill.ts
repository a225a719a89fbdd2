import type { TypedArray } from '../dtype.js';
import { normalAt, uniformAt } from '../random.js';

export function uniformRandom(out: TypedArray, seed: number): void {
  for (let i = 0; i < out.length; i++) out[i] = uniformAt(seed, i);
}

export function normalRandom(out: TypedArray, seed: number): void {
  for (let i = 0; i < out.length; i++) out[i] = normalAt(seed, i);
}
