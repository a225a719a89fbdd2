/**
 * What every stress scenario shares: a collected heap, peak RSS, and one JSON line of
 * figures per check that bench/stress/run.ts gathers into its table. A scenario exits
 * non-zero when a check fails.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

v8.setFlagsFromString('--expose-gc');
const collect = vm.runInNewContext('gc') as () => void;

/** Heap plus typed-array bytes still held after full collections. */
export function retainedBytes(): number {
  collect();
  collect();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** The most resident memory this process has had, in bytes. */
export function peakRss(): number {
  return process.resourceUsage().maxRSS * 1024;
}

export const MB = 1e6;

export interface Check {
  readonly scenario: string;
  readonly figures: Record<string, number | string>;
  readonly ok: boolean;
  readonly why: string;
}

let failed = false;

/** Prints one check as a JSON line (for run.ts) and remembers a failure for the exit code. */
export function report(scenario: string, figures: Record<string, number | string>, ok: boolean, why: string): void {
  const check: Check = { scenario, figures, ok, why };
  console.log(`STRESS ${JSON.stringify(check)}`);
  if (!ok) failed = true;
}

/** Figures rounded for a table. */
export function round(x: number, digits = 1): number {
  return Number(x.toFixed(digits));
}

/** Least-squares slope of ys against xs. */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  const sxy = xs.reduce((s, x, i) => s + (x - mx) * (ys[i] - my), 0);
  const sxx = xs.reduce((s, x) => s + (x - mx) ** 2, 0);
  return sxy / sxx;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

process.on('exit', () => {
  if (failed) process.exitCode = 1;
});
