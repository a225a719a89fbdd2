/**
 * One timing sample, taken by benny (benchmark.js underneath: calibrated iteration counts,
 * its own samples and their margin of error). The runner calls this round-robin over the
 * systems of a case, so the drift of a shared machine falls on every system alike; one
 * benny run is one of our samples, and its median time per operation is the figure.
 */
import b from 'benny';

export interface SampleOptions {
  /** benchmark.js's minimum samples and maximum seconds per benny run. */
  minSamples: number;
  maxTime: number;
  /** benchmark.js's minimum seconds per benchmark.js sample (sets the iteration count). */
  minTime: number;
}

export interface BennySample {
  /** Median seconds per operation over benchmark.js's samples. */
  secondsPerOp: number;
  /** Relative margin of error (%) of benchmark.js's mean. */
  rme: number;
  /** How many benchmark.js samples this benny run took. */
  innerSamples: number;
}

/** Times `fn` with one benny suite of one case; benny's console output is held back. */
export async function bennySample(name: string, fn: () => unknown, opts: SampleOptions): Promise<BennySample> {
  const log = console.log;
  console.log = () => {};
  try {
    const summary = await b.suite(
      name,
      b.add(name, fn, { minSamples: opts.minSamples, maxTime: opts.maxTime, minTime: opts.minTime, initCount: 1, delay: 0 }),
    );
    const result = summary.results[0];
    if (!result || !result.completed) throw new Error(`benny did not complete ${name}`);
    return { secondsPerOp: result.details.median, rme: result.details.relativeMarginOfError, innerSamples: result.samples };
  } finally {
    console.log = log;
  }
}

/** One sample of a timed loop: milliseconds per run, wall and CPU (every thread of the process). */
export interface LoopSample {
  wallMs: number;
  /** On a shared machine wall time measures the share of the cores this process got as much as the code. */
  cpuMs: number;
}

/** Repeats `run` for at least `sampleMs` of wall time (the scripts that time single kernels; no benny calibration). */
export function loopSample(run: () => unknown, sampleMs: number): LoopSample {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let iterations = 0;
  let elapsed = 0;
  do {
    run();
    iterations++;
    elapsed = performance.now() - t0;
  } while (elapsed < sampleMs);
  const cpu = process.cpuUsage(c0);
  return { wallMs: elapsed / iterations, cpuMs: (cpu.user + cpu.system) / 1000 / iterations };
}

/** An entry of `timedCallBlocks`: every timed call's milliseconds, and the CPU time they took. */
export interface TimedEntry {
  name: string;
  run: () => void;
  ms: number[];
  cpuMs: number;
}

/**
 * Times `calls` calls of each entry in turn, `rounds` times round-robin (so entries see the
 * same drift of a shared machine), after one untimed call that sets the entry's state up (a
 * thread count set, the pool awake). Every call's wall time is kept: on an uneven VM the fast
 * end of the distribution stands for the calls that had the cores.
 */
export function timedCallBlocks(entries: TimedEntry[], rounds: number, calls: number): void {
  for (let r = 0; r < rounds; r++) for (const e of entries) {
    e.run();
    const c0 = process.cpuUsage();
    for (let k = 0; k < calls; k++) {
      const t0 = performance.now();
      e.run();
      e.ms.push(performance.now() - t0);
    }
    const c = process.cpuUsage(c0);
    e.cpuMs += (c.user + c.system) / 1000;
  }
}

/** The q-quantile (0..1) of `xs`, the nearest sample below. */
export const quantile = (xs: readonly number[], q: number): number => [...xs].sort((p, r) => p - r)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
