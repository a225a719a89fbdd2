/**
 * Batched Hessians jit(vmap(hessian(f))), f(x) = sum(tanh(A x + b)), N = 4096, on the wasm
 * backend with 1 and 2 threads, a call's result disposed unread (issue 10's "no read" figure),
 * every call timed: the median, the fast end (10th percentile and best call: on this VM they
 * stand for calls that had both cores), and the rate per CPU-second. BASE=<checkout>[,...]
 * loads other checkouts' src/ into the same process and interleaves their entries with this
 * tree's, call block by call block, for before/after on one machine state.
 *   npx tsx bench/wasm-hessian-threads.ts
 *   SIZES=8 ROUNDS=60 BASE=/tmp/functs-main npx tsx bench/wasm-hessian-threads.ts
 */
import * as here from '../src/index.js';
import type { Tensor } from '../src/index.js';
import { quantile, timedCallBlocks, type TimedEntry } from './suite/sampler.js';
import { makeWorkload, check, referenceHessians64, SIZES as WORKLOAD_SIZES } from './workload.js';

type Lib = typeof here;
const libs: [string, Lib][] = [['this tree', here]];
for (const base of (process.env.BASE ?? '').split(',').filter(Boolean)) libs.push([base, (await import(`${base}/src/index.ts`)) as Lib]);
const ROUNDS = Number(process.env.ROUNDS ?? 40);
const CALLS = Number(process.env.CALLS ?? 5);
const THREADS = (process.env.THREADS ?? '1,2').split(',').map(Number);
for (const D of (process.env.SIZES ?? '8,32').split(',').map(Number)) {
  const size = WORKLOAD_SIZES.find((s) => s.D === D);
  if (!size) throw new Error(`no workload with D=${D}`);
  const wl = makeWorkload(size);
  const checked = 64;
  const reference = referenceHessians64(wl, checked);
  const { N, H } = size;
  const entries = libs.flatMap(([name, lib]) => {
    const A = lib.tensor(wl.A, { shape: [H, D] }), b = lib.tensor(wl.b, { shape: [H] }), X = lib.tensor(wl.X, { shape: [N, D] });
    const hessians = lib.jit(lib.vmap(lib.hessian((x: Tensor) => A.matmul(x).add(b).tanh().sum())));
    const first = hessians(X as never) as Tensor;
    const result = check(`${name} D=${D}`, (first.dataSync() as Float32Array).subarray(0, checked * D * D), reference);
    if (!result.ok) throw new Error(result.message);
    first.dispose();
    return THREADS.map((t) => ({ name: `${name}, ${t} thread(s)`, run: () => { lib.setThreads(t); (hessians(X as never) as Tensor).dispose(); }, ms: [], cpuMs: 0 } satisfies TimedEntry));
  });
  for (const e of entries) for (let i = 0; i < 10; i++) e.run();
  timedCallBlocks(entries, ROUNDS, CALLS);
  const rate = (ms: number) => `${(N / ms / 1e3).toFixed(D === 8 ? 2 : 3)}M`;
  for (const e of entries) {
    console.log(`D=${D} H=${H} N=${N} ${e.name.padEnd(30)}: median ${rate(quantile(e.ms, 0.5))} Hessians/s (${rate(Math.max(...e.ms))}-${rate(Math.min(...e.ms))}), fast end p10 ${rate(quantile(e.ms, 0.1))} best ${rate(Math.min(...e.ms))}; per CPU-second ${rate(e.cpuMs / e.ms.length)}`);
  }
}
process.exit(0);
