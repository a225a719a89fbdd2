/**
 * The benchmark suite: every workload, every functs backend found here, every peer, in one
 * process. Each system's output is checked against a float64 expectation before it is
 * timed; samples are benny runs, interleaved round-robin across the systems of a case.
 *
 *   npm run bench                        full run: bench/results/<date>.json, charts, table
 *   npm run bench:quick                  small sizes, few samples (under two minutes)
 *   BENCH_FILTER=hessian,matmul ...      only workloads whose id contains one of these
 *   BENCH_BACKENDS=wasm ...              only these functs backends
 *   npm run bench -- --compare OLD.json  after the run, what got faster or slower
 *   npm run bench -- --compare OLD.json --against NEW.json   compare two saved runs, no run
 *   npm run bench -- --compare OLD.json --relative-to hand-loop   figures over a system of the same case and run,
 *                                        so a change in the machine's speed between runs cancels
 *   npm run bench -- --report RUN.json   table, charts and markdown of a saved run, no run
 *
 * Protocol per case: expectation, then per system setup + first call (timed) + a second run;
 * both outputs checked; a failing system is reported and not timed. Then rounds: in each,
 * one benny run per checked system (benchmark.js calibrates the iteration count and takes
 * its own samples; its median time per run is our sample). Systems slower than SLOW_S per
 * run get fewer rounds; slower than TOO_SLOW_S, one timed run is the figure (labelled), and
 * they are left out of the workload's larger cases.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableBackends } from './suite/backends.js';
import { chartSpecs, renderSvg } from './suite/charts.js';
import { PEER_PACKAGES, packageVersion, startup } from './suite/peers.js';
import { checkSummary, comparisonTable, markdownTable, terminalTable } from './suite/report.js';
import { bennySample, type SampleOptions } from './suite/sampler.js';
import { checkOutput, compareRuns, summarize, type CheckRecord, type ResultRow } from './suite/stats.js';
import { NotRun, type Case, type Ready, type Workload } from './suite/types.js';
import { WORKLOADS } from './workloads/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const argValue = (flag: string): string | null => {
  const i = args.indexOf(flag);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : null;
};
const QUICK = args.includes('--quick') || process.env.BENCH_QUICK === '1';
const FILTER = (process.env.BENCH_FILTER ?? '').split(',').map((s) => s.trim()).filter(Boolean);
const ONLY_BACKENDS = (process.env.BENCH_BACKENDS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
const COMPARE = argValue('--compare');
const AGAINST = argValue('--against');
const REPORT = argValue('--report');
const RELATIVE = argValue('--relative-to') ?? undefined;

interface Protocol {
  rounds: number;
  sample: SampleOptions;
  slowS: number;
  slowRounds: number;
  tooSlowS: number;
}

const PROTOCOL: Protocol = QUICK
  ? { rounds: 3, sample: { minSamples: 1, maxTime: 0.03, minTime: 0.01 }, slowS: 0.3, slowRounds: 1, tooSlowS: 1.5 }
  : { rounds: 4, sample: { minSamples: 2, maxTime: 0.1, minTime: 0.03 }, slowS: 1, slowRounds: 2, tooSlowS: 4 };

const isTTY = process.stderr.isTTY;
function progress(text: string): void {
  if (isTTY) process.stderr.write(`\r\x1b[K${text}`);
  else process.stderr.write(`${text}\n`);
}
function say(text: string): void {
  if (isTTY) process.stderr.write('\r\x1b[K');
  console.log(text);
}

const errorText = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

interface Entry {
  ready: Ready;
  row: ResultRow;
  oneRunS: number;
}

function newRow(c: Case, s: Case['systems'][number]): ResultRow {
  return { workload: c.workload, variant: c.variant, params: c.params, sweeps: c.sweeps, system: s.system, kind: s.kind, method: s.method, unit: c.unit, perRun: c.perRun, figures: [], summary: null, bennyRme: [], firstCallMs: null, check: null };
}

/** Systems too slow at a smaller case, per workload: left out where every parameter is at least as large. */
const tooSlow = new Map<string, Record<string, number>[]>();
function skippedAsTooSlow(c: Case, system: string): boolean {
  return (tooSlow.get(`${c.workload}|${system}`) ?? []).some((p) => Object.entries(p).every(([k, v]) => (c.params[k] ?? 0) >= v));
}

async function runCase(c: Case, index: string): Promise<ResultRow[]> {
  const tag = `[${index} ${c.workload} ${c.variant}]`;
  say(`\n== ${c.workload} ${c.variant}`);
  progress(`${tag} float64 expectation`);
  const expected = c.expected();
  const rows: ResultRow[] = [];
  const entries: Entry[] = [];
  for (const s of c.systems) {
    const row = newRow(c, s);
    rows.push(row);
    if (skippedAsTooSlow(c, s.system)) {
      row.note = 'not run: over the time limit at a smaller size';
      continue;
    }
    progress(`${tag} ${s.system}: setup and check`);
    let ready: Ready | undefined;
    try {
      ready = await s.setup();
      row.firstCallMs = ready.firstCallMs;
      const first = checkOutput(ready.firstOutput, expected, c.relTol);
      const t0 = performance.now();
      const second = await ready.run();
      const oneRunS = (performance.now() - t0) / 1000;
      const again = checkOutput(second, expected, c.relTol);
      const check: CheckRecord = !first.ok ? first : !again.ok ? again : first.maxAbsDiff >= again.maxAbsDiff ? first : again;
      row.check = check;
      if (ready.plan) row.plan = { ...ready.plan };
      if (!check.ok) {
        say(`  !! ${s.system}: ${check.message}; not timed`);
        ready.dispose?.();
        continue;
      }
      entries.push({ ready, row, oneRunS });
    } catch (e) {
      row.note = e instanceof NotRun ? `not run: ${e.message}` : `error: ${errorText(e)}`;
      say(`  !! ${s.system}: ${row.note}`);
      try {
        ready?.dispose?.();
      } catch {
        /* already reported */
      }
    }
  }
  // Interleaved rounds: sample k of every system before sample k + 1 of any.
  const rounds = entries.map((e) => (e.oneRunS > PROTOCOL.tooSlowS ? 0 : e.oneRunS > PROTOCOL.slowS ? PROTOCOL.slowRounds : PROTOCOL.rounds));
  const most = Math.max(0, ...rounds);
  for (let k = 0; k < most; k++) {
    for (let i = 0; i < entries.length; i++) {
      if (k >= rounds[i]) continue;
      const { ready, row, oneRunS } = entries[i];
      progress(`${tag} ${row.system}: sample ${k + 1} of ${rounds[i]}`);
      const opts = oneRunS > PROTOCOL.slowS ? { ...PROTOCOL.sample, minSamples: 1, maxTime: 0 } : PROTOCOL.sample;
      try {
        const sample = await bennySample(`${c.workload} ${c.variant} ${row.system}`, () => ready.run(), opts);
        row.figures.push(c.perRun / sample.secondsPerOp);
        row.bennyRme.push(Number(sample.rme.toFixed(2)));
      } catch (e) {
        row.note = `error while timing: ${errorText(e)}`;
        rounds[i] = k;
      }
    }
  }
  entries.forEach((e, i) => {
    if (rounds[i] === 0 && !e.row.note) {
      e.row.figures.push(c.perRun / e.oneRunS);
      e.row.note = `one timed run (${e.oneRunS.toFixed(1)} s per run, over the ${PROTOCOL.tooSlowS} s limit); left out of larger sizes`;
      const key = `${c.workload}|${e.row.system}`;
      tooSlow.set(key, [...(tooSlow.get(key) ?? []), c.params]);
    }
    if (e.row.figures.length) e.row.summary = summarize(e.row.figures);
    if (e.row.plan && e.row.summary) {
      // Bytes functs' kernels move per second at the median.
      e.row.plan.gbPerS = (e.row.plan.bytesMoved / 1e9) * (e.row.summary.median / c.perRun);
    }
    try {
      e.ready.dispose?.();
    } catch {
      /* a peer's dispose failing does not change its figures */
    }
    const s = e.row.summary;
    if (s) say(`  ${e.row.system.padEnd(26)} ${fmtFig(s.median)} ${c.unit} (${s.samples} samples ${fmtFig(s.min)}..${fmtFig(s.max)}; first call ${e.row.firstCallMs?.toFixed(1)} ms; ${e.row.check?.message})`);
  });
  return rows;
}

function fmtFig(x: number): string {
  return x >= 100 ? x.toFixed(0) : x.toPrecision(3);
}

function machine() {
  const cpus = os.cpus();
  const versions: Record<string, string | null> = {};
  for (const p of PEER_PACKAGES) versions[p] = packageVersion(p);
  let commit: string | null = null;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: here, encoding: 'utf8' }).trim();
  } catch {
    commit = null;
  }
  return { cpuModel: cpus[0]?.model ?? null, cores: cpus.length, memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1), platform: `${os.platform()} ${os.arch()} ${os.release()}`, node: process.version, v8: process.versions.v8, commit, versions };
}

/** Workloads from files other branches add (bench/wasm-kernels.ts, bench/gpu/*.ts) that export `workloads`. */
async function discoveredWorkloads(): Promise<{ workloads: Workload[]; notes: string[] }> {
  const files = [join(here, 'wasm-kernels.ts'), ...(existsSync(join(here, 'gpu')) ? readdirSync(join(here, 'gpu')).filter((f) => f.endsWith('.ts')).map((f) => join(here, 'gpu', f)) : [])].filter(existsSync);
  const workloads: Workload[] = [];
  const notes: string[] = [];
  for (const file of files) {
    // A standalone script runs on import: only a module that declares `workloads` is imported.
    if (!/export\s+(const|let)\s+workloads\b|export\s*\{[^}]*\bworkloads\b/.test(readFileSync(file, 'utf8'))) {
      notes.push(`${relative(here, file)}: a script of its own (no \`workloads\` export); run it directly`);
      continue;
    }
    try {
      const mod = (await import(file)) as { workloads?: Workload[] };
      if (Array.isArray(mod.workloads)) workloads.push(...mod.workloads);
      else notes.push(`${relative(here, file)}: a script of its own (no \`workloads\` export); run it directly`);
    } catch (e) {
      notes.push(`${relative(here, file)}: not loaded (${errorText(e)})`);
    }
  }
  return { workloads, notes };
}

function loadRows(file: string): ResultRow[] {
  return (JSON.parse(readFileSync(file, 'utf8')) as { results: ResultRow[] }).results;
}

interface SavedRun {
  date: string;
  kind: string;
  command: string;
  machine: { cpuModel: string | null; cores: number; node: string; loadavg1mStartEnd: number[] };
  results: ResultRow[];
}

/** The table, the checks, the charts and the markdown of a run (saved or just made). */
async function writeReport(run: SavedRun): Promise<void> {
  const rows = run.results;
  console.log(`\n${terminalTable(rows)}\n`);
  console.log('checks:');
  for (const line of checkSummary(rows)) console.log(`  ${line}`);
  const outDir = join(here, 'results');
  const chartDir = join(outDir, 'charts', run.kind);
  mkdirSync(chartDir, { recursive: true });
  const charts = chartSpecs(rows);
  for (const c of charts) writeFileSync(join(chartDir, `${c.name}.svg`), await renderSvg(c.spec));
  const [l0, l1] = run.machine.loadavg1mStartEnd;
  const md = [
    `Command: \`${run.command}\`, ${run.date} (${run.machine.cpuModel}, ${run.machine.cores} cores, Node ${run.machine.node}, load average ${l0.toFixed(1)} -> ${l1.toFixed(1)}).`,
    '',
    ...charts.map((c) => `![${c.title}](results/charts/${run.kind}/${c.name}.svg)`),
    '',
    markdownTable(rows),
    '',
    ...checkSummary(rows).map((l) => `- ${l}`),
  ].join('\n');
  const mdFile = join(outDir, `latest-${run.kind}.md`);
  writeFileSync(mdFile, md + '\n');
  console.log(`\n${charts.length} charts in ${relative(process.cwd(), chartDir)}, tables in ${relative(process.cwd(), mdFile)}`);
}

async function main(): Promise<void> {
  if (REPORT) {
    await writeReport(JSON.parse(readFileSync(REPORT, 'utf8')) as SavedRun);
    return;
  }
  if (COMPARE && AGAINST) {
    console.log(`comparing ${AGAINST} with ${COMPARE}\n`);
    console.log(comparisonTable(compareRuns(loadRows(COMPARE), loadRows(AGAINST), 0.05, RELATIVE)));
    return;
  }
  const started = new Date();
  const { variants, skipped } = await availableBackends(ONLY_BACKENDS);
  const extra = await discoveredWorkloads();
  const all = [...WORKLOADS, ...extra.workloads];
  const chosen = all.filter((w) => FILTER.length === 0 || FILTER.some((f) => w.id.includes(f)));
  say(`functs benchmark suite${QUICK ? ' (quick)' : ''}: ${os.cpus()[0]?.model ?? '?'} x${os.cpus().length}, node ${process.version}, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  say(`functs backends: ${variants.map((v) => v.label).join(', ') || 'none'}${skipped.length ? ` (not here: ${skipped.join('; ')})` : ''}`);
  say(`workloads: ${chosen.map((w) => w.id).join(', ')}`);
  for (const n of extra.notes) say(`  ${n}`);

  const cases = chosen.flatMap((w) => w.cases({ quick: QUICK, backends: variants }));
  const rows: ResultRow[] = [];
  const load0 = os.loadavg();
  for (let i = 0; i < cases.length; i++) rows.push(...(await runCase(cases[i], `${i + 1}/${cases.length}`)));
  const load1 = os.loadavg();
  if (isTTY) process.stderr.write('\r\x1b[K');

  const methods = new Map<string, string>();
  for (const r of rows) methods.set(`${r.workload} / ${r.system}`, r.method);
  console.log('\nsystems:');
  for (const [k, v] of methods) console.log(`  ${k}: ${v}`);
  console.log(`\nruntime start-up (not in any first call): ${Object.entries(startup).map(([k, v]) => `${k} ${v.toFixed(0)} ms`).join(', ') || 'none'}`);

  const stamp = started.toISOString().replace(/[:]/g, '').replace(/\.\d+Z$/, 'Z');
  const kind = FILTER.length || ONLY_BACKENDS.length ? 'partial' : QUICK ? 'quick' : 'full';
  const outDir = join(here, 'results');
  mkdirSync(join(outDir, 'charts'), { recursive: true });
  const result = {
    date: started.toISOString(),
    finished: new Date().toISOString(),
    kind,
    command: `${QUICK ? 'npm run bench:quick' : 'npm run bench'}${FILTER.length ? ` (BENCH_FILTER=${FILTER.join(',')})` : ''}${ONLY_BACKENDS.length ? ` (BENCH_BACKENDS=${ONLY_BACKENDS.join(',')})` : ''}`,
    machine: { ...machine(), loadavg1mStartEnd: [load0[0], load1[0]] },
    backends: variants.map((v) => ({ label: v.label, backend: v.backend, threads: v.threads, note: v.note })),
    backendsNotHere: skipped,
    protocol: { ...PROTOCOL, interleaved: true, engine: 'benny (benchmark.js): one benny run per sample, samples interleaved round-robin' },
    startupMs: startup,
    results: rows,
  };
  const jsonFile = join(outDir, `${stamp}-${kind}.json`);
  writeFileSync(jsonFile, JSON.stringify(result, null, 1) + '\n');
  writeFileSync(join(outDir, `latest-${kind}.json`), JSON.stringify(result, null, 1) + '\n');
  await writeReport(result);
  console.log(`wrote ${relative(process.cwd(), jsonFile)}`);

  if (COMPARE) {
    console.log(`\ncompared with ${COMPARE}:\n`);
    console.log(comparisonTable(compareRuns(loadRows(COMPARE), rows, 0.05, RELATIVE)));
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
