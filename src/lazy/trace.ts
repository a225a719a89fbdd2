/**
 * The stack of transforms being traced right now. Only random ops consult it: a random
 * op created inside vmap must know the vmap's `randomness` policy.
 */
import { TransformError } from './errors.js';

export type Randomness = 'error' | 'different' | 'same';

export interface VmapFrame {
  readonly id: number;
  readonly randomness: Randomness;
}

const vmapFrames: VmapFrame[] = [];

export function withVmapFrame<T>(frame: VmapFrame, body: () => T): T {
  vmapFrames.push(frame);
  try {
    return body();
  } finally {
    vmapFrames.pop();
  }
}

/** The ids of the enclosing vmaps that give each example its own randomness. */
export function randomBatchingFrames(op: string): number[] {
  const ids: number[] = [];
  for (const frame of vmapFrames) {
    if (frame.randomness === 'error') {
      throw new TransformError(`${op}: random op under vmap with randomness: 'error'; pass {randomness: 'different'} for independent samples per example or {randomness: 'same'} to share one sample`);
    }
    if (frame.randomness === 'different') ids.push(frame.id);
  }
  return ids;
}
