// conv2d, maxPool2d and avgPool2d against float64 loops written from PyTorch's definitions,
// their gradients against finite differences, and vmap over them against a loop.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ArgumentError, ShapeError, avgPool2d, conv2d, explain, grad, maxPool2d, randn, stack, tensor, vmap, type Tensor } from '../../src/index.js';
import { assertAllClose, checkGrads, numRuns } from '../../src/testing/index.js';

interface Geometry {
  n: number; c: number; o: number; h: number; w: number;
  kh: number; kw: number; stride: [number, number]; padding: [number, number]; dilation: [number, number];
}

const outSize = (size: number, k: number, s: number, p: number, d: number) => Math.floor((size + 2 * p - d * (k - 1) - 1) / s) + 1;

const geometryArb: fc.Arbitrary<Geometry> = fc
  .record({
    n: fc.integer({ min: 1, max: 2 }), c: fc.integer({ min: 1, max: 3 }), o: fc.integer({ min: 1, max: 3 }),
    h: fc.integer({ min: 1, max: 7 }), w: fc.integer({ min: 1, max: 7 }),
    kh: fc.integer({ min: 1, max: 3 }), kw: fc.integer({ min: 1, max: 3 }),
    stride: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
    padding: fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
    dilation: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
  })
  .filter((g) => outSize(g.h, g.kh, g.stride[0], g.padding[0], g.dilation[0]) >= 1 && outSize(g.w, g.kw, g.stride[1], g.padding[1], g.dilation[1]) >= 1);

const values = (size: number) => fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: size, maxLength: size });

/** The convolution by its definition, in float64: out[n,o,y,x] = b[o] + Σ w[o,c,i,j]·in[n,c,y·s+i·d-p, x·s+j·d-p]. */
function convRef(g: Geometry, x: number[], w: number[], b: number[] | null): number[] {
  const oh = outSize(g.h, g.kh, g.stride[0], g.padding[0], g.dilation[0]);
  const ow = outSize(g.w, g.kw, g.stride[1], g.padding[1], g.dilation[1]);
  const out: number[] = [];
  for (let n = 0; n < g.n; n++) for (let o = 0; o < g.o; o++) for (let y = 0; y < oh; y++) for (let xx = 0; xx < ow; xx++) {
    let acc = b ? b[o] : 0;
    for (let c = 0; c < g.c; c++) for (let i = 0; i < g.kh; i++) for (let j = 0; j < g.kw; j++) {
      const iy = y * g.stride[0] + i * g.dilation[0] - g.padding[0];
      const ix = xx * g.stride[1] + j * g.dilation[1] - g.padding[1];
      if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
      acc += w[((o * g.c + c) * g.kh + i) * g.kw + j] * x[((n * g.c + c) * g.h + iy) * g.w + ix];
    }
    out.push(acc);
  }
  return out;
}

/** Pooling by its definition: max ignores padded positions, the mean counts them as zeros. */
function poolRef(g: Geometry, x: number[], kind: 'max' | 'avg'): number[] {
  const oh = outSize(g.h, g.kh, g.stride[0], g.padding[0], 1);
  const ow = outSize(g.w, g.kw, g.stride[1], g.padding[1], 1);
  const out: number[] = [];
  for (let n = 0; n < g.n; n++) for (let c = 0; c < g.c; c++) for (let y = 0; y < oh; y++) for (let xx = 0; xx < ow; xx++) {
    let acc = kind === 'max' ? -Infinity : 0;
    for (let i = 0; i < g.kh; i++) for (let j = 0; j < g.kw; j++) {
      const iy = y * g.stride[0] + i - g.padding[0];
      const ix = xx * g.stride[1] + j - g.padding[1];
      if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
      const v = x[((n * g.c + c) * g.h + iy) * g.w + ix];
      acc = kind === 'max' ? Math.max(acc, v) : acc + v;
    }
    out.push(kind === 'max' ? acc : acc / (g.kh * g.kw));
  }
  return out;
}

const convCase = geometryArb.chain((g) => fc.tuple(fc.constant(g), values(g.n * g.c * g.h * g.w), values(g.o * g.c * g.kh * g.kw), fc.option(values(g.o))));

/** Pool geometries: padding at most half the kernel, no dilation. */
const poolGeometryArb = geometryArb.map((g) => ({ ...g, dilation: [1, 1] as [number, number], padding: [Math.min(g.padding[0], g.kh >> 1), Math.min(g.padding[1], g.kw >> 1)] as [number, number] }))
  .filter((g) => outSize(g.h, g.kh, g.stride[0], g.padding[0], 1) >= 1 && outSize(g.w, g.kw, g.stride[1], g.padding[1], 1) >= 1);

/** Distinct values (a shuffled ramp), so that max pooling has no ties and finite differences hold. */
const distinct = (size: number) => fc.shuffledSubarray(Array.from({ length: size }, (_, i) => (i - size / 2) * 0.37), { minLength: size, maxLength: size });
const poolCase = poolGeometryArb.chain((g) => fc.tuple(fc.constant(g), distinct(g.n * g.c * g.h * g.w)));

const f64 = (data: number[], shape: number[]) => tensor(data, { shape, dtype: 'float64' });
const opts = (g: Geometry) => ({ stride: g.stride, padding: g.padding, dilation: g.dilation });

describe('conv2d', () => {
  test('equals the float64 definition over shapes, strides, padding and dilation', () => {
    fc.assert(
      fc.property(convCase, ([g, x, w, b]) => {
        const out = conv2d(f64(x, [g.n, g.c, g.h, g.w]), f64(w, [g.o, g.c, g.kh, g.kw]), b ? f64(b, [g.o]) : null, opts(g));
        const expected = convRef(g, x, w, b);
        assertAllClose(out.reshape([-1]), expected, { rtol: 1e-12, atol: 1e-12 });
        assert.deepEqual(out.shape, [g.n, g.o, outSize(g.h, g.kh, g.stride[0], g.padding[0], g.dilation[0]), outSize(g.w, g.kw, g.stride[1], g.padding[1], g.dilation[1])]);
      }),
      { numRuns: numRuns(25) },
    );
  });

  test('in float32 agrees with the definition to float32 tolerance; an unbatched input drops N', () => {
    fc.assert(
      fc.property(convCase, ([g, x, w, b]) => {
        const xs = tensor(x, { shape: [g.n, g.c, g.h, g.w] });
        const out = conv2d(xs, tensor(w, { shape: [g.o, g.c, g.kh, g.kw] }), b ? tensor(b, { shape: [g.o] }) : null, opts(g));
        assertAllClose(out.reshape([-1]), convRef(g, x.map(Math.fround), w.map(Math.fround), b ? b.map(Math.fround) : null), { rtol: 1e-5, atol: 1e-5 });
        const single = conv2d(xs.select(0, 0), tensor(w, { shape: [g.o, g.c, g.kh, g.kw] }), null, opts(g));
        assert.deepEqual(single.shape, out.shape.slice(1));
      }),
      { numRuns: numRuns(10) },
    );
  });

  test('gradients in input, weight and bias agree with finite differences', () => {
    fc.assert(
      fc.property(convCase, ([g, x, w, b]) => {
        checkGrads((xi: Tensor, wi: Tensor, bi: Tensor) => conv2d(xi, wi, bi, opts(g)), [f64(x, [g.n, g.c, g.h, g.w]), f64(w, [g.o, g.c, g.kh, g.kw]), f64(b ?? new Array<number>(g.o).fill(0.5), [g.o])], { order: 1 });
      }),
      { numRuns: numRuns(8) },
    );
  });

  test('under vmap (over a batch of images and of weights) equals a loop, and so do its gradients', () => {
    fc.assert(
      fc.property(geometryArb.chain((g) => fc.tuple(fc.constant(g), values(2 * g.c * g.h * g.w), values(2 * g.o * g.c * g.kh * g.kw))), ([g, x, w]) => {
        const images = f64(x, [2, g.c, g.h, g.w]);
        const weights = f64(w, [2, g.o, g.c, g.kh, g.kw]);
        const f = (xi: Tensor, wi: Tensor) => conv2d(xi, wi, null, opts(g));
        assertAllClose(vmap(f)(images, weights), stack([0, 1].map((i) => f(images.select(0, i), weights.select(0, i)))), { rtol: 1e-12, atol: 1e-12 });
        const loss = (wi: Tensor, xi: Tensor) => f(xi, wi).tanh().sum();
        const perImage = vmap(grad(loss), { inDims: [null, 0] })(weights.select(0, 0), images);
        assertAllClose(perImage, stack([0, 1].map((i) => grad(loss)(weights.select(0, 0), images.select(0, i)))), { rtol: 1e-12, atol: 1e-12 });
        checkGrads((ws: Tensor) => vmap(f, { inDims: [0, 0] })(images, ws), [weights], { order: 1, modes: ['rev'] });
      }),
      { numRuns: numRuns(6) },
    );
  });
});

describe('maxPool2d and avgPool2d', () => {
  for (const kind of ['max', 'avg'] as const) {
    const op = kind === 'max' ? maxPool2d : avgPool2d;
    test(`${kind}Pool2d equals the definition, and its gradient agrees with finite differences, also under vmap`, () => {
      fc.assert(
        fc.property(poolCase, ([g, x]) => {
          const input = f64(x, [g.n, g.c, g.h, g.w]);
          const pool = (t: Tensor) => op(t, [g.kh, g.kw], { stride: g.stride, padding: g.padding });
          assertAllClose(pool(input).reshape([-1]), poolRef(g, x, kind), { rtol: 1e-12, atol: 1e-12 });
          checkGrads((t: Tensor) => pool(t).sin(), [input], { order: 1 });
          const batched = vmap(pool)(input);
          assertAllClose(batched, stack(Array.from({ length: g.n }, (_, i) => pool(input.select(0, i)))), { rtol: 0, atol: 0 });
          checkGrads((t: Tensor) => vmap(pool)(t).sin(), [input], { order: 1, modes: ['rev'] });
        }),
        { numRuns: numRuns(8) },
      );
    });
  }
});

describe('conv2d and pooling errors', () => {
  test('name the op, the shapes and the fix', () => {
    const x = tensor(new Float32Array(2 * 3 * 5 * 5), { shape: [2, 3, 5, 5] });
    assert.throws(() => conv2d(x, tensor(new Float32Array(4 * 2 * 3 * 3), { shape: [4, 2, 3, 3] })), (e: Error) => e instanceof ShapeError && /conv2d: weight \[4, 2, 3, 3\] does not fit input \[2, 3, 5, 5\]/.test(e.message));
    assert.throws(() => conv2d(x.reshape([6, 25]), x), (e: Error) => e instanceof ShapeError && /conv2d: input of shape \[6, 25\]/.test(e.message));
    assert.throws(() => conv2d(x, tensor(new Float32Array(4 * 3 * 7 * 7), { shape: [4, 3, 7, 7] })), (e: Error) => e instanceof ShapeError && /does not fit input/.test(e.message));
    assert.throws(() => conv2d(x, tensor(new Float32Array(4 * 3), { shape: [4, 3, 1, 1] }), tensor([1, 2])), (e: Error) => e instanceof ShapeError && /bias \[2\] must be \[4\]/.test(e.message));
    assert.throws(() => conv2d(x, tensor(new Float32Array(4 * 3), { shape: [4, 3, 1, 1] }), null, { stride: 0 }), ArgumentError);
    assert.throws(() => maxPool2d(x, 2, { padding: 2 }), (e: Error) => e instanceof ArgumentError && /at most half the kernel/.test(e.message));
  });
});

describe('conv2d structure', () => {
  test('the gradient through conv2d and max pooling schedules into a handful of kernels', () => {
    // The windows are one gather (its derivative one scatter-add), not a slice per kernel tap.
    const x = randn([2, 3, 8, 8], { seed: 0 }).realize();
    const w = randn([4, 3, 3, 3], { seed: 1 }).realize();
    const g = grad((wi: Tensor) => maxPool2d(conv2d(x, wi, null, { padding: 1 }), 2).tanh().sum())(w);
    const kernels = explain(g).kernels.length;
    assert.ok(kernels <= 10, `${kernels} kernels`);
  });
});
