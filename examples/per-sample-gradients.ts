/**
 * Per-sample gradients of a small CNN, as in differential-privacy training: with the model
 * made functional, vmap(grad(loss)) maps over the examples and not over the weights, and
 * gives the same gradients as a loop that differentiates one example at a time.
 * Run: npm run example -- per-sample-gradients   (FUNCTS_QUICK=1 for the small test size)
 */
import { crossEntropy, grad, jit, makeFunctional, nn, randn, realize, stack, tensor, vmap, type Tensor } from '../src/index.js';
import { assertAllClose } from '../src/testing/index.js';

const QUICK = process.env.FUNCTS_QUICK === '1';
const BATCH = QUICK ? 8 : 64;
const CLASSES = 4;

// Synthetic 8x8 grey images; each class is a bright bar in one of four places.
const labels = tensor(Array.from({ length: BATCH }, (_, i) => i % CLASSES), { dtype: 'int32' });
const bars = labels.cast('float32').reshape([BATCH, 1, 1, 1]);
const rowIndex = randn([BATCH, 1, 8, 8], { seed: 0 }).mul(0).add(tensor(Array.from({ length: 8 }, (_, r) => Math.floor(r / 2))).reshape([1, 1, 8, 1]));
const images = rowIndex.eq(bars).cast('float32').add(randn([BATCH, 1, 8, 8], { seed: 1 }).mul(0.3)).realize();

const model = new nn.Sequential(
  new nn.Conv2d(1, 4, 3, { padding: 1, seed: 2 }), new nn.ReLU(), new nn.MaxPool2d(2),
  new nn.Flatten(), new nn.Linear(4 * 4 * 4, CLASSES, { seed: 3 }),
);
const [fmodel, params] = makeFunctional(model);
type Params = typeof params;

/** Cross-entropy of one example: the model sees a batch of one. */
function loss(p: Params, image: Tensor, label: Tensor): Tensor {
  return crossEntropy(fmodel(p, image.unsqueeze(0)).squeeze(0), label);
}

let started = performance.now();
const perSample = jit(vmap(grad(loss), { inDims: [null, 0, 0] }));
const batched = realize(perSample(params, images, labels));
const firstMs = performance.now() - started;
started = performance.now();
realize(perSample(params, images, labels));
const vmapMs = performance.now() - started;
console.log(`vmap(grad(loss)) over ${BATCH} images: ${firstMs.toFixed(0)} ms the first call (trace and compile), ${vmapMs.toFixed(1)} ms from the jit cache`);

const perExample = jit(grad(loss));
realize(perExample(params, images.select(0, 0), labels.select(0, 0)));
started = performance.now();
// Each example's gradients are computed as the loop goes (a row of the realized images is a view, so it compiles once).
const looped = Array.from({ length: BATCH }, (_, i) => realize(perExample(params, images.select(0, i), labels.select(0, i))));
const loopMs = performance.now() - started;
console.log(`a loop of grad(loss) over the same images: ${loopMs.toFixed(1)} ms (compiled), so vmap is ${(loopMs / vmapMs).toFixed(1)}x faster`);

for (const name of Object.keys(params)) {
  assertAllClose(batched[name], stack(looped.map((g) => g[name])), { rtol: 1e-4, atol: 1e-5 });
}
console.log(`ok: per-sample gradients of a CNN from vmap(grad) equal the loop (${Object.keys(params).join(', ')})`);
