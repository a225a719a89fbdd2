/**
 * matmul n x n on the wasm backend, 1 and 2 threads interleaved round by round (issue 10: 35
 * GFLOP/s on one thread, 65 on two, at n = 512): a jitted call on inputs already in the wasm
 * memory, its result disposed unread (bench/wasm-kernels.ts has one thread against the peers,
 * with and without the read). Seven rounds of 300 ms per thread count; median (min-max).
 *   npx tsx bench/wasm-matmul-threads.ts
 */
import { jit, randn, setThreads, type Tensor } from '../src/index.js';
const rates: Record<string, Record<number, number[]>> = {};
for (const n of [512, 1024]) {
  const a = randn([n, n], { seed: 1 }).realize(), b = randn([n, n], { seed: 2 }).realize();
  const f = jit((x: Tensor, y: Tensor) => x.matmul(y));
  rates[n] = { 1: [], 2: [] };
  for (let r = 0; r < 7; r++) for (const t of [1, 2]) {
    setThreads(t); f(a, b).dispose();
    const t0 = performance.now(); let k = 0;
    while (performance.now() - t0 < 300) { f(a, b).dispose(); k++; }
    rates[n][t].push((2 * n ** 3 * k) / ((performance.now() - t0) / 1000) / 1e9);
  }
  for (const t of [1, 2]) { const xs = [...rates[n][t]].sort((p, q) => p - q); console.log(`matmul ${n} ${t} thread(s): ${xs[3].toFixed(1)} GFLOP/s (${xs[0].toFixed(1)}-${xs[6].toFixed(1)})`); }
}
process.exit(0);
