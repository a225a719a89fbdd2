/**
 * Training a classifier: an MLP on a synthetic data set (three interleaved spirals), with
 * minibatches, Adam, and a training step that jit compiles once. It prints a progress line,
 * checks that memory stays flat over the run (a computed node keeps its buffer and lets go
 * of its inputs, so old steps are freed), and reports the accuracy on held-out points.
 * Run: npm run example -- training   (FUNCTS_QUICK=1 for the small test size)
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { crossEntropy, grad, indexSelect, jit, makeFunctional, nn, optim, rand, randn, realize, tensor, type Tensor } from '../src/index.js';

const QUICK = process.env.FUNCTS_QUICK === '1';
const STEPS = QUICK ? 200 : 3000;
const BATCH = 64;
const CLASSES = 3;
const POINTS = 900;

/** Three spirals in the plane, with noise: arms of one class lie between those of the others. */
function spirals(count: number, seed: number): [Tensor, Tensor] {
  const label = Array.from({ length: count }, (_, i) => i % CLASSES);
  const radius = rand([count], { seed }).toArray() as number[];
  const noise = randn([count, 2], { seed: seed + 1 }).mul(0.08).toArray() as number[][];
  const points = radius.map((r, i) => {
    const angle = 1.75 * Math.PI * r + (2 * Math.PI * label[i]) / CLASSES;
    return [r * Math.cos(angle) + noise[i][0], r * Math.sin(angle) + noise[i][1]];
  });
  return [tensor(points).realize(), tensor(label, { dtype: 'int32' }).realize()];
}

const [trainX, trainY] = spirals(POINTS, 0);
const [testX, testY] = spirals(300, 100);

const model = new nn.MLP([2, 64, 64, CLASSES], { seed: 0 });
const [fmodel, initial] = makeFunctional(model);
type Params = typeof initial;

const opt = optim.adam({ lr: 0.01 });
const loss = (p: Params, x: Tensor, y: Tensor) => crossEntropy(fmodel(p, x), y);
const trainStep = jit((p: Params, state: optim.AdamState, x: Tensor, y: Tensor) => {
  const [next, nextState] = opt.step(p, grad(loss)(p, x, y), state);
  return { next, nextState, loss: loss(p, x, y) };
});

// A garbage collection before each memory reading, so that the readings compare live data.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;
const heapMb = () => {
  collect();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

let params = initial;
let state = opt.init(params);
const epochLength = Math.floor(POINTS / BATCH);
let order = tensor(new Int32Array(POINTS));
const memory: number[] = [];
const started = performance.now();
let recent = 0;
for (let step = 0; step < STEPS; step++) {
  const inEpoch = step % epochLength;
  if (inEpoch === 0) {
    // A fresh shuffle per epoch: the ranks of random keys are a random permutation.
    const keys = Array.from(rand([POINTS], { seed: 1000 + step }).dataSync());
    order = tensor(Int32Array.from(keys.map((k, i) => [k, i]).sort((a, b) => a[0] - b[0]).map(([, i]) => i))).realize();
  }
  const rows = order.slice([[inEpoch * BATCH, (inEpoch + 1) * BATCH]]);
  const out = realize(trainStep(params, state, indexSelect(trainX, 0, rows), indexSelect(trainY, 0, rows)));
  params = out.next;
  state = out.nextState;
  recent = step === 0 ? out.loss.item() : 0.9 * recent + 0.1 * out.loss.item();
  if (step % 25 === 0 || step === STEPS - 1) {
    const perSecond = (step + 1) / ((performance.now() - started) / 1000);
    process.stdout.write(`\rstep ${String(step + 1).padStart(5)}/${STEPS}  loss ${recent.toFixed(4)}  ${perSecond.toFixed(0)} steps/s  heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MB `);
  }
  if ((step + 1) % Math.floor(STEPS / 5) === 0) memory.push(heapMb());
}
process.stdout.write('\n');

const predicted = fmodel(params, testX).argmax({ axis: 1 });
const accuracy = predicted.eq(testY).cast('float32').mean().item();
console.log(`${STEPS} steps (${trainStep.stats.traces} trace) in ${((performance.now() - started) / 1000).toFixed(1)} s; held-out accuracy ${(100 * accuracy).toFixed(1)}%; heap after each fifth of the run: ${memory.map((m) => m.toFixed(1)).join(', ')} MB`);

const failures: string[] = [];
if (trainStep.stats.traces !== 1) failures.push(`the step traced ${trainStep.stats.traces} times`);
if (accuracy < (QUICK ? 0.7 : 0.85)) failures.push(`accuracy ${accuracy} is too low`);
// Flat memory: the last reading is within a few MB of the first (growth per step would show
// as megabytes over hundreds of steps).
if (memory[memory.length - 1] - memory[0] > 8) failures.push(`the heap grew from ${memory[0].toFixed(1)} to ${memory[memory.length - 1].toFixed(1)} MB`);
if (failures.length) {
  console.error(`training failed: ${failures.join('; ')}`);
  process.exit(1);
}
console.log('ok: the classifier trained with one compiled step, flat memory and good held-out accuracy');
