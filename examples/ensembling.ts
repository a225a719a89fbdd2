/**
 * Model ensembling: ten MLPs of one architecture evaluated at once. combineStateForEnsemble
 * stacks their parameters along a new leading axis, and vmap over that axis runs all ten
 * as one batched program; the result equals a loop over the models.
 * Run: npm run example -- ensembling   (FUNCTS_QUICK=1 for the small test size)
 */
import { combineStateForEnsemble, jit, nn, randn, realize, stack, vmap } from '../src/index.js';
import { assertAllClose } from '../src/testing/index.js';

const QUICK = process.env.FUNCTS_QUICK === '1';
const MODELS = 10;
const BATCH = QUICK ? 16 : 256;
const [FEATURES, HIDDEN, CLASSES] = [8, 64, 4];

const models = Array.from({ length: MODELS }, (_, i) => new nn.MLP([FEATURES, HIDDEN, HIDDEN, CLASSES], { seed: 10 * i }));
const [fmodel, params, buffers] = combineStateForEnsemble(models);
console.log(`${MODELS} models; stacked parameters: ${Object.entries(params).map(([k, v]) => `${k} [${v.shape.join(', ')}]`).join(', ')}`);

const minibatch = randn([BATCH, FEATURES], { seed: 1 }).realize();

// Every model on the same minibatch: the minibatch is not mapped (inDims null).
const ensemble = jit(vmap(fmodel, { inDims: [0, 0, null] }));
let started = performance.now();
const predictions = realize(ensemble(params, buffers, minibatch));
const firstMs = performance.now() - started;
started = performance.now();
realize(ensemble(params, buffers, minibatch));
const vmapMs = performance.now() - started;
console.log(`vmap over the ensemble: [${predictions.shape.join(', ')}] in ${vmapMs.toFixed(2)} ms (${firstMs.toFixed(0)} ms the first call)`);

// The loop: each model by itself (each one's weights differ, so each compiles its own program once).
const loop = () => models.map((m) => realize(m(minibatch)));
loop();
started = performance.now();
const looped = loop();
const loopMs = performance.now() - started;
console.log(`a loop over the ${MODELS} models: ${loopMs.toFixed(2)} ms, so vmap is ${(loopMs / vmapMs).toFixed(1)}x faster`);
assertAllClose(predictions, stack(looped), { rtol: 1e-5, atol: 1e-6 });

// Each model on its own minibatch: map the data too.
const minibatches = randn([MODELS, BATCH, FEATURES], { seed: 2 }).realize();
const separate = vmap(fmodel)(params, buffers, minibatches);
assertAllClose(separate, stack(models.map((m, i) => m(minibatches.select(0, i)))), { rtol: 1e-5, atol: 1e-6 });
console.log('ok: the vmapped ensemble equals the loop over models, on one minibatch and on one minibatch per model');
