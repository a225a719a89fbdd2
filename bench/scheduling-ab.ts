/**
 * Scheduling cost per kernel, A/B in one process: two copies of functs (a base tree and this
 * one) each schedule the same programs, samples interleaved pair by pair (the pair's order
 * alternating), CPU ms per kernel as bench/scheduling.ts measures it. One process sees the
 * same machine load for both sides, which separate processes on a shared machine do not.
 *
 *   git archive <base-commit> src package.json | tar -x -C /tmp/base && ln -s $PWD/node_modules /tmp/base/
 *   SCHED_BASE=/tmp/base R=15 npx tsx bench/scheduling-ab.ts
 */
import { fileURLToPath } from "node:url";
import { loadavg } from "node:os";

if (!process.env.SCHED_BASE) throw new Error("scheduling-ab: set SCHED_BASE to a base checkout (see the header)");
const roots = { base: process.env.SCHED_BASE, new: fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "") };
const load = async (r: string) => ({
  f: await import(r + "/src/index.js") as any,
  s: await import(r + "/src/fusion/schedule.js") as any,
  js: (await import(r + "/src/backends/js/index.js") as any).jsDevice,
});
const sys = { base: await load(roots.base), new: await load(roots.new) };
const R = Number(process.env.R ?? 9);
type Sys = typeof sys.base;
const cases: [string, number, (m: Sys, n: number) => any[]][] = [
  ["small", 1, (m) => { const x = m.f.randn([8], { seed: 0 }).realize(); return [x.mul(2).add(1).exp().sum().node]; }],
  ["loop", 100, (m, n) => { let x = m.f.randn([8], { seed: 0 }); for (let i = 0; i < n; i++) x = x.sub(x.mean()).mul(0.5).add(0.1); return [x.node]; }],
  ["loop", 1000, (m, n) => { let x = m.f.randn([8], { seed: 0 }); for (let i = 0; i < n; i++) x = x.sub(x.mean()).mul(0.5).add(0.1); return [x.node]; }],
  ["stress loop", 1000, (m, n) => { let x = m.f.randn([8], { seed: 0 }); for (let i = 0; i < n; i++) x = x.sub(x.mean()).mul(0.9).add(x.sin().mul(0.1)); return [x.node]; }],
  ["grad", 100, (m, n) => [m.f.grad((x: any) => { for (let i = 0; i < n; i++) x = x.mul(0.999).add(0.001).sin(); return x.sum(); })(m.f.randn([8], { seed: 0 })).node]],
  ["grad", 1000, (m, n) => [m.f.grad((x: any) => { for (let i = 0; i < n; i++) x = x.mul(0.999).add(0.001).sin(); return x.sum(); })(m.f.randn([8], { seed: 0 })).node]],
];
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const one = (m: Sys, build: any, n: number) => { const r = build(m, n); const c0 = process.cpuUsage(); const p = m.s.schedule(r, { maxBuffers: m.js.caps.maxBuffers }); const c = process.cpuUsage(c0); return [(c.user + c.system) / 1000, p.kernels.length]; };
for (const k of ["base", "new"] as const) { for (let i = 0; i < 200; i++) one(sys[k], cases[0][2], 1); for (const [, n, b] of cases) one(sys[k], b, n); }
console.log(`load ${loadavg()[0].toFixed(2)}; cpu ms per kernel, median (min-max) of ${R} interleaved pairs`);
for (const [name, n, build] of cases) {
  const reps = name === "small" ? R * 50 : R;
  const t = { base: [] as number[], new: [] as number[] }; const ratio: number[] = []; let kernels = 0;
  for (let r = 0; r < reps; r++) {
    const order = r % 2 ? (["new", "base"] as const) : (["base", "new"] as const);
    const got: Record<string, number> = {};
    for (const k of order) { const [ms, kk] = one(sys[k], build, n); got[k] = ms / kk; t[k].push(ms / kk); kernels = kk; }
    ratio.push(got.new / got.base);
  }
  const f = (xs: number[]) => `${med(xs).toFixed(3)} (${Math.min(...xs).toFixed(3)}-${Math.max(...xs).toFixed(3)})`;
  console.log(`${(name + " " + n).padEnd(16)} kernels ${String(kernels).padStart(5)}  base ${f(t.base)}  new ${f(t.new)}  new/base per pair ${med(ratio).toFixed(2)}`);
}
