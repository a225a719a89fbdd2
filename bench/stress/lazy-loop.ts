/**
 * The training loop a PyTorch user writes first, never calling realize(): its step time
 * stays flat for thousands of steps, within 2x of the same loop with realize(), in flat
 * memory (issue 8, item 1). Samples of the two loops are interleaved.
 */
import { grad, randn, realize, type Tensor } from '../../src/index.js';
import { MB, median, report, retainedBytes, round, slope } from './harness.js';

const STEPS = 5000;
const inputs = randn([64, 8], { seed: 0 }).realize();
const targets = inputs.sum({ axis: 1 }).sin().realize();
type Params = { w1: Tensor; w2: Tensor; w3: Tensor };
const init = (): Params => ({ w1: randn([8, 32], { seed: 1 }).mul(0.35), w2: randn([32, 32], { seed: 2 }).mul(0.18), w3: randn([32, 1], { seed: 3 }).mul(0.18) });
const loss = (p: Params) => inputs.matmul(p.w1).tanh().matmul(p.w2).tanh().matmul(p.w3).reshape([64]).sub(targets).square().mean();
const step = grad(loss) as (p: Params) => Params;
const update = (p: Params, g: Params): Params => ({ w1: p.w1.sub(g.w1.mul(0.05)), w2: p.w2.sub(g.w2.mul(0.05)), w3: p.w3.sub(g.w3.mul(0.05)) });

const state = { lazy: init(), eager: init() };
const times = { lazy: [] as number[], eager: [] as number[] };
const held: number[] = [];
const at: number[] = [];
let first = 0;
let last = 0;
for (let i = 0; i < STEPS; i++) {
  for (const mode of ['lazy', 'eager'] as const) {
    const started = performance.now();
    let next = update(state[mode], step(state[mode]));
    if (mode === 'eager') next = realize(next);
    const value = loss(next).item();
    times[mode].push(performance.now() - started);
    state[mode] = next;
    if (mode === 'lazy') {
      if (i === 0) first = value;
      last = value;
    }
  }
  if ((i + 1) % 500 === 0) {
    at.push(i + 1);
    held.push(retainedBytes());
  }
}
// The machine's speed drifts: flatness is judged against the interleaved loop with realize().
const early = median(times.lazy.slice(100, 600));
const late = median(times.lazy.slice(-500));
const eagerEarly = median(times.eager.slice(100, 600));
const eager = median(times.eager.slice(-500));
const perThousand = (slope(at, held) * 1000) / MB;
report(
  'lazy-loop',
  {
    steps: STEPS,
    'lazy ms/step (100-600)': round(early, 3),
    'lazy ms/step (last 500)': round(late, 3),
    'realize ms/step (100-600)': round(eagerEarly, 3),
    'realize ms/step (last 500)': round(eager, 3),
    'lazy/realize early': round(early / eagerEarly, 2),
    'lazy/realize late': round(late / eager, 2),
    'heap slope MB/1000 steps': round(perThousand, 3),
    loss: `${first.toPrecision(3)} -> ${last.toPrecision(3)}`,
  },
  late / eager < 1.5 * (early / eagerEarly) && late < 2 * eager && perThousand < 0.5 && last < first,
  'flat step time within 2x of the loop with realize(), flat memory, the loss falls',
);
