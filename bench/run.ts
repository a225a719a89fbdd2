/**
 * Batched-Hessian benchmark: every implementation in bench/impls.ts, both
 * sizes, one process. Usage:
 *
 *   npx tsx bench/run.ts                 # full run, writes bench/results.json
 *   BENCH_QUICK=1 npx tsx bench/run.ts   # smoke run (N=256, short timing)
 *   BENCH_FILTER=jax-js,functs ...       # only these (reference always runs)
 *
 * Protocol, per size (sizes outer loop, small first):
 *   1. setup() of each implementation, reference (hand loop) first: builds
 *      the transformed function and measures the first call (trace + compile
 *      + first run + readback) -> firstCallMs.
 *   2. The first output and one more run() output are checked against the
 *      reference. A mismatch (or an exception) prints a "!!" line and the
 *      implementation is NOT timed nor reported as valid for that size.
 *   3. Warm-up (>= 1 run, up to WARMUP_MS) per implementation, then SAMPLES
 *      samples per implementation (SLOW_SAMPLES if a batch takes > 1 s),
 *      interleaved round-robin across implementations (the box is a shared,
 *      noisy 2-core VM; interleaving keeps the ratios honest). A sample runs
 *      run() back-to-back for >= SAMPLE_MS; its per-batch time is
 *      elapsed / iterations. We report the median sample:
 *      Hessians/s = N / median seconds per batch; and the best sample (the
 *      noise of a shared VM only ever adds time).
 *
 * Output: table on stdout + bench/results.json (results.quick.json for
 * BENCH_QUICK, results.partial.json when BENCH_FILTER is set).
 *
 * Why this table is not benny's (bench/benny.ts runs the same entries through
 * benny as a second opinion on steady-state throughput): benny (benchmark.js underneath) reports ops/s with its own
 * sampling policy and no hook for first-call latency or output checking, and
 * for the slow entries (seconds per batch) its minimum-sample policy makes
 * runs very long. This hand loop gives the table we want directly. (benny is
 * CJS; `import b from "benny"` does work through tsx's interop, but its .d.ts
 * needs @types/benchmark, a devDependency for that reason.)
 */
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import os from "node:os";

import { IMPLEMENTATIONS, REFERENCE } from "./impls.js";
import type { Implementation, Prepared } from "./types.js";
import {
  QUICK_SIZES,
  SIZES,
  check,
  makeWorkload,
  maxAbsDiff,
  referenceHessians64,
  type Size,
  type Workload,
} from "./workload.js";

const QUICK = process.env.BENCH_QUICK === "1";
const FILTER = (process.env.BENCH_FILTER ?? "")
  .split(",")
  .map((s) => s.trim())
  .filter(Boolean);

// Many short samples, interleaved: the VM's speed drifts over seconds, and a median over
// fifteen 300 ms samples is steadier than one over five 1 s samples in the same time.
const SAMPLE_MS = QUICK ? 100 : 300;
const SAMPLES = QUICK ? 3 : 15;
/** Fewer samples for entries slower than this per batch (keeps runs bounded). */
const SLOW_BATCH_MS = 1000;
const SLOW_SAMPLES = 3;
const WARMUP_MS = QUICK ? 50 : 300;

const here = dirname(fileURLToPath(import.meta.url));
// Only a full, unfiltered run writes results.json.
const OUT_FILE = join(here, FILTER.length ? "results.partial.json" : QUICK ? "results.quick.json" : "results.json");

interface Row {
  impl: string;
  method: string;
  size: string;
  N: number;
  D: number;
  H: number;
  valid: boolean;
  /** null when invalid or failed. */
  hessiansPerSec: number | null;
  msPerBatch: number | null;
  /** Per-sample ms/batch (sorted). */
  samplesMs: number[];
  firstCallMs: number | null;
  maxAbsDiff: number | null;
  tol: number | null;
  error?: string;
  note?: string;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Run `run` back-to-back for >= ms; returns ms per batch. */
async function sample(run: Prepared["run"], ms: number): Promise<number> {
  const t0 = performance.now();
  let iters = 0;
  let el = 0;
  do {
    await run();
    iters++;
    el = performance.now() - t0;
  } while (el < ms);
  return el / iters;
}

function errMsg(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

function emptyRow(impl: Implementation, size: Size): Row {
  return {
    impl: impl.name,
    method: impl.method,
    size: size.name,
    N: size.N,
    D: size.D,
    H: size.H,
    valid: false,
    hessiansPerSec: null,
    msPerBatch: null,
    samplesMs: [],
    firstCallMs: null,
    maxAbsDiff: null,
    tol: null,
  };
}

/**
 * Setup + verification for one implementation. Returns the Prepared object
 * only if its outputs match the reference (or it is the reference).
 */
async function prepareAndCheck(
  impl: Implementation,
  w: Workload,
  reference: Float32Array | null,
  row: Row,
): Promise<Prepared | null> {
  const label = `${impl.name} @ ${w.size.name}`;
  let prep: Prepared | undefined;
  try {
    prep = await impl.setup(w);
    row.firstCallMs = prep.firstCallMs;
    row.note = prep.note;
    const ref = reference ?? prep.firstOutput;
    // Check the first-call output and a steady-state output.
    const c1 = check(`${label} (first call)`, prep.firstOutput, ref);
    const c2 = check(`${label} (run)`, await prep.run(), ref);
    const worst = c1.maxAbsDiff >= c2.maxAbsDiff ? c1 : c2;
    row.maxAbsDiff = worst.maxAbsDiff;
    row.tol = worst.tol;
    if (!c1.ok || !c2.ok) {
      for (const c of [c1, c2]) if (!c.ok) console.log(`  !! ${c.message}`);
      safeDispose(prep, label);
      return null;
    }
    console.log(`  ${worst.message}; first call ${prep.firstCallMs.toFixed(1)} ms`);
    return prep;
  } catch (e) {
    row.error = errMsg(e);
    console.log(`  !! ERROR ${label}: ${row.error}`);
    safeDispose(prep, label);
    return null;
  }
}

function safeDispose(prep: Prepared | undefined, label: string): void {
  try {
    prep?.dispose?.();
  } catch (e) {
    console.log(`  (dispose failed for ${label}: ${errMsg(e)})`);
  }
}

/**
 * Time all verified implementations of one size. Samples are interleaved
 * round-robin (impl1 sample, impl2 sample, ..., repeat) so that slow drifts
 * in machine speed (this is a shared 2-core VM) hit every entry alike.
 */
async function timeInterleaved(entries: { label: string; prep: Prepared; row: Row }[]): Promise<void> {
  const want: number[] = [];
  for (const e of entries) {
    // Warm-up: at least one run, keep going until WARMUP_MS.
    const t0 = performance.now();
    let iters = 0;
    do {
      await e.prep.run();
      iters++;
    } while (performance.now() - t0 < WARMUP_MS);
    const warmMs = (performance.now() - t0) / iters;
    want.push(warmMs > SLOW_BATCH_MS ? SLOW_SAMPLES : SAMPLES);
  }
  const rounds = Math.max(0, ...want);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < entries.length; i++) {
      if (r >= want[i]) continue;
      entries[i].row.samplesMs.push(await sample(entries[i].prep.run, SAMPLE_MS));
    }
  }
  for (const { label, row } of entries) {
    row.samplesMs.sort((a, b) => a - b);
    row.msPerBatch = median(row.samplesMs);
    row.hessiansPerSec = row.N / (row.msPerBatch / 1000);
    row.valid = true;
    const s = row.samplesMs;
    console.log(
      `  ${label}: ${fmtRate(row.hessiansPerSec)} Hessians/s ` +
        `(median ${row.msPerBatch.toFixed(2)} ms/batch; ${s.length} samples ${s[0].toFixed(2)}..${s[s.length - 1].toFixed(2)} ms)`,
    );
  }
}

function fmtRate(x: number | null): string {
  if (x === null) return "-";
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(x >= 1e5 ? 0 : 1)}k`;
  return x.toFixed(0);
}

function printTable(rows: Row[]): void {
  const header = ["implementation", "size", "D x H x N", "Hessians/s", "ms/batch", "best ms/batch", "first-call ms", "check"];
  const body = rows.map((r) => [
    r.impl,
    r.size,
    `${r.D}x${r.H}x${r.N}`,
    r.valid ? fmtRate(r.hessiansPerSec) : r.error ? "ERROR" : "INVALID",
    r.msPerBatch === null ? "-" : r.msPerBatch.toFixed(2),
    r.valid && r.samplesMs.length ? r.samplesMs[0].toFixed(2) : "-",
    r.firstCallMs === null ? "-" : r.firstCallMs.toFixed(1),
    r.error ? "error" : r.maxAbsDiff === null ? "-" : `${r.valid ? "ok" : "MISMATCH"} ${r.maxAbsDiff.toExponential(1)}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i <= 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const b of body) console.log(line(b));
}

async function main(): Promise<void> {
  const sizes = QUICK ? QUICK_SIZES : SIZES;
  const ref = IMPLEMENTATIONS.find((i) => i.name === REFERENCE);
  if (!ref) throw new Error(`reference implementation ${REFERENCE} not in IMPLEMENTATIONS`);
  const others = IMPLEMENTATIONS.filter((i) => i !== ref && (FILTER.length === 0 || FILTER.includes(i.name)));

  console.log(
    `functs batched-Hessian bench${QUICK ? " (BENCH_QUICK smoke run)" : ""}: ` +
      `node ${process.version}, ${os.cpus().length} cpus (${os.cpus()[0]?.model ?? "?"}), ` +
      `sample ${SAMPLE_MS} ms x ${SAMPLES}`,
  );
  console.log(`implementations: ${[ref, ...others].map((i) => i.name).join(", ")}`);

  const rows: Row[] = [];
  const load0 = os.loadavg();
  // Sizes outer, implementations inner: each implementation's first call for
  // the first (small) size is its first call in this process, i.e. cold
  // (apart from one-time library init, which setup excludes and notes).
  for (const size of sizes) {
    const w = makeWorkload(size);
    console.log(`\n== ${size.name}: D=${size.D} H=${size.H} N=${size.N}`);

    const refRow = emptyRow(ref, size);
    rows.push(refRow);
    const refPrep = await prepareAndCheck(ref, w, null, refRow);
    if (!refPrep) throw new Error("reference implementation failed; aborting");
    const refOut = refPrep.firstOutput;
    // Independent float64 sanity check of the reference itself.
    const k = Math.min(64, size.N);
    const d64 = maxAbsDiff(refOut.subarray(0, k * size.D * size.D), referenceHessians64(w, k));
    if (!(d64 <= 1e-5)) throw new Error(`reference disagrees with float64 closed form: ${d64}`);
    console.log(`  reference vs float64 closed form (first ${k} examples): maxAbsDiff=${d64.toExponential(2)}`);

    const entries = [{ label: `${ref.name} @ ${size.name}`, prep: refPrep, row: refRow }];
    for (const impl of others) {
      const row = emptyRow(impl, size);
      rows.push(row);
      const prep = await prepareAndCheck(impl, w, refOut, row);
      if (prep) entries.push({ label: `${impl.name} @ ${size.name}`, prep, row });
    }
    console.log(`  timing ${entries.length} verified implementation(s), samples interleaved...`);
    await timeInterleaved(entries);
    for (const e of entries) safeDispose(e.prep, e.label);
  }
  const load1 = os.loadavg();

  console.log("");
  printTable(rows);
  const notes = new Map<string, string>();
  for (const r of rows) {
    if (!notes.has(r.impl)) notes.set(r.impl, r.method + (r.note ? `; ${r.note}` : ""));
  }
  console.log("");
  for (const [k, v] of notes) console.log(`  ${k}: ${v}`);
  console.log(
    "  first-call ms = build transformed fn + trace/compile + first run + readback; only the first size is a cold call.",
  );

  const result = {
    date: new Date().toISOString(),
    quick: QUICK,
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? null,
    loadavg1mStartEnd: [load0[0], load1[0]],
    protocol: {
      sampleMs: SAMPLE_MS,
      samples: SAMPLES,
      slowSamples: SLOW_SAMPLES,
      slowBatchMs: SLOW_BATCH_MS,
      warmupMs: WARMUP_MS,
      interleaved: true,
    },
    results: rows,
  };
  writeFileSync(OUT_FILE, JSON.stringify(result, null, 2) + "\n");
  console.log(`\nwrote ${OUT_FILE}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
