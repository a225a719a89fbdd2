/**
 * matmul n x n on the wasm backend, 1 and 2 threads interleaved round by round (issue 10: 35
 * GFLOP/s on one thread, 65 on two, at n = 512): a jitted call on inputs already in the wasm
 * memory, its result disposed unread (bench/wasm-kernels.ts has one thread against the peers,
 * with and without the read). ROUNDS rounds (default 7) of SAMPLE_MS (default 300) per thread
 * count; median (min-max) GFLOP/s of wall time, and per CPU-second of the whole process (every
 * thread's time, spinning included: on the shared 2-core VM, how much work the split wastes
 * where the wall clock mostly measures the other engineers' load).
 *
 * BASE=<another checkout of functs>: that tree's matmul too, in the same process (its own
 * memory and pool), interleaved with this one's round by round: a before/after on the shared
 * machine without two processes' loads differing.
 *
 *   npx tsx bench/wasm-matmul-threads.ts
 *   SIZES=512 ROUNDS=15 SAMPLE_MS=150 BASE=/tmp/functs-main npx tsx bench/wasm-matmul-threads.ts
 */
import * as here from '../src/index.js';
import type { Tensor } from '../src/index.js';

type Lib = typeof here;
const libs: [string, Lib][] = [['this tree', here]];
if (process.env.BASE) libs.push([`BASE ${process.env.BASE}`, (await import(`${process.env.BASE}/src/index.ts`)) as Lib]);
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const SAMPLE_MS = Number(process.env.SAMPLE_MS ?? 300);
const THREADS = [1, 2];
const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[xs.length >> 1];
for (const n of (process.env.SIZES ?? '512,1024').split(',').map(Number)) {
  const entries = libs.flatMap(([name, lib]) => {
    const a = lib.randn([n, n], { seed: 1 }).realize(), b = lib.randn([n, n], { seed: 2 }).realize();
    const f = lib.jit((x: Tensor, y: Tensor) => x.matmul(y));
    return THREADS.map((t) => ({ name: `${name}, ${t} thread(s)`, run: () => { lib.setThreads(t); (f(a as never, b as never) as Tensor).dispose(); }, rates: [] as number[], perCpu: [] as number[] }));
  });
  for (const e of entries) for (let i = 0; i < 3; i++) e.run();
  for (let r = 0; r < ROUNDS; r++) for (const e of entries) {
    e.run();
    const t0 = performance.now(), c0 = process.cpuUsage(); let k = 0;
    while (performance.now() - t0 < SAMPLE_MS) { e.run(); k++; }
    const cpu = process.cpuUsage(c0);
    e.rates.push((2 * n ** 3 * k) / ((performance.now() - t0) / 1000) / 1e9);
    e.perCpu.push((2 * n ** 3 * k) / ((cpu.user + cpu.system) / 1e6) / 1e9);
  }
  for (const e of entries) console.log(`matmul ${n} ${e.name.padEnd(34)}: ${median(e.rates).toFixed(1)} GFLOP/s (${Math.min(...e.rates).toFixed(1)}-${Math.max(...e.rates).toFixed(1)}), per CPU-second ${median(e.perCpu).toFixed(1)} (${Math.min(...e.perCpu).toFixed(1)}-${Math.max(...e.perCpu).toFixed(1)})`);
}
process.exit(0);
