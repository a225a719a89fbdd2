// The bench's hand-written wasm SIMD Hessian kernel (bench/peers/hand-wasm.ts), the yardstick
// of issue 10: its rational tanh within its stated bound on float32 inputs, extremes included,
// and its Hessians against the float64 closed form for random sizes and every variant.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Code, ModuleBuilder, Simd } from '../src/backends/wasm/encoder.js';
import { numRuns } from '../src/testing/index.js';
import { handWasmKernel, tanhRationalX4 } from '../bench/peers/hand-wasm.js';
import { check, makeWorkload, referenceHessians64 } from '../bench/workload.js';

/** tanhRationalX4 on 4 float32 lanes of a one-function module: x in bytes 0-15, tanh x in 16-31. */
function tanhModule(): (x: number) => number {
  const builder = new ModuleBuilder();
  const fn = builder.declare({ params: [], results: [] }, 'tanh');
  const c = new Code();
  // locals 0..2: x, clamped x, x^2
  c.i32Const(0).simdMem(Simd.v128_load, 4, 0).set(0);
  c.i32Const(0);
  tanhRationalX4(c, 0, 1, 2);
  c.simdMem(Simd.v128_store, 4, 16);
  fn.define(['v128', 'v128', 'v128'], c);
  const memory = new WebAssembly.Memory({ initial: 1 });
  const run = new WebAssembly.Instance(new WebAssembly.Module(builder.encode()), { env: { memory } }).exports.tanh as () => void;
  const f32 = new Float32Array(memory.buffer);
  return (x) => {
    f32.fill(x, 0, 4);
    run();
    for (let k = 1; k < 4; k++) assert.ok(Object.is(f32[4 + k], f32[4]), 'the lanes agree');
    return f32[4];
  };
}

const BOUND = 4e-7;
const float32Input = fc.oneof(
  fc.float({ noDefaultInfinity: false, noNaN: false }),
  fc.float({ min: -12, max: 12, noNaN: true }),
  fc.constantFrom(0, -0, 2 ** -149, -(2 ** -126), 7.9, 9.02, -20, Infinity, -Infinity, NaN),
);

test(`hand-wasm's rational tanh: within ${BOUND} relative of Math.tanh on float32 inputs, extremes included`, () => {
  const tanh = tanhModule();
  fc.assert(
    fc.property(float32Input, (x) => {
      const actual = tanh(x);
      const expected = Math.tanh(Math.fround(x));
      if (Number.isNaN(expected)) assert.ok(Number.isNaN(actual), `tanh(${x}) = ${actual}`);
      else if (Math.abs(expected) < 2 ** -126) assert.ok(Math.abs(actual - expected) <= 2 ** -149 && Math.sign(actual) === Math.sign(expected), `tanh(${x}) = ${actual}`);
      else assert.ok(Math.abs(actual - expected) <= BOUND * Math.abs(expected), `tanh(${x}) = ${actual}, Math gives ${expected}`);
    }),
    { numRuns: numRuns(5000) },
  );
});

test('hand-wasm: Hessians agree with the float64 closed form for random sizes, tiles and variants', () => {
  fc.assert(
    fc.property(
      fc.record({
        D: fc.constantFrom(4, 8, 12, 16),
        H: fc.constantFrom(4, 8, 32),
        samples: fc.constantFrom(1, 2, 3),
        tiles: fc.integer({ min: 1, max: 3 }),
        perTile: fc.integer({ min: 1, max: 3 }),
        symmetric: fc.boolean(),
        packDiagonal: fc.boolean(),
        zChunks: fc.constantFrom(1, 3, 8),
        zSamples: fc.constantFrom(1, 2),
        hUnroll: fc.constantFrom(1, 2, 4),
        tanh: fc.constantFrom('rational' as const, 'exp' as const),
      }),
      ({ D, H, samples, tiles, perTile, ...options }) => {
        const tile = samples * perTile * options.zSamples;
        const N = tile * tiles;
        const workload = makeWorkload({ name: 'prop', D, H, N });
        const got = handWasmKernel(N, D, H, { samples, tile, ...options, hUnroll: H % options.hUnroll ? 1 : options.hUnroll })(workload.A, workload.b, workload.X);
        const result = check('hand-wasm', got, referenceHessians64(workload, N), 1e-5);
        assert.ok(result.ok, result.message);
      },
    ),
    { numRuns: numRuns(40) },
  );
});

test('hand-wasm: a size it cannot tile is refused', () => {
  assert.throws(() => handWasmKernel(10, 8, 32, { samples: 4 }), /multiple/);
  assert.throws(() => handWasmKernel(8, 6, 32), /multiple/);
});

test('hand-wasm on 2 threads (workers on one shared memory) agrees with the float64 closed form, call after call', () => {
  for (const [N, D, H] of [[260, 8, 32], [132, 12, 8]]) {
    const workload = makeWorkload({ name: 'threads', D, H, N });
    const kernel = handWasmKernel(N, D, H, { threads: 2 });
    const reference = referenceHessians64(workload, N);
    for (let call = 0; call < 3; call++) {
      const result = check('hand-wasm 2 threads', kernel(workload.A, workload.b, workload.X), reference, 1e-5);
      assert.ok(result.ok, result.message);
    }
  }
});
