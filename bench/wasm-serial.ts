/**
 * Where a call of the headline workload goes on one thread: the time inside the kernels
 * (device.launch) against the rest of the call (dispatch, copies in and out) and the read.
 * The rest is serial: it bounds what any number of threads can give.
 *   D=8 N=4096 npx tsx bench/wasm-serial.ts
 */
import { hessian, jit, vmap, setThreads, randn, type Tensor } from '../src/index.js';
import { wasmDevice } from '../src/backends/wasm/index.js';
const D = Number(process.env.D ?? 8), H = D === 8 ? 32 : 64, N = Number(process.env.N ?? 4096);
const A = randn([H, D], { seed: 1 }).realize(), b = randn([H], { seed: 2 }).realize();
const f = jit(vmap(hessian((x: Tensor) => A.matmul(x).add(b).tanh().sum())));
const X = randn([N, D], { seed: 3 }).realize();
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
let inKernels = 0;
const launch = wasmDevice.launch;
(wasmDevice as { launch: typeof launch }).launch = (k, bufs) => { const t = performance.now(); launch(k, bufs); inKernels += performance.now() - t; };
setThreads(1);
const calls: number[] = [], kernels: number[] = [], reads: number[] = [];
for (let i = 0; i < 400; i++) {
  inKernels = 0;
  const t0 = performance.now();
  const y = f(X) as Tensor;
  const t1 = performance.now();
  y.dataSync();
  const t2 = performance.now();
  y.dispose();
  if (i >= 50) { calls.push(t1 - t0); kernels.push(inKernels); reads.push(t2 - t1); }
}
const c = med(calls), k = med(kernels), r = med(reads);
console.log(`call ${c.toFixed(3)} ms (kernels ${k.toFixed(3)}, the rest ${(c - k).toFixed(3)}), dataSync ${r.toFixed(3)} ms; serial share ${((c - k + r) / (c + r) * 100).toFixed(0)}%: two perfect threads at most ${((c + r) / (k / 2 + c - k + r)).toFixed(2)}x`);
process.exit(0);
