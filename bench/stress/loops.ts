/**
 * Data and inference loops run forever in flat memory: 10,000 calls of a jitted map over a
 * 4 MB tensor, and of a jitted sum over 10,000 fresh 4 MB batches (issue 9, item 1).
 */
import { jit, randn, tensor, type Tensor } from '../../src/index.js';
import { MB, peakRss, report, retainedBytes, round, slope } from './harness.js';

const ITERATIONS = 10_000;
const SIZE = 1 << 20;

function loop(name: string, body: (i: number) => void): void {
  const at: number[] = [];
  const held: number[] = [];
  for (let i = 1; i <= ITERATIONS; i++) {
    body(i);
    if (i % 1000 === 0) {
      at.push(i);
      held.push(retainedBytes());
    }
  }
  const perThousand = slope(at, held) * 1000;
  // Keeping one iteration's 4 MB per call would be 4 GB per 1,000 calls.
  const ok = perThousand < 1 * MB && held[held.length - 1] - held[0] < 16 * MB;
  report('loops', { loop: name, iterations: ITERATIONS, 'heap slope MB/1000 it': round(perThousand / MB, 3), 'held after MB': round(held[held.length - 1] / MB), 'peak RSS MB': round(peakRss() / MB) }, ok, 'retained memory must not grow with the iteration count');
}

const x = randn([SIZE], { seed: 1 }).realize();
const affine = jit((a: Tensor) => a.mul(2).add(1));
loop('jit(a => a.mul(2).add(1))(x).dataSync()', () => {
  affine(x).dataSync();
});

const total = jit((a: Tensor) => a.sum());
const batch = new Float32Array(SIZE);
loop('jit(a => a.sum())(tensor(batch)).item()', (i) => {
  batch[0] = i;
  total(tensor(batch)).item();
});
