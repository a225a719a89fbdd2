/**
 * MAML on sine-wave regression (Finn et al., 2017): each task is a sine wave of its own
 * amplitude and phase; the meta-parameters are trained so that one SGD step on a task's
 * few examples fits that task. The meta-gradient differentiates through the inner step
 * (a gradient of a gradient), vmap batches the tasks, and jit compiles the whole meta-step.
 * Run: npm run example -- maml   (FUNCTS_QUICK=1 for the small test size)
 */
import { grad, jit, makeFunctional, mseLoss, nn, optim, rand, realize, vmap, type Tensor } from '../src/index.js';

const QUICK = process.env.FUNCTS_QUICK === '1';
const META_STEPS = QUICK ? 150 : 1000;
const TASKS = QUICK ? 8 : 16;
const SHOTS = 10;
const INNER_LR = 0.01;

// The paper's network has two hidden layers of 40; the quick mode uses one (it compiles faster).
const model = new nn.MLP(QUICK ? [1, 40, 1] : [1, 40, 40, 1], { seed: 0 });
const [fmodel, initial] = makeFunctional(model);
type Params = typeof initial;

const loss = (p: Params, x: Tensor, y: Tensor) => mseLoss(fmodel(p, x), y);

/** One SGD step on the support set, kept differentiable with respect to `p`. */
function adapt(p: Params, xs: Tensor, ys: Tensor): Params {
  const g = grad(loss)(p, xs, ys);
  return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v.sub(g[k].mul(INNER_LR))]));
}

/** The query loss after adapting on the support set: what MAML minimizes. */
const taskLoss = (p: Params, xs: Tensor, ys: Tensor, xq: Tensor, yq: Tensor) => loss(adapt(p, xs, ys), xq, yq);
const metaLoss = (p: Params, xs: Tensor, ys: Tensor, xq: Tensor, yq: Tensor) => vmap(taskLoss, { inDims: [null, 0, 0, 0, 0] })(p, xs, ys, xq, yq).mean();

/** A batch of tasks: amplitudes in [0.1, 5], phases in [0, π], inputs in [-5, 5]. */
function sampleTasks(seed: number): [Tensor, Tensor, Tensor, Tensor] {
  const amplitude = rand([TASKS, 1, 1], { seed: 4 * seed }).mul(4.9).add(0.1);
  const phase = rand([TASKS, 1, 1], { seed: 4 * seed + 1 }).mul(Math.PI);
  const wave = (x: Tensor) => x.sub(phase).sin().mul(amplitude);
  const xs = rand([TASKS, SHOTS, 1], { seed: 4 * seed + 2 }).mul(10).sub(5);
  const xq = rand([TASKS, SHOTS, 1], { seed: 4 * seed + 3 }).mul(10).sub(5);
  return realize([xs, wave(xs), xq, wave(xq)]);
}

const opt = optim.adam({ lr: 0.01 });
const metaStep = jit((p: Params, state: optim.AdamState, xs: Tensor, ys: Tensor, xq: Tensor, yq: Tensor) => {
  const g = grad(metaLoss)(p, xs, ys, xq, yq);
  const [next, nextState] = opt.step(p, g, state);
  return { next, nextState, loss: metaLoss(p, xs, ys, xq, yq) };
});

// A fixed batch of held-out tasks measures progress without the noise of each step's sample.
const heldOut = sampleTasks(1_000_000);
const evaluate = jit((p: Params, xs: Tensor, ys: Tensor, xq: Tensor, yq: Tensor) => metaLoss(p, xs, ys, xq, yq));
const before = evaluate(initial, ...heldOut).item();

let params = initial;
let state = opt.init(params);
const losses: number[] = [];
const started = performance.now();
for (let step = 0; step < META_STEPS; step++) {
  const out = realize(metaStep(params, state, ...sampleTasks(step)));
  params = out.next;
  state = out.nextState;
  losses.push(out.loss.item());
  if (step === 0) console.log(`the first meta-step (trace, compile, run): ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (step % Math.max(1, Math.floor(META_STEPS / 8)) === 0 || step === META_STEPS - 1) {
    process.stdout.write(`meta-step ${String(step).padStart(4)}: meta-loss ${losses[step].toFixed(3)}\n`);
  }
}
const after = evaluate(params, ...heldOut).item();
console.log(`${META_STEPS} meta-steps of ${TASKS} tasks in ${((performance.now() - started) / 1000).toFixed(1)} s (${metaStep.stats.traces} trace); held-out meta-loss ${before.toFixed(3)} -> ${after.toFixed(3)}`);
if (!(after < 0.7 * before)) {
  console.error(`the held-out meta-loss did not fall enough: ${before} -> ${after}`);
  process.exit(1);
}
console.log('ok: the MAML meta-loss falls when training through the inner SGD step');
