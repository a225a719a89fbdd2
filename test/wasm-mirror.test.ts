// Symmetric outputs computed once per pair by the kernel itself: the scheduler's proof
// (fusion/symmetry.ts) reaches the kernel as its output buffer's `symmetric` fact, and the
// wasm GEMM's jammed tiles then compute the 4x4 blocks I <= J only, storing each off-diagonal
// one at (I, J) transposed and at (J, I) as it is (gemm.ts). Checked against float64
// references and the interpreter at several sizes (multiples of 4 mirrored; others, where the
// GEMM computes every block, agree too), under every register tile and cache block, on 1 and 2
// threads (the same bits), and never marked on products that are not symmetric by construction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { explain, getThreads, hessian, jit, randn, setThreads, tensor, vmap, withBackend, type Tensor } from '../src/index.js';
import { clearCaches, programFor } from '../src/fusion/program.js';
import { mirrorSwitch, symmetryStats } from '../src/fusion/symmetry.js';
import { compileWasm, wasmDevice } from '../src/backends/wasm/index.js';
import { DEFAULT_GEMM_TUNING, type GemmTuning } from '../src/backends/wasm/gemm.js';
import { assertAllClose, numRuns } from '../src/testing/index.js';
import type { TypedArray } from '../src/lazy/dtype.js';
import type { Jitted } from '../src/transforms/jit.js';
import { FACTORS, closedUnderSwap, sumOfProduct } from './symmetric-products.js';

/** Deterministic values in [-1, 1). */
function values(size: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: size }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

interface Problem {
  N: number;
  H: number;
  D: number;
  A: Float32Array;
  b: Float32Array;
  X: Float32Array;
}

function problem(N: number, H: number, D: number, seed: number): Problem {
  return { N, H, D, A: values(H * D, seed), b: values(H, seed + 1), X: values(N * D, seed + 2) };
}

/** jit(vmap(hessian(sum(tanh(A x + b))))) and its explain, on the active backend. */
function hessians(p: Problem): { f: Jitted<[Tensor], Tensor>; A: Tensor; X: Tensor } {
  const A = tensor(p.A, { shape: [p.H, p.D] });
  const b = tensor(p.b, { shape: [p.H] });
  const X = tensor(p.X, { shape: [p.N, p.D] });
  const f = (x: Tensor) => A.matmul(x).add(b).tanh().sum();
  return { f: jit((x: Tensor) => vmap(hessian(f))(x) as Tensor), A, X };
}

/** The Hessians in float64, and the sums of their terms' absolute values (the error scale). */
function reference(p: Problem): { value: Float64Array; scale: Float64Array } {
  const { N, H, D } = p;
  const value = new Float64Array(N * D * D);
  const scale = new Float64Array(N * D * D);
  for (let n = 0; n < N; n++) {
    for (let h = 0; h < H; h++) {
      let z = p.b[h];
      let zSize = Math.abs(p.b[h]);
      for (let d = 0; d < D; d++) {
        z += p.A[h * D + d] * p.X[n * D + d];
        zSize += Math.abs(p.A[h * D + d] * p.X[n * D + d]);
      }
      const t = Math.tanh(z);
      const w = -2 * t * (1 - t * t);
      // w's error from t's (float32 z, tanh within ~1e-6): |dw/dt| <= 4, and 1 - t^2 has no
      // relative bound near |t| = 1.
      const wError = 4 * (2e-6 + 1e-6 * zSize) / 1e-5;
      for (let i = 0; i < D; i++) {
        for (let j = 0; j < D; j++) {
          const term = p.A[h * D + i] * p.A[h * D + j] * w;
          value[(n * D + i) * D + j] += term;
          scale[(n * D + i) * D + j] += Math.abs(term) + Math.abs(p.A[h * D + i] * p.A[h * D + j]) * wError;
        }
      }
    }
  }
  return { value, scale };
}

function assertNear(actual: ArrayLike<number>, { value, scale }: { value: Float64Array; scale: Float64Array }, what: string): void {
  assert.equal(actual.length, value.length, what);
  for (let k = 0; k < value.length; k++) {
    // float32 tanh within ~1e-6 relative, the product's and the sum's roundings: 1e-5 of the terms' size (w's error included).
    const tol = 1e-5 * (scale[k] + 1e-3);
    if (!(Math.abs(actual[k] - value[k]) <= tol)) assert.fail(`${what}: element ${k}: ${actual[k]} vs ${value[k]} (tolerance ${tol})`);
  }
}

function gemmSource(f: Jitted<[Tensor], Tensor>, X: Tensor): { source: string; ir: string } {
  const plan = withBackend('wasm', () => explain(f, X));
  const gemm = plan.kernels.find((k) => k.source.includes('GEMM'));
  assert.ok(gemm, 'the Hessian update runs as a GEMM');
  assert.equal(plan.kernels.filter((k) => k.source.includes('GEMM')).length, 1);
  return { source: gemm.source, ir: gemm.ir };
}

for (const D of [4, 8, 12, 16, 32]) {
  test(`the batched Hessian (D=${D}) computes its symmetric output once per pair, mirrored in registers, and agrees with float64`, () => {
    const p = problem(37, 24, D, 10 * D);
    const { f, X } = hessians(p);
    const { source, ir } = gemmSource(f, X);
    assert.match(ir, new RegExp(`output float32\\[${37 * D * D}\\] symmetric\\(${D} at ${D}, 1\\)`), 'the proof reaches the kernel as a fact');
    assert.match(source, /blocks I <= J computed, mirrored in registers/);
    // P within one block of k and read in place (up to 16 KB): its diagonal blocks packed as three vectors.
    if (D <= 12) assert.match(source, /diagonal blocks as 3 vectors/);
    const got = withBackend('wasm', () => f(X).dataSync());
    assertNear(got, reference(p), `D=${D}`);
  });
}

for (const D of [5, 6, 10]) {
  test(`a symmetric output of extent ${D} (not a multiple of 4) keeps the fact, computes every block, and agrees with float64`, () => {
    const p = problem(41, 20, D, 7 * D);
    const { f, X } = hessians(p);
    const { source, ir } = gemmSource(f, X);
    assert.match(ir, /symmetric\(/);
    assert.doesNotMatch(source, /mirrored/, 'the GEMM falls back to every block');
    assertNear(withBackend('wasm', () => f(X).dataSync()), reference(p), `D=${D}`);
  });
}

test('the fact is off with mirrorSwitch, and the values are the same bits either way', () => {
  const p = problem(64, 16, 8, 3);
  const on = hessians(p);
  const mirrored = withBackend('wasm', () => on.f(on.X).dataSync());
  clearCaches();
  mirrorSwitch.enabled = false;
  try {
    const off = hessians(p);
    const { source, ir } = gemmSource(off.f, off.X);
    assert.doesNotMatch(ir, /symmetric/);
    assert.doesNotMatch(source, /mirrored/);
    // The Hessian's stored product P[h, i, j] is the same bits at (i, j) and (j, i): the mirror
    // of a block is exactly the block the full GEMM computes there.
    assert.deepEqual(Array.from(withBackend('wasm', () => off.f(off.X).dataSync())), Array.from(mirrored));
  } finally {
    mirrorSwitch.enabled = true;
    clearCaches();
  }
  // The js backend plans loops too: the fact is in its IR (and ignored), its values agree.
  assertNear(withBackend('js', () => on.f(on.X).dataSync()), reference(p), 'js');
});

test('mirrored Hessians are the same bits on 1 and 2 threads, and exactly symmetric', () => {
  const before = getThreads();
  try {
    for (const D of [8, 32]) {
      const p = problem(203, 16, D, D + 50);
      const { f, X } = hessians(p);
      const runs = [1, 2].map((n) => {
        setThreads(n);
        return Array.from(withBackend('wasm', () => f(X).dataSync()));
      });
      assert.deepEqual(runs[1], runs[0], `D=${D}`);
      const h = runs[0];
      for (let n = 0; n < p.N; n++) for (let i = 0; i < D; i++) for (let j = 0; j < i; j++) assert.equal(h[(n * D + i) * D + j], h[(n * D + j) * D + i]);
      assertNear(h, reference(p), `D=${D}`);
    }
  } finally {
    setThreads(before);
  }
});

/** Runs a program's kernels compiled with `tuning`, one thread, on host arrays; returns its first root's values. */
function runTuned(root: Tensor, tuning: GemmTuning): { value: TypedArray; mirrored: boolean } {
  const { program, leaves } = programFor([root.node], wasmDevice);
  const slots: TypedArray[] = [...leaves.map((l) => l.realized!.readSync()), ...program.buffers.map((buf) => new Float32Array(buf.size))];
  let mirrored = false;
  for (const step of program.steps) {
    const kernel = compileWasm(step.ir, { gemmTuning: tuning, parallel: false });
    mirrored ||= kernel.source.includes('mirrored');
    kernel.run(...step.slots.map((s) => slots[s]));
  }
  return { value: slots[program.outputs[0]], mirrored };
}

test('every jammed tile and cache block (k blocks through the output, edge rows, packed or not) mirrors correctly', () => {
  const tuningArb = fc.record({
    kc: fc.oneof(fc.integer({ min: 1, max: 7 }), fc.constant(256)),
    nc: fc.constantFrom(4, 8, 12, 64),
    packAbove: fc.constantFrom(0, Infinity),
    mrJam: fc.integer({ min: 1, max: 3 }),
    mcJam: fc.integer({ min: 1, max: 3 }),
    packDiagonal: fc.boolean(),
  });
  fc.assert(
    fc.property(fc.constantFrom(8, 12, 16), fc.integer({ min: 32, max: 45 }), fc.integer({ min: 16, max: 40 }), tuningArb, (D, N, H, t) => {
      const p = problem(N, H, D, N * 31 + H);
      const { A, X } = hessians(p);
      const b = tensor(p.b, { shape: [p.H] });
      const root = withBackend('wasm', () => vmap(hessian((x: Tensor) => A.matmul(x).add(b).tanh().sum()))(X) as Tensor);
      const got = withBackend('wasm', () => runTuned(root, { ...DEFAULT_GEMM_TUNING, ...t, mirror: true }));
      assert.ok(got.mirrored, 'the GEMM mirrors (a batch of 32 or more: the product is hoisted; 16 terms or more: a GEMM, its tiles jammed)');
      assertNear(got.value, reference(p), `D=${D} N=${N} H=${H} ${JSON.stringify(t)}`);
    }),
    { numRuns: numRuns(30) },
  );
});

test('the fact is given only to sums symmetric by construction, and their kernels agree with the interpreter', () => {
  let seed = 500;
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...FACTORS), { minLength: 2, maxLength: 4 }), fc.constantFrom(4, 6, 8, 12), fc.double({ min: -3, max: 3, noNaN: true }), (factors, D, scale) => {
      const [N, H] = [9, 40];
      seed += 10;
      // Fresh lazy leaves every run (a realized program is not planned again).
      const leaves = { A: randn([H, D], { seed }), B: randn([H, D], { seed: seed + 1 }), s: randn([N, H], { seed: seed + 2 }), c: randn([D], { seed: seed + 3 }), M: randn([D, D], { seed: seed + 4 }) };
      const build = () => sumOfProduct(leaves, factors, scale, [N, H, D]);
      const closed = closedUnderSwap(factors);
      const expected = withBackend('interp', () => build().dataSync());
      const before = symmetryStats.marked;
      const got = withBackend('wasm', () => build().dataSync());
      assert.equal(symmetryStats.marked - before, closed ? 1 : 0, `${factors.join('*')}: ${closed ? 'symmetric, not proved' : 'not symmetric, yet marked'}`);
      assertAllClose(Array.from(got), Array.from(expected), { rtol: 1e-5, atol: 1e-5 });
    }),
    { numRuns: numRuns(25) },
  );
});
