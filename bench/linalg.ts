/**
 * Batched linear algebra: time per batch of solve, cholesky, slogdet and eigh on float32
 * SPD matrices, for the headline shapes (thousands of small matrices) and a few large ones,
 * and a jitted damped Newton step (vmap(grad), vmap(hessian), solve) as in
 * examples/newton-step.ts. Each row is the median of several samples after a warm-up.
 * Usage: npx tsx bench/linalg.ts   (BENCH_QUICK=1 for a short run)
 */
import { cholesky, eigh, eye, grad, hessian, jit, randn, slogdet, solve, vmap, type Tensor } from '../src/index.js';

const QUICK = process.env.BENCH_QUICK === '1';
const SAMPLES = QUICK ? 3 : 7;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function time(run: () => void): number {
  run(); // warm-up: schedule and compile once
  const samples: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    const start = performance.now();
    run();
    samples.push(performance.now() - start);
  }
  return median(samples);
}

const shapes: [number, number][] = QUICK ? [[1024, 8], [256, 32]] : [[4096, 4], [4096, 8], [4096, 16], [4096, 32], [64, 64]];
console.log('batch  n    op         ms/batch   matrices/s');
for (const [batch, n] of shapes) {
  const b = randn([batch, n, n], { seed: 1 });
  const spd = b.matmul(b.transpose(-1, -2)).add(eye(n).mul(n)).realize();
  const rhs = randn([batch, n], { seed: 2 }).realize();
  const ops: [string, () => Tensor][] = [
    ['solve', () => solve(spd, rhs)],
    ['cholesky', () => cholesky(spd)],
    ['slogdet', () => slogdet(spd)[1]],
    ['eigh', () => eigh(spd)[0]],
  ];
  for (const [name, op] of ops) {
    const ms = time(() => void op().dataSync());
    console.log(`${String(batch).padStart(5)}  ${String(n).padEnd(3)}  ${name.padEnd(9)}  ${ms.toFixed(2).padStart(9)}  ${Math.round((batch / ms) * 1000).toLocaleString('en-US').padStart(11)}`);
  }
}

// The Newton step of examples/newton-step.ts, compiled once.
const D = 8;
const N = QUICK ? 1024 : 4096;
const A = randn([16, D], { seed: 1 }).mul(0.5);
const bias = randn([16], { seed: 2 });
const f = (x: Tensor) => A.matmul(x).add(bias).softplus().sum().add(x.square().sum().mul(0.5));
const damping = eye(D).mul(1e-3);
const newtonStep = jit((X: Tensor) => X.sub(solve((vmap(hessian(f))(X) as Tensor).add(damping), vmap(grad(f))(X) as Tensor)));
const X = randn([N, D], { seed: 3 }).realize();
const stepMs = time(() => void newtonStep(X).dataSync());
console.log(`jit Newton step, ${N} points in ${D} dimensions (gradients, Hessians, solves): ${stepMs.toFixed(2)} ms`);
