// approximationErrorBound and evaluatePerturbed (src/testing/approximations.ts): the
// allowance for a backend's approximated ops, carried through a program, against
// derivatives worked out by hand in float64; and, over random programs, a backend whose tanh
// and exp sit anywhere within their stated bounds agrees within it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cholesky, eye, grad, tensor, where, withBackend, ArgumentError, type Tensor } from '../src/index.js';
import { approximationErrorBound, arbitraryProgram, arbitraryProgramInputs, assertAllClose, evaluatePerturbed, numRuns, ulp, type ErrorBounds } from '../src/testing/index.js';
import { WASM_FLOAT32_ERROR_BOUNDS } from '../src/backends/wasm/accuracy.js';

const TANH_ULPS = 3;
const BOUNDS: ErrorBounds = { float32: { tanh: (t) => TANH_ULPS * ulp(t) } };
const xs = [0.3, -2, 5.2, 7.5, 0.001];
const x = tensor(xs);
const t32 = xs.map((v) => Math.fround(Math.tanh(Math.fround(v))));
/** tanh's stated bound plus the reference's own half ulp (and Math's last bit). */
const local = (t: number) => TANH_ULPS * ulp(t) + 0.5 * ulp(t) + 2 ** -52 * Math.abs(t);

test('ulp: the spacing of float32 and float64 values', () => {
  assert.equal(ulp(1), 2 ** -23);
  assert.equal(ulp(0.75), 2 ** -24);
  assert.equal(ulp(-3), 2 ** -22);
  assert.equal(ulp(Math.fround(1 - 2 ** -24)), 2 ** -24);
  assert.equal(ulp(1e-40), 2 ** -149);
  assert.equal(ulp(1, 'float64'), 2 ** -52);
  assert.equal(ulp(Infinity), Infinity);
});

test('an elementwise chain: 1 - tanh(x)^2 moves by 2|t| times tanh\'s error', () => {
  const bound = approximationErrorBound(() => x.tanh().square().neg().add(1), BOUNDS);
  // (Moving 1 - t^2 by 1e-12 in float64 is resolved to 1e-4 of the move: hence 1e-3.) Each
  // rounding after tanh (t^2, then 1 - t^2; the negation is exact) may land on the
  // neighbouring float32 once t has moved: an ulp of each.
  assertAllClose(Array.from(bound), t32.map((t) => 2 * Math.abs(t) * local(t) + ulp(t * t) + ulp(1 - t * t)), { rtol: 1e-3, atol: 0 });
  // Near 1 that is thousands of times the result's own ulp: what a fixed tolerance misses.
  assert.ok(bound[3] > 1000 * ulp(1 - t32[3] ** 2));
});

test('sums, matrix products and maxima carry the errors as they carry values', () => {
  const a = tensor([[1, -2, 0.5, 3, -1], [0, 1, -1, 0.25, 2]]);
  const summed = approximationErrorBound(() => x.tanh().sum(), BOUNDS);
  // The sum's own rounding may land on the neighbouring float32: one ulp of it.
  const sum = t32.reduce((s, t) => s + t, 0);
  assertAllClose(Array.from(summed), [t32.reduce((s, t) => s + local(t), 0) + ulp(sum)], { rtol: 1e-6, atol: 0 });
  // A x: |A| times the errors (signs do not cancel).
  const product = approximationErrorBound(() => a.matmul(x.tanh()), BOUNDS);
  const absA = [[1, 2, 0.5, 3, 1], [0, 1, 1, 0.25, 2]];
  // Each product A[i][j] t[j] rounds, then their sum does: an ulp of each, where t[j] moved.
  const rowSums = absA.map((_, i) => [[1, -2, 0.5, 3, -1], [0, 1, -1, 0.25, 2]][i].reduce((s, w, j) => s + w * t32[j], 0));
  const flips = [[1, -2, 0.5, 3, -1], [0, 1, -1, 0.25, 2]].map((row, i) => row.reduce((s, w, j) => s + (w !== 0 && local(t32[j]) > 0 ? ulp(w * t32[j]) : 0), 0) + ulp(rowSums[i]));
  assertAllClose(Array.from(product), absA.map((row, i) => row.reduce((s, w, j) => s + w * local(t32[j]), 0) + flips[i]), { rtol: 1e-6, atol: 0 });
  const largest = approximationErrorBound(() => x.tanh().max(), BOUNDS);
  assertAllClose(Array.from(largest), [Math.max(...t32.map(local))], { rtol: 1e-9, atol: 0 });
  // Movement: the errors move with their values.
  const moved = approximationErrorBound(() => x.tanh().flip([0]).reshape([5, 1]).pad([[1, 0], [0, 0]]), BOUNDS);
  assertAllClose(Array.from(moved), [0, ...t32.map(local).reverse()], { rtol: 1e-9, atol: 0 });
});

test('a comparison within the error of flipping allows the whole jump; one far from it allows none', () => {
  const edge = Math.fround(Math.tanh(Math.fround(0.3)));
  const near = approximationErrorBound(() => where(x.tanh().gt(edge - 1e-8), 5, 0), BOUNDS);
  assert.deepEqual(Array.from(near), [5, 0, 0, 0, 0]);
});

test('no approximated op, or ops computed before build() returns, allow nothing; an opaque op of an approximated value is refused', () => {
  assert.deepEqual(Array.from(approximationErrorBound(() => x.square().add(1), BOUNDS)), [0, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(approximationErrorBound(() => x.tanh(), { float64: BOUNDS.float32 })), [0, 0, 0, 0, 0]);
  const computed = x.tanh();
  computed.dataSync();
  assert.deepEqual(Array.from(approximationErrorBound(() => computed, BOUNDS)), [0, 0, 0, 0, 0]);
  const m = eye(2).add(tensor([[0.1, 0.2], [0.2, 0.3]]).tanh().mul(0.1));
  assert.throws(() => approximationErrorBound(() => cholesky(m), BOUNDS), ArgumentError);
  assert.throws(() => approximationErrorBound(() => cholesky(m), BOUNDS), /approximationErrorBound: cholesky .* compute its operand before build\(\) returns/);
});

test('evaluatePerturbed: the reference\'s values, with an op\'s results moved first', () => {
  const build = () => x.tanh().mul(2).add(x);
  assert.deepEqual(Array.from(evaluatePerturbed(build, {})), Array.from(withBackend('interp', () => build().dataSync())));
  const moved = evaluatePerturbed(build, { tanh: (t) => t + 20 * ulp(t) });
  assertAllClose(Array.from(moved), t32.map((t, i) => Math.fround(Math.fround(2 * Math.fround(t + 20 * ulp(t))) + Math.fround(xs[i]))), { rtol: 0, atol: 0 });
});

/** A sign that varies from element to element and op to op: a backend's errors are not all one way. */
const wobble = (v: number, inputs: readonly number[]) => (Math.floor(Math.abs(v * 7919 + inputs[0] * 104729) * 1e6) % 2 === 0 ? 1 : -1);

test('over random programs and their gradients, a backend whose tanh and exp are off by their whole stated bounds agrees within the allowance', () => {
  const { tanh, exp } = WASM_FLOAT32_ERROR_BOUNDS;
  const atBounds = {
    // Moved from the exact value (the reference's is half an ulp off it already).
    tanh: (_t: number, [v]: readonly number[]) => Math.tanh(v) + wobble(v, [v]) * tanh(Math.tanh(v), [v]),
    exp: (_e: number, [v]: readonly number[]) => Math.exp(v) + wobble(v, [v]) * exp(Math.exp(v), [v]),
  };
  const check = (build: () => Tensor, rtol: number, what: () => string) => {
    const reference = Array.from(withBackend('interp', () => build().dataSync()), Number);
    const allowance = approximationErrorBound(build, { float32: WASM_FLOAT32_ERROR_BOUNDS });
    const perturbed = evaluatePerturbed(build, atBounds);
    const scale = Math.max(1e-30, ...reference.filter(Number.isFinite).map(Math.abs));
    perturbed.forEach((v, i) => {
      const r = reference[i];
      if (!Number.isFinite(r)) assert.ok(Object.is(v, r), `${what()}\nelement ${i}: ${v} vs ${r}`);
      // rtol covers only second-order terms here: the two evaluations round alike elsewhere.
      else assert.ok(Math.abs(v - r) <= rtol * scale + allowance[i], `${what()}\nelement ${i}: ${v} vs ${r}, allowance ${allowance[i]}`);
    });
  };
  fc.assert(
    fc.property(arbitraryProgram({ maxSteps: 6, scalarOutput: true, maxSize: 12 }).chain((p) => arbitraryProgramInputs(p, { dtype: 'float32' }).map((inputs) => [p, inputs] as const)), ([p, inputs]) => {
      const [first, ...rest] = inputs;
      check(() => p.fn(...inputs), 1e-6, () => String(p));
      check(() => grad((y: Tensor) => p.fn(y, ...rest))(first), 1e-6, () => `grad of\n${p}`);
    }),
    { numRuns: numRuns(40) },
  );
});
