/**
 * Scheduling cost versus program size: the time `schedule()` (the fusion scheduler alone,
 * no code generation) takes on programs of growing size, and per kernel it produces.
 *
 *   npx tsx bench/scheduling.ts            # the table
 *   SCHED_QUICK=1 npx tsx bench/scheduling.ts   # smaller sizes
 *
 * Programs:
 *   outputs K   K sibling outputs of one input, realized together (sin(x * k) for k < K)
 *   loop N      a forward loop of N steps, one mean per step (a tiny kernel per step)
 *   stress loop N   the stress suite's loop with a mean per step (x - mean(x)) 0.9 + 0.1 sin(x)
 *   chain N     N steps of x = sin(x * 0.999 + 0.001), one kernel chain
 *   grad N      grad through the chain
 *   shared N    x = x * sin(x) + cos(x), N steps (every step reads x three times)
 *   small 1     x.mul(2).add(1).exp().sum(): one kernel
 * After a warm-up (see below), each case is scheduled REPEAT times (the median is reported, with min-max), sizes interleaved so that
 * the ratios of one row see the same machine. Beside the wall-clock milliseconds, the
 * process's CPU time (less sensitive to a machine shared with other work) and the
 * scheduler's own work counters (expressions lowered while drafting, those of drafts
 * discarded included: machine-independent).
 *
 * Then issue 9's target as a user meets it: one realize() of 1,000 and of 16,000 sibling
 * outputs (schedule, code generation, run), interleaved, REPEAT times each: the caches are
 * cleared before each (programs are cached by structure, so a fresh input alone would hit the
 * cached program and measure only its run), and a second realize() of the same structure is
 * timed too, the cached path.
 */
import { clearCaches, grad, randn, realize, type Tensor } from "../src/index.js";
import { schedule } from "../src/fusion/schedule.js";
import { jsDevice } from "../src/backends/js/index.js";
import { schedulerWork } from "../src/fusion/schedule.js";
import type { Node } from "../src/lazy/node.js";

const QUICK = process.env.SCHED_QUICK === "1";
const REPEAT = Number(process.env.SCHED_REPEAT ?? 3);

type Build = (n: number) => Node[];

const x0 = () => randn([8], { seed: 0 });
const chain = (x: Tensor, n: number) => {
  for (let i = 0; i < n; i++) x = x.mul(0.999).add(0.001).sin();
  return x;
};

const cases: { name: string; sizes: number[]; build: Build }[] = [
  { name: "small", sizes: [1], build: () => { const x = x0().realize(); return [x.mul(2).add(1).exp().sum().node]; } },
  { name: "outputs", sizes: QUICK ? [1000, 4000] : [1000, 4000, 16000], build: (k) => { const x = x0(); return Array.from({ length: k }, (_, i) => x.mul(i + 2).sin().node); } },
  { name: "loop", sizes: QUICK ? [100, 1000] : [100, 1000, 10000], build: (n) => { let x = x0(); for (let i = 0; i < n; i++) x = x.sub(x.mean()).mul(0.5).add(0.1); return [x.node]; } },
  { name: "stress loop", sizes: QUICK ? [100, 1000] : [100, 1000, 10000], build: (n) => { let x = x0(); for (let i = 0; i < n; i++) x = x.sub(x.mean()).mul(0.9).add(x.sin().mul(0.1)); return [x.node]; } },
  { name: "chain", sizes: QUICK ? [1000, 10000] : [1000, 10000, 100000], build: (n) => [chain(x0(), n).node] },
  { name: "grad", sizes: QUICK ? [100, 1000] : [100, 1000, 10000], build: (n) => [grad((x: Tensor) => chain(x, n).sum())(x0()).node] },
  { name: "shared", sizes: QUICK ? [40, 400] : [40, 400, 4000], build: (n) => { let x = x0(); for (let i = 0; i < n; i++) x = x.mul(x.sin()).add(x.cos()); return [x.node]; } },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const rows: string[][] = [["program", "size", "kernels", "schedule ms", "ms / kernel (min-max)", "cpu ms", "cpu ms / kernel (min-max)", "lowered exprs / kernel", "time ratio", "size ratio"]];
// The JIT is warmed first: the small program many times, then every case once at its
// smallest size (a loop's first schedule in the process otherwise ran 2-5x slower than its
// later ones, V8 still compiling the scheduler's paths for rounds and merging; the cold
// first call is bench/first-call.ts's subject).
for (let i = 0; i < 200; i++) schedule(cases[0].build(1), { maxBuffers: jsDevice.caps.maxBuffers });
for (const c of cases) schedule(c.build(c.sizes[0]), { maxBuffers: jsDevice.caps.maxBuffers });
for (const c of cases) {
  const times = new Map<number, number[]>();
  const cpus = new Map<number, number[]>();
  const kernels = new Map<number, number>();
  const exprs = new Map<number, number>();
  for (let r = 0; r < (c.name === "small" ? 100 * REPEAT : REPEAT); r++) {
    for (const n of c.sizes) {
      const roots = c.build(n);
      const drafted = schedulerWork.loweredExprs;
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const plan = schedule(roots, { maxBuffers: jsDevice.caps.maxBuffers });
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(c0);
      times.set(n, [...(times.get(n) ?? []), ms]);
      cpus.set(n, [...(cpus.get(n) ?? []), (cpu.user + cpu.system) / 1000]);
      kernels.set(n, plan.kernels.length);
      exprs.set(n, schedulerWork.loweredExprs - drafted);
    }
  }
  const base = median(times.get(c.sizes[0])!);
  for (const n of c.sizes) {
    const [ms, cpu, k] = [median(times.get(n)!), median(cpus.get(n)!), kernels.get(n)!];
    const spread = (xs: number[]) => `${(median(xs) / k).toFixed(3)} (${(Math.min(...xs) / k).toFixed(3)}-${(Math.max(...xs) / k).toFixed(3)})`;
    rows.push([c.name, String(n), String(k), ms.toFixed(1), spread(times.get(n)!), cpu.toFixed(1), spread(cpus.get(n)!), (exprs.get(n)! / k).toFixed(0), (ms / base).toFixed(1), String(n / c.sizes[0])]);
  }
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
for (const r of rows) console.log(r.map((c, i) => c.padStart(widths[i])).join("  "));

// One realize() of K sibling outputs, end to end.
const realizeSizes = [1000, 16000];
const realizeTimes = new Map<number, { wall: number[]; cpu: number[] }>(realizeSizes.map((k) => [k, { wall: [], cpu: [] }]));
const cachedTimes = new Map<number, { wall: number[]; cpu: number[] }>(realizeSizes.map((k) => [k, { wall: [], cpu: [] }]));
for (let r = 0; r < REPEAT; r++) {
  for (const k of realizeSizes) {
    clearCaches();
    for (const times of [realizeTimes.get(k)!, cachedTimes.get(k)!]) {
      const x = randn([8], { seed: 100 + r * 7 + k + times.wall.length }).realize();
      const outs = Array.from({ length: k }, (_, i) => x.mul(i + 2).sin());
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      realize(outs);
      const cpu = process.cpuUsage(c0);
      times.wall.push(performance.now() - t0);
      times.cpu.push((cpu.user + cpu.system) / 1000);
    }
  }
}
const fmt = (xs: number[]) => `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)})`;
console.log(`\nrealize() of K sibling outputs (wall ms, cpu ms: median (min-max) of ${REPEAT}):`);
const [k0] = realizeSizes;
for (const [what, times] of [['planned', realizeTimes], ['cached program', cachedTimes]] as const) {
  for (const k of realizeSizes) {
    const t = times.get(k)!;
    console.log(`  ${String(k).padStart(6)} outputs, ${what.padEnd(14)} wall ${fmt(t.wall)}  cpu ${fmt(t.cpu)}  ratio to ${k0}: wall ${(median(t.wall) / median(times.get(k0)!.wall)).toFixed(1)}x, cpu ${(median(t.cpu) / median(times.get(k0)!.cpu)).toFixed(1)}x (size ${k / k0}x)`);
  }
}
