/**
 * First-call latency, cold: each sample is a fresh Node process that builds one
 * implementation for the small size and times its first call (trace + transform +
 * compile + first run + readback), so that one slow moment of a shared VM does not decide
 * the number (bench/run.ts measures the first call once, in one process).
 *
 *   npx tsx bench/first-call.ts          (BENCH_FILTER=functs,jax-js to choose; BENCH_COLD_RUNS=7)
 *   BENCH_BREAKDOWN=1 BENCH_FILTER=functs npx tsx bench/first-call.ts   (functs' phases too)
 *   npm run build && BENCH_FILTER='functs default,functs dist' npx tsx bench/first-call.ts
 *       ('functs default': the default backend and threads through tsx; 'functs dist': the
 *       published build in plain node, as a user runs it, bench/first-call-dist.mjs)
 *
 * Without BENCH_FILTER it writes bench/first-call.json.
 *
 * A child (`--child NAME`) prints its first-call milliseconds as JSON on its last line, with
 * functs' phases (fusion/program.ts phaseMs: trace and transforms, schedule, program build,
 * run), the milliseconds from the process's start to the end of its imports, and the process's
 * CPU time by then (Node's own start included: compare it between builds).
 */
const importedAt = performance.now();
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { IMPLEMENTATIONS } from './impls.js';
import { functsDefault } from './functs.js';
import { phaseMs } from '../src/fusion/program.js';
import { SIZES, makeWorkload } from './workload.js';

const here = fileURLToPath(import.meta.url);
/** BENCH_FILTER name of the published build's entry (bench/first-call-dist.mjs; `npm run build` first). */
const DIST_NAME = 'functs dist';
const childAt = process.argv.indexOf('--child');
// 'functs default' (the default backend and threads, nothing set: a user's first call) is
// this bench's alone; the throughput bench has the wasm entries with their thread counts.
const ENTRIES = [...IMPLEMENTATIONS, functsDefault];

if (childAt >= 0) {
  const impl = ENTRIES.find((i) => i.name === process.argv[childAt + 1]);
  if (!impl) throw new Error(`no implementation named ${process.argv[childAt + 1]}`);
  const importCpu = process.cpuUsage();
  const workload = makeWorkload(SIZES[0]);
  // CPU time of this thread's process (workers included, but they idle until a kernel runs):
  // steadier than wall clock on a shared machine.
  const cpuBefore = process.cpuUsage();
  const prepared = await impl.setup(workload);
  const cpu = process.cpuUsage(cpuBefore);
  const phases = { ...phaseMs, other: prepared.firstCallMs - phaseMs.trace - phaseMs.schedule - phaseMs.build - phaseMs.run };
  console.log(JSON.stringify({ firstCallMs: prepared.firstCallMs, cpuMs: (cpu.user + cpu.system) / 1000, importMs: importedAt, importCpuMs: (importCpu.user + importCpu.system) / 1000, phases }));
  prepared.dispose?.();
} else {
  const runs = Number(process.env.BENCH_COLD_RUNS ?? 5);
  const filter = (process.env.BENCH_FILTER ?? 'hand-loop,hand-loop-tuned,functs,functs default,jax-js,tfjs-closed-form').split(',').map((s) => s.trim());
  const size = SIZES[0];
  console.log(`first call, cold (a fresh process per sample, ${runs} samples), D=${size.D} H=${size.H} N=${size.N}`);
  // The published build (dist/, plain node): a pseudo-entry run by first-call-dist.mjs.
  const distEntry = { name: DIST_NAME, method: 'functs from dist/ (npm run build), plain node, default backend', setup: () => Promise.reject(new Error('run as its own process')) };
  const order = [...ENTRIES, distEntry].filter((i) => filter.includes(i.name));
  const samples = new Map<string, number[]>(order.map((i) => [i.name, []]));
  const phaseSamples = new Map<string, Map<string, number[]>>(order.map((i) => [i.name, new Map()]));
  // Interleaved, as in run.ts: sample k of every implementation before sample k + 1.
  for (let k = 0; k < runs; k++) {
    for (const impl of order) {
      const args = impl.name === DIST_NAME ? [fileURLToPath(new URL('first-call-dist.mjs', import.meta.url))] : ['--import', 'tsx', here, '--child', impl.name];
      const out = execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const last = out.trim().split('\n').at(-1)!;
      const child = JSON.parse(last) as { firstCallMs: number; cpuMs: number; importMs: number; importCpuMs: number; phases: Record<string, number> };
      samples.get(impl.name)!.push(child.firstCallMs);
      for (const [phase, ms] of Object.entries({ ...child.phases, 'cpu (process, first call)': child.cpuMs, 'imports (not in the first call)': child.importMs, 'imports, process cpu': child.importCpuMs })) {
        const list = phaseSamples.get(impl.name)!.get(phase) ?? [];
        list.push(ms);
        phaseSamples.get(impl.name)!.set(phase, list);
      }
    }
  }
  for (const [name, ms] of samples) {
    ms.sort((a, b) => a - b);
    const median = ms[ms.length >> 1];
    console.log(`  ${name.padEnd(18)} median ${median.toFixed(1).padStart(7)} ms   (${ms.map((m) => m.toFixed(0)).join(', ')})`);
    if (process.env.BENCH_BREAKDOWN === '1' && name.startsWith('functs')) {
      for (const [phase, list] of phaseSamples.get(name)!) {
        list.sort((a, b) => a - b);
        console.log(`      ${phase.padEnd(32)} median ${list[list.length >> 1].toFixed(1).padStart(7)} ms   (${list[0].toFixed(1)}-${list[list.length - 1].toFixed(1)})`);
      }
    }
  }
  if (!process.env.BENCH_FILTER) {
    const result = { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? null, size, firstCallMs: Object.fromEntries(samples) };
    writeFileSync(new URL('first-call.json', import.meta.url), JSON.stringify(result, null, 2) + '\n');
  }
}
