/**
 * The main job: a batch of Hessians of f(x) = sum(tanh(A x + b)) with vmap(hessian(f)),
 * checked against central finite differences of the gradient in float64.
 * Run: npm run demo
 */
import { grad, hessian, randn, tensor, vmap, type Tensor } from '../src/index.js';

const D = 4;
const H = 16;
const N = 64;

const A = randn([H, D], { seed: 1 }).mul(0.5);
const b = randn([H], { seed: 2 });
const f = (x: Tensor) => A.matmul(x).add(b).tanh().sum();

const X = randn([N, D], { seed: 3 });
const started = performance.now();
const hessians = vmap(hessian(f))(X);
const values = hessians.dataSync();
const elapsed = performance.now() - started;
console.log(`vmap(hessian(f)) for ${N} inputs of size ${D} (A: [${H}, ${D}]): shape [${hessians.shape.join(', ')}] in ${elapsed.toFixed(1)} ms`);

// Finite differences of the gradient, in float64: H[:, j] ~ (g(x + e_j h) - g(x - e_j h)) / 2h.
const A64 = A.cast('float64');
const b64 = b.cast('float64');
const g64 = grad((x: Tensor) => A64.matmul(x).add(b64).tanh().sum());
const X64 = X.cast('float64').toArray() as number[][];
const step = 1e-5;
let worst = 0;
for (let n = 0; n < N; n++) {
  for (let j = 0; j < D; j++) {
    const plus = X64[n].map((v, k) => (k === j ? v + step : v));
    const minus = X64[n].map((v, k) => (k === j ? v - step : v));
    const gp = g64(tensor(plus, { dtype: 'float64' })).dataSync();
    const gm = g64(tensor(minus, { dtype: 'float64' })).dataSync();
    for (let i = 0; i < D; i++) {
      const numeric = (gp[i] - gm[i]) / (2 * step);
      worst = Math.max(worst, Math.abs(numeric - values[n * D * D + i * D + j]));
    }
  }
}
console.log(`largest difference from finite differences: ${worst.toExponential(2)}`);
console.log('first Hessian:');
console.log(hessians.select(0, 0).toString());
if (!(worst < 1e-4)) {
  console.error('the Hessians disagree with finite differences');
  process.exit(1);
}
console.log('ok: the Hessians agree with finite differences');
