/**
 * The training loop a PyTorch user writes first, never calling realize(): its work per
 * step stays flat for thousands of steps, within 2x of the same loop with realize(), in
 * flat memory (issue 8, item 1). Samples of the two loops are interleaved.
 *
 * The checks count work rather than time it (kernels launched, programs scheduled and
 * expressions lowered per step, early against late and lazy against realize()): a loop
 * that recomputed its history would launch more kernels per step as it ran, whatever the
 * machine's load, while two clocks read minutes apart on a shared machine differ by 2x for
 * no reason of ours. Step times are reported beside them.
 */
import { grad, randn, realize, type Tensor } from '../../src/index.js';
import { programWork } from '../../src/fusion/program.js';
import { schedulerWork } from '../../src/fusion/schedule.js';
import { MB, median, report, retainedBytes, round, slope } from './harness.js';

const STEPS = Number(process.env.STRESS_LAZY_STEPS ?? 5000);
const inputs = randn([64, 8], { seed: 0 }).realize();
const targets = inputs.sum({ axis: 1 }).sin().realize();
type Params = { w1: Tensor; w2: Tensor; w3: Tensor };
const init = (): Params => ({ w1: randn([8, 32], { seed: 1 }).mul(0.35), w2: randn([32, 32], { seed: 2 }).mul(0.18), w3: randn([32, 1], { seed: 3 }).mul(0.18) });
const loss = (p: Params) => inputs.matmul(p.w1).tanh().matmul(p.w2).tanh().matmul(p.w3).reshape([64]).sub(targets).square().mean();
const step = grad(loss) as (p: Params) => Params;
const update = (p: Params, g: Params): Params => ({ w1: p.w1.sub(g.w1.mul(0.05)), w2: p.w2.sub(g.w2.mul(0.05)), w3: p.w3.sub(g.w3.mul(0.05)) });

type Mode = 'lazy' | 'eager';
const state = { lazy: init(), eager: init() };
const times = { lazy: [] as number[], eager: [] as number[] };
/** Per step and mode: kernels launched, programs scheduled, expressions lowered. */
const work = { lazy: { kernels: [] as number[], schedules: [] as number[], lowered: [] as number[] }, eager: { kernels: [] as number[], schedules: [] as number[], lowered: [] as number[] } };
const held: number[] = [];
const at: number[] = [];
let first = 0;
let last = 0;
for (let i = 0; i < STEPS; i++) {
  for (const mode of ['lazy', 'eager'] as const) {
    const before = { kernels: programWork.kernels, schedules: schedulerWork.schedules, lowered: schedulerWork.loweredExprs };
    const started = performance.now();
    let next = update(state[mode], step(state[mode]));
    if (mode === 'eager') next = realize(next);
    const value = loss(next).item();
    times[mode].push(performance.now() - started);
    work[mode].kernels.push(programWork.kernels - before.kernels);
    work[mode].schedules.push(schedulerWork.schedules - before.schedules);
    work[mode].lowered.push(schedulerWork.loweredExprs - before.lowered);
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
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const early = (xs: readonly number[]) => xs.slice(100, 600);
const late = (xs: readonly number[]) => xs.slice(-500);
const per = (mode: Mode, key: keyof typeof work.lazy, part: (xs: readonly number[]) => readonly number[]) => mean(part(work[mode][key]));
const perThousand = (slope(at, held) * 1000) / MB;
const lazyKernels = { early: per('lazy', 'kernels', early), late: per('lazy', 'kernels', late) };
const eagerKernels = { early: per('eager', 'kernels', early), late: per('eager', 'kernels', late) };
const lazyLowered = { early: per('lazy', 'lowered', early), late: per('lazy', 'lowered', late) };
// Flat: the late steps launch no more kernels and lower no more expressions than the early
// ones (a step that recomputed or rescheduled its history would grow with i), and the lazy
// loop launches at most 2x the kernels of the loop with realize().
const flat = lazyKernels.late <= 1.05 * lazyKernels.early && lazyLowered.late <= 1.05 * lazyLowered.early + 1;
const withinTwo = lazyKernels.late <= 2 * eagerKernels.late && lazyKernels.early <= 2 * eagerKernels.early;
report(
  'lazy-loop',
  {
    steps: STEPS,
    'lazy kernels/step (100-600)': round(lazyKernels.early, 2),
    'lazy kernels/step (last 500)': round(lazyKernels.late, 2),
    'realize kernels/step (100-600)': round(eagerKernels.early, 2),
    'realize kernels/step (last 500)': round(eagerKernels.late, 2),
    'lazy schedules/step (early, late)': `${round(per('lazy', 'schedules', early), 3)}, ${round(per('lazy', 'schedules', late), 3)}`,
    'lazy lowered exprs/step (early, late)': `${round(lazyLowered.early, 1)}, ${round(lazyLowered.late, 1)}`,
    'lazy ms/step (100-600, last 500)': `${round(median(early(times.lazy)), 3)}, ${round(median(late(times.lazy)), 3)}`,
    'realize ms/step (100-600, last 500)': `${round(median(early(times.eager)), 3)}, ${round(median(late(times.eager)), 3)}`,
    'heap slope MB/1000 steps': round(perThousand, 3),
    loss: `${first.toPrecision(3)} -> ${last.toPrecision(3)}`,
  },
  flat && withinTwo && perThousand < 0.5 && last < first,
  'flat work per step (kernels, scheduling) within 2x the kernels of the loop with realize(), flat memory, the loss falls',
);
