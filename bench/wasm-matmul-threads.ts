/**
 * matmul n x n on the wasm backend, 1 and 2 threads interleaved (issue 10: 35 GFLOP/s on one
 * thread, 65 on two, at n = 512): a jitted call on inputs already in the wasm memory, its
 * result disposed unread (bench/wasm-kernels.ts has one thread against the peers, with and
 * without the read). ROUNDS rounds (default 40) of CALLS timed calls (default 3) per entry,
 * entries interleaved round by round; every call timed on its own.
 *
 * Printed per entry, GFLOP/s of wall time: the median call with its spread (min-max), and
 * the fast end (the 10th-percentile call, and the best). On the shared 2-core VM the median
 * mostly measures the other engineers' load (two threads need both cores free at once); the
 * fast end is the calls that ran uncontended, the nearest this machine gets to a quiet one.
 * Also GFLOP per CPU-second of the whole process over the timed calls (every thread's time,
 * spinning included: how much work the split wastes).
 *
 * BASE=<another checkout>[,<another>]: that tree's matmul too, in the same process (its own
 * memory and pool), interleaved call by call: before/after under the same load.
 *
 *   npx tsx bench/wasm-matmul-threads.ts
 *   SIZES=512 ROUNDS=60 BASE=/tmp/functs-main npx tsx bench/wasm-matmul-threads.ts
 */
import * as here from '../src/index.js';
import type { Tensor } from '../src/index.js';
import { quantile, timedCallBlocks, type TimedEntry } from './suite/sampler.js';

type Lib = typeof here;
const libs: [string, Lib][] = [['this tree', here]];
for (const base of (process.env.BASE ?? '').split(',').filter(Boolean)) libs.push([base, (await import(`${base}/src/index.ts`)) as Lib]);
const ROUNDS = Number(process.env.ROUNDS ?? 40);
const CALLS = Number(process.env.CALLS ?? 3);
const THREADS = [1, 2];
for (const n of (process.env.SIZES ?? '512,1024').split(',').map(Number)) {
  const entries = libs.flatMap(([name, lib]) => {
    const a = lib.randn([n, n], { seed: 1 }).realize(), b = lib.randn([n, n], { seed: 2 }).realize();
    const f = lib.jit((x: Tensor, y: Tensor) => x.matmul(y));
    return THREADS.map((t) => ({ name: `${name}, ${t} thread(s)`, run: () => { lib.setThreads(t); (f(a as never, b as never) as Tensor).dispose(); }, ms: [], cpuMs: 0 } satisfies TimedEntry));
  });
  for (const e of entries) for (let i = 0; i < 5; i++) e.run();
  timedCallBlocks(entries, ROUNDS, CALLS);
  const rate = (ms: number) => ((2 * n ** 3) / ms / 1e6).toFixed(1);
  for (const e of entries) {
    console.log(`matmul ${n} ${e.name.padEnd(30)}: median ${rate(quantile(e.ms, 0.5))} GFLOP/s (${rate(Math.max(...e.ms))}-${rate(Math.min(...e.ms))}), fast end p10 ${rate(quantile(e.ms, 0.1))} best ${rate(Math.min(...e.ms))}; per CPU-second ${rate(e.cpuMs / e.ms.length)}`);
  }
}
process.exit(0);
