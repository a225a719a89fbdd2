// The scheduler's careful rounds may take at once the rounds after them that the drafts
// already decide (lookaheadSwitch): the plans must be those of taking them one round at a
// time, on random loops (chains of expensive steps, reductions, shared values, movement,
// reads of the input) under grad, jacrev and hessian, and the work must shrink where a
// gradient's chain took a round per link.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { grad, hessian, jacrev, randn, type Tensor } from '../src/index.js';
import { numRuns } from '../src/testing/index.js';
import { lookaheadSwitch, schedule, schedulerWork, type Schedule, type ScheduleOptions } from '../src/fusion/schedule.js';
import type { Node } from '../src/lazy/node.js';

/** A plan as text: every kernel's IR and buffers, and the nodes it writes and reads, numbered in order of first appearance. */
function planText(plan: Schedule): string {
  const ids = new Map<Node, number>();
  const id = (n: Node) => {
    let k = ids.get(n);
    if (k === undefined) ids.set(n, (k = ids.size));
    return `${k}:${n.op}[${n.shape.join(',')}]`;
  };
  const lines = [plan.leaves.map(id).join(' '), plan.roots.map(id).join(' ')];
  for (const k of plan.kernels) lines.push(`${k.ir.text} ${JSON.stringify(k.ir.buffers)} ${k.outputs.map(id).join(' ')} <- ${k.inputs.map(id).join(' ')}`);
  for (const [piece, { root, offset }] of plan.aliases) lines.push(`${id(piece)} in ${id(root)} at ${offset}`);
  return lines.join('\n');
}

function scheduleWith(lookahead: boolean, roots: readonly Node[], options: ScheduleOptions): { text: string; lowered: number } {
  const before = schedulerWork.loweredExprs;
  lookaheadSwitch.enabled = lookahead;
  try {
    const plan = schedule(roots, options);
    return { text: planText(plan), lowered: schedulerWork.loweredExprs - before };
  } finally {
    lookaheadSwitch.enabled = true;
  }
}

/** Steps of a loop body, each x -> a new x of the same shape (`x0`: the loop's input). */
const STEPS: ((x: Tensor, x0: Tensor) => Tensor)[] = [
  (x) => x.mul(0.999).add(0.001).sin(),
  (x) => x.tanh().mul(1.1).add(x.mul(0.1)),
  (x) => x.sub(x.mean()).sin(),
  (x) => x.mul(0.5).exp().mul(0.5).add(x.cos()),
  (x) => x.mul(x.sin()),
  (x, x0) => x.add(x0.mul(0.5)).cos(),
  (x) => x.sigmoid(),
  (x) => x.flip(0).sin(),
  (x) => x.sub(x.max()).tanh(),
  (x) => x.mul(2).add(1),
];

const SHAPES = [[8], [3, 4], [2, 3, 2]];

interface Loop {
  readonly shape: number;
  readonly steps: readonly number[];
  readonly transform: number;
  readonly realized: boolean;
}

const loopArb: fc.Arbitrary<Loop> = fc.record({
  shape: fc.integer({ min: 0, max: SHAPES.length - 1 }),
  // Runs of one step make chains; a few others break them.
  steps: fc.array(fc.tuple(fc.integer({ min: 0, max: STEPS.length - 1 }), fc.integer({ min: 1, max: 30 })), { minLength: 1, maxLength: 4 }).map((runs) => runs.flatMap(([s, n]) => Array<number>(n).fill(s))),
  transform: fc.integer({ min: 0, max: 3 }),
  realized: fc.boolean(),
});

function rootsOf(loop: Loop): Node[] {
  const x = randn(SHAPES[loop.shape], { seed: 3 });
  if (loop.realized) x.dataSync();
  const body = (x0: Tensor) => {
    let y = x0;
    for (const s of loop.steps) y = STEPS[s](y, x0);
    return y;
  };
  const small = loop.steps.length <= 12;
  switch (loop.transform) {
    case 0: return [body(x).node];
    case 1: return [grad((v: Tensor) => body(v).sum())(x).node];
    case 2: return [jacrev(body)(x).node];
    default: return [(small ? hessian((v: Tensor) => body(v).sum())(x) : grad((v: Tensor) => body(v).square().sum())(x)).node];
  }
}

const OPTIONS: ScheduleOptions[] = [{ maxBuffers: 64 }, { maxBuffers: 8 }, { maxBuffers: 64, kernelForm: 'grid' }];

test('plans are the same with careful rounds taken at once as taken one at a time, on random loops under grad, jacrev and hessian', () => {
  fc.assert(
    fc.property(loopArb, fc.integer({ min: 0, max: OPTIONS.length - 1 }), (loop, o) => {
      const roots = rootsOf(loop);
      const ahead = scheduleWith(true, roots, OPTIONS[o]);
      const oneByOne = scheduleWith(false, roots, OPTIONS[o]);
      assert.equal(ahead.text, oneByOne.text, `steps ${loop.steps.join(',')}, transform ${loop.transform}`);
    }),
    { numRuns: numRuns(40) },
  );
});

test('grad through a chain of expensive steps: the careful rounds are taken at once, a third of the expressions lowered', () => {
  for (const n of [60, 100, 300]) {
    const x = randn([8], { seed: 0 });
    const root = grad((v: Tensor) => {
      for (let i = 0; i < n; i++) v = v.mul(0.999).add(0.001).sin();
      return v.sum();
    })(x).node;
    const ahead = scheduleWith(true, [root], { maxBuffers: 64 });
    const oneByOne = scheduleWith(false, [root], { maxBuffers: 64 });
    assert.equal(ahead.text, oneByOne.text);
    // 100 steps: 8,441 expressions one round at a time (the two drafts holding the chain
    // redrafted for each of 8 careful rounds), 2,603 at once.
    assert.ok(ahead.lowered * 2.5 <= oneByOne.lowered, `${n} steps: ${ahead.lowered} expressions lowered, ${oneByOne.lowered} one round at a time`);
  }
});
