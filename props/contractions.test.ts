// Contractions on the fusing backends against float64 references: batched Hessians of
// sum(tanh(A x + b)) (where hoisting the batch-invariant products of A's columns applies),
// batched sums of products with invariant factors, and matmuls of random shapes (the 4x4
// register tiles the wasm backend's lane nests use, with and without `spread` unrolling).
// Where the engine has relaxed SIMD, wasm sums products with f32x4.relaxed_madd (one rounding
// in place of two); where it has not (Node 20), one test reruns this file in a child process
// with --experimental-wasm-relaxed-simd, so both forms are checked. The tolerance covers both:
// float32 terms summed in another order (and fused), bounded by the sum of the terms' absolute
// values, not by the result, since terms cancel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { explain, hessian, jit, tensor, vmap, withBackend, type Tensor } from '../src/index.js';
import { RELAXED_SIMD_SUPPORTED } from '../src/backends/wasm/compile.js';
import { hoistInvariantProducts } from '../src/fusion/hoist.js';
import { isInputLeaf } from '../src/fusion/schedule.js';
import { numRuns } from '../src/testing/index.js';

const runs = (quick: number): fc.Parameters<unknown> => ({ numRuns: numRuns(quick) });
const BACKENDS = ['js', 'wasm'] as const;

/** float32 values in [-2, 2] (rounded to float32 at once, as a Float32Array holds them). */
const valuesArb = (size: number) => fc.array(fc.float({ min: -2, max: 2, noNaN: true, noDefaultInfinity: true }), { minLength: size, maxLength: size }).map((xs) => Float32Array.from(xs));

/**
 * |actual - expected| <= 2^-20 * (bound + 1): each expected value's bound is the sum of the
 * absolute values of its terms (float32 rounding of each term and of the partial sums).
 */
function assertWithinSums(actual: Float32Array, expected: Float64Array, bounds: Float64Array, what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    const tol = 2 ** -20 * (bounds[i] + 1);
    if (!(err <= tol)) assert.fail(`${what}: element ${i}: ${actual[i]} vs ${expected[i]} (error ${err}, tolerance ${tol})`);
  }
}

/** The batched Hessians in float64, and per element the sum of its terms' absolute values. */
function hessiansReference(A: Float32Array, b: Float32Array, X: Float32Array, N: number, D: number, H: number): { values: Float64Array; bounds: Float64Array } {
  const values = new Float64Array(N * D * D);
  const bounds = new Float64Array(N * D * D);
  for (let n = 0; n < N; n++) {
    for (let h = 0; h < H; h++) {
      let z = b[h];
      for (let d = 0; d < D; d++) z += A[h * D + d] * X[n * D + d];
      const t = Math.tanh(z);
      const w = -2 * t * (1 - t * t);
      for (let i = 0; i < D; i++) {
        for (let j = 0; j < D; j++) {
          const term = w * A[h * D + i] * A[h * D + j];
          values[(n * D + i) * D + j] += term;
          // tanh's float32 approximation and the float32 z move w by a few ulp of 1.
          bounds[(n * D + i) * D + j] += Math.abs(A[h * D + i] * A[h * D + j]) * (Math.abs(w) + 8 * (1 + Math.abs(z)));
        }
      }
    }
  }
  return { values, bounds };
}

const hessianCase = fc
  .record({ D: fc.integer({ min: 1, max: 9 }), H: fc.integer({ min: 1, max: 20 }), N: fc.integer({ min: 32, max: 80 }) })
  .chain(({ D, H, N }) => fc.tuple(fc.constant({ D, H, N }), valuesArb(H * D), valuesArb(H), valuesArb(N * D)));

test('batched Hessians of sum(tanh(A x + b)), hoisted products included, agree with the float64 reference on js and wasm', () => {
  fc.assert(
    fc.property(hessianCase, ([{ D, H, N }, A, b, X]) => {
      const { values, bounds } = hessiansReference(A, b, X, N, D, H);
      for (const backend of BACKENDS) {
        const actual = withBackend(backend, () => {
          const [At, bt, Xt] = [tensor(A, { shape: [H, D] }), tensor(b, { shape: [H] }), tensor(X, { shape: [N, D] })];
          const f = (x: Tensor) => At.matmul(x).add(bt).tanh().sum();
          return (jit(vmap(hessian(f)))(Xt) as Tensor).dataSync() as Float32Array;
        });
        assertWithinSums(actual, values, bounds, `${backend}, D=${D} H=${H} N=${N}`);
      }
    }),
    runs(12),
  );
});

test('hoisting: the batch-invariant product of the Hessian (A_i A_j over h) is stored once; a small batch keeps the scheduler\'s choice', () => {
  const hoisted = (N: number) => {
    const A = tensor(Float32Array.from({ length: 24 }, (_, i) => Math.sin(i)), { shape: [6, 4] });
    const X = tensor(Float32Array.from({ length: N * 4 }, (_, i) => Math.cos(i)), { shape: [N, 4] });
    const f = (x: Tensor) => A.matmul(x).tanh().sum();
    const root = (vmap(hessian(f))(X) as Tensor).node;
    return [...hoistInvariantProducts([root], isInputLeaf, new Set()).store];
  };
  const stored = hoisted(64);
  assert.equal(stored.length, 1);
  // Summed axis (h = 6) first, then the Hessian's two axes: [H, ..., D, ..., D] with unit axes.
  assert.deepEqual(stored[0].shape.filter((d) => d > 1), [6, 4, 4]);
  assert.equal(hoisted(8).length, 0, 'a batch of 8 reuses each product 8 times: not worth a buffer');
});

/** out[n, i, j] = c * sum_k x[n, k] u[k, i] v[k, j] w[n, k]: two factors free of n. */
const invariantCase = fc
  .record({ N: fc.integer({ min: 32, max: 64 }), K: fc.integer({ min: 1, max: 12 }), I: fc.integer({ min: 1, max: 8 }), J: fc.integer({ min: 1, max: 20 }), c: fc.constantFrom(1, -2, 0.5, 3) })
  .chain((s) => fc.tuple(fc.constant(s), valuesArb(s.N * s.K), valuesArb(s.K * s.I), valuesArb(s.K * s.J), valuesArb(s.N * s.K)));

test('sums of products with factors free of the batch axis (hoisted) agree with the float64 reference on js and wasm', () => {
  fc.assert(
    fc.property(invariantCase, ([{ N, K, I, J, c }, x, u, v, w]) => {
      const values = new Float64Array(N * I * J);
      const bounds = new Float64Array(N * I * J);
      for (let n = 0; n < N; n++)
        for (let i = 0; i < I; i++)
          for (let j = 0; j < J; j++)
            for (let k = 0; k < K; k++) {
              const term = c * x[n * K + k] * u[k * I + i] * v[k * J + j] * w[n * K + k];
              values[(n * I + i) * J + j] += term;
              bounds[(n * I + i) * J + j] += 4 * Math.abs(term);
            }
      for (const backend of BACKENDS) {
        const actual = withBackend(backend, () => {
          const xt = tensor(x, { shape: [N, K, 1, 1] });
          const wt = tensor(w, { shape: [N, K, 1, 1] });
          const ut = tensor(u, { shape: [1, K, I, 1] });
          const vt = tensor(v, { shape: [1, K, 1, J] });
          const f = jit((a: Tensor, b: Tensor, p: Tensor, q: Tensor) => a.mul(p).mul(q.mul(c)).mul(b).sum({ axis: 1 }));
          return (f(xt, wt, ut, vt) as Tensor).dataSync() as Float32Array;
        });
        assertWithinSums(actual, values, bounds, `${backend}, N=${N} K=${K} I=${I} J=${J} c=${c}`);
      }
    }),
    runs(15),
  );
});

const matmulCase = fc
  .record({ B: fc.integer({ min: 1, max: 3 }), M: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constantFrom(4, 16, 32, 48)), K: fc.integer({ min: 1, max: 40 }), N: fc.oneof(fc.integer({ min: 1, max: 70 }), fc.constantFrom(16, 32, 64)) })
  .chain((s) => fc.tuple(fc.constant(s), valuesArb(s.B * s.M * s.K), valuesArb(s.K * s.N)));

test('matmuls of random shapes (register tiles, spread unrolling, lanes) agree with the float64 reference on js and wasm', () => {
  fc.assert(
    fc.property(matmulCase, ([{ B, M, K, N }, a, w]) => {
      const values = new Float64Array(B * M * N);
      const bounds = new Float64Array(B * M * N);
      for (let r = 0; r < B * M; r++)
        for (let n = 0; n < N; n++)
          for (let k = 0; k < K; k++) {
            const term = a[r * K + k] * w[k * N + n];
            values[r * N + n] += term;
            bounds[r * N + n] += 2 * Math.abs(term);
          }
      for (const backend of BACKENDS) {
        const actual = withBackend(backend, () => (jit((p: Tensor, q: Tensor) => p.matmul(q))(tensor(a, { shape: [B, M, K] }), tensor(w, { shape: [K, N] })) as Tensor).dataSync() as Float32Array);
        assertWithinSums(actual, values, bounds, `${backend}, [${B}, ${M}, ${K}] @ [${K}, ${N}]`);
      }
    }),
    runs(25),
  );
});

test('relaxed SIMD: where the engine has it, contractions use f32x4.relaxed_madd (the properties above then check it); on Node 20 a child with the flag does', () => {
  if (RELAXED_SIMD_SUPPORTED) {
    const a = tensor(Float32Array.from({ length: 64 * 64 }, (_, i) => Math.sin(i)), { shape: [64, 64] });
    const plan = withBackend('wasm', () => explain(jit((x: Tensor) => x.matmul(x)), a));
    assert.match(plan.kernels[0].ir + String(plan), /relaxed_madd/);
    return;
  }
  if (process.env.FUNCTS_RELAXED_CHILD === '1') assert.fail('the child was started with --experimental-wasm-relaxed-simd but the engine refused relaxed_madd');
  const self = fileURLToPath(import.meta.url);
  // A fresh test run (not the parent runner's child protocol); throws with its output if any property fails.
  const env: NodeJS.ProcessEnv = { ...process.env, FUNCTS_RELAXED_CHILD: '1' };
  delete env.NODE_TEST_CONTEXT;
  const out = execFileSync(process.execPath, ['--experimental-wasm-relaxed-simd', '--import', 'tsx', '--test', '--test-reporter=tap', self], { env, stdio: 'pipe', encoding: 'utf8' });
  assert.match(out, /^# pass 5$/m, out);
  assert.match(out, /^# fail 0$/m, out);
});
