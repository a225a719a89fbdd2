/**
 * The wasm backend on 1 and 2 threads, interleaved sample by sample, on the headline
 * workload jit(vmap(hessian(f))), f(x) = sum(tanh(A x + b)), reads included (dataSync), two
 * ways: `dispose` disposes each result after reading it (its block in the wasm memory is
 * reused by the next call); `keep` drops it to the garbage collector, whose finalizers never
 * run inside the loop, so after the first result the next ones are copied out to host arrays
 * (wasm/index.ts, ResidentOutputs).
 *   D=8 N=4096 npx tsx bench/wasm-threads.ts     (D=32 takes H=64; ROUNDS=9, SAMPLE_MS=300, SPIN_US=200)
 * Median and min-max of Hessians/s over the rounds, and the ratio of the medians.
 */
import { hessian, jit, setThreads, randn, vmap, type Tensor } from '../src/index.js';
import * as threads from '../src/backends/wasm/threads.js';
import v8 from 'node:v8';
import vm from 'node:vm';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

// SPIN_US=0: workers sleep at once after a job (the pool before it spun); absent on older trees.
const tuning = (threads as { parallelTuning: { spinMicroseconds?: number } }).parallelTuning;
if (process.env.SPIN_US !== undefined && 'spinMicroseconds' in tuning) tuning.spinMicroseconds = Number(process.env.SPIN_US);

const D = Number(process.env.D ?? 8), H = D === 8 ? 32 : 64, N = Number(process.env.N ?? 4096);
const ROUNDS = Number(process.env.ROUNDS ?? 9), SAMPLE_MS = Number(process.env.SAMPLE_MS ?? 300);
const A = randn([H, D], { seed: 1 }).realize(), b = randn([H], { seed: 2 }).realize();
const f = jit(vmap(hessian((x: Tensor) => A.matmul(x).add(b).tanh().sum())));
const X = randn([N, D], { seed: 3 }).realize();
const ways = {
  dispose: () => {
    const y = f(X) as Tensor;
    y.dataSync();
    y.dispose();
  },
  keep: () => void (f(X) as Tensor).dataSync(),
};
const rates = new Map<string, number[]>();
for (let round = 0; round < ROUNDS; round++) {
  for (const [way, call] of Object.entries(ways)) {
    for (const t of [1, 2]) {
      setThreads(t);
      call();
      const t0 = performance.now();
      let n = 0;
      while (performance.now() - t0 < SAMPLE_MS) {
        call();
        n++;
      }
      const key = `${way} ${t}`;
      if (!rates.has(key)) rates.set(key, []);
      rates.get(key)!.push((n * N) / ((performance.now() - t0) / 1000));
      // A collection and a turn of the event loop: finalizers free the results the sample dropped.
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const way of Object.keys(ways)) {
  for (const t of [1, 2]) {
    const r = rates.get(`${way} ${t}`)!;
    console.log(`D=${D} N=${N} ${way.padEnd(7)} threads ${t}: ${(med(r) / 1e6).toFixed(3)}M/s (${(Math.min(...r) / 1e6).toFixed(3)}-${(Math.max(...r) / 1e6).toFixed(3)})`);
  }
  console.log(`D=${D} N=${N} ${way.padEnd(7)} 2 threads / 1: ${(med(rates.get(`${way} 2`)!) / med(rates.get(`${way} 1`)!)).toFixed(2)}x`);
}
process.exit(0);
