// Linear algebra (solve, triangularSolve, cholesky, choleskySolve, inv, det, slogdet, eigh)
// against an independent float64 reference written here in plain JavaScript (Gaussian
// elimination with partial pivoting, substitution, the classical Jacobi eigenvalue method
// with the largest off-diagonal pivot), derivatives against finite differences, and the
// transforms (vmap, jacfwd, jacrev, hessian, jit) against each other.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as F from '../../src/index.js';
import { tensor, type DType, type Tensor } from '../../src/index.js';
import { assertAllClose, checkGrads, numRuns } from '../../src/testing/index.js';

type Matrix = number[][];

// The reference --------------------------------------------------------------------------

function refSolve(a: Matrix, b: Matrix): Matrix {
  const n = a.length;
  const m = a.map((row, i) => [...row, ...b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    [m[c], m[p]] = [m[p], m[c]];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r][c] / m[c][c];
      for (let k = c; k < m[r].length; k++) m[r][k] -= f * m[c][k];
    }
  }
  return m.map((row, i) => row.slice(n).map((v) => v / m[i][i]));
}

function refDet(a: Matrix): number {
  const n = a.length;
  const m = a.map((row) => [...row]);
  let det = 1;
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    if (p !== c) {
      [m[c], m[p]] = [m[p], m[c]];
      det = -det;
    }
    det *= m[c][c];
    for (let r = c + 1; r < n; r++) {
      const f = m[r][c] / m[c][c];
      for (let k = c; k < n; k++) m[r][k] -= f * m[c][k];
    }
  }
  return det;
}

/** Eigenvalues (ascending) of a symmetric matrix by classical Jacobi rotations. */
function refEigenvalues(a: Matrix): number[] {
  const n = a.length;
  const m = a.map((row) => [...row]);
  for (let iter = 0; iter < 100 * n * n; iter++) {
    let p = 0;
    let q = 1;
    let big = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (Math.abs(m[i][j]) > big) [big, p, q] = [Math.abs(m[i][j]), i, j];
    if (big < 1e-14) break;
    const phi = 0.5 * Math.atan2(2 * m[p][q], m[q][q] - m[p][p]);
    const c = Math.cos(phi);
    const s = Math.sin(phi);
    for (let k = 0; k < n; k++) [m[k][p], m[k][q]] = [c * m[k][p] - s * m[k][q], s * m[k][p] + c * m[k][q]];
    for (let k = 0; k < n; k++) [m[p][k], m[q][k]] = [c * m[p][k] - s * m[q][k], s * m[p][k] + c * m[q][k]];
  }
  return m.map((row, i) => row[i]).sort((x, y) => x - y);
}

const matmulRef = (a: Matrix, b: Matrix): Matrix => a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
const transposeRef = (a: Matrix): Matrix => a[0].map((_, j) => a.map((row) => row[j]));
const identity = (n: number): Matrix => Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
const matrices = (t: Tensor): Matrix[] => {
  const n = t.shape[t.rank - 2];
  const m = t.shape[t.rank - 1];
  const data = [...t.cast('float64').dataSync()];
  return Array.from({ length: data.length / (n * m) }, (_, b) => Array.from({ length: n }, (_, i) => data.slice(b * n * m + i * m, b * n * m + (i + 1) * m)));
};

// Generators -----------------------------------------------------------------------------

/** Symmetric positive definite B B^T + n I, batched. */
const spdArb = (batch: number[], n: number, dtype: DType) =>
  fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: batch.reduce((a, b) => a * b, 1) * n * n, maxLength: batch.reduce((a, b) => a * b, 1) * n * n }).map((values) => {
    const b = tensor(values, { dtype: 'float64', shape: [...batch, n, n] });
    return b.matmul(b.transpose(-1, -2)).add(F.eye(n, n, { dtype: 'float64' }).mul(n)).cast(dtype);
  });

/** General well-conditioned matrices M + 2n I with entries of M in [-1, 1], batched. */
const generalArb = (batch: number[], n: number, dtype: DType) =>
  fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: batch.reduce((a, b) => a * b, 1) * n * n, maxLength: batch.reduce((a, b) => a * b, 1) * n * n }).map((values) =>
    tensor(values, { dtype: 'float64', shape: [...batch, n, n] }).add(F.eye(n, n, { dtype: 'float64' }).mul(2 * n)).cast(dtype),
  );

const valuesArb = (shape: number[]) => fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: shape.reduce((a, b) => a * b, 1), maxLength: shape.reduce((a, b) => a * b, 1) }).map((v) => tensor(v, { dtype: 'float64', shape }));

const caseArb = fc.record({ batch: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }), n: fc.integer({ min: 1, max: 6 }), dtype: fc.constantFrom<DType>('float32', 'float64') });
/** Compares pairs such as [eigenvalues, eigenvectors] exactly. */
function samePair(actual: unknown, expected: readonly [Tensor, Tensor]): void {
  const [x, y] = actual as [Tensor, Tensor];
  assertAllClose(x, expected[0], { rtol: 0, atol: 0 });
  assertAllClose(y, expected[1], { rtol: 0, atol: 0 });
}
const tol = (dtype: DType) => (dtype === 'float32' ? { rtol: 1e-4, atol: 1e-4 } : { rtol: 1e-10, atol: 1e-10 });

describe('values against a float64 reference', () => {
  test('solve (matrix and vector right-hand sides), inv, det, slogdet', () => {
    fc.assert(
      fc.property(caseArb.chain((c) => fc.tuple(fc.constant(c), generalArb(c.batch, c.n, c.dtype), valuesArb([...c.batch, c.n, 2]))), ([{ n, dtype }, a, b]) => {
        const bCast = b.cast(dtype);
        const as = matrices(a);
        const bs = matrices(bCast);
        const x = F.solve(a, bCast);
        assert.deepEqual(x.shape, b.shape);
        assert.equal(x.dtype, dtype);
        assertAllClose(matrices(x), as.map((m, i) => refSolve(m, bs[i])), tol(dtype));
        const vector = F.select(bCast, -1, 0);
        assertAllClose(F.solve(a, vector), F.select(x, -1, 0), { ...tol(dtype), message: 'a batch of vectors is one column' });
        assertAllClose(matrices(F.inv(a)), as.map((m) => refSolve(m, identity(n))), tol(dtype));
        const dets = as.map(refDet);
        assertAllClose(F.det(a).reshape([-1]).cast('float64'), dets, { rtol: dtype === 'float32' ? 1e-4 : 1e-10, atol: 0 });
        const [sign, logAbsDet] = F.slogdet(a);
        assertAllClose(sign.reshape([-1]), dets.map(Math.sign));
        assertAllClose(logAbsDet.reshape([-1]).cast('float64'), dets.map((d) => Math.log(Math.abs(d))), tol(dtype));
      }),
      { numRuns: numRuns(25) },
    );
  });

  test('cholesky, choleskySolve and triangularSolve in every variant', () => {
    fc.assert(
      fc.property(caseArb.chain((c) => fc.tuple(fc.constant(c), spdArb(c.batch, c.n, c.dtype), valuesArb([...c.batch, c.n, 3]))), ([{ dtype }, a, b]) => {
        const bCast = b.cast(dtype);
        const l = F.cholesky(a);
        const ls = matrices(l);
        ls.forEach((m) => m.forEach((row, i) => row.forEach((v, j) => j > i && assert.equal(v, 0, 'the factor is lower triangular'))));
        assertAllClose(ls.map((m) => matmulRef(m, transposeRef(m))), matrices(a), { ...tol(dtype), message: 'L L^T = A' });
        assertAllClose(F.cholesky(a, { upper: true }), l.transpose(-1, -2), { rtol: 0, atol: 0 });
        const expected = matrices(a).map((m, i) => refSolve(m, matrices(bCast)[i]));
        assertAllClose(matrices(F.choleskySolve(l, bCast)), expected, tol(dtype));
        assertAllClose(matrices(F.choleskySolve(l.transpose(-1, -2), bCast, { lower: false })), expected, tol(dtype));
        // A triangular matrix with junk in the other triangle, which must not be read.
        const junk = a.add(5);
        for (const lower of [true, false]) {
          for (const transpose of [false, true]) {
            for (const unitDiagonal of [false, true]) {
              const tri = matrices(junk).map((m) => m.map((row, i) => row.map((v, j) => (i === j ? (unitDiagonal ? 1 : v) : (lower ? j < i : j > i) ? v : 0))));
              const op = transpose ? tri.map(transposeRef) : tri;
              const message = `lower ${lower} transpose ${transpose} unit ${unitDiagonal}`;
              const x = F.triangularSolve(junk, bCast, { lower, transpose, unitDiagonal });
              assertAllClose(matrices(x), op.map((m, i) => refSolve(m, matrices(bCast)[i])), { ...tol(dtype), message });
              // Right-side solve: X op(A) = B^T.
              const bt = bCast.transpose(-1, -2);
              const right = F.triangularSolve(junk, bt, { lower, transpose, unitDiagonal, left: false });
              const expectedRight = op.map((m, i) => transposeRef(refSolve(transposeRef(m), transposeRef(matrices(bt)[i]))));
              assertAllClose(matrices(right), expectedRight, { ...tol(dtype), message: `left: false, ${message}` });
            }
          }
        }
      }),
      { numRuns: numRuns(15) },
    );
  });

  test('eigh: ascending eigenvalues of the reference, orthonormal eigenvectors, A V = V diag(w)', () => {
    fc.assert(
      fc.property(caseArb.chain((c) => fc.tuple(fc.constant(c), generalArb(c.batch, c.n, 'float64'))), ([{ n, dtype }, m]) => {
        const a = m.add(m.transpose(-1, -2)).cast(dtype);
        const [w, v] = F.eigh(a);
        assert.deepEqual(w.shape, a.shape.slice(0, -1));
        assert.deepEqual(v.shape, a.shape);
        const ws = (w.reshape([-1, n]).cast('float64').toArray() as number[][]);
        assertAllClose(ws, matrices(a).map(refEigenvalues), { ...tol(dtype), atol: dtype === 'float32' ? 1e-4 * n * 4 : 1e-9 });
        const vs = matrices(v);
        const eye = identity(n);
        vs.forEach((vm) => assertAllClose(matmulRef(transposeRef(vm), vm), eye, { ...tol(dtype), message: 'V^T V = I' }));
        matrices(a).forEach((am, b) => {
          const av = matmulRef(am, vs[b]);
          const vw = vs[b].map((row) => row.map((x, j) => x * ws[b][j]));
          assertAllClose(av, vw, { rtol: 1e-4, atol: dtype === 'float32' ? 1e-3 : 1e-9, message: 'A V = V diag(w)' });
        });
      }),
      { numRuns: numRuns(25) },
    );
  });

  test('worked examples', () => {
    assertAllClose(F.solve(tensor([[3, 1], [1, 2]]), tensor([9, 8])), [2, 3]);
    assertAllClose(F.cholesky(tensor([[4, 2], [2, 2]])), [[2, 0], [1, 1]]);
    assertAllClose(F.det(tensor([[1, 2], [3, 4]])), -2);
    const [w, v] = F.eigh(tensor([[2, 1], [1, 2]]));
    assertAllClose(w, [1, 3]);
    assertAllClose(v, [[Math.SQRT1_2, Math.SQRT1_2], [-Math.SQRT1_2, Math.SQRT1_2]], { message: 'each eigenvector has a positive largest component' });
    assertAllClose(F.det(F.zeros([0, 0])), 1, { message: 'the determinant of the empty matrix' });
  });

  test('left: false takes B as matrices [..., k, n] (only a rank-1 B is a vector)', () => {
    const a = tensor([[[2, 0], [1, 4]], [[1, 0], [3, 2]]]); // [2, 2, 2], lower
    const b = tensor([[1, 2], [3, 4]]); // [k = 2, n = 2], the same matrix for both
    const x = F.triangularSolve(a, b, { lower: true, left: false });
    assert.deepEqual(x.shape, [2, 2, 2]);
    assertAllClose(x.matmul(a), F.stack([b, b]), { message: 'X A = B' });
    const row = F.triangularSolve(a, tensor([1, 2]), { lower: true, left: false });
    assertAllClose(row.unsqueeze(-2).matmul(a).squeeze(-2), tensor([[1, 2], [1, 2]]));
  });

  test('eigh of degenerate spectra: repeated, zero and rank-one matrices, widely scaled entries', () => {
    const q = F.eigh(F.randn([6, 6], { seed: 3, dtype: 'float64' }).add(F.randn([6, 6], { seed: 3, dtype: 'float64' }).T))[1];
    const repeated = q.matmul(tensor([1, 1, 1, 2, 2, -3], { dtype: 'float64' }).unsqueeze(-1).mul(q.T));
    const u = F.randn([7, 1], { seed: 5, dtype: 'float64' });
    const cases: [Tensor, number[]][] = [
      [F.eye(5, 5, { dtype: 'float64' }), [1, 1, 1, 1, 1]],
      [F.zeros([4, 4], { dtype: 'float64' }), [0, 0, 0, 0]],
      [repeated, [-3, 1, 1, 1, 2, 2]],
      [u.matmul(u.T), [0, 0, 0, 0, 0, 0, u.square().sum().item()]],
      [tensor([[1e-300, 0], [0, 1e300]], { dtype: 'float64' }), [1e-300, 1e300]],
    ];
    for (const [a, expected] of cases) {
      const n = a.shape[0];
      const [w, v] = F.eigh(a);
      const scale = Math.max(...expected.map(Math.abs), 1);
      assertAllClose(w, expected, { rtol: 1e-12, atol: 1e-13 * scale, message: `eigenvalues of ${a.toString()}` });
      assertAllClose(v.T.matmul(v), F.eye(n, n, { dtype: 'float64' }), { rtol: 0, atol: 1e-13, message: 'V^T V = I' });
      assertAllClose(a.matmul(v), v.mul(w), { rtol: 1e-12, atol: 1e-13 * scale, message: 'A V = V diag(w)' });
    }
  });

  test('n = 64: a solve and an eigendecomposition of a batch of large matrices', () => {
    const b = F.randn([3, 64, 64], { seed: 1, dtype: 'float64' });
    const a = b.matmul(b.transpose(-1, -2)).add(F.eye(64, 64, { dtype: 'float64' }).mul(64));
    const rhs = F.randn([3, 64], { seed: 2, dtype: 'float64' });
    const x = F.solve(a, rhs);
    assertAllClose(a.matmul(x.unsqueeze(-1)).squeeze(-1), rhs, { rtol: 1e-9, atol: 1e-9 });
    assertAllClose(F.cholesky(a).matmul(F.cholesky(a).transpose(-1, -2)), a, { rtol: 1e-10, atol: 1e-9 });
    const [w] = F.eigh(a);
    assertAllClose(w, matrices(a).map(refEigenvalues), { rtol: 1e-9, atol: 1e-9 });
  });
});

describe('the methods and the linalg namespace', () => {
  test('Tensor methods and F.linalg.* are the functions', () => {
    const a = tensor([[4, 1], [1, 3]]);
    const b = tensor([1, 2]);
    assertAllClose(a.solve(b), F.solve(a, b), { rtol: 0, atol: 0 });
    assertAllClose(a.cholesky(), F.cholesky(a), { rtol: 0, atol: 0 });
    assertAllClose(a.inv(), F.inv(a), { rtol: 0, atol: 0 });
    assertAllClose(a.det(), F.det(a), { rtol: 0, atol: 0 });
    samePair(a.slogdet(), F.slogdet(a));
    samePair(a.eigh(), F.eigh(a));
    assert.equal(F.linalg.solve, F.solve);
    assert.equal(F.linalg.eigh, F.eigh);
  });
});

describe('derivatives against finite differences (float64)', () => {
  const m = tensor([[0.7, -0.3, 0.4], [0.2, -0.5, 0.1], [0.6, 0.3, -0.2]], { dtype: 'float64' });
  const shift = F.eye(3, 3, { dtype: 'float64' }).mul(3);
  const b = tensor([[0.3, 0.9], [-1.7, 0.5], [1.4, -0.6]], { dtype: 'float64' });
  const spd = (x: Tensor) => x.matmul(x.T).add(shift);

  test('solve, inv, det, slogdet to second order, in both arguments', () => {
    checkGrads((x: Tensor, y: Tensor) => F.solve(x.add(shift), y), [m, b]);
    checkGrads((x: Tensor) => F.inv(x.add(shift)), [m]);
    checkGrads((x: Tensor) => F.det(x.add(shift)), [m]);
    checkGrads((x: Tensor) => F.slogdet(x.sub(shift))[1], [m]);
  });

  test('cholesky, choleskySolve, triangularSolve (left and right) to second order', () => {
    checkGrads((x: Tensor) => F.cholesky(spd(x)), [m]);
    checkGrads((x: Tensor) => F.cholesky(spd(x), { upper: true }), [m]);
    checkGrads((x: Tensor, y: Tensor) => F.choleskySolve(F.cholesky(spd(x)), y), [m, b]);
    checkGrads((x: Tensor, y: Tensor) => F.triangularSolve(x.add(shift), y, { lower: true, unitDiagonal: true }), [m, b]);
    checkGrads((x: Tensor, y: Tensor) => F.triangularSolve(x.add(shift), y.T, { lower: false, transpose: true, left: false }), [m, b]);
  });

  test('eigh: eigenvalues and eigenvectors to second order; eigenvalue gradients at a repeated eigenvalue', () => {
    const sym = (x: Tensor) => x.add(x.T).add(tensor([[1, 0, 0], [0, 3, 0], [0, 0, 6]], { dtype: 'float64' }));
    checkGrads((x: Tensor) => F.eigh(sym(x))[0], [m]);
    checkGrads((x: Tensor) => F.eigh(sym(x))[1], [m]);
    // The gradient of the sum of the eigenvalues (the trace) is the identity, even at A = I.
    const g = F.grad((x: Tensor) => F.eigh(x)[0].sum())(F.eye(3, 3, { dtype: 'float64' }));
    assertAllClose(g, F.eye(3, 3, { dtype: 'float64' }));
  });

  test('random matrices: solve, inv, slogdet, cholesky, choleskySolve and eigenvalues (fast-check)', () => {
    const smallArb = fc.record({ batch: fc.array(fc.integer({ min: 1, max: 2 }), { maxLength: 1 }), n: fc.integer({ min: 1, max: 4 }) });
    let eigenvalueChecks = 0;
    fc.assert(
      fc.property(smallArb.chain((c) => fc.tuple(generalArb(c.batch, c.n, 'float64'), spdArb(c.batch, c.n, 'float64'), valuesArb([...c.batch, c.n, 2]))), ([a, s, rhs]) => {
        checkGrads((x: Tensor, y: Tensor) => F.solve(x, y), [a, rhs]);
        checkGrads((x: Tensor) => F.inv(x), [a], { order: 1 });
        checkGrads((x: Tensor) => F.slogdet(x)[1], [a]);
        checkGrads((x: Tensor) => F.cholesky(x), [s]);
        checkGrads((x: Tensor, y: Tensor) => F.choleskySolve(F.cholesky(x), y), [s, rhs], { order: 1 });
        // Eigenvalues are differentiable where they are simple: spread them, and skip the
        // (generated often) spectra that still have a near-repeat.
        const n = s.shape[s.rank - 1];
        const spread = s.add(F.eye(n, n, { dtype: 'float64' }).mul(F.arange(n, undefined, 1, { dtype: 'float64' })));
        const w = matrices(F.eigh(spread)[0].unsqueeze(-2)).map((m) => m[0]);
        if (w.every((values) => values.every((v, i) => i === 0 || v - values[i - 1] > 0.05))) {
          checkGrads((x: Tensor) => F.eigh(x)[0], [spread], { order: 1 });
          eigenvalueChecks++;
        }
      }),
      { numRuns: numRuns(6) },
    );
    assert.ok(eigenvalueChecks > 0, 'some generated spectra were simple enough to differentiate');
  });

  test('float32 first derivatives agree with float64 ones', () => {
    const f = (x: Tensor) => F.slogdet(F.cholesky(spd(x)).add(shift.cast(x.dtype)))[1].add(F.solve(spd(x), F.ones([3], { dtype: x.dtype })).sum());
    assertAllClose(F.grad(f)(m.cast('float32')), F.grad(f)(m).cast('float32'), { rtol: 1e-4, atol: 1e-5 });
  });
});

describe('transforms compose', () => {
  const batch = F.randn([5, 4, 4], { seed: 3, dtype: 'float64' });
  const spd = batch.matmul(batch.transpose(-1, -2)).add(F.eye(4, 4, { dtype: 'float64' }).mul(4));
  const rhs = F.randn([5, 4], { seed: 4, dtype: 'float64' });

  test('vmap of each op equals the batched op', () => {
    assertAllClose(F.vmap(F.solve)(spd, rhs), F.solve(spd, rhs), { rtol: 0, atol: 0 });
    assertAllClose(F.vmap(F.solve, { inDims: [0, null] })(spd, rhs.select(0, 0)), F.solve(spd, rhs.select(0, 0).unsqueeze(-1)).squeeze(-1), { rtol: 0, atol: 0 });
    assertAllClose(F.vmap(F.solve, { inDims: [2, 0] })(spd.permute([1, 2, 0]), rhs), F.solve(spd.transpose(-1, -2), rhs), { rtol: 0, atol: 0 });
    assertAllClose(F.vmap((a: Tensor) => F.cholesky(a))(spd), F.cholesky(spd), { rtol: 0, atol: 0 });
    samePair(F.vmap(F.slogdet)(spd), F.slogdet(spd));
    samePair(F.vmap(F.eigh)(spd), F.eigh(spd));
    assertAllClose(F.vmap((a: Tensor, b: Tensor) => F.triangularSolve(a, b, { lower: true }))(spd, rhs), F.triangularSolve(spd, rhs, { lower: true }), { rtol: 0, atol: 0 });
  });

  test('hessian of log det is -A^-1 dA A^-1 (jacfwd and jacrev agree), batched with vmap', () => {
    const logdet = (a: Tensor) => F.slogdet(a)[1];
    const h = F.vmap(F.hessian(logdet))(spd) as Tensor; // [5, 4, 4, 4, 4]
    const inverse = F.inv(spd);
    // d²/dA_ij dA_kl log det A = -(A^-1)_li (A^-1)_jk
    const expected = F.einsum('bli,bjk->bijkl', inverse, inverse).neg();
    assertAllClose(h, expected, { rtol: 1e-9, atol: 1e-10 });
    assertAllClose(F.vmap(F.jacfwd(F.grad(logdet)))(spd) as Tensor, F.vmap(F.jacrev(F.grad(logdet)))(spd) as Tensor, { rtol: 1e-9, atol: 1e-10 });
  });

  test('jit compiles the call steps and agrees with eager and the interpreter', () => {
    const step = (a: Tensor, g: Tensor) => {
      const [w, v] = F.eigh(a);
      return F.choleskySolve(F.cholesky(a), g).add(F.solve(a, g)).add(v.matmul(w.unsqueeze(-1)).squeeze(-1)).mul(F.det(a).unsqueeze(-1));
    };
    const jitted = F.jit(step);
    const eager = step(spd, rhs);
    assertAllClose(jitted(spd, rhs), eager, { rtol: 1e-12, atol: 0 });
    assertAllClose(jitted(spd.mul(2), rhs), step(spd.mul(2), rhs), { rtol: 1e-12, atol: 0 });
    assert.equal(jitted.stats.traces, 1);
    assertAllClose(F.withBackend('interp', () => step(spd, rhs)), eager, { rtol: 1e-12, atol: 0 });
    const plan = F.explain(jitted, spd, rhs);
    assert.ok(plan.kernels.some((k) => k.summary.startsWith('cholesky')), 'a call step computes the factor');
  });
});

describe('call steps in the schedule', () => {
  test('kernels before and after a call that read one buffer are not merged (that would be a cycle)', () => {
    const a = F.randn([3, 4, 4], { seed: 7, dtype: 'float64' }).add(F.eye(4, 4, { dtype: 'float64' }).mul(4)).realize();
    const b = F.randn([3, 4, 4], { seed: 8, dtype: 'float64' }).realize();
    // a.add(1) is a kernel feeding the call; x.add(a) one reading the call's result: both read a.
    const program = (p: Tensor, q: Tensor) => F.solve(p.add(1), q).add(p);
    const fused = program(a, b);
    assertAllClose(fused, F.withBackend('interp', () => program(a, b)), { rtol: 1e-12, atol: 0 });
    assertAllClose(fused, F.solve(a.add(1).realize(), b).realize().add(a), { rtol: 1e-12, atol: 0 });
    const plan = F.explain(F.jit(program), a, b);
    assert.ok(plan.kernels.length <= 3, `a kernel, the call and a kernel: ${plan.kernels.map((k) => k.summary).join('; ')}`);
  });
});

describe('bad input and degenerate matrices', () => {
  const a = tensor([[1, 2], [3, 4]]);

  test('non-square, mismatched and non-float operands throw ShapeError / DTypeError naming the op', () => {
    assert.throws(() => F.solve(F.ones([2, 3]), F.ones([2])), (e: Error) => e instanceof F.ShapeError && /solve: A must be a square matrix.*\[2, 3\]/.test(e.message));
    assert.throws(() => F.solve(a, F.ones([3])), (e: Error) => e instanceof F.ShapeError && /solve: B \[3\] does not fit A \[2, 2\]/.test(e.message));
    assert.throws(() => F.solve(F.ones([3, 2, 2]), F.ones([4, 2, 1])), (e: Error) => e instanceof F.ShapeError && /batch axes of A \[3, 2, 2\] and B \[4, 2, 1\]/.test(e.message));
    assert.throws(() => F.solve(a.cast('int32'), F.ones([2])), (e: Error) => e instanceof F.DTypeError && /solve: A must be float32 or float64, got int32/.test(e.message));
    assert.throws(() => F.solve(a, tensor([1, 2], { dtype: 'int32' })), (e: Error) => e instanceof F.DTypeError && /solve: B must be float/.test(e.message));
    for (const [name, op] of [['cholesky', F.cholesky], ['inv', F.inv], ['det', F.det], ['slogdet', F.slogdet], ['eigh', F.eigh]] as const) {
      assert.throws(() => op(F.ones([2, 3])), (e: Error) => e instanceof F.ShapeError && e.message.startsWith(`${name}: A must be a square matrix`), `${name} of a non-square matrix`);
      assert.throws(() => op(F.ones([3])), F.ShapeError, `${name} of a vector`);
      assert.throws(() => op(a.cast('bool')), F.DTypeError, `${name} of a bool matrix`);
    }
    assert.throws(() => F.triangularSolve(a, F.ones([2]), {} as F.TriangularSolveOptions), (e: Error) => e instanceof F.ArgumentError && /lower: true/.test(e.message));
  });

  test('a singular matrix gives non-finite values, det 0 and slogdet [0, -Infinity], without throwing', () => {
    const singular = tensor([[1, 2], [2, 4]]);
    const x = F.solve(singular, tensor([1, 1])).toArray() as number[];
    assert.ok(x.some((v) => !Number.isFinite(v)), `solve gives Inf/NaN: ${x}`);
    assert.ok((F.inv(singular).dataSync() as Float32Array).some((v) => !Number.isFinite(v)));
    assert.equal(F.det(singular).item(), 0);
    assert.deepEqual(F.slogdet(singular).map((t) => t.item()), [0, -Infinity]);
    assert.deepEqual(F.slogdet(F.zeros([3, 3])).map((t) => t.item()), [0, -Infinity]);
    // Not positive definite: the factor is NaN throughout, and so is what is solved with it.
    const factor = F.cholesky(tensor([[1, 2], [2, 1]])).dataSync();
    assert.ok([...factor].every(Number.isNaN));
    // In a batch, only the degenerate matrix is affected.
    const mixed = F.det(F.stack([singular, a]));
    assertAllClose(mixed, [0, -2]);
  });
});

test('eigh of a matrix whose off-diagonal couplings underflow when squared stays finite (found by the thorough run)', () => {
  // Squares of 1e-162 are denormal: the Householder reflection's beta overflowed to Infinity.
  const a = tensor([[16, 0, 0, 0], [0, 16, 0, -3.1434e-162], [0, 0, 16, 0], [0, -3.1434e-162, 0, 16]], { dtype: 'float64' });
  const [w, v] = F.eigh(a.reshape([1, 1, 4, 4]));
  assertAllClose(w.reshape([4]), [16, 16, 16, 16], { atol: 1e-12 });
  const vm = matrices(v)[0];
  assertAllClose(matmulRef(transposeRef(vm), vm), identity(4), { atol: 1e-12, message: 'V^T V = I' });
  const [w2] = F.eigh(tensor([[1, 2e-162, 3e-163], [2e-162, 5, 1e-162], [3e-163, 1e-162, 2]], { dtype: 'float64' }));
  assertAllClose(w2, [1, 2, 5], { rtol: 1e-14 });
});
