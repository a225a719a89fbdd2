// The wasm backend's f32x4 tanh and exp against their stated bounds (src/backends/wasm/
// accuracy.ts, which the random-program tests allow for): every k-th float32 of their
// domains (k prime, so the samples fall on every pattern of low mantissa bits; a smaller k
// under FUNCTS_THOROUGH=1), measured in ulps of the exact value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emitVectorMathModule } from '../src/backends/wasm/compile.js';
import { WASM_FLOAT32_ERROR_BOUNDS, ulp32 } from '../src/backends/wasm/accuracy.js';
import { numRuns } from '../src/testing/index.js';

const lanes = new WebAssembly.Instance(new WebAssembly.Module(emitVectorMathModule())).exports as { tanh: (x: number) => number; exp: (x: number) => number };
/** Every stride-th float32 from `from` up to `to` (both positive or both negative, by bits). */
function* float32s(from: number, to: number, stride: number): Generator<number> {
  const f = new Float32Array(1);
  const bits = new Uint32Array(f.buffer);
  f[0] = from;
  const first = bits[0];
  f[0] = to;
  const last = bits[0];
  for (let b = first; b <= last; b += stride) {
    bits[0] = b;
    yield f[0];
  }
}
// numRuns(1) is 1 in quick mode, more under FUNCTS_THOROUGH=1.
const STRIDE = numRuns(1) > 1 ? 13 : 1009;

/** The largest error in ulps, and where, of `approx` against `exact` over `xs`; fails past the stated bound. */
function holdToBound(op: 'tanh' | 'exp', xs: Iterable<number>, exact: (x: number) => number): { worstUlps: number; at: number } {
  const bound = WASM_FLOAT32_ERROR_BOUNDS[op];
  let worstUlps = 0;
  let at = NaN;
  for (const x of xs) {
    const want = exact(x);
    const got = lanes[op](x);
    const error = Math.abs(got - want);
    if (!(error <= bound(want, [x]))) assert.fail(`${op}(${x}) = ${got}, exact ${want}: ${error / ulp32(want)} ulps, beyond the stated ${bound(want, [x]) / ulp32(want)}`);
    if (error / ulp32(want) > worstUlps) [worstUlps, at] = [error / ulp32(want), x];
  }
  return { worstUlps, at };
}

test('f32x4 tanh: within its stated bound on float32 inputs (2 ulps where |tanh| >= 1/2, 4.5 below), odd, and 1.75 ulps near +-1 where 1 - t^2 amplifies it', () => {
  holdToBound('tanh', float32s(2 ** -149, 2 ** -12, STRIDE * 64), Math.tanh);
  holdToBound('tanh', float32s(2 ** -12, 12, STRIDE), Math.tanh);
  holdToBound('tanh', float32s(-(2 ** -12), -12, STRIDE), Math.tanh);
  const nearOne = holdToBound('tanh', float32s(0.55, 9.5, STRIDE), Math.tanh);
  assert.ok(nearOne.worstUlps <= 1.75, `${nearOne.worstUlps} ulps at ${nearOne.at}`);
  for (const x of float32s(2 ** -20, 12, STRIDE * 7)) assert.ok(Object.is(lanes.tanh(-x), -lanes.tanh(x)), `tanh(-${x})`);
  for (const x of [0, -0, Number.NaN, 2 ** -149, -(2 ** -149), 2 ** -13, 9.02, 9.5, 20, 3.4e38, Infinity, -Infinity]) {
    const want = Math.fround(Math.tanh(x));
    assert.ok(Object.is(lanes.tanh(x), want) || Math.abs(lanes.tanh(x) - want) <= 2 * ulp32(want), `tanh(${x}) = ${lanes.tanh(x)}, float32 tanh ${want}`);
  }
  // Where float32 tanh is x itself, or +-1, so is this one (bit for bit).
  for (const x of [2 ** -149, 1e-30, 2 ** -13, Math.fround(-(2 ** -12) * 0.999), 9.02, -9.02, 50, -0]) assert.ok(Object.is(lanes.tanh(x), Math.fround(Math.tanh(x))), `tanh(${x})`);
});

test('f32x4 exp: within its stated 2 ulps on float32 inputs from -104 to 88.72, where float32 e^x overflows (an ulp is 2^-149 below the normal range)', () => {
  holdToBound('exp', float32s(2 ** -149, 88.72, STRIDE), Math.exp);
  holdToBound('exp', float32s(-(2 ** -149), -104, STRIDE), Math.exp);
});
