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
 *   chain N     N steps of x = sin(x * 0.999 + 0.001), one kernel chain
 *   grad N      grad through the chain
 *   shared N    x = x * sin(x) + cos(x), N steps (every step reads x three times)
 * Each case is scheduled REPEAT times (the median is reported), sizes interleaved so that
 * the ratios of one row see the same machine.
 */
import { grad, randn, type Tensor } from "../src/index.js";
import { schedule } from "../src/fusion/schedule.js";
import { jsDevice } from "../src/backends/js/index.js";
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
  { name: "outputs", sizes: QUICK ? [1000, 4000] : [1000, 4000, 16000], build: (k) => { const x = x0(); return Array.from({ length: k }, (_, i) => x.mul(i + 2).sin().node); } },
  { name: "loop", sizes: QUICK ? [100, 1000] : [100, 1000, 10000], build: (n) => { let x = x0(); for (let i = 0; i < n; i++) x = x.sub(x.mean()).mul(0.5).add(0.1); return [x.node]; } },
  { name: "chain", sizes: QUICK ? [1000, 10000] : [1000, 10000, 100000], build: (n) => [chain(x0(), n).node] },
  { name: "grad", sizes: QUICK ? [100, 1000] : [100, 1000, 10000], build: (n) => [grad((x: Tensor) => chain(x, n).sum())(x0()).node] },
  { name: "shared", sizes: QUICK ? [40, 400] : [40, 400, 4000], build: (n) => { let x = x0(); for (let i = 0; i < n; i++) x = x.mul(x.sin()).add(x.cos()); return [x.node]; } },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const rows: string[][] = [["program", "size", "kernels", "schedule ms", "ms / kernel", "time ratio", "size ratio"]];
for (const c of cases) {
  const times = new Map<number, number[]>();
  const kernels = new Map<number, number>();
  for (let r = 0; r < REPEAT; r++) {
    for (const n of c.sizes) {
      const roots = c.build(n);
      const t0 = performance.now();
      const plan = schedule(roots, { maxBuffers: jsDevice.caps.maxBuffers });
      const ms = performance.now() - t0;
      times.set(n, [...(times.get(n) ?? []), ms]);
      kernels.set(n, plan.kernels.length);
    }
  }
  const base = median(times.get(c.sizes[0])!);
  for (const n of c.sizes) {
    const ms = median(times.get(n)!);
    rows.push([c.name, String(n), String(kernels.get(n)), ms.toFixed(1), (ms / kernels.get(n)!).toFixed(3), (ms / base).toFixed(1), String(n / c.sizes[0])]);
  }
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
for (const r of rows) console.log(r.map((c, i) => c.padStart(widths[i])).join("  "));
