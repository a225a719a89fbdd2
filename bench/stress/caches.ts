/**
 * Caches stay within their budget: 200 batch sizes of vmap(hessian), jitted and not, leave
 * at most the scratch budget of kept intermediates, and clearCaches gives it back
 * (issue 9, item 2).
 */
import { cacheInfo, clearCaches, hessian, jit, randn, vmap, type Tensor } from '../../src/index.js';
import { MB, peakRss, report, retainedBytes, round } from './harness.js';

const A = randn([32, 8], { seed: 1 }).realize();
const b = randn([32], { seed: 2 }).realize();
const f = (x: Tensor) => A.matmul(x).add(b).tanh().sum();
const before = retainedBytes();

for (const mode of ['eager', 'jit'] as const) {
  const hessians = mode === 'jit' ? jit(vmap(hessian(f))) : vmap(hessian(f));
  let most = 0;
  for (let k = 0; k < 200; k++) {
    const n = 4096 + 64 * k;
    (hessians(randn([n, 8], { seed: k })) as Tensor).dataSync();
    most = Math.max(most, cacheInfo().scratchBytes);
  }
  const held = retainedBytes() - before;
  const info = cacheInfo();
  report('caches', { mode, 'batch sizes': 200, 'most kept scratch MB': round(most / MB), 'budget MB': round(info.scratchBudget / MB), 'held after MB': round(held / MB), programs: info.programs, 'peak RSS MB': round(peakRss() / MB) }, most <= info.scratchBudget && held < info.scratchBudget + 64 * MB, 'kept intermediates within the budget');
}
clearCaches();
const cleared = retainedBytes() - before;
report('caches', { mode: 'after clearCaches()', 'held after MB': round(cleared / MB), 'kept scratch MB': round(cacheInfo().scratchBytes / MB) }, cacheInfo().scratchBytes === 0 && cleared < 32 * MB, 'clearCaches frees the kept intermediates');
