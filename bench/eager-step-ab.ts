/**
 * The CPU cost of an eager step (no jit: the graph built, its program found in the cache, run),
 * two copies of functs in one process, samples interleaved pair by pair (the pair's order
 * alternating): an MLP trained without realize() (3 layers, 32 rows) and vmap(hessian) of 256
 * inputs. What building nodes and keying programs cost per step, where jit does not hide it.
 *
 *   git archive <base-commit> | tar -x -C /tmp/base && ln -s $PWD/node_modules /tmp/base/
 *   EAGER_BASE=/tmp/base R=21 npx tsx bench/eager-step-ab.ts
 *
 * LONG=10000 adds two long programs of that many steps (grad through x = sin(0.999 x + 0.001),
 * and a loop with a mean per step), each built and run twice per sample, the second run timed
 * (its program is cached: what is left is building the graph and keying it).
 */
import { fileURLToPath } from 'node:url';

if (!process.env.EAGER_BASE) throw new Error('eager-step-ab: set EAGER_BASE to a base checkout (see the header)');
const trees = { base: process.env.EAGER_BASE, new: fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '') };
const mods: Record<string, any> = {};
for (const [k, r] of Object.entries(trees)) mods[k] = await import(r + '/src/index.js');
console.log(`CPU ms per step, ${process.env.R ?? 15} interleaved pairs`);
function mlpSteps(f: any, steps: number): number {
  const inputs = f.randn([32, 4], { seed: 2 }); const targets = inputs.sum({ axis: 1 }).sin();
  const init = (seed: number, rows: number, cols: number) => f.randn([rows, cols], { seed }).mul(1 / Math.sqrt(rows));
  let p = { w1: init(3, 4, 16), w2: init(4, 16, 16), w3: init(5, 16, 1) };
  const loss = (q: any) => inputs.matmul(q.w1).tanh().matmul(q.w2).tanh().matmul(q.w3).reshape([32]).sub(targets).square().mean();
  const step = f.grad(loss);
  for (let i = 0; i < 5; i++) { const g = step(p); p = { w1: p.w1.sub(g.w1.mul(0.05)), w2: p.w2.sub(g.w2.mul(0.05)), w3: p.w3.sub(g.w3.mul(0.05)) }; loss(p).item(); }
  const t0 = process.cpuUsage();
  for (let i = 0; i < steps; i++) { const g = step(p); p = { w1: p.w1.sub(g.w1.mul(0.05)), w2: p.w2.sub(g.w2.mul(0.05)), w3: p.w3.sub(g.w3.mul(0.05)) }; loss(p).item(); }
  { const u = process.cpuUsage(t0); return (u.user + u.system) / 1000 / steps; }
}
function hessSteps(f: any, steps: number): number {
  const A = f.randn([32, 8], { seed: 1 }).realize(); const X = f.randn([256, 8], { seed: 3 }).realize();
  const h = f.vmap(f.hessian((x: any) => A.matmul(x).tanh().sum()));
  for (let i = 0; i < 3; i++) h(X).dataSync();
  const t0 = process.cpuUsage();
  for (let i = 0; i < steps; i++) h(X).dataSync();
  { const u = process.cpuUsage(t0); return (u.user + u.system) / 1000 / steps; }
}
const long = Number(process.env.LONG ?? 0);
function longProgram(f: any, kind: 'grad' | 'mean loop'): number {
  const once = () => {
    if (kind === 'grad') f.grad((x: any) => { for (let i = 0; i < long; i++) x = x.mul(0.999).add(0.001).sin(); return x.sum(); })(f.randn([8], { seed: 0 })).dataSync();
    else { let x = f.randn([8], { seed: 0 }); for (let i = 0; i < long; i++) x = x.sub(x.mean()).mul(0.999).add(0.001).sin(); x.dataSync(); }
  };
  once();
  const t0 = process.cpuUsage();
  once();
  const u = process.cpuUsage(t0);
  return (u.user + u.system) / 1000;
}
const res: Record<string, number[]> = {};
for (let r = 0; r < Number(process.env.R ?? 15); r++) {
  for (const k of r % 2 ? ['new', 'base'] : ['base', 'new']) {
    (res[`mlp ${k}`] ??= []).push(mlpSteps(mods[k], 40));
    (res[`hess eager ${k}`] ??= []).push(hessSteps(mods[k], 20));
    if (long) for (const kind of ['grad', 'mean loop'] as const) (res[`${kind} ${long} ${k}`] ??= []).push(longProgram(mods[k], kind));
  }
}
const med = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };
for (const [k, v] of Object.entries(res)) console.log(k.padEnd(18), 'median', med(v).toFixed(3), 'ms  min', Math.min(...v).toFixed(3), 'max', Math.max(...v).toFixed(3));
for (const w of ['mlp', 'hess eager', ...(long ? [`grad ${long}`, `mean loop ${long}`] : [])]) { const ratios = res[`${w} new`].map((v, i) => v / res[`${w} base`][i]); console.log(w, 'new/base per-pair median', med(ratios).toFixed(3)); }
process.exit(0);
