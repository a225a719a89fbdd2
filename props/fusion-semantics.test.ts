// The fused backend computes what the reference interpreter computes, bit for bit, where
// the semantics are exact: float32 programs (every op rounded, so overflow, underflow, NaN
// and signed zeros included) and int32 wrap-around arithmetic. The one freedom a kernel
// keeps is the order of a reduction's float64 additions, hence a stated tolerance for
// programs with reductions (agreement to float32 rounding), and none without. The wasm
// backend's float32 transcendentals are approximations (1e-6), so its bit-for-bit property
// leaves them out; the js backend calls the exact Math functions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { tensor, withBackend, type Tensor } from '../src/index.js';
import { withoutFactoring } from '../src/fusion/program.js';
import { arbitraryProgram, arbitraryProgramInputs, numRuns, programOpNames, type Program } from '../src/testing/index.js';

const runs = (quick: number): fc.Parameters<unknown> => ({ numRuns: numRuns(quick) });

/** Both backends' values of a fresh build of `build`. */
function bothBackends(build: () => Tensor): { fused: number[]; reference: number[] } {
  const reference = withBackend('interp', () => Array.from(build().dataSync()));
  return { fused: Array.from(build().dataSync()), reference };
}

/** Equal as IEEE bit patterns (NaN equals NaN, -0 differs from 0). */
function assertBitwise(fused: readonly number[], reference: readonly number[], what: () => string): void {
  assert.equal(fused.length, reference.length);
  fused.forEach((v, i) => {
    if (!Object.is(v, reference[i])) assert.fail(`${what()}\nelement ${i}: fused ${show(v)}, reference ${show(reference[i])}`);
  });
}

// Ops whose kernels contain no reduction: elementwise math, broadcasting, movement.
const REDUCING = new Set(['sum', 'mean', 'max', 'min', 'prod', 'matmul', 'gram', 'softmax', 'logSoftmax', 'logsumexp', 'var', 'scatterAdd']);
const ELEMENTWISE_OPS = programOpNames().filter((op) => !REDUCING.has(op));

/** Inputs scaled towards float32's range: 1e18 squares to 1e36, 1e30 overflows when squared. */
const SCALES = [1, 1e-20, 1e18, 1e30, 3e37, 1e38];

function scaledInputs(p: Program): fc.Arbitrary<Tensor[]> {
  return fc.tuple(arbitraryProgramInputs(p, { dtype: 'float64' }), fc.constantFrom(...SCALES)).map(([xs, scale]) => xs.map((x) => tensor(Array.from(x.dataSync()).map((v) => v * scale), { shape: x.shape, dtype: 'float32' })));
}

/**
 * Every finite value of `p` on `xs` within 1e-4 of the largest value around (a reduction's
 * additions in another order, or a reassociated product, move a float32 result by an ulp, and
 * a later subtraction can make that the size of the largest value); non-finite values exact.
 * `floor` is the least scale (values below it count as that small).
 */
function assertWithinRounding(p: Program, xs: readonly Tensor[], floor: number): void {
  const { fused, reference } = bothBackends(() => p.fn(...xs));
  const scale = Math.max(floor, ...reference.filter(Number.isFinite).map(Math.abs));
  fused.forEach((v, i) => {
    const r = reference[i];
    const what = () => `${p}\non ${describeInputs(xs)}\nelement ${i}: fused ${show(v)}, reference ${show(r)}`;
    if (!Number.isFinite(r) || !Number.isFinite(v)) assert.ok(Object.is(v, r), what());
    else assert.ok(Math.abs(v - r) <= 1e-4 * scale, what());
  });
}

const show = (v: number): string => (Object.is(v, -0) ? '-0' : String(v));
const describeInputs = (xs: readonly Tensor[]) => `[${xs.map((x) => `[${Array.from(x.dataSync(), show).join(', ')}]`).join(', ')}]`;

/** Program ops that compute a transcendental (the wasm backend approximates float32 ones within 1e-6). */
const TRANSCENDENTAL = new Set(['sin', 'cos', 'tanh', 'sigmoid', 'exp', 'expm1', 'logSq1', 'log1pSq', 'softplus', 'gelu', 'tanTanh', 'powSigmoid']);

function bitwiseProperty(ops: readonly string[]): void {
  // The kernels' arithmetic is the interpreter's; the scheduler's broadcast factoring, which
  // reassociates products, is off here and has its own property below.
  withoutFactoring(() =>
    fc.assert(
      fc.property(arbitraryProgram({ ops: [...ops], maxSteps: 8 }).chain((p) => scaledInputs(p).map((xs) => [p, xs] as const)), ([p, xs]) => {
        const { fused, reference } = bothBackends(() => p.fn(...xs));
        assertBitwise(fused, reference, () => `${p}\non ${describeInputs(xs)}`);
      }),
      runs(80),
    ),
  );
}

test('on the js backend (exact Math transcendentals), float32 programs without reductions agree bit for bit, near overflow and underflow too', () => {
  withBackend('js', () => bitwiseProperty(ELEMENTWISE_OPS));
});

test('on the wasm backend, float32 programs without reductions or transcendentals agree bit for bit, near overflow and underflow too', () => {
  withBackend('wasm', () => bitwiseProperty(ELEMENTWISE_OPS.filter((op) => !TRANSCENDENTAL.has(op))));
});

test('with broadcast factoring (products reassociated), float32 programs with and without reductions agree to float32 rounding on inputs of ordinary size (found by the full run: (x0 * x1)^2 became x0^2 * x1^2)', () => {
  fc.assert(
    fc.property(arbitraryProgram({ maxSteps: 8 }).chain((p) => arbitraryProgramInputs(p).map((xs) => [p, xs] as const)), ([p, xs]) => {
      assertWithinRounding(p, xs, 2 ** -126);
    }),
    runs(80),
  );
});

test('float32 programs with reductions agree to float32 rounding, and on every non-finite value', () => {
  // Near overflow, factoring's reassociated products can overflow where the written order
  // does not (0.5 * x * 2 as (x * 2) * 0.5): factoring is off here, as for the property above.
  withoutFactoring(() =>
    fc.assert(
      fc.property(arbitraryProgram({ maxSteps: 8 }).chain((p) => scaledInputs(p).map((xs) => [p, xs] as const)), ([p, xs]) => {
        assertWithinRounding(p, xs, Number.MIN_VALUE);
      }),
      runs(80),
    ),
  );
});

/** a * b wrapped to int32, from 16-bit halves (independent of Math.imul). */
const wrapMul = (a: number, b: number) => (((a & 0xffff) * b + ((((a >>> 16) * b) & 0xffff) << 16)) | 0);
const INT32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const INT32_OPS = ['add', 'sub', 'mul', 'neg', 'abs', 'maximum', 'square'] as const;
type Int32Op = (typeof INT32_OPS)[number];

/** One step of an int32 program: the op, and which earlier values it reads. */
const int32Step = fc.record({ op: fc.constantFrom(...INT32_OPS), a: fc.nat(), b: fc.nat() });

function applyInt32(op: Int32Op, x: Tensor, y: Tensor): Tensor {
  switch (op) {
    case 'add': return x.add(y);
    case 'sub': return x.sub(y);
    case 'mul': return x.mul(y);
    case 'neg': return x.neg();
    case 'abs': return x.abs();
    case 'maximum': return x.maximum(y);
    case 'square': return x.square();
    default: return op satisfies never;
  }
}

function referenceInt32(op: Int32Op, x: number, y: number): number {
  switch (op) {
    case 'add': return (x + y) | 0;
    case 'sub': return (x - y) | 0;
    case 'mul': return wrapMul(x, y);
    case 'neg': return -x | 0;
    case 'abs': return Math.abs(x) | 0;
    case 'maximum': return Math.max(x, y);
    case 'square': return wrapMul(x, x);
    default: return op satisfies never;
  }
}

test('int32 programs wrap around exactly as 32-bit arithmetic does, on both backends', () => {
  fc.assert(
    fc.property(fc.array(fc.array(INT32, { minLength: 6, maxLength: 6 }), { minLength: 1, maxLength: 3 }), fc.array(int32Step, { minLength: 1, maxLength: 8 }), (inputs, steps) => {
      const build = () => {
        const values = inputs.map((data) => tensor(data, { dtype: 'int32', shape: [2, 3] }));
        for (const s of steps) values.push(applyInt32(s.op, values[s.a % values.length], values[s.b % values.length]));
        const out = values[values.length - 1];
        return [out, out.sum({ axis: 1 }), out.sum(), out.matmul(values[0].T)];
      };
      // An independent reference: each element computed alone with 32-bit integer rules.
      const columns = inputs.map((data) => [...data]);
      for (const s of steps) {
        const a = columns[s.a % columns.length];
        const b = columns[s.b % columns.length];
        columns.push(a.map((x, i) => referenceInt32(s.op, x, b[i])));
      }
      const out = columns[columns.length - 1];
      const expectedRows = [0, 1].map((r) => out.slice(3 * r, 3 * r + 3).reduce((s, v) => (s + v) | 0, 0));
      const expectedTotal = out.reduce((s, v) => (s + v) | 0, 0);
      const what = () => `steps ${JSON.stringify(steps)} on ${JSON.stringify(inputs)}`;
      for (const backend of ['interp', 'js'] as const) {
        withBackend(backend, () => {
          const [value, rows, total, product] = build();
          assert.deepEqual(Array.from(value.dataSync()), out, `${backend} values: ${what()}`);
          assert.deepEqual(Array.from(rows.dataSync()), expectedRows, `${backend} row sums: ${what()}`);
          assert.equal(total.item(), expectedTotal, `${backend} sum: ${what()}`);
          const x0 = inputs[0];
          const expectedProduct = [0, 1].flatMap((r) => [0, 1].map((c) => [0, 1, 2].reduce((s, k) => (s + wrapMul(out[3 * r + k], x0[3 * c + k])) | 0, 0)));
          assert.deepEqual(Array.from(product.dataSync()), expectedProduct, `${backend} matmul: ${what()}`);
        });
      }
    }),
    runs(100),
  );
});
