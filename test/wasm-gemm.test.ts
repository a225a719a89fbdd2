// The wasm backend's GEMM path (src/backends/wasm/gemm.ts): contractions recognized in the
// kernel IR run on generated register micro-kernels. Checked against float64 references (the
// tolerance is the sum of the terms' absolute values: float32 terms summed in another order),
// over random shapes with edges (sizes not multiples of the tile, K = 1, transposed and batched
// operands, fused epilogues), every register tile and cache block through WasmOptions.gemmTuning
// (k blocks of 1..7 send partial sums through the output; B packed into the scratch or read
// where it is), 1 and 2 threads, and the kernels the
// GEMM must leave alone (float64, int32, a sum that feeds a comparison).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { explain, hessian, jit, setThreads, getThreads, tensor, vmap, withBackend, type Tensor } from '../src/index.js';
import { programFor } from '../src/fusion/program.js';
import { compileWasm, wasmDevice } from '../src/backends/wasm/index.js';
import { emitKernelModule } from '../src/backends/wasm/compile.js';
import { parallelTuning } from '../src/backends/wasm/threads.js';
import { WasmArena } from '../src/backends/wasm/memory.js';
import { DEFAULT_GEMM_TUNING, type GemmTuning } from '../src/backends/wasm/gemm.js';
import { numRuns } from '../src/testing/index.js';
import type { TypedArray } from '../src/lazy/dtype.js';

const runs = (quick: number): fc.Parameters<unknown> => ({ numRuns: numRuns(quick) });

const valuesArb = (size: number) => fc.array(fc.float({ min: -2, max: 2, noNaN: true, noDefaultInfinity: true }), { minLength: size, maxLength: size }).map((xs) => Float32Array.from(xs));

/** |actual - expected| <= lipschitz * 2^-20 * (bound + 1) + slack, elementwise. */
function assertWithin(actual: ArrayLike<number>, expected: Float64Array, bounds: Float64Array, what: string, lipschitz = 1, slack = 0): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    const tol = lipschitz * 2 ** -20 * (bounds[i] + 1) + slack;
    if (!(err <= tol)) assert.fail(`${what}: element ${i}: ${actual[i]} vs ${expected[i]} (error ${err}, tolerance ${tol})`);
  }
}

type Epilogue = 'none' | 'tanh-bias' | 'relu-scale';

interface Case {
  readonly B: number;
  readonly M: number;
  readonly K: number;
  readonly N: number;
  /** a stored [K, M] and transposed; b stored [N, K] and transposed. */
  readonly transA: boolean;
  readonly transB: boolean;
  /** b batched too ([B, K, N]) or shared ([K, N]). */
  readonly batchedB: boolean;
  readonly epilogue: Epilogue;
}

const caseArb: fc.Arbitrary<[Case, Float32Array, Float32Array, Float32Array]> = fc
  .record({
    B: fc.integer({ min: 1, max: 3 }),
    M: fc.oneof(fc.integer({ min: 1, max: 37 }), fc.constantFrom(4, 8, 33)),
    K: fc.oneof(fc.integer({ min: 1, max: 70 }), fc.constantFrom(1, 16, 17, 64)),
    N: fc.oneof(fc.integer({ min: 1, max: 45 }), fc.constantFrom(4, 9, 16, 64)),
    transA: fc.boolean(),
    transB: fc.boolean(),
    batchedB: fc.boolean(),
    epilogue: fc.constantFrom<Epilogue>('none', 'tanh-bias', 'relu-scale'),
  })
  .chain((c) => fc.tuple(fc.constant(c), valuesArb(c.B * c.M * c.K), valuesArb((c.batchedB ? c.B : 1) * c.K * c.N), valuesArb(c.N)));

/** The case's function of (a, b, bias) as stored, and its float64 reference with bounds. */
function build(c: Case): { f: (a: Tensor, b: Tensor, bias: Tensor) => Tensor; shapes: number[][] } {
  const { B, M, K, N } = c;
  const aShape = c.transA ? [B, K, M] : [B, M, K];
  const bShape = c.batchedB ? (c.transB ? [B, N, K] : [B, K, N]) : c.transB ? [N, K] : [K, N];
  const f = (a: Tensor, b: Tensor, bias: Tensor): Tensor => {
    const lhs = c.transA ? a.transpose() : a;
    const rhs = c.transB ? (c.batchedB ? b.transpose() : b.transpose()) : b;
    const y = lhs.matmul(rhs);
    if (c.epilogue === 'tanh-bias') return y.add(bias).tanh();
    if (c.epilogue === 'relu-scale') return y.maximum(0).mul(2);
    return y;
  };
  return { f, shapes: [aShape, bShape, [N]] };
}

function reference(c: Case, a: Float32Array, b: Float32Array, bias: Float32Array): { values: Float64Array; bounds: Float64Array } {
  const { B, M, K, N } = c;
  const values = new Float64Array(B * M * N);
  const bounds = new Float64Array(B * M * N);
  const A = (e: number, m: number, k: number) => a[c.transA ? (e * K + k) * M + m : (e * M + m) * K + k];
  const W = (e: number, k: number, n: number) => {
    const base = c.batchedB ? e * K * N : 0;
    return b[base + (c.transB ? n * K + k : k * N + n)];
  };
  for (let e = 0; e < B; e++)
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) {
        let s = 0;
        let bound = 0;
        for (let k = 0; k < K; k++) {
          const term = A(e, m, k) * W(e, k, n);
          s += term;
          bound += 2 * Math.abs(term);
        }
        const i = (e * M + m) * N + n;
        values[i] = c.epilogue === 'tanh-bias' ? Math.tanh(s + bias[n]) : c.epilogue === 'relu-scale' ? 2 * Math.max(s, 0) : s;
        bounds[i] = bound + (c.epilogue === 'tanh-bias' ? 2 * Math.abs(bias[n]) : 0);
      }
  return { values, bounds };
}

function runCase(c: Case, a: Float32Array, b: Float32Array, bias: Float32Array): { actual: Float32Array; gemm: boolean } {
  const { f, shapes } = build(c);
  const args = [tensor(a, { shape: shapes[0] }), tensor(b, { shape: shapes[1] }), tensor(bias, { shape: shapes[2] })] as const;
  return withBackend('wasm', () => {
    const g = jit(f);
    const actual = (g(...args) as Tensor).dataSync() as Float32Array;
    const gemm = explain(g, ...args).kernels.some((k) => /GEMM/.test(k.source));
    return { actual, gemm };
  });
}

test('contractions on the GEMM path agree with float64 on random shapes (edges, K = 1, transposed and batched operands, fused epilogues)', () => {
  let onGemm = 0;
  fc.assert(
    fc.property(caseArb, ([c, a, b, bias]) => {
      const { values, bounds } = reference(c, a, b, bias);
      const { actual, gemm } = runCase(c, a, b, bias);
      if (gemm) onGemm++;
      // tanh's f32x4 approximation: 1e-6 relative; relu-scale doubles the error.
      assertWithin(actual, values, bounds, JSON.stringify(c), c.epilogue === 'relu-scale' ? 2 : 1, c.epilogue === 'tanh-bias' ? 2e-6 : 0);
    }),
    runs(60),
  );
  assert.ok(onGemm > 0, 'no random case took the GEMM path');
});

test('the GEMM takes plain, transposed, batched and fused contractions (explain says so), and leaves what it must to the loop compiler', () => {
  const shapes: [Case, boolean][] = [
    [{ B: 1, M: 33, K: 20, N: 19, transA: false, transB: false, batchedB: false, epilogue: 'none' }, true],
    [{ B: 2, M: 8, K: 17, N: 12, transA: true, transB: false, batchedB: true, epilogue: 'tanh-bias' }, true],
    // Both transposed: A is contiguous along m, so the roles swap (C stored lane by lane).
    [{ B: 1, M: 16, K: 32, N: 16, transA: true, transB: true, batchedB: false, epilogue: 'relu-scale' }, true],
    // A times B transposed: both operands contiguous along k only (lanes would gather; a
    // packed panel would serve, not done): the loop compiler keeps it.
    [{ B: 1, M: 16, K: 32, N: 16, transA: false, transB: true, batchedB: false, epilogue: 'none' }, false],
    // A short reduction stays on the lane nests (its epilogue is most of the work).
    [{ B: 1, M: 16, K: 8, N: 16, transA: false, transB: false, batchedB: false, epilogue: 'none' }, false],
  ];
  for (const [c, expectGemm] of shapes) {
    const a = Float32Array.from({ length: c.B * c.M * c.K }, (_, i) => Math.sin(i));
    const b = Float32Array.from({ length: (c.batchedB ? c.B : 1) * c.K * c.N }, (_, i) => Math.cos(i));
    const bias = Float32Array.from({ length: c.N }, (_, i) => 0.1 * i);
    const { actual, gemm } = runCase(c, a, b, bias);
    assert.equal(gemm, expectGemm, JSON.stringify(c));
    const { values, bounds } = reference(c, a, b, bias);
    assertWithin(actual, values, bounds, JSON.stringify(c), 2, 2e-6);
  }
});

test('a second trace of the same Hessian, whose product has its factors in the other order, still runs on the GEMM with the same bits', () => {
  // Hash-consing orders a commutative op's operands by which node was made first: the first
  // trace makes S before the hoisted P, a second one finds P already interned. Both plans must
  // see the contraction.
  const D = 8, H = 32, N = 64;
  const A = tensor(Float32Array.from({ length: H * D }, (_, i) => Math.sin(0.7 * i)), { shape: [H, D] }).realize();
  const b = tensor(Float32Array.from({ length: H }, (_, i) => Math.cos(i)), { shape: [H] }).realize();
  const X = tensor(Float32Array.from({ length: N * D }, (_, i) => Math.sin(1.3 * i + 0.2)), { shape: [N, D] }).realize();
  const f = (x: Tensor) => A.matmul(x).add(b).tanh().sum();
  const plans = [0, 1, 2].map(() => String(explain(jit(vmap(hessian(f))), X)));
  for (const plan of plans) assert.match(plan, /GEMM \d+x\d+x\d+/, plan);
  const [first, second] = [jit(vmap(hessian(f)))(X), jit(vmap(hessian(f)))(X)];
  assert.deepEqual(second.dataSync(), first.dataSync());
});

test('float64 and int32 contractions, and sums that feed a comparison, stay on the loop compiler with the reference values', () => {
  const a64 = tensor(Float64Array.from({ length: 12 * 20 }, (_, i) => Math.sin(i)), { shape: [12, 20], dtype: 'float64' });
  const b64 = tensor(Float64Array.from({ length: 20 * 8 }, (_, i) => Math.cos(i)), { shape: [20, 8], dtype: 'float64' });
  const ai = tensor(Int32Array.from({ length: 12 * 20 }, (_, i) => (i % 7) - 3), { shape: [12, 20], dtype: 'int32' });
  const bi = tensor(Int32Array.from({ length: 20 * 8 }, (_, i) => (i % 5) - 2), { shape: [20, 8], dtype: 'int32' });
  const a32 = tensor(Float32Array.from({ length: 12 * 20 }, (_, i) => Math.sin(i)), { shape: [12, 20] });
  const b32 = tensor(Float32Array.from({ length: 20 * 8 }, (_, i) => Math.cos(i)), { shape: [20, 8] });
  const cases: [string, () => Tensor][] = [
    ['float64', () => a64.matmul(b64)],
    ['int32', () => ai.matmul(bi)],
    ['comparison', () => a32.matmul(b32).gt(0.25).cast('float32')],
  ];
  for (const [what, f] of cases) {
    const g = jit(f);
    const plan = withBackend('wasm', () => explain(g));
    assert.ok(!plan.kernels.some((k) => /GEMM/.test(k.source)), `${what}: ${plan}`);
    const expected = withBackend('interp', () => Array.from(f().dataSync()));
    assert.deepEqual(withBackend('wasm', () => Array.from((g() as Tensor).dataSync())), expected, what);
  }
});

/** Runs a program's kernels compiled with `tuning` on host arrays; returns its first root's values. */
function runTuned(root: Tensor, tuning: GemmTuning): TypedArray {
  const node = root.node;
  const { program, leaves } = programFor([node], wasmDevice);
  const slots: TypedArray[] = [...leaves.map((l) => l.realized!.readSync()), ...program.buffers.map((buf) => (buf.dtype === 'float64' ? new Float64Array(buf.size) : buf.dtype === 'int32' ? new Int32Array(buf.size) : new Float32Array(buf.size)))];
  for (const step of program.steps) compileWasm(step.ir, { gemmTuning: tuning, parallel: false }).run(...step.slots.map((s) => slots[s]));
  return slots[program.outputs[0]];
}

const tuningArb: fc.Arbitrary<GemmTuning> = fc.record({
  mr: fc.integer({ min: 1, max: 5 }),
  nv: fc.integer({ min: 1, max: 3 }),
  kc: fc.oneof(fc.integer({ min: 1, max: 7 }), fc.constant(256)),
  nc: fc.constantFrom(4, 8, 12, 64),
  ku: fc.constantFrom(1, 2, 3),
  packAbove: fc.constantFrom(0, Infinity),
  jam: fc.boolean(),
  mrJam: fc.integer({ min: 1, max: 3 }),
  mcJam: fc.integer({ min: 1, max: 3 }),
  mirror: fc.boolean(),
  packDiagonal: fc.boolean(),
});

test('every register tile and cache block (k blocks through the output, edge tiles, jammed or not) computes the same contraction', () => {
  fc.assert(
    fc.property(caseArb, tuningArb, ([c, a, b, bias], tuning) => {
      const { f, shapes } = build(c);
      const args = [tensor(a, { shape: shapes[0] }), tensor(b, { shape: shapes[1] }), tensor(bias, { shape: shapes[2] })] as const;
      const actual = withBackend('wasm', () => runTuned(f(...args), tuning));
      const { values, bounds } = reference(c, a, b, bias);
      assertWithin(actual, values, bounds, `${JSON.stringify(c)} ${JSON.stringify(tuning)}`, c.epilogue === 'relu-scale' ? 2 : 1, c.epilogue === 'tanh-bias' ? 2e-6 : 0);
    }),
    runs(60),
  );
});

test('batched Hessians (jammed tiles of S x P) agree with float64 for every jammed tile shape', () => {
  for (const [D, H, N] of [[8, 32, 36], [12, 20, 9], [32, 16, 5]]) {
    const A = tensor(Float32Array.from({ length: H * D }, (_, i) => 0.3 * Math.sin(i)), { shape: [H, D] });
    const b = tensor(Float32Array.from({ length: H }, (_, i) => 0.1 * Math.cos(i)), { shape: [H] });
    const X = tensor(Float32Array.from({ length: N * D }, (_, i) => Math.sin(0.7 * i)), { shape: [N, D] });
    const f = (x: Tensor) => A.matmul(x).add(b).tanh().sum();
    const expected = withBackend('interp', () => (vmap(hessian(f))(X) as Tensor).dataSync());
    for (const tuning of [DEFAULT_GEMM_TUNING, { ...DEFAULT_GEMM_TUNING, mrJam: 1, mcJam: 3 }, { ...DEFAULT_GEMM_TUNING, mrJam: 3, kc: 5 }, { ...DEFAULT_GEMM_TUNING, jam: false }, { ...DEFAULT_GEMM_TUNING, packAbove: 0 }, { ...DEFAULT_GEMM_TUNING, packAbove: 0, mrJam: 1, kc: 7 }, { ...DEFAULT_GEMM_TUNING, packAbove: 0, jam: false, mr: 3, nv: 1 }]) {
      const actual = withBackend('wasm', () => runTuned(vmap(hessian(f))(X) as Tensor, tuning));
      for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) <= 1e-4 * (1 + Math.abs(expected[i])), `D=${D} H=${H} N=${N} ${JSON.stringify(tuning)}: ${i}: ${actual[i]} vs ${expected[i]}`);
    }
  }
});

test('a split GEMM computes the same bits on 1 and 2 threads', () => {
  const before = getThreads();
  try {
    for (const [M, K, N] of [[300, 64, 96], [257, 33, 70]]) {
      const a = tensor(Float32Array.from({ length: M * K }, (_, i) => Math.sin(i)), { shape: [M, K] });
      const b = tensor(Float32Array.from({ length: K * N }, (_, i) => Math.cos(i)), { shape: [K, N] });
      const g = jit((x: Tensor, y: Tensor) => x.matmul(y).tanh());
      const plan = withBackend('wasm', () => explain(g, a, b));
      assert.match(plan.kernels[0].source, /threads split loop .*GEMM/, `${plan}`);
      const results = [1, 2].map((n) => {
        setThreads(n);
        return withBackend('wasm', () => Array.from((g(a, b) as Tensor).dataSync()));
      });
      assert.deepEqual(results[1], results[0], `${M}x${K}x${N}`);
    }
  } finally {
    setThreads(before);
  }
});

test('packing into the kernels\' scratch never touches a live value: results computed before large GEMMs read the same after them', () => {
  const before = withBackend('wasm', () => {
    const x = tensor(Float32Array.from({ length: 300 * 70 }, (_, i) => Math.sin(i)), { shape: [300, 70] });
    return [jit((v: Tensor) => v.mul(3).add(1))(x) as Tensor, jit((v: Tensor) => v.matmul(v.transpose()).tanh())(x) as Tensor];
  });
  const expected = withBackend('interp', () => {
    const x = tensor(Float32Array.from({ length: 300 * 70 }, (_, i) => Math.sin(i)), { shape: [300, 70] });
    return [x.mul(3).add(1).toArray(), x.matmul(x.transpose()).tanh().toArray()];
  });
  // Matmuls whose B (up to 4 MiB) is packed into the scratch, on 1 and 2 threads.
  const threads = getThreads();
  try {
    for (const [n, t] of [[256, 1], [1024, 2], [700, 1]]) {
      setThreads(t);
      const a = tensor(Float32Array.from({ length: 64 * n }, (_, i) => Math.cos(i)), { shape: [64, n] });
      const b = tensor(Float32Array.from({ length: n * n }, (_, i) => Math.sin(0.5 * i)), { shape: [n, n] });
      const plan = withBackend('wasm', () => explain(jit((p: Tensor, q: Tensor) => p.matmul(q)), a, b));
      assert.match(plan.kernels[0].source, /GEMM/, `${plan}`);
      withBackend('wasm', () => (jit((p: Tensor, q: Tensor) => p.matmul(q))(a, b) as Tensor).dataSync());
    }
  } finally {
    setThreads(threads);
  }
  assert.deepEqual(before[0].toArray(), expected[0]);
  const actual = before[1].dataSync();
  const flat = (expected[1] as number[][]).flat();
  for (let i = 0; i < flat.length; i++) assert.ok(Math.abs(actual[i] - flat[i]) <= 1e-4 * (1 + Math.abs(flat[i])), `${i}: ${actual[i]} vs ${flat[i]}`);
});

test('the arena keeps the scratch kernels asked for past every buffer it lays out, before and after the ask', () => {
  const arena = new WasmArena(false);
  const bases = arena.layout([new Float32Array(70_000), new Float32Array(3)]);
  const end = bases[1] + 12;
  arena.needScratch(300_000);
  assert.ok(arena.memory.buffer.byteLength >= end + 300_000, `${arena.memory.buffer.byteLength} < ${end} + 300000`);
  const later = arena.layout([new Float32Array(200_000)]);
  assert.ok(arena.memory.buffer.byteLength >= later[0] + 800_000 + 300_000, `${arena.memory.buffer.byteLength}`);
  arena.needScratch(1000);
  assert.ok(arena.memory.buffer.byteLength >= 800_000 + 300_000, 'a smaller ask keeps the larger scratch');
});

test('threads split a GEMM\'s rows in whole register tiles; with an epilogue, in whole blocks of four lanes too', () => {
  for (const [M, mr] of [[300, 5], [257, 5], [512, 3], [64, 4], [40, 1]]) {
    const a = tensor(Float32Array.from({ length: M * 48 }, (_, i) => Math.sin(i)), { shape: [M, 48] });
    const b = tensor(Float32Array.from({ length: 48 * 40 }, (_, i) => Math.cos(i)), { shape: [48, 40] });
    for (const epilogue of [false, true]) {
      const { program } = programFor([withBackend('wasm', () => (epilogue ? a.matmul(b).tanh() : a.matmul(b))).node], wasmDevice);
      const module = emitKernelModule(program.steps[0].ir, { gemmTuning: { ...DEFAULT_GEMM_TUNING, mr } });
      assert.ok(module.gemm && module.parallel, `${M}: a split GEMM`);
      assert.equal(module.gemm.epilogue, epilogue);
      const { grain, extent } = module.parallel;
      assert.equal(extent, M);
      assert.equal(grain % mr, 0, `${M} rows, tile of ${mr}: grain ${grain}`);
      // The epilogue's loops may run four rows in f32x4 lanes: a chunk must not cut them.
      if (epilogue && M % 4 === 0) assert.equal(grain % 4, 0, `${M} rows, epilogue: grain ${grain}`);
      // Without one, a chunk is one tile of rows at least, and no more (a smaller last chunk, less waiting for it).
      if (!epilogue && mr > 1) assert.equal(grain, mr, `${M} rows, no epilogue: grain ${grain}`);
    }
  }
});

test('split over threads, B packed once before the chunks (its packing split too): agrees with float64 and is the same bits on 1 thread, 2, and workers alone', () => {
  const defaults = { ...parallelTuning };
  const threads = getThreads();
  /** The program's kernels compiled with `tuning` and the thread split on, each run twice (a kernel's first run is whole). */
  const runSplit = (root: Tensor, tuning: GemmTuning): number[] => {
    const { program, leaves } = programFor([root.node], wasmDevice);
    const slots: TypedArray[] = [...leaves.map((l) => l.realized!.readSync()), ...program.buffers.map((buf) => (buf.dtype === 'float64' ? new Float64Array(buf.size) : buf.dtype === 'int32' ? new Int32Array(buf.size) : new Float32Array(buf.size)))];
    for (const step of program.steps) {
      const k = compileWasm(step.ir, { gemmTuning: tuning });
      for (let i = 0; i < 2; i++) k.run(...step.slots.map((s) => slots[s]));
    }
    return Array.from(slots[program.outputs[0]], Number);
  };
  try {
    Object.assign(parallelTuning, { minOperations: 0, minChunkOperations: 0, chunksPerThread: 16 });
    fc.assert(
      fc.property(caseArb, fc.constantFrom(0, Infinity), fc.integer({ min: 1, max: 5 }), ([c, a, b, bias], packAbove, mr) => {
        const { f, shapes } = build(c);
        const args = [tensor(a, { shape: shapes[0] }), tensor(b, { shape: shapes[1] }), tensor(bias, { shape: shapes[2] })] as const;
        const tuning = { ...DEFAULT_GEMM_TUNING, packAbove, mr };
        const way = (n: number, mainWorks: boolean) => {
          setThreads(n);
          parallelTuning.mainThreadTakesChunks = mainWorks;
          try {
            return withBackend('wasm', () => runSplit(f(...args), tuning));
          } finally {
            parallelTuning.mainThreadTakesChunks = true;
          }
        };
        const [workersOnly, two, one] = [way(2, false), way(2, true), way(1, true)];
        const { values, bounds } = reference(c, a, b, bias);
        assertWithin(one, values, bounds, `${JSON.stringify(c)} ${JSON.stringify(tuning)}`, c.epilogue === 'relu-scale' ? 2 : 1, c.epilogue === 'tanh-bias' ? 2e-6 : 0);
        assert.deepEqual(two, one, `${JSON.stringify(c)} ${JSON.stringify(tuning)}: 2 threads`);
        assert.deepEqual(workersOnly, one, `${JSON.stringify(c)} ${JSON.stringify(tuning)}: workers alone`);
      }),
      runs(20),
    );
  } finally {
    Object.assign(parallelTuning, defaults);
    setThreads(threads);
  }
});
