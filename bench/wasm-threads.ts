/**
 * The wasm backend on 1 and 2 threads, interleaved sample by sample, on the headline
 * workload jit(vmap(hessian(f))), f(x) = sum(tanh(A x + b)) (reads included: dataSync).
 *   D=8 N=4096 npx tsx bench/wasm-threads.ts     (D=32 takes H=64)
 * Nine rounds of one 300 ms sample per thread count; median and min-max of Hessians/s.
 */
import { hessian, jit, tensor, vmap, setThreads, randn, type Tensor } from '../src/index.js';
const D = Number(process.env.D ?? 8), H = D === 8 ? 32 : 64, N = Number(process.env.N ?? 4096);
const A = randn([H, D], { seed: 1 }).realize(), b = randn([H], { seed: 2 }).realize();
const f = jit(vmap(hessian((x: Tensor) => A.matmul(x).add(b).tanh().sum())));
const X = randn([N, D], { seed: 3 }).realize();
const rates: Record<string, number[]> = { '1': [], '2': [] };
for (let round = 0; round < 9; round++) for (const t of [1, 2]) {
  setThreads(t);
  f(X).dataSync();
  const t0 = performance.now(); let n = 0;
  while (performance.now() - t0 < 300) { f(X).dataSync(); n++; }
  rates[t].push(n * N / ((performance.now() - t0) / 1000));
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const t of ['1', '2']) console.log(`D=${D} N=${N} threads ${t}: ${(med(rates[t]) / 1e6).toFixed(3)}M/s (${(Math.min(...rates[t]) / 1e6).toFixed(3)}-${(Math.max(...rates[t]) / 1e6).toFixed(3)})`);
process.exit(0);
