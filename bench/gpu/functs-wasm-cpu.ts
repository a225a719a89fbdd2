/**
 * functs' wasm backend on the GPU machine's CPU cores, beside JAX's and torch.func's CPU
 * backends in the same command (issue 10 quotes JAX CPU on 16 cores: 6.5M/s at D=8 and 0.35M/s
 * at D=32). jit(vmap(hessian(f))), f(x) = sum(tanh(A x + b)), float32, the yardstick's data
 * recipe (the same LCG as peers.py), each size checked against a float64 loop on a sample.
 * Thread counts are interleaved round by round (median, min–max of the rounds); a call is
 * `f(X)` with its result disposed (the Hessians stay in the wasm memory, as JAX's stay on its
 * device), and e2e adds the read into a host Float32Array.
 * Usage: THREADS=1,2,16 SIZES='[[8,32,4096]]' node functs-wasm-cpu.mjs
 */
import os from 'node:os';
import { tensor, vmap, hessian, jit, setThreads, type Tensor } from '../../src/index.js';
import { hessianData, hessianError } from './hessian-data.js';

const threadCounts = (process.env.THREADS ?? `1,2,${os.availableParallelism()}`).split(',').map(Number);
const rounds = Number(process.env.ROUNDS ?? 7);
const sampleMs = Number(process.env.SAMPLE_MS ?? 300);
const sizes: [number, number, number][] = process.env.SIZES ? JSON.parse(process.env.SIZES) : [[8, 32, 4096], [8, 32, 65536], [32, 64, 4096], [32, 64, 65536]];
console.log(JSON.stringify({ system: 'functs-wasm-cpu', cpus: os.cpus()[0]?.model, cores: os.availableParallelism(), node: process.version }));
for (const [D, H, N] of sizes) {
  const { A, b, X } = hessianData(D, H, N);
  const At = tensor(A, { shape: [H, D] });
  const bt = tensor(b, { shape: [H] });
  const Xt = tensor(X, { shape: [N, D] });
  const hessians = jit(vmap(hessian((x: Tensor) => At.matmul(x).add(bt).tanh().sum())));
  const rates = new Map<number, number[]>(threadCounts.map((t) => [t, []]));
  const e2e = new Map<number, number[]>(threadCounts.map((t) => [t, []]));
  const errors: { maxerr: number; scale: number }[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const t of threadCounts) {
      setThreads(t);
      const out = hessians(Xt);
      const start = performance.now();
      const got = out.dataSync() as Float32Array;
      e2e.get(t)!.push(performance.now() - start);
      if (round === 0) errors.push(hessianError(A, b, X, got, D, H, N));
      out.dispose();
      const t0 = performance.now();
      let calls = 0;
      while (performance.now() - t0 < sampleMs) {
        hessians(Xt).dispose();
        calls++;
      }
      rates.get(t)!.push((calls * N) / ((performance.now() - t0) / 1000));
    }
  }
  for (const t of threadCounts) {
    const xs = [...rates.get(t)!].sort((x, y) => x - y);
    const median = xs[xs.length >> 1];
    const read = [...e2e.get(t)!].sort((x, y) => x - y);
    const { maxerr, scale } = errors[threadCounts.indexOf(t)];
    console.log(JSON.stringify({
      system: `functs-wasm ${t} thread${t === 1 ? '' : 's'}`, D, H, N,
      kernel_ms: +((N / median) * 1000).toFixed(4), kernel_spread_ms: [+((N / xs[xs.length - 1]) * 1000).toFixed(4), +((N / xs[0]) * 1000).toFixed(4)],
      hps_M: +(median / 1e6).toFixed(3), e2e_ms: +(N / median * 1000 + read[read.length >> 1]).toFixed(3), maxerr, scale,
    }));
  }
  At.dispose();
  bt.dispose();
  Xt.dispose();
}
process.exit(0);
