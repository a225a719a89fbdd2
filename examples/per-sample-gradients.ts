/**
 * Per-sample gradients of a small MLP classifier, as in differential-privacy training:
 * vmap(grad(loss)) maps over the examples and not over the weights, and gives the same
 * gradients as a loop that differentiates one example at a time.
 * Run: npx tsx examples/per-sample-gradients.ts
 */
import { crossEntropy, grad, jit, randn, realize, stack, tensor, vmap, type Tensor } from '../src/index.js';
import { assertAllClose } from '../src/testing/index.js';

const FEATURES = 10;
const HIDDEN = 32;
const CLASSES = 4;
const BATCH = 256;

type Weights = { w1: Tensor; b1: Tensor; w2: Tensor; b2: Tensor };
const weights: Weights = {
  w1: randn([FEATURES, HIDDEN], { seed: 1 }).mul(1 / Math.sqrt(FEATURES)).realize(),
  b1: randn([HIDDEN], { seed: 2 }).mul(0.1).realize(),
  w2: randn([HIDDEN, CLASSES], { seed: 3 }).mul(1 / Math.sqrt(HIDDEN)).realize(),
  b2: randn([CLASSES], { seed: 4 }).mul(0.1).realize(),
};

/** Cross-entropy of one example (features [FEATURES], label a 0-d int32). */
function loss(p: Weights, x: Tensor, label: Tensor): Tensor {
  const hidden = x.matmul(p.w1).add(p.b1).gelu();
  const logits = hidden.matmul(p.w2).add(p.b2);
  return crossEntropy(logits, label);
}

// The dataset is computed once (realize): each row the loop below reads is then a view.
const xs = randn([BATCH, FEATURES], { seed: 5 }).realize();
const labels = tensor(Array.from({ length: BATCH }, (_, i) => (i * 7) % CLASSES), { dtype: 'int32' });

let started = performance.now();
const perSample = jit(vmap(grad(loss), { inDims: [null, 0, 0] }));
const batched = perSample(weights, xs, labels) as Weights;
batched.w1.dataSync();
const firstMs = performance.now() - started;
started = performance.now();
const again = perSample(weights, xs, labels) as Weights;
again.w1.dataSync();
const secondMs = performance.now() - started;
console.log(`vmap(grad(loss)) over ${BATCH} examples: w1 gradients of shape [${batched.w1.shape.join(', ')}] in ${firstMs.toFixed(1)} ms (first call), ${secondMs.toFixed(1)} ms (jit cache hit)`);

started = performance.now();
const perExample = grad(loss);
// Each example's gradients are computed as the loop goes (realize, one program for the four
// of them); left lazy, the 256 gradient programs would pile up into one DAG.
const looped = Array.from({ length: BATCH }, (_, i) => realize(perExample(weights, xs.select(0, i), labels.select(0, i)) as Weights));
console.log(`a loop of grad(loss) over the same examples: ${(performance.now() - started).toFixed(1)} ms`);

for (const name of ['w1', 'b1', 'w2', 'b2'] as const) {
  assertAllClose(batched[name], stack(looped.map((g) => g[name])), { rtol: 1e-4, atol: 1e-5 });
}
console.log('ok: per-sample gradients from vmap(grad) equal the loop');
