/**
 * The same batched-Hessian comparison through benny (benchmark.js underneath): steady-state
 * operations per second with benchmark.js's statistics (margin of error, samples), for the
 * small size. bench/run.ts gives the full table with first-call latency and output checks;
 * this suite is the second opinion. Each entry's output is checked before it is timed.
 *
 *   npx tsx bench/benny.ts            (BENCH_QUICK=1 for N=256)
 */
import b from 'benny';
import { IMPLEMENTATIONS, REFERENCE } from './impls.js';
import { QUICK_SIZES, SIZES, makeWorkload, maxAbsDiff } from './workload.js';

const QUICK = process.env.BENCH_QUICK === '1';
const size = (QUICK ? QUICK_SIZES : SIZES)[0];
const workload = makeWorkload(size);
// Entries slower than this per batch take minutes under benchmark.js's sampling; run.ts covers them.
const SLOW_BATCH_MS = 500;

const prepared = [];
let reference: Float32Array | undefined;
for (const impl of IMPLEMENTATIONS) {
  const ready = await impl.setup(workload);
  const output = await ready.run();
  if (impl.name === REFERENCE) reference = output;
  const diff = reference ? maxAbsDiff(output, reference) : 0;
  const t0 = performance.now();
  await ready.run();
  const batchMs = performance.now() - t0;
  if (diff > 1e-3) console.log(`!! ${impl.name}: output differs from the reference by ${diff}; not timed`);
  else if (batchMs > SLOW_BATCH_MS) console.log(`-- ${impl.name}: ${batchMs.toFixed(0)} ms per batch, left to bench/run.ts`);
  else prepared.push({ impl, ready });
}

const N = size.N;
await b.suite(
  `batched Hessians, D=${size.D} H=${size.H} N=${N} (one op = ${N} Hessians)`,
  ...prepared.map(({ impl, ready }) => b.add(impl.name, async () => { await ready.run(); })),
  b.cycle((result) => {
    const hessiansPerSec = result.ops * N;
    return `${result.name}: ${result.ops.toFixed(1)} ops/s = ${(hessiansPerSec / 1000).toFixed(1)}k Hessians/s ±${result.margin}%`;
  }),
  b.complete(),
);
for (const { ready } of prepared) ready.dispose?.();
