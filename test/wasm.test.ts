// The wasm backend's parts: the binary encodings, the op table's coverage of the primitive
// registry, the approximations of the transcendentals against Math (with their stated bounds,
// extremes included), and kernels that fall back to the JS compiler.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { explain, hessian, jit, randn, tensor, vmap, withBackend, type Tensor } from '../src/index.js';
import { allPrimitives } from '../src/lazy/primitive.js';
import { Bytes } from '../src/backends/wasm/encoder.js';
import { WASM_OPS } from '../src/backends/wasm/ops.js';
import { compileWasm, wasmArena, wasmDevice, wasmMathHelpers, wasmVectorMath } from '../src/backends/wasm/index.js';
import { ulp32, WASM_FLOAT32_ERROR_BOUNDS } from '../src/backends/wasm/accuracy.js';
import { compileJs } from '../src/backends/js/codegen.js';
import { programFor } from '../src/fusion/program.js';
import { printKernel, type KernelIR, type Stmt } from '../src/fusion/kernel.js';
import { assertAllClose, numRuns } from '../src/testing/index.js';

function bytesOf(write: (b: Bytes) => void): number[] {
  const b = new Bytes();
  write(b);
  return Array.from(b.view());
}

/** A LEB128 decoder written from the definition, as the reference the encoder is checked against. */
function decodeLeb(bytes: readonly number[], signed: boolean): bigint {
  let result = 0n;
  let shift = 0n;
  let last = 0;
  for (const b of bytes) {
    result |= BigInt(b & 0x7f) << shift;
    shift += 7n;
    last = b;
  }
  if (signed && last & 0x40) result -= 1n << shift;
  return result;
}

test('LEB128: the textbook examples, and round trips of every width', () => {
  assert.deepEqual(bytesOf((b) => b.u32(624485)), [0xe5, 0x8e, 0x26]);
  assert.deepEqual(bytesOf((b) => b.s32(-123456)), [0xc0, 0xbb, 0x78]);
  assert.deepEqual(bytesOf((b) => b.s32(-1)), [0x7f]);
  assert.deepEqual(bytesOf((b) => b.s32(64)), [0xc0, 0x00]);
  fc.assert(fc.property(fc.nat({ max: 2 ** 32 - 1 }), (v) => decodeLeb(bytesOf((b) => b.u32(v)), false) === BigInt(v)), { numRuns: numRuns(200) });
  fc.assert(fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (v) => decodeLeb(bytesOf((b) => b.s32(v)), true) === BigInt(v)), { numRuns: numRuns(200) });
  fc.assert(fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (v) => decodeLeb(bytesOf((b) => b.s64(v)), true) === v), { numRuns: numRuns(200) });
});

test('the op table covers every elementwise primitive of the registry, and nothing else', () => {
  const registered = allPrimitives().filter((r) => r.kind === 'elementwise').map((r) => r.op).sort();
  assert.deepEqual(Object.keys(WASM_OPS).sort(), registered);
});

const helpers = wasmMathHelpers();

/** float32 inputs over the whole range, and the extremes. */
const float32Input = fc.oneof(
  fc.float({ noDefaultInfinity: false, noNaN: false }).map(Math.fround),
  fc.constantFrom(0, -0, 1e-45, -1e-45, 1.1754943508222875e-38, -1.1754943508222875e-38, 3.4028234663852886e38, -3.4028234663852886e38, Infinity, -Infinity, NaN).map(Math.fround),
  fc.double({ min: -30, max: 30, noNaN: true }).map(Math.fround),
);

/** Relative error bound of the float32 approximations (before their result is rounded to float32). */
const BOUND = 1e-10;

function agreesWithMath(actual: number, expected: number, absolute = 0): boolean {
  if (Number.isNaN(expected)) return Number.isNaN(actual);
  if (!Number.isFinite(expected) || expected === 0) return Object.is(actual, expected);
  // Far below the smallest float32 (1.4e-45), the approximations may give 0: both round to 0.
  if (Math.abs(expected) < 1e-300) return Math.abs(actual) < 1e-300;
  return Math.abs(actual - expected) <= BOUND * Math.abs(expected) + absolute;
}

const unaries = [
  ['exp32', Math.exp],
  ['expm1_32', Math.expm1],
  ['log32', Math.log],
  ['log1p32', Math.log1p],
  ['tanh32', Math.tanh],
  ['sin32', Math.sin],
  ['cos32', Math.cos],
] as const;

for (const [name, reference] of unaries) {
  test(`${name}: within ${BOUND} relative of Math on float32 inputs, exact at zeros, infinities and NaN`, () => {
    const f = helpers[name];
    // sin and cos near their zeros: the reduced argument carries an absolute error of ~1e-16.
    const absolute = name === 'sin32' || name === 'cos32' ? 1e-15 : 0;
    fc.assert(
      fc.property(float32Input, (x) => {
        const actual = f(x);
        const expected = reference(x);
        assert.ok(agreesWithMath(actual, expected, absolute), `${name}(${x}) = ${actual}, Math gives ${expected}`);
      }),
      { numRuns: numRuns(3000) },
    );
  });
}

test('pow32: within the bound where the base is positive, and Math.pow exactly elsewhere', () => {
  fc.assert(
    fc.property(float32Input, float32Input, (a, b) => {
      const actual = helpers.pow32(a, b);
      const expected = Math.pow(a, b);
      // e^(b log a): the error of b log a is relative to its size, and becomes e^x's relative error.
      const approximated = a > 0 && a < Infinity && Number.isFinite(b);
      if (approximated && Math.abs(expected) < 1e-300) {
        // Far below the smallest float32: both round to 0 there.
        assert.ok(Math.abs(actual) < 1e-300, `pow(${a}, ${b}) = ${actual}, Math gives ${expected}`);
      } else if (approximated && Number.isFinite(expected) && expected !== 0) {
        const slack = BOUND * Math.max(1, Math.abs(b * Math.log(a))) * Math.abs(expected);
        assert.ok(Math.abs(actual - expected) <= slack, `pow(${a}, ${b}) = ${actual}, Math gives ${expected}`);
      } else {
        assert.ok(Object.is(actual, expected) || (Number.isNaN(actual) && Number.isNaN(expected)), `pow(${a}, ${b}) = ${actual}, Math gives ${expected}`);
      }
    }),
    { numRuns: numRuns(3000) },
  );
});

const vector = wasmVectorMath();
const { tanh: tanhBound, exp: expBound } = WASM_FLOAT32_ERROR_BOUNDS;

test('f32x4 tanh: within its stated bound (accuracy.ts, in ulps) of Math.tanh on fast-check float32 inputs, extremes included', () => {
  fc.assert(
    fc.property(float32Input, (x) => {
      const actual = vector.tanh(x);
      const expected = Math.tanh(x);
      if (Number.isNaN(expected)) assert.ok(Number.isNaN(actual));
      else if (expected === 0) assert.ok(Object.is(actual, expected), `tanh(${x}) = ${actual}`);
      else assert.ok(Math.abs(actual - expected) <= tanhBound(expected, [x]), `tanh(${x}) = ${actual}, Math gives ${expected}: off by ${Math.abs(actual - expected) / ulp32(expected)} ulps`);
    }),
    { numRuns: numRuns(5000) },
  );
});

test('f32x4 tanh of a tiny x is x itself, as float32 tanh is: x - tan(tanh(x)) cancels to 0 as in the interpreter', () => {
  fc.assert(
    fc.property(fc.float({ min: Math.fround(-1e-4), max: Math.fround(1e-4), noNaN: true }), (x) => {
      assert.ok(Object.is(vector.tanh(x), x), `tanh(${x}) = ${vector.tanh(x)}`);
    }),
    { numRuns: numRuns(2000) },
  );
  // A random program's counterexample (seed 60591493): -1.9e-34 against the interpreter's 0.
  const x = tensor([-1.2117e-27]);
  const cancel = () => Array.from(x.sub(x.tanh().tan()).dataSync());
  assert.deepEqual(withBackend('wasm', cancel), withBackend('interp', cancel));
});

test('f32x4 exp: within its stated bound (accuracy.ts, in ulps, subnormal results included) of Math.exp on fast-check float32 inputs, Infinity beyond the range', () => {
  fc.assert(
    fc.property(fc.oneof(float32Input, fc.double({ min: -110, max: 95, noNaN: true }).map(Math.fround)), (x) => {
      const actual = vector.exp(x);
      const expected = Math.exp(x);
      if (Number.isNaN(expected)) assert.ok(Number.isNaN(actual));
      else if (expected > 3.4028234663852886e38) assert.equal(actual, Infinity, `exp(${x})`);
      else assert.ok(Math.abs(actual - expected) <= expBound(expected, [x]), `exp(${x}) = ${actual}, Math gives ${expected}: off by ${Math.abs(actual - expected) / ulp32(expected)} ulps`);
    }),
    { numRuns: numRuns(5000) },
  );
});

test('innermost contiguous float32 loops run on f32x4 lanes (reductions included) and agree with the interpreter', () => {
  const x = randn([64, 32], { seed: 7 });
  const w = randn([32, 16], { seed: 8 });
  x.dataSync();
  w.dataSync();
  const builds = [() => x.mul(1.5).tanh().add(x.exp()), () => x.matmul(w).tanh().sum({ axis: 0 }), () => x.max({ axis: 1 }), () => x.mul(x).sum({ axis: 1 }).sqrt()];
  for (const build of builds) {
    const plan = withBackend('wasm', () => explain(build()));
    assert.ok(plan.kernels.some((k) => /f32x4 (loop|lanes)/.test(k.source)), `a vectorized loop in\n${plan}`);
    assertAllClose(withBackend('wasm', () => build().toArray()), withBackend('interp', () => build().toArray()), { rtol: 1e-5, atol: 1e-5 });
  }
});

test('toInt32 is JavaScript ToInt32 (x | 0) on every double', () => {
  fc.assert(fc.property(fc.oneof(fc.double(), fc.integer().map((i) => i * 2 ** 20), fc.constantFrom(2 ** 31, -(2 ** 31) - 1, 2 ** 32, 2 ** 53 + 2, 1e20, -1e20, 2 ** 80)), (x) => helpers.toInt32(x) === (x | 0)), { numRuns: numRuns(3000) });
});

test('the wasm backend computes every dtype: bool, int32 (wrapping), float32 and float64', () => {
  const build = (): Tensor[] => {
    const i = tensor([2 ** 30, -7, 3, 2 ** 31 - 1], { dtype: 'int32' });
    const b = tensor([true, false, true, false]);
    const f = tensor([1.5, -2.25, 1e-3, 10]);
    const d = tensor([1.5, -2.25, 1e-3, 100], { dtype: 'float64' });
    return [i.mul(i).add(i), i.neg().abs(), b.logicalAnd(i.gt(0)), f.exp().log1p().sin(), d.pow(tensor([2, 3, 0.5, -1], { dtype: 'float64' })), f.cast('int32'), d.mul(1e10).cast('int32'), i.cast('float32').div(3).floor()];
  };
  const expected = withBackend('interp', () => build().map((t) => Array.from(t.dataSync())));
  const actual = withBackend('wasm', () => build().map((t) => Array.from(t.dataSync())));
  actual.forEach((a, k) => assertAllClose(a, expected[k], { rtol: 1e-6, message: `value ${k}` }));
});

test('kernels the wasm compiler does not take (random draws) are compiled by the JS compiler, with the right values', () => {
  const build = () => randn([4, 5], { seed: 3 }).mul(2).exp();
  const plan = withBackend('wasm', () => explain(build()));
  assert.ok(plan.kernels.some((k) => k.source.includes('compiled by the JS compiler instead')));
  assertAllClose(withBackend('wasm', () => build().toArray()), withBackend('interp', () => build().toArray()), { rtol: 1e-6 });
});

test('a float32 kernel with approximated transcendentals compiles to wasm and stays within float32 tolerance', () => {
  const x = randn([64, 16], { seed: 5 });
  x.dataSync();
  const build = () => x.tanh().add(x.sin().mul(x.cos())).add(x.abs().add(1).log()).sub(x.mul(0.3).exp()).sum({ axis: 1 });
  const plan = withBackend('wasm', () => explain(build()));
  assert.ok(plan.kernels.every((k) => k.source.startsWith('// wasm module')), 'every kernel is wasm');
  assertAllClose(withBackend('wasm', () => build().toArray()), withBackend('interp', () => build().toArray()), { rtol: 1e-5, atol: 1e-5 });
});

test('the wasm memory stays at its high-water mark over repeated jitted calls', () => {
  const x = randn([256, 8], { seed: 9 });
  const a = randn([16, 8], { seed: 10 });
  x.dataSync();
  a.dataSync();
  const f = jit(vmap(hessian((v: Tensor) => a.matmul(v).tanh().sum())));
  withBackend('wasm', () => (f(x) as Tensor).dataSync());
  const after = wasmArena.memory.buffer.byteLength;
  for (let i = 0; i < 200; i++) withBackend('wasm', () => (f(x) as Tensor).dataSync());
  assert.equal(wasmArena.memory.buffer.byteLength, after);
});

/** Every loop index in a kernel body. */
function loopIndices(list: readonly Stmt[]): string[] {
  return list.flatMap((st) => (st.kind === 'loop' ? [st.index, ...loopIndices(st.body)] : []));
}

/** The kernels of the program that computes `build()` under the wasm backend. */
/**
 * A program's kernels, without the facts that hold only on the program's own inputs (an
 * output's `symmetric`: these tests run the kernels on made-up inputs).
 */
function kernelsOf(build: () => Tensor): KernelIR[] {
  const node = withBackend('wasm', () => build().node);
  return programFor([node], wasmDevice).program.steps.map(({ ir }) => {
    if (!ir.buffers.some((b) => b.symmetric)) return ir;
    const buffers = ir.buffers.map(({ symmetric: _, ...b }) => b);
    return { ...ir, buffers, text: printKernel(ir.kind, buffers, ir.body) };
  });
}

test('lane nests (four iterations of an outer loop in f32x4 lanes) agree with the JS compiler whichever loop carries the lanes', () => {
  const a = randn([16, 8], { seed: 11 });
  const x = randn([12, 8], { seed: 12 });
  const w = randn([8, 12], { seed: 13 });
  // A batch of 32: the Hessian's invariant products are hoisted (S [32, H] x P [H, D, D]).
  const batch = randn([32, 8], { seed: 16 });
  for (const t of [a, x, w, batch]) t.dataSync();
  const f = (v: Tensor) => a.matmul(v).add(1).tanh().sum();
  const programs = [
    () => vmap(hessian(f))(x) as Tensor,
    () => vmap(hessian(f))(batch) as Tensor,
    () => x.matmul(w).tanh(),
    () => x.matmul(w).exp().max({ axis: 1 }),
    () => w.transpose().matmul(x.transpose()).mul(0.5).sqrt().abs(),
    // (The Hessian plan, once three kernels, is two since broadcast factoring: more nests here.)
    () => a.matmul(x.transpose()).tanh().matmul(x),
    () => x.matmul(w).tanh().matmul(w.transpose()).exp(),
    () => a.matmul(a.transpose()).add(1).log(),
    () => w.matmul(x).sin().max({ axis: 0 }),
    () => x.transpose().matmul(x).mul(0.25).tanh(),
  ];
  let inLanes = 0;
  let transposed = 0;
  for (const build of programs) {
    for (const ir of kernelsOf(build)) {
      const inputs = ir.buffers.map((b, i) => {
        const data = new Float32Array(b.size);
        if (b.role === 'input') for (let k = 0; k < b.size; k++) data[k] = Math.sin(1.7 * k + i) * 2;
        return data;
      });
      const expected = inputs.map((d) => d.slice());
      compileJs(ir).run(...expected);
      for (const laneLoop of [null, ...loopIndices(ir.body)]) {
        const kernel = compileWasm(ir, { laneLoop });
        if (laneLoop !== null && kernel.source.includes(`f32x4 lanes over loop ${laneLoop} `)) inLanes++;
        if (/store groups transposed/.test(kernel.source)) transposed++;
        const actual = inputs.map((d) => d.slice());
        kernel.run(...actual);
        ir.buffers.forEach((b, i) => {
          if (b.role === 'output') assertAllClose(Array.from(actual[i]), Array.from(expected[i]), { rtol: 1e-5, atol: 1e-5, message: `lanes over ${laneLoop} in\n${ir.text}` });
        });
      }
    }
  }
  assert.ok(inLanes >= 6, `lane nests compiled: ${inLanes}`);
  // Strided stores of four consecutive elements (the Hessian's w tile) went out transposed.
  assert.ok(transposed >= 1, `kernels with transposed store groups: ${transposed}`);
});

test('deferred tails (a lane nest stores the source, a pass after each iteration applies the elementwise tail): the same bits as the nest computing them in place', () => {
  const a = randn([32, 8], { seed: 21 });
  const a16 = randn([24, 16], { seed: 22 });
  const x = randn([12, 8], { seed: 23 });
  const w = randn([8, 12], { seed: 24 });
  for (const t of [a, a16, x, w]) t.dataSync();
  const f = (v: Tensor) => a.matmul(v).add(1).tanh().sum();
  const programs = [
    // The D=8 headline's tanh stage (w = t (1 - t^2) of t = tanh(A x + b)), batches of 12 and 32.
    () => vmap(hessian(f))(x) as Tensor,
    () => vmap(hessian(f))(randn([32, 8], { seed: 25 })) as Tensor,
    () => vmap(hessian((v: Tensor) => a16.matmul(v).tanh().sum()))(randn([16, 16], { seed: 26 })) as Tensor,
    // A tail that reads its source twice; a tail with exp; a tanh that a sum also reads (not a tail).
    () => x.matmul(w).tanh().mul(x.matmul(w)),
    () => x.matmul(w).mul(0.5).exp().add(1),
    () => x.matmul(w).tanh().add(x.matmul(w).tanh().sum({ axis: 1, keepdims: true })),
    () => a.matmul(x.transpose()).tanh().matmul(x),
  ];
  let deferred = 0;
  for (const build of programs) {
    for (const ir of kernelsOf(build)) {
      const inputs = ir.buffers.map((b, i) => {
        const data = new Float32Array(b.size);
        // Small enough that tanh stays off +-1 (its tail's bits then show).
        if (b.role === 'input') for (let k = 0; k < b.size; k++) data[k] = Math.sin(1.3 * k + i) * 0.4;
        return data;
      });
      for (const laneLoop of [undefined, ...loopIndices(ir.body)]) {
        const inPlace = compileWasm(ir, { laneLoop, deferTails: false });
        const kernel = compileWasm(ir, { laneLoop });
        if (/elementwise tails? deferred to a pass/.test(kernel.source)) deferred++;
        const [expected, actual] = [inPlace, kernel].map((k) => {
          const buffers = inputs.map((d) => d.slice());
          k.run(...buffers);
          return buffers;
        });
        ir.buffers.forEach((b, i) => {
          if (b.role !== 'output') return;
          const differ = [...expected[i]].findIndex((v, k) => !Object.is(v, actual[i][k]));
          assert.equal(differ, -1, `lanes over ${laneLoop}: element ${differ} is ${actual[i][differ]}, in place ${expected[i][differ]}, in\n${kernel.source}`);
        });
      }
    }
  }
  assert.ok(deferred >= 4, `kernels with deferred tails: ${deferred}`);
  // The headline's own plan (a batch of a multiple of 8, lanes over pairs of examples): its tanh stage defers its tail.
  const plan = withBackend('wasm', () => explain(jit(vmap(hessian(f))), randn([64, 8], { seed: 27 })));
  const stage = plan.kernels.find((k) => /tanh/.test(k.summary));
  assert.ok(stage && /1 elementwise tail deferred to a pass/.test(stage.source), `${plan}`);
});

test('deferred tails on random Hessian shapes (batch, D, H; tanh or exp): the same bits as computed in place', () => {
  let deferred = 0;
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 12 }), fc.constantFrom(4, 8, 12, 16), fc.integer({ min: 1, max: 10 }), fc.boolean(), fc.integer({ min: 0, max: 1000 }), (n4, D, h4, useExp, seed) => {
      const a = randn([4 * h4, D], { seed });
      a.dataSync();
      const f = (v: Tensor) => (useExp ? a.matmul(v).mul(0.3).exp() : a.matmul(v).add(0.5).tanh()).sum();
      for (const ir of kernelsOf(() => vmap(hessian(f))(randn([4 * n4, D], { seed: seed + 1 })) as Tensor)) {
        const inputs = ir.buffers.map((b, i) => Float32Array.from({ length: b.size }, (_, k) => (b.role === 'input' ? Math.sin(0.7 * k + i + seed) * 0.4 : 0)));
        const kernel = compileWasm(ir);
        if (/elementwise tails? deferred/.test(kernel.source)) deferred++;
        const [expected, actual] = [compileWasm(ir, { deferTails: false }), kernel].map((k) => {
          const buffers = inputs.map((d) => d.slice());
          k.run(...buffers);
          return buffers;
        });
        ir.buffers.forEach((b, i) => {
          if (b.role === 'output') assert.ok(expected[i].every((v, k) => Object.is(v, actual[i][k])), `outputs differ in\n${kernel.source}`);
        });
      }
    }),
    { numRuns: numRuns(8) },
  );
  assert.ok(deferred >= 1, `kernels with deferred tails: ${deferred}`);
});

test('the D=32 Hessian: its contraction runs as a GEMM (register micro-kernels, no horizontal sums), its tanh runs in lanes', () => {
  const a = randn([64, 32], { seed: 14 });
  const x = randn([8, 32], { seed: 15 });
  a.dataSync();
  x.dataSync();
  const f = (v: Tensor) => a.matmul(v).add(0.5).tanh().sum();
  const plan = withBackend('wasm', () => explain(jit(vmap(hessian(f))), x));
  const contraction = plan.kernels.find((k) => /reduce_sum\(mul/.test(k.summary));
  assert.ok(contraction, `a contraction kernel in\n${plan}`);
  assert.match(contraction.source, /GEMM (\d+ x )?\d+x\d+x\d+/, `${plan}`);
  const matvec = plan.kernels.find((k) => /tanh/.test(k.summary));
  assert.ok(matvec && /f32x4 lanes over loop/.test(matvec.source), `${plan}`);
  const expected = withBackend('interp', () => (vmap(hessian(f))(x) as Tensor).toArray());
  assertAllClose(withBackend('wasm', () => (jit(vmap(hessian(f)))(x) as Tensor).toArray()), expected, { rtol: 1e-4, atol: 1e-5 });
});
