// A value computed on the wasm backend every way threads can run it, for tests that check the
// same bits on any thread count (wasm-threads, wasm-reductions).
import { setThreads, withBackend, type Tensor } from '../src/index.js';
import { parallelTuning } from '../src/backends/wasm/threads.js';

const defaults = { ...parallelTuning };

/** Restores the split thresholds and the automatic thread count (a test file's `after`). */
export function restoreThreads(): void {
  Object.assign(parallelTuning, defaults);
  setThreads('auto');
}

/**
 * `build()` on one thread, two, and the workers alone, as numbers. The split thresholds are
 * lowered for the runs so that even small kernels split into many chunks.
 */
export function everyWay(build: () => Tensor): { one: number[]; two: number[]; workersOnly: number[] } {
  const run = (threads: number, mainWorks: boolean): number[] => {
    setThreads(threads);
    parallelTuning.mainThreadTakesChunks = mainWorks;
    try {
      return Array.from(withBackend('wasm', () => build().dataSync()), Number);
    } finally {
      parallelTuning.mainThreadTakesChunks = true;
    }
  };
  Object.assign(parallelTuning, { minOperations: 0, minChunkOperations: 0, chunksPerThread: 64 });
  try {
    return { one: run(1, true), two: run(2, true), workersOnly: run(2, false) };
  } finally {
    Object.assign(parallelTuning, defaults);
  }
}
