// The wasm backend on one and two threads: random programs and transformed random programs
// agree with the interpreter, for every dtype, and their values are the same bits on any
// thread count (a kernel is split only along a loop whose iterations write disjoint outputs,
// so no reduction changes order). The split thresholds are lowered here so that even the
// small kernels of random programs run in chunks on the workers; one run has the main thread
// take no chunk at all, so every value comes from a worker. Where the backend approximates
// an op (float32 tanh, exp, ...), the agreement allows for the op's stated bound through the
// program's sensitivity to it (approximationErrorBound), on top of the tolerance for rounding.
import { test, after } from 'node:test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { explain, grad, hessian, jit, tensor, vmap, withBackend, setThreads, getThreads, zeros, ArgumentError, type Tensor } from '../src/index.js';
import { approximationErrorBound, arbitraryProgram, arbitraryProgramInputs, evaluatePerturbed, numRuns } from '../src/testing/index.js';
import { WASM_FLOAT32_ERROR_BOUNDS } from '../src/backends/wasm/accuracy.js';
import { startedWorkers, workerChunkCount } from '../src/backends/wasm/threads.js';
import { wasmArena } from '../src/backends/wasm/index.js';
import { everyWay, restoreThreads } from './wasm-every-way.js';

after(restoreThreads);

function assertSameBits(a: readonly number[], b: readonly number[], what: () => string): void {
  assert.equal(a.length, b.length, what());
  a.forEach((v, i) => {
    if (!Object.is(v, b[i])) assert.fail(`${what()}\nelement ${i}: ${v} vs ${b[i]}`);
  });
}

const WASM_BOUNDS = { float32: WASM_FLOAT32_ERROR_BOUNDS };

/**
 * The elements that lie further from the reference than float32 (or float64) rounding of the
 * largest value around plus `allowance` (what the backend's approximations may do there);
 * non-finite values must be the reference's exactly.
 */
function disagreements(actual: readonly number[], reference: readonly number[], rtol: number, allowance: Float64Array): string[] {
  const scale = Math.max(1e-30, ...reference.filter(Number.isFinite).map(Math.abs));
  return actual.flatMap((v, i) => {
    const r = reference[i];
    const ok = !Number.isFinite(r) || !Number.isFinite(v) ? Object.is(v, r) : Math.abs(v - r) <= rtol * scale + allowance[i];
    return ok ? [] : [`element ${i}: ${v} vs reference ${r} (off by ${Math.abs(v - r)}; rounding allows ${rtol * scale}, the approximations ${allowance[i]})`];
  });
}

function assertAgrees(actual: readonly number[], reference: readonly number[], rtol: number, allowance: Float64Array, what: () => string): void {
  const wrong = disagreements(actual, reference, rtol, allowance);
  if (wrong.length) assert.fail(`${what()}\n${wrong[0]}`);
}

function checkEveryWay(build: () => Tensor, rtol: number, what: () => string): void {
  const reference = Array.from(withBackend('interp', () => build().dataSync()), Number);
  const allowance = approximationErrorBound(build, WASM_BOUNDS);
  const { one, two, workersOnly } = everyWay(build);
  assertSameBits(two, one, () => `2 threads vs 1 thread: ${what()}`);
  assertSameBits(workersOnly, one, () => `workers alone vs 1 thread: ${what()}`);
  assertAgrees(one, reference, rtol, allowance, what);
}

const RTOL = { float32: 1e-4, float64: 1e-9 } as const;

for (const dtype of ['float32', 'float64'] as const) {
  test(`${dtype} random programs: wasm on 1 and 2 threads agrees with the interpreter, the same bits on both`, () => {
    const before = workerChunkCount();
    fc.assert(
      fc.property(arbitraryProgram({ maxSteps: 8 }).chain((p) => arbitraryProgramInputs(p, { dtype }).map((xs) => [p, xs] as const)), ([p, xs]) => {
        checkEveryWay(() => p.fn(...xs), RTOL[dtype], () => String(p));
      }),
      { numRuns: numRuns(30) },
    );
    assert.ok(workerChunkCount() > before, 'the workers ran chunks');
  });

  test(`${dtype} transformed random programs (vmap, grad, hessian) on 1 and 2 threads: the same bits, and the interpreter's values`, () => {
    fc.assert(
      fc.property(arbitraryProgram({ maxSteps: 5, scalarOutput: true, maxSize: 12 }).chain((p) => arbitraryProgramInputs(p, { dtype }).map((xs) => [p, xs] as const)), ([p, xs]) => {
        const [x, ...rest] = xs;
        const f = (y: Tensor) => p.fn(y, ...rest);
        // The batch is the user's data, computed before the runs. Left lazy, the first run
        // would compute it inside its own program (a value held across the reference's read),
        // where broadcast factoring regroups its product with the Hessian's factors, and the
        // later runs would read it: two programs, which may differ in the last bit
        // (FUNCTS_SEED=-31485218), whatever the thread count.
        const batch = x.expand([3, ...x.shape]).mul(tensor([1, -0.5, 0.25], { dtype }).reshape([3, ...x.shape.map(() => 1)])).realize();
        checkEveryWay(() => grad(f)(x), RTOL[dtype] * 10, () => `grad of\n${p}`);
        checkEveryWay(() => vmap(f)(batch), RTOL[dtype], () => `vmap of\n${p}`);
        checkEveryWay(() => vmap(hessian(f))(batch), RTOL[dtype] * 10, () => `vmap(hessian) of\n${p}`);
      }),
      { numRuns: numRuns(10) },
    );
  });
}

test('seed 1726530916: grad where 1 - tanh^2 amplifies tanh\'s error 8,000 times agrees within what the stated bounds allow; a tanh 10x off its bound, or a wrong plan, does not', () => {
  // The shrunk counterexample of FUNCTS_SEED=1726530916 (the float32 transformed random
  // programs above): at x = 1.9695, tanh(x^2 + 1) = 1 - 1.2e-4, so each ulp of tanh moves
  // 1 - t^2, and the gradient, by 5e-4 of itself: the rational tanh's 5.8 ulps failed 1e-3.
  const x0 = tensor([...Array<number>(11).fill(0), 1.9694938659667969], { shape: [2, 2, 3] });
  const x1 = zeros([2, 2, 3]);
  const f = (x: Tensor) => x.square().add(1).log().exp().tanh().sin().add(x1.mean()).sin().sum();
  const build = () => grad(f)(x0);
  const rtol = RTOL.float32 * 10;
  const reference = Array.from(withBackend('interp', () => build().dataSync()), Number);
  const allowance = approximationErrorBound(build, WASM_BOUNDS);
  checkEveryWay(build, rtol, () => 'the seed\'s gradient');
  // The allowance is this program's: tanh's 2 ulps and the reference's half ulp, times 5e-4
  // (the other ops add little), above the rounding tolerance here and still small.
  assert.ok(allowance[11] > rtol * Math.abs(reference[11]) && allowance[11] < 3e-3 * Math.abs(reference[11]), `allowance ${allowance[11]} of ${reference[11]}`);
  const tanhBound = WASM_FLOAT32_ERROR_BOUNDS.tanh;
  for (const sign of [1, -1]) {
    const atBound = evaluatePerturbed(build, { tanh: (t, [x]) => t + sign * tanhBound(Math.tanh(x), [x]) });
    assert.deepEqual(disagreements(Array.from(atBound), reference, rtol, allowance), [], `a tanh ${sign > 0 ? 'above' : 'below'} by its bound`);
    const tenTimes = evaluatePerturbed(build, { tanh: (t, [x]) => t + sign * 10 * tanhBound(Math.tanh(x), [x]) });
    assert.notDeepEqual(disagreements(Array.from(tenTimes), reference, rtol, allowance), [], `a tanh ${sign > 0 ? 'above' : 'below'} by 10x its bound passed`);
  }
  // Wrong plans: a store one element off, and a fused tanh reading its neighbour's input.
  const wasm = withBackend('wasm', () => Array.from(build().dataSync(), Number));
  assert.notDeepEqual(disagreements([...wasm.slice(1), wasm[0]], reference, rtol, allowance), [], 'a store one element off passed');
  const neighbour = evaluatePerturbed(build, { tanh: (t, [x]) => (x > 2 ? Math.tanh(1) : t) });
  assert.notDeepEqual(disagreements(Array.from(neighbour), reference, rtol, allowance), [], 'a tanh of the wrong element passed');
});

test('a process\'s first call constructs no worker (its start would share the cores with the call); the second run starts the pool, and nothing waits for it', () => {
  // A fresh process: this file's other tests have started a pool already.
  const src = (path: string) => JSON.stringify(new URL(path, import.meta.url).href);
  const script = `
    import { hessian, jit, tensor, vmap } from ${src('../src/index.ts')};
    import { parallelTuning, spawnedWorkers, startedWorkers, workerChunkCount } from ${src('../src/backends/wasm/threads.ts')};
    const A = tensor(Array.from({ length: 256 }, (_, i) => Math.sin(i)), { shape: [32, 8] });
    const X = tensor(Array.from({ length: 4096 * 8 }, (_, i) => Math.cos(i)), { shape: [4096, 8] });
    const h = jit(vmap(hessian((x) => A.matmul(x).tanh().sum())));
    const first = h(X).dataSync();
    const afterFirst = spawnedWorkers();
    const second = h(X).dataSync();
    const afterSecond = spawnedWorkers();
    for (let tries = 0; tries < 400 && startedWorkers() === 0; tries++) await new Promise((resolve) => setTimeout(resolve, 25));
    // The main thread takes no chunk: the worker runs them all (else it may wake too late for any).
    parallelTuning.mainThreadTakesChunks = false;
    const third = h(X).dataSync();
    const same = first.every((v, i) => Object.is(v, second[i]) && Object.is(v, third[i]));
    console.log(JSON.stringify({ afterFirst, afterSecond, started: startedWorkers(), workerChunks: workerChunkCount(), same }));
  `;
  // A file, not `-e`: workers inherit `--input-type=module`, under which their script does not run.
  const dir = mkdtempSync(join(tmpdir(), 'functs-first-call-'));
  let out: string;
  try {
    writeFileSync(join(dir, 'first-call.mjs'), script);
    out = execFileSync(process.execPath, ['--import', 'tsx', join(dir, 'first-call.mjs')], { encoding: 'utf8', env: { ...process.env, FUNCTS_THREADS: '2' } });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const seen = JSON.parse(out.trim().split('\n').at(-1)!) as { afterFirst: number; afterSecond: number; started: number; workerChunks: number; same: boolean };
  assert.equal(seen.afterFirst, 0, 'the first call constructed a worker');
  assert.equal(seen.afterSecond, 1, 'the second call starts the pool of two threads: one worker');
  assert.ok(seen.started > 0, 'the worker started');
  assert.ok(seen.workerChunks > 0, 'and ran chunks of the third call');
  assert.ok(seen.same, 'the same bits on every call');
});

test('int32 and bool programs on 1 and 2 threads: wrap-around arithmetic and comparisons, the same bits as the interpreter', () => {
  const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 9 }), fc.array(int32, { minLength: 720, maxLength: 720 }), (rows, cols, data) => {
      const n = rows * cols;
      const a = tensor(data.slice(0, n), { shape: [rows, cols], dtype: 'int32' });
      const b = tensor(data.slice(n, 2 * n), { shape: [rows, cols], dtype: 'int32' });
      const build = () => a.mul(b).add(a.neg().square()).sub(b.abs()).maximum(a).sum({ axis: 1 });
      const reference = Array.from(withBackend('interp', () => build().dataSync()));
      const ways = everyWay(build);
      for (const values of Object.values(ways)) assertSameBits(values, reference, () => `int32 on [${rows}, ${cols}]`);
      const compare = () => a.lt(b).logicalAnd(a.gt(0)).logicalOr(b.eq(a));
      const boolReference = Array.from(withBackend('interp', () => compare().dataSync()));
      for (const values of Object.values(everyWay(compare))) assertSameBits(values, boolReference, () => `bool on [${rows}, ${cols}]`);
    }),
    { numRuns: numRuns(15) },
  );
});

test('only loops whose iterations write disjoint outputs are split: rows of a reduction yes, a full sum no', () => {
  const x = tensor(Array.from({ length: 64 * 32 }, (_, i) => Math.sin(i)), { shape: [64, 32] });
  const source = (build: () => Tensor) => withBackend('wasm', () => explain(build())).kernels.map((k) => k.source).join('\n');
  assert.match(source(() => x.exp().sum({ axis: 1 })), /threads split loop/);
  assert.match(source(() => x.mul(2).add(1)), /threads split loop/);
  assert.doesNotMatch(source(() => x.exp().sum()), /threads split loop/);
});

test('setThreads takes a whole number of threads or auto, and says how many there were', () => {
  const previous = setThreads(3);
  assert.equal(getThreads(), 3);
  assert.equal(setThreads(previous), 3);
  assert.throws(() => setThreads(0), ArgumentError);
  assert.throws(() => setThreads(1.5), ArgumentError);
  assert.throws(() => setThreads(Number.NaN), /setThreads: NaN threads/);
});

test('memory stays flat over 10,000 jitted calls on the wasm backend with 2 threads', () => {
  setThreads(2);
  // Kernels big enough to be split between the threads at the default thresholds.
  const a = tensor(Array.from({ length: 32 * 8 }, (_, i) => Math.cos(i)), { shape: [32, 8] });
  const x = tensor(Array.from({ length: 256 * 8 }, (_, i) => Math.sin(i)), { shape: [256, 8] });
  const f = jit(vmap(hessian((v: Tensor) => a.matmul(v).tanh().sum())));
  const before = workerChunkCount();
  const call = () => withBackend('wasm', () => f(x).dataSync());
  for (let i = 0; i < 500; i++) call();
  assert.ok(workerChunkCount() > before, 'the kernels were split between the threads');
  global.gc?.();
  const heapAfterWarmup = process.memoryUsage().heapUsed;
  const memoryAfterWarmup = wasmArena.memory.buffer.byteLength;
  for (let i = 0; i < 10_000; i++) call();
  global.gc?.();
  const heapAfter = process.memoryUsage().heapUsed;
  assert.equal(wasmArena.memory.buffer.byteLength, memoryAfterWarmup, 'the WebAssembly.Memory did not grow');
  // Each call allocates a 256 x 8 x 8 float32 result (64 kB): 10,000 calls retained would be 640 MB.
  assert.ok(heapAfter < heapAfterWarmup + 32 * 2 ** 20, `heap ${heapAfterWarmup} -> ${heapAfter} bytes`);
});

test('workers start in a process whose own options would misread their source (node --input-type=module -e)', () => {
  const index = new URL('../src/index.ts', import.meta.url).href;
  const script = `
    const { tensor, jit, setThreads } = await import(${JSON.stringify(index)});
    const { spawnedWorkers } = await import(${JSON.stringify(new URL('../src/backends/wasm/threads.ts', import.meta.url).href)});
    setThreads(2);
    const f = jit((a) => a.mul(2).add(1));
    const x = tensor(Float32Array.from({ length: 1 << 18 }, (_, i) => i % 7));
    const sums = [];
    for (let i = 0; i < 6; i++) { sums.push(f(x).dataSync().reduce((s, v) => s + v, 0)); await new Promise((r) => setTimeout(r, 20)); }
    console.log(JSON.stringify({ sums, spawned: spawnedWorkers() }));`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, FUNCTS_THREADS: '2' } });
  const seen = JSON.parse(out.trim().split('\n').at(-1)!) as { sums: number[]; spawned: number };
  let expected = 0;
  for (let i = 0; i < 1 << 18; i++) expected += (i % 7) * 2 + 1;
  assert.ok(seen.spawned >= 1, 'no worker was started');
  for (const s of seen.sums) assert.equal(s, expected);
});
