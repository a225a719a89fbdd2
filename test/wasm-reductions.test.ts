// The wasm backend's streaming reductions (row, column and full sums, means, maxima, a softmax,
// sums of products and of exp) against the interpreter on random shapes (odd lengths, lengths
// that are not multiples of 4 or 16, empty axes where legal) on 1 and 2 threads: the same bits
// on any thread count (the loops that split the reductions into chains and copies are never
// the ones threads split), and float64 precision for sums of data (f64x2 partial sums, also in
// lane nests), checked where float32 partial sums would lose the small terms.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { clearCaches, explain, tensor, withBackend, type Tensor } from '../src/index.js';
import { numRuns } from '../src/testing/index.js';
import { sweepTuning } from '../src/backends/wasm/colsweep.js';
import { everyWay, restoreThreads } from './wasm-every-way.js';

after(restoreThreads);

/** Same bits on every thread count, and within `rtol` of the interpreter relative to the largest value of the result. */
function check(build: () => Tensor, rtol: number, what: string): void {
  const reference = Array.from(withBackend('interp', () => build().dataSync()), Number);
  const { one, two, workersOnly } = everyWay(build);
  const others = [two, workersOnly];
  for (const other of others) {
    assert.equal(other.length, one.length, what);
    other.forEach((v, i) => assert.ok(Object.is(v, one[i]), `${what}: element ${i} is ${v} on 2 threads, ${one[i]} on 1`));
  }
  const scale = Math.max(1e-30, ...reference.map(Math.abs));
  one.forEach((v, i) => assert.ok(Math.abs(v - reference[i]) <= rtol * scale, `${what}: element ${i} is ${v}, the interpreter's ${reference[i]}`));
}

/** A [rows, cols] float32 matrix of values from 1e-3 to 1e4 in magnitude, both signs. */
const matrix = (minRows: number, minCols: number) =>
  fc.record({ rows: fc.integer({ min: minRows, max: 9 }), cols: fc.integer({ min: minCols, max: 70 }) }).chain(({ rows, cols }) =>
    fc.array(fc.double({ min: -4, max: 4, noNaN: true }).map((e) => Math.fround(Math.sign(e) * 10 ** Math.abs(e) * 1e-3)), { minLength: rows * cols, maxLength: rows * cols }).map((values) => ({ rows, cols, values })),
  );

type Matrix = { rows: number; cols: number; values: number[] };
const asTensor = ({ rows, cols, values }: Matrix): Tensor => {
  const t = tensor(new Float32Array(values), { shape: [rows, cols] });
  t.dataSync();
  return t;
};

test('row, column and full sums and row means on random shapes (empty axes included): the interpreter\'s values, the same bits on 1 and 2 threads', () => {
  fc.assert(
    fc.property(matrix(0, 0), (m) => {
      const x = asTensor(m);
      const what = `[${m.rows}, ${m.cols}]`;
      check(() => x.sum({ axis: 1 }), 1e-6, `row sums of ${what}`);
      check(() => x.sum({ axis: 0 }), 1e-6, `column sums of ${what}`);
      check(() => x.sum(), 1e-6, `the sum of ${what}`);
      if (m.rows > 0) check(() => x.mean({ axis: 0 }), 1e-6, `column means of ${what}`);
      if (m.cols > 0) check(() => x.mean({ axis: 1 }), 1e-6, `row means of ${what}`);
    }),
    { numRuns: numRuns(25) },
  );
});

test('row and column maxima, softmax over rows, and sums of products and of exp on random shapes: the interpreter\'s values, the same bits on 1 and 2 threads', () => {
  fc.assert(
    fc.property(matrix(1, 1), (m) => {
      const x = asTensor(m);
      const small = x.mul(1e-4);
      const what = `[${m.rows}, ${m.cols}]`;
      check(() => x.max({ axis: 1 }), 0, `row maxima of ${what}`);
      check(() => x.max({ axis: 0 }), 0, `column maxima of ${what}`);
      check(() => small.softmax({ axis: 1 }), 1e-5, `softmax of ${what}`);
      check(() => x.mul(small).sum({ axis: 1 }), 1e-5, `row sums of products of ${what}`);
      check(() => small.exp().sum({ axis: 1 }), 1e-5, `row sums of exp of ${what}`);
      check(() => small.exp().sum(), 1e-5, `the sum of exp of ${what}`);
    }),
    { numRuns: numRuns(20) },
  );
});

test('sums of data keep float64 precision in the f32x4 loops and lane nests: small terms beside 2^24 are not lost', () => {
  // Each row: 2^24, then ones, then -2^24. In float32 partial sums 2^24 + 1 rounds to 2^24 and
  // the ones vanish; in float64 the sum is the count of ones, as the interpreter's.
  for (const [rows, cols] of [[8, 64], [16, 36], [5, 70]]) {
    const values = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      values.fill(1, r * cols, (r + 1) * cols);
      values[r * cols] = 2 ** 24;
      values[r * cols + cols - 1] = -(2 ** 24);
    }
    const x = tensor(values, { shape: [rows, cols] });
    const columns = x.transpose().mul(1).reshape([cols, rows]);
    for (const [name, build] of [['row sums', () => x.sum({ axis: 1 })], ['column sums', () => columns.sum({ axis: 0 })], ['the full sum', () => x.sum()]] as const) {
      const actual = Array.from(withBackend('wasm', () => build().dataSync()));
      const expected = Array.from(withBackend('interp', () => build().dataSync()));
      assert.deepEqual(actual, expected, `${name} of [${rows}, ${cols}]`);
    }
    assert.deepEqual(Array.from(withBackend('wasm', () => x.sum({ axis: 1 }).dataSync())), Array.from({ length: rows }, () => cols - 2));
  }
});

test('row sums, column sums and full sums of float32 take the f32x4 paths where the extents allow', () => {
  const x = tensor(new Float32Array(64 * 48).map((_, i) => Math.sin(i)), { shape: [64, 48] });
  const sources = (build: () => Tensor) => withBackend('wasm', () => explain(build()).kernels.map((k) => k.source.split('\n')[0]).join('\n'));
  assert.match(sources(() => x.sum({ axis: 1 })), /f32x4 loop/);
  assert.match(sources(() => x.sum()), /f32x4 loop/);
  // Column sums of data are swept by rows (the next tests); fused column sums still run in lane nests.
  assert.match(sources(() => x.mul(x).sum({ axis: 0 })), /f32x4 lanes over loop/);
});

test('column sums and means of float32 data are swept by rows (the input read row after row), where there are rows enough', () => {
  const sources = (build: () => Tensor) => withBackend('wasm', () => explain(build()).kernels.map((k) => k.source.split('\n')[0]).join('\n'));
  for (const [rows, cols] of [[64, 48], [5, 1030], [2048, 3]]) {
    const x = tensor(new Float32Array(rows * cols).map((_, i) => Math.sin(i)), { shape: [rows, cols] });
    assert.match(sources(() => x.sum({ axis: 0 })), new RegExp(`column sums swept by rows \\(${cols} columns, ${rows} rows\\)`));
    assert.match(sources(() => x.mean({ axis: 0 })), /column sums swept by rows/);
    // Not for row sums (one contiguous row is the loop order already), nor fused summands.
    assert.doesNotMatch(sources(() => x.sum({ axis: 1 })), /swept/);
    assert.doesNotMatch(sources(() => x.mul(2).sum({ axis: 0 })), /swept/);
  }
});

/** [rows, cols] float32 with rows enough for the sweep, cols up to past a sweep block (not multiples of 4 or 16 as often as not). */
const tallOrWide = fc.record({ rows: fc.integer({ min: 4, max: 40 }), cols: fc.integer({ min: 1, max: 1100 }), seed: fc.integer() }).map(({ rows, cols, seed }) => {
  const values = new Float32Array(rows * cols);
  let state = seed | 1;
  for (let i = 0; i < values.length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) | 0;
    values[i] = Math.fround(((state >>> 8) / 2 ** 24 - 0.5) * 10 ** ((state >>> 4) % 8 - 3));
  }
  return { rows, cols, values };
});

test('column sums swept by rows: the interpreter\'s bits (float64 sums in row order) on random shapes, on 1 and 2 threads with threads taking narrow spans, one to four rows per pass', () => {
  const tuning = { ...sweepTuning };
  try {
    for (const rowsTogether of [1, 2]) {
      // Compiled kernels are cached by their text: the span and rows per pass in force at a kernel's first compile are its own.
      clearCaches();
      Object.assign(sweepTuning, { chunkColumns: 1, block: 64, rowsTogether, wideRowsTogether: rowsTogether + 2, narrowColumns: 40 });
      fc.assert(
        fc.property(tallOrWide, ({ rows, cols, values }) => {
          const x = tensor(values, { shape: [rows, cols] });
          x.dataSync();
          for (const [what, build] of [['column sums', () => x.sum({ axis: 0 })], ['column means', () => x.mean({ axis: 0 })]] as const) {
            const reference = Array.from(withBackend('interp', () => build().dataSync()));
            const ways = Object.values(everyWay(build));
            ways.forEach((way, k) => way.forEach((v, i) => assert.ok(Object.is(v, reference[i]), `${what} of [${rows}, ${cols}], way ${k}, ${rowsTogether} row(s) a pass: element ${i} is ${v}, the interpreter's ${reference[i]}`)));
          }
        }),
        { numRuns: numRuns(15) },
      );
    }
  } finally {
    Object.assign(sweepTuning, tuning);
    clearCaches();
  }
});
