/**
 * The suite's arithmetic on results, free of timing so tests can exercise it: medians and
 * spread of interleaved samples, the check of an output against its float64 expectation,
 * and the comparison of two runs that tells a change from the noise of the machine.
 */
import type { Expected } from './types.js';

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Linear-interpolated quantile of a sample (q in [0, 1]). */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const at = (s.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return s[lo] + (s[hi] - s[lo]) * (at - lo);
}

/** The figure of a row: the median of its samples and their spread. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  q1: number;
  q3: number;
  samples: number;
}

export function summarize(figures: readonly number[]): Summary {
  return {
    median: median(figures),
    min: Math.min(...figures),
    max: Math.max(...figures),
    q1: quantile(figures, 0.25),
    q3: quantile(figures, 0.75),
    samples: figures.length,
  };
}

export interface CheckRecord {
  ok: boolean;
  maxAbsDiff: number;
  tol: number;
  /** What was compared with what, e.g. "float64 closed form, 128 of 4096 examples". */
  against: string;
  message: string;
}

/**
 * An output against its float64 expectation: the whole length must match, and every
 * expected position must lie within relTol * max(1, max |expected|). NaN never passes.
 */
export function checkOutput(output: ArrayLike<number>, expected: Expected, relTol: number): CheckRecord {
  let scale = 1;
  for (let i = 0; i < expected.values.length; i++) scale = Math.max(scale, Math.abs(expected.values[i]));
  const tol = relTol * scale;
  const against = expected.label;
  if (output.length !== expected.outputLength) {
    return { ok: false, maxAbsDiff: Infinity, tol, against, message: `output has ${output.length} values, expected ${expected.outputLength}` };
  }
  let worst = 0;
  for (let i = 0; i < expected.values.length; i++) {
    const got = output[expected.positions ? expected.positions[i] : i];
    const d = Math.abs(got - expected.values[i]);
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  const ok = worst <= tol;
  return {
    ok,
    maxAbsDiff: worst,
    tol,
    against,
    message: `${ok ? 'ok' : 'MISMATCH'}: max |diff| ${worst.toExponential(2)} ${ok ? '<=' : '>'} tol ${tol.toExponential(1)} against ${against}`,
  };
}

/** Evenly spread positions of `count` rows of `rowSize` values among `rows` rows. */
export function samplePositions(rows: number, rowSize: number, count: number): { rowIndices: number[]; positions: Int32Array } {
  const take = Math.min(rows, count);
  const rowIndices = Array.from({ length: take }, (_, k) => Math.floor((k * rows) / take));
  const positions = new Int32Array(take * rowSize);
  rowIndices.forEach((r, k) => {
    for (let j = 0; j < rowSize; j++) positions[k * rowSize + j] = r * rowSize + j;
  });
  return { rowIndices, positions };
}

/** One row as saved in the results JSON (and read back by --compare). */
export interface ResultRow {
  workload: string;
  variant: string;
  params: Record<string, number>;
  sweeps: string[];
  system: string;
  kind: 'functs' | 'peer';
  method: string;
  unit: string;
  /** Units per run (absent in runs saved before it was recorded). */
  perRun?: number;
  /** Units per second, one per interleaved sample (each sample is one benny run). */
  figures: number[];
  summary: Summary | null;
  /** benny's relative margin of error (%) of each sample. */
  bennyRme: number[];
  firstCallMs: number | null;
  check: CheckRecord | null;
  plan?: { kernels: number; bytesMoved: number; gbPerS?: number };
  /** Why the row has no figure, or how it was measured differently. */
  note?: string;
}

export type Verdict = 'faster' | 'slower' | 'within noise' | 'new' | 'gone';

export interface Comparison {
  workload: string;
  variant: string;
  system: string;
  unit: string;
  oldMedian: number | null;
  newMedian: number | null;
  /** new / old (higher is faster: figures are throughputs). */
  ratio: number | null;
  verdict: Verdict;
}

/**
 * What changed between two runs. A change counts only when the spreads of the interleaved
 * samples (their interquartile ranges, widened to min..max when there are fewer than 4)
 * do not overlap and the medians differ by more than `minChange` (relative): this machine
 * drifts, and a median that moved within the samples' own spread is noise.
 */
export function compareRuns(oldRows: readonly ResultRow[], newRows: readonly ResultRow[], minChange = 0.05, relativeTo?: string): Comparison[] {
  if (relativeTo) return compareRuns(relativeRows(oldRows, relativeTo), relativeRows(newRows, relativeTo), minChange);
  const key = (r: ResultRow) => `${r.workload}|${r.variant}|${r.system}`;
  const olds = new Map(oldRows.map((r) => [key(r), r]));
  const seen = new Set<string>();
  const out: Comparison[] = [];
  const band = (s: Summary): [number, number] => (s.samples >= 4 ? [s.q1, s.q3] : [s.min, s.max]);
  for (const n of newRows) {
    const k = key(n);
    seen.add(k);
    const o = olds.get(k);
    const base = { workload: n.workload, variant: n.variant, system: n.system, unit: n.unit };
    if (!o || !o.summary) {
      out.push({ ...base, oldMedian: null, newMedian: n.summary?.median ?? null, ratio: null, verdict: 'new' });
      continue;
    }
    if (!n.summary) {
      out.push({ ...base, oldMedian: o.summary.median, newMedian: null, ratio: null, verdict: 'gone' });
      continue;
    }
    const ratio = n.summary.median / o.summary.median;
    const [olo, ohi] = band(o.summary);
    const [nlo, nhi] = band(n.summary);
    let verdict: Verdict = 'within noise';
    if (Math.abs(ratio - 1) > minChange) {
      if (nlo > ohi) verdict = 'faster';
      else if (nhi < olo) verdict = 'slower';
    }
    out.push({ ...base, oldMedian: o.summary.median, newMedian: n.summary.median, ratio, verdict });
  }
  for (const o of oldRows) {
    if (!seen.has(key(o)) && o.summary) out.push({ workload: o.workload, variant: o.variant, system: o.system, unit: o.unit, oldMedian: o.summary.median, newMedian: null, ratio: null, verdict: 'gone' });
  }
  return out;
}

/**
 * Each row's figures divided by the median of one system of the same case and run (a hand
 * loop that did not change, say): the speed of the whole machine, which differs between
 * two runs on a shared VM, cancels. Cases without that system are dropped.
 */
export function relativeRows(rows: readonly ResultRow[], system: string): ResultRow[] {
  const base = new Map<string, number>();
  for (const r of rows) if (r.system === system && r.summary) base.set(`${r.workload}|${r.variant}`, r.summary.median);
  return rows.flatMap((r) => {
    const b = base.get(`${r.workload}|${r.variant}`);
    if (b === undefined || r.system === system) return [];
    const figures = r.figures.map((f) => f / b);
    return [{ ...r, unit: `x ${system}`, figures, summary: figures.length ? summarize(figures) : null }];
  });
}

/** A number for a table: 3 significant digits with k/M/G suffixes. */
export function fmt(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-';
  const a = Math.abs(x);
  const sig = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
  if (a >= 1e9) return `${sig(x / 1e9)}G`;
  if (a >= 1e6) return `${sig(x / 1e6)}M`;
  if (a >= 1e4) return `${sig(x / 1e3)}k`;
  if (a >= 1) return sig(x);
  return x.toPrecision(3);
}
