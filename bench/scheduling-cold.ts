/**
 * A cold process's first schedules: a fresh process imports functs and schedules a few small
 * programs once each, in order (the first `small`, loop 100, grad 100, `small` again), CPU ms
 * per kernel. The cold cost is mostly V8 parsing, compiling and interpreting the scheduler's
 * code before it tiers up (bench/scheduling.ts warms the JIT first and measures the rest).
 * With BASE= another checkout, processes of the two alternate, so both see the same load.
 *
 *   npx tsx bench/scheduling-cold.ts                       # this checkout, 7 processes
 *   BASE=/work/wt/base RUNS=7 npx tsx bench/scheduling-cold.ts
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';

const here = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
const programs = ['small', 'loop 100', 'grad 100', 'small again'] as const;

if (process.env.SCHED_COLD_CHILD) {
  const root = process.env.SCHED_COLD_CHILD;
  const f = (await import(root + '/src/index.js')) as typeof import('../src/index.js');
  const { schedule } = (await import(root + '/src/fusion/schedule.js')) as typeof import('../src/fusion/schedule.js');
  const { jsDevice } = (await import(root + '/src/backends/js/index.js')) as typeof import('../src/backends/js/index.js');
  type T = import('../src/index.js').Tensor;
  const chain = (x: T, n: number) => {
    for (let i = 0; i < n; i++) x = x.mul(0.999).add(0.001).sin();
    return x;
  };
  const build: Record<(typeof programs)[number], () => T> = {
    small: () => f.randn([8], { seed: 0 }).realize().mul(2).add(1).exp().sum(),
    'loop 100': () => {
      let x = f.randn([8], { seed: 0 });
      for (let i = 0; i < 100; i++) x = x.sub(x.mean()).mul(0.5).add(0.1);
      return x;
    },
    'grad 100': () => f.grad((x: T) => chain(x, 100).sum())(f.randn([8], { seed: 0 })),
    'small again': () => f.randn([8], { seed: 1 }).realize().mul(3).add(1).exp().sum(),
  };
  const out: number[] = [];
  for (const name of programs) {
    const roots = [build[name]().node];
    const c0 = process.cpuUsage();
    const plan = schedule(roots, { maxBuffers: jsDevice.caps.maxBuffers });
    const c = process.cpuUsage(c0);
    out.push((c.user + c.system) / 1000 / plan.kernels.length);
  }
  console.log(JSON.stringify(out));
} else {
  const trees = process.env.BASE ? { base: process.env.BASE, new: here } : { new: here };
  const runs = Number(process.env.RUNS ?? 7);
  const samples: Record<string, number[][]> = {};
  for (let r = 0; r < runs; r++) {
    const order = r % 2 ? Object.entries(trees).reverse() : Object.entries(trees);
    for (const [name, root] of order) {
      const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], { env: { ...process.env, SCHED_COLD_CHILD: root }, encoding: 'utf8' });
      if (child.status !== 0) throw new Error(`scheduling-cold: the process for ${root} failed: ${child.stderr}`);
      (samples[name] ??= []).push(JSON.parse(child.stdout.trim().split('\n').pop()!) as number[]);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`load ${loadavg()[0].toFixed(2)}; CPU ms per kernel of each program's first schedule in a fresh process, median (min-max) of ${runs}`);
  for (const [k, name] of programs.entries()) {
    const cells = Object.keys(trees).map((t) => {
      const xs = samples[t].map((s) => s[k]);
      return `${t} ${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)})`;
    });
    console.log(`${name.padEnd(12)} ${cells.join('   ')}`);
  }
}
