/**
 * A long loop that updates a tensor and reads it now and then keeps memory flat: a realized
 * node keeps its buffer and drops its inputs, so the history behind it can be collected,
 * and the hash-consing table lets go of what was built before each read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { ArgumentError, cacheInfo, clearCaches, hessian, jit, randn, setBackend, setCacheLimits, tensor, vmap, withBackend, type Tensor } from '../src/index.js';
import { wasmArena } from '../src/backends/wasm/index.js';
import { liveNodeCount } from '../src/lazy/node.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

const step = (x: Tensor): Tensor => x.mul(0.99).add(1);
const STEPS = 10_000;
const READ_EVERY = 100;

test('a synchronous 10,000-step update loop that reads every 100 steps keeps memory flat', () => {
  // No await anywhere: a training loop written synchronously must not retain its history
  // until the job ends either.
  let x = tensor([1, 2, 3, 4]);
  const heap: Record<number, number> = {};
  let largestTable = 0;
  for (let i = 1; i <= STEPS; i++) {
    x = step(x);
    if (i % READ_EVERY === 0) {
      largestTable = Math.max(largestTable, liveNodeCount());
      x.toArray();
    }
    if (i === 1000 || i === STEPS) heap[i] = heapAfterGc();
  }
  const growth = heap[STEPS] - heap[1000];
  // Retaining the 18,000 nodes built in between would take about 10 MB; the collector's
  // own noise is a few hundred KB.
  assert.ok(growth < 2_000_000, `heap grew by ${(growth / 1e6).toFixed(2)} MB from step 1000 to step ${STEPS}`);
  // Between two reads the table holds that region's nodes: two per step and a few constants.
  assert.ok(largestTable <= 2 * READ_EVERY + 10, `the hash-consing table held ${largestTable} nodes`);
  // x converges to the fixed point 100 of x -> 0.99 x + 1.
  const values = x.toArray() as number[];
  assert.ok(values.every((v) => Math.abs(v - 100) < 1e-3), `values ${values}`);
});

/** Whether `collected` reports within a few collections and event-loop turns. */
async function becomesCollected(isCollected: () => boolean): Promise<boolean> {
  for (let attempt = 0; attempt < 20 && !isCollected(); attempt++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return isCollected();
}

test('dropping the inputs of a realized node is what frees the history behind it', async () => {
  const collected = new Set<string>();
  const registry = new FinalizationRegistry<string>((label) => collected.add(label));
  function run(label: string, readEvery: number | null): Tensor {
    let x = tensor([1, 2, 3, 4]);
    for (let i = 1; i <= 300; i++) {
      x = step(x);
      if (i === 150) registry.register(x.node, label);
      if (readEvery !== null && i % readEvery === 0) x.toArray();
    }
    return x;
  }
  // Read every 100 steps: the node of step 150 is realized at step 200 and its history is
  // cut off from the live tensor, so it is collected.
  const read = run('read', 100);
  assert.equal(read.node.inputs.length, 0, 'the last read left a realized node without inputs');
  assert.ok(await becomesCollected(() => collected.has('read')), 'a node behind a realized one is collected');
  // Never read: every node stays reachable from the live tensor through its inputs.
  const unread = run('unread', null);
  assert.equal(await becomesCollected(() => collected.has('unread')), false, 'a node still reachable through inputs stays alive');
  // Reading it realizes the last node and drops its inputs: now the history can go.
  assert.equal((unread.toArray() as number[]).length, 4);
  assert.equal(unread.node.inputs.length, 0);
  assert.ok(await becomesCollected(() => collected.has('unread')), 'after a read, the history is collected');
});

/** Heap plus typed-array memory after collection, in bytes. */
function retainedAfterGc(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

test('a jitted function called 10,000 times in a loop keeps memory flat', () => {
  const x = randn([1 << 12], { seed: 1 }).realize();
  const affine = jit((a: Tensor) => a.mul(2).add(1));
  const total = jit((a: Tensor) => a.sum());
  const batch = new Float32Array(1 << 12);
  const at: number[] = [];
  for (let i = 1; i <= 10_000; i++) {
    affine(x).dataSync();
    batch[0] = i;
    total(tensor(batch)).item();
    if (i === 1000 || i === 10_000) at.push(retainedAfterGc());
  }
  // Each iteration makes 32 KB of outputs and inputs: keeping them would take 290 MB.
  assert.ok(at[1] - at[0] < 4e6, `memory grew by ${((at[1] - at[0]) / 1e6).toFixed(1)} MB from call 1,000 to 10,000`);
  assert.ok(liveNodeCount() < 100, `the hash-consing table holds ${liveNodeCount()} nodes`);
});

test('on the js backend, kept intermediates stay within one byte budget for all programs, and clearCaches frees them', () => {
  // The js backend keeps one arena per program in the scratch pool; wasm keeps every
  // program's buffers in its one memory instead (the next test).
  const previous = cacheInfo().scratchBudget;
  const A = randn([16, 4], { seed: 2 }).realize();
  const energy = (v: Tensor) => A.matmul(v).tanh().sum();
  const restore = setBackend('js');
  try {
    setCacheLimits({ scratchBytes: 2 ** 20 });
    let largest = 0;
    for (let n = 200; n < 260; n++) {
      const hessians = vmap(hessian(energy))(randn([n, 4], { seed: n })) as Tensor;
      assert.deepEqual(hessians.shape, [n, 4, 4]);
      hessians.dataSync();
      largest = Math.max(largest, cacheInfo().scratchBytes);
    }
    assert.ok(largest > 0, 'programs keep their intermediates between runs');
    assert.ok(largest <= 2 ** 20, `kept ${largest} bytes of intermediates under a 1 MiB budget`);
    clearCaches();
    assert.deepEqual({ ...cacheInfo(), scratchBudget: 0 }, { programs: 0, kernels: 0, scratchBytes: 0, scratchBudget: 0 });
  } finally {
    setCacheLimits({ scratchBytes: previous });
    setBackend(restore);
  }
  assert.throws(() => setCacheLimits({ scratchBytes: -1 }), ArgumentError);
});

test('on the wasm backend, programs of 60 sizes lay their buffers out in one memory that holds the largest, not their sum', () => {
  const A = randn([16, 4], { seed: 2 }).realize();
  const energy = (v: Tensor) => A.matmul(v).tanh().sum();
  let largestRun = 0;
  withBackend('wasm', () => {
    for (let n = 200; n < 260; n++) {
      const x = randn([n, 4], { seed: n }).realize();
      (vmap(hessian(energy))(x) as Tensor).dataSync();
      // What one run holds at most: its leaves, an [n, 16, 4] intermediate or two and its [n, 4, 4] result.
      largestRun = Math.max(largestRun, 4 * n * (4 + 3 * 16 * 4 + 16));
    }
  });
  const bytes = wasmArena.memory.buffer.byteLength;
  assert.ok(bytes <= Math.max(4 * largestRun, 2 ** 20), `the wasm memory is ${bytes} bytes; one run needs about ${largestRun}`);
});

test('clearCaches makes jitted functions trace again', () => {
  const double = jit((a: Tensor) => a.mul(2));
  double(tensor([1, 2]));
  double(tensor([3, 4]));
  assert.equal(double.stats.traces, 1);
  clearCaches();
  assert.deepEqual(double(tensor([5, 6])).toArray(), [10, 12]);
  assert.equal(double.stats.traces, 2);
});
