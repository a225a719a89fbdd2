/**
 * The opaque linear-algebra primitives: solve, triangular_solve, cholesky, slogdet, eigh.
 * Each works on matrices in the last two axes, batched over equal leading axes; each is
 * computed by a hand-written float64 routine (the scheduler runs it as a call step of its
 * own) and differentiated by standard formulas written in terms of other ops, so every
 * transform composes through it. Two results that belong together are packed into one
 * output (slogdet: [..., 2] holding sign and log|det|; eigh: [..., n + 1, n] holding the
 * eigenvalues in row 0 and the eigenvectors as columns below), and the public functions
 * (ops/decompositions.ts) slice them apart.
 */
import { allocate, isFloat, type DType, type TypedArray } from '../dtype.js';
import { DTypeError, ShapeError } from '../errors.js';
import { registerPrimitive, type BatchRule, type CallSignature, type OPS_BY_KIND, type JvpRule, type VjpRule } from '../primitive.js';
import { formatShape, sameShape, sizeOf, type Shape } from '../shape.js';
import type { Attrs, Node } from '../node.js';
import type { Tensor } from '../tensor.js';
import { applyPrim } from '../ops/core.js';
import * as o from '../ops/elementwise.js';
import { matmul } from '../ops/linalg.js';
import { concat, diagonal, shrink, transpose, tril, triu, unsqueeze, broadcastTo } from '../ops/movement.js';
import { eye } from '../ops/creation.js';
import { sum } from '../ops/reduce.js';
import { batchToFront } from './batching.js';

// Rules ------------------------------------------------------------------------------------

/** Every operand's batch axis moves to the front; the ops batch over leading axes. */
const batchLeading: BatchRule = (args, dims, node, size) => [applyPrim(node.op, args.map((a, i) => batchToFront(a, dims[i], size)), node.attrs), 0];

const mT = (x: Tensor): Tensor => transpose(x, -2, -1);
const sym = (x: Tensor): Tensor => o.mul(o.add(x, mT(x)), 0.5);
const plus = (a: Tensor | null, b: Tensor | null): Tensor | null => (a && b ? o.add(a, b) : a ?? b);
const identityLike = (a: Tensor): Tensor => broadcastTo(eye(a.shape[a.rank - 1], a.shape[a.rank - 1], { dtype: a.dtype }), a.shape);

type TriangularAttrs = {
  readonly lower: boolean;
  readonly transpose: boolean;
  readonly unitDiagonal: boolean;
};

const triangularSolve = (a: Tensor, b: Tensor, attrs: TriangularAttrs): Tensor => applyPrim('triangular_solve', [a, b], { ...attrs });

/** The part of a matrix a triangular solve reads (its triangle, without the diagonal when unit). */
function triangleOf(x: Tensor, attrs: Attrs): Tensor {
  const strict = attrs.unitDiagonal ? 1 : 0;
  return attrs.lower ? tril(x, -strict) : triu(x, strict);
}

/** The lower triangle with its diagonal halved: the map Φ of the Cholesky derivative. */
function lowerHalfDiagonal(x: Tensor): Tensor {
  return o.sub(tril(x), o.mul(triu(tril(x)), 0.5));
}

// Shape rules ------------------------------------------------------------------------------

function checkFloatMatrix(op: string, x: Node, what: string): number {
  if (!isFloat(x.dtype)) throw new DTypeError(`${op}: ${what} must be float32 or float64, got ${x.dtype}`);
  const n = x.shape[x.shape.length - 1];
  if (x.shape.length < 2 || x.shape[x.shape.length - 2] !== n) throw new ShapeError(`${op}: ${what} must be square matrices [..., n, n], got ${formatShape(x.shape)}`);
  return n;
}

function inferSolve(op: string) {
  return ([a, b]: readonly Node[]) => {
    const n = checkFloatMatrix(op, a, 'A');
    if (b.dtype !== a.dtype) throw new DTypeError(`${op}: A is ${a.dtype} but B is ${b.dtype}; cast them to one dtype`);
    if (b.shape.length !== a.shape.length || b.shape[b.shape.length - 2] !== n || !sameShape(b.shape.slice(0, -2), a.shape.slice(0, -2))) {
      throw new ShapeError(`${op}: B ${formatShape(b.shape)} must be [..., ${n}, k] with the batch axes of A ${formatShape(a.shape)}`);
    }
    return { shape: b.shape, dtype: b.dtype };
  };
}

// Reference routines (float64, one matrix at a time) -------------------------------------------

/** How many matrices (or vectors, with `matrixAxes` 1) a batched shape holds. */
function batches(shape: Shape, matrixAxes: number): number {
  return sizeOf(shape.slice(0, shape.length - matrixAxes));
}

/**
 * LU factorization with partial pivoting, in place on the row-major n x n `a`: returns
 * the permutation's parity (+1 or -1), or 0 when a column has no non-zero pivot. Rows of
 * `rhs` (n x k) are swapped and eliminated alongside, when given.
 */
function luInPlace(a: Float64Array, n: number, rhs?: Float64Array, k = 0): number {
  let parity = 1;
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r * n + col]) > Math.abs(a[pivot * n + col])) pivot = r;
    if (pivot !== col) {
      parity = -parity;
      for (let c = 0; c < n; c++) [a[col * n + c], a[pivot * n + c]] = [a[pivot * n + c], a[col * n + c]];
      if (rhs) for (let c = 0; c < k; c++) [rhs[col * k + c], rhs[pivot * k + c]] = [rhs[pivot * k + c], rhs[col * k + c]];
    }
    const p = a[col * n + col];
    if (p === 0) {
      // A singular matrix: the solve divides by the zero pivot below (Inf/NaN, as JAX).
      if (!rhs) return 0;
      parity = 0;
    }
    for (let r = col + 1; r < n; r++) {
      const factor = a[r * n + col] / p;
      a[r * n + col] = factor;
      if (factor === 0) continue;
      for (let c = col + 1; c < n; c++) a[r * n + c] -= factor * a[col * n + c];
      if (rhs) for (let c = 0; c < k; c++) rhs[r * k + c] -= factor * rhs[col * k + c];
    }
  }
  return parity;
}

function computeSolve(out: TypedArray, [a, b]: readonly TypedArray[], sig: CallSignature): void {
  const n = sig.shape[sig.shape.length - 2];
  const k = sig.shape[sig.shape.length - 1];
  const m = new Float64Array(n * n);
  const x = new Float64Array(n * k);
  for (let batch = 0, count = batches(sig.shape, 2); batch < count; batch++) {
    m.set(a.subarray(batch * n * n, (batch + 1) * n * n));
    x.set(b.subarray(batch * n * k, (batch + 1) * n * k));
    luInPlace(m, n, x, k);
    for (let r = n - 1; r >= 0; r--) {
      for (let c = 0; c < k; c++) {
        let s = x[r * k + c];
        for (let j = r + 1; j < n; j++) s -= m[r * n + j] * x[j * k + c];
        x[r * k + c] = s / m[r * n + r];
      }
    }
    out.set(x, batch * n * k);
  }
}

function computeTriangularSolve(out: TypedArray, [a, b]: readonly TypedArray[], sig: CallSignature): void {
  const n = sig.shape[sig.shape.length - 2];
  const k = sig.shape[sig.shape.length - 1];
  const { lower, transpose: trans, unitDiagonal } = sig.attrs as unknown as TriangularAttrs;
  // op(A) is lower triangular when A is lower and not transposed, or upper and transposed.
  const forward = lower !== trans;
  const x = new Float64Array(n * k);
  for (let batch = 0, count = batches(sig.shape, 2); batch < count; batch++) {
    const base = batch * n * n;
    const at = (i: number, j: number) => (trans ? a[base + j * n + i] : a[base + i * n + j]);
    x.set(b.subarray(batch * n * k, (batch + 1) * n * k));
    for (let step = 0; step < n; step++) {
      const r = forward ? step : n - 1 - step;
      for (let c = 0; c < k; c++) {
        let s = x[r * k + c];
        if (forward) for (let j = 0; j < r; j++) s -= at(r, j) * x[j * k + c];
        else for (let j = r + 1; j < n; j++) s -= at(r, j) * x[j * k + c];
        x[r * k + c] = unitDiagonal ? s : s / at(r, r);
      }
    }
    out.set(x, batch * n * k);
  }
}

function computeCholesky(out: TypedArray, [a]: readonly TypedArray[], sig: CallSignature): void {
  const n = sig.shape[sig.shape.length - 1];
  const l = new Float64Array(n * n);
  for (let batch = 0, count = batches(sig.shape, 2); batch < count; batch++) {
    const base = batch * n * n;
    l.fill(0);
    let positive = true;
    for (let j = 0; j < n && positive; j++) {
      for (let i = j; i < n; i++) {
        let s = 0.5 * (a[base + i * n + j] + a[base + j * n + i]);
        for (let q = 0; q < j; q++) s -= l[i * n + q] * l[j * n + q];
        if (i === j) {
          // Not positive definite (or NaN): the whole factor is NaN, as JAX.
          if (!(s > 0)) positive = false;
          l[j * n + j] = Math.sqrt(s);
        } else {
          l[i * n + j] = s / l[j * n + j];
        }
      }
    }
    if (!positive) l.fill(NaN);
    out.set(l, base);
  }
}

function computeSlogdet(out: TypedArray, [a]: readonly TypedArray[], sig: CallSignature): void {
  const n = sig.inputs[0].shape[sig.inputs[0].shape.length - 1];
  const m = new Float64Array(n * n);
  for (let batch = 0, count = batches(sig.shape, 1); batch < count; batch++) {
    m.set(a.subarray(batch * n * n, (batch + 1) * n * n));
    let sign = luInPlace(m, n);
    let logAbs = 0;
    for (let i = 0; i < n && sign !== 0; i++) {
      const d = m[i * n + i];
      if (d < 0) sign = -sign;
      logAbs += Math.log(Math.abs(d));
    }
    // NaN entries give NaN for both; a singular matrix gives sign 0 and log|det| -Infinity.
    if (Number.isNaN(logAbs)) sign = NaN;
    out[2 * batch] = sign;
    out[2 * batch + 1] = sign === 0 ? -Infinity : logAbs;
  }
}

/**
 * Householder reduction of the symmetric n x n `a` (row-major, overwritten) to tridiagonal
 * form T = Q^T A Q: returns T's diagonal and off-diagonal (off[i] couples i and i + 1) and
 * the orthogonal Q.
 */
function tridiagonalize(a: Float64Array, n: number): { diag: Float64Array; off: Float64Array; q: Float64Array } {
  const q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) q[i * n + i] = 1;
  const v = new Float64Array(n);
  const w = new Float64Array(n);
  for (let k = 0; k + 2 < n; k++) {
    // The reflection P = I - beta v v^T that maps column k below the diagonal to alpha e1.
    // v is the column divided by its largest entry: P does not depend on v's scale, and
    // squares of tiny entries (1e-162) would underflow into a denormal norm whose beta
    // overflows to Infinity.
    let scale = 0;
    for (let i = k + 1; i < n; i++) scale = Math.max(scale, Math.abs(a[i * n + k]));
    if (scale === 0) continue;
    let norm2 = 0;
    for (let i = k + 1; i < n; i++) {
      v[i] = a[i * n + k] / scale;
      norm2 += v[i] * v[i];
    }
    const head = v[k + 1];
    const scaledAlpha = head > 0 ? -Math.sqrt(norm2) : Math.sqrt(norm2);
    const alpha = scaledAlpha * scale;
    v[k + 1] -= scaledAlpha;
    const vv = norm2 - head * head + v[k + 1] * v[k + 1];
    if (vv === 0) continue;
    const beta = 2 / vv;
    // A22 <- P A22 P as a symmetric rank-2 update: p = beta A22 v, w = p - (beta v.p / 2) v.
    let vp = 0;
    for (let i = k + 1; i < n; i++) {
      let p = 0;
      for (let j = k + 1; j < n; j++) p += a[i * n + j] * v[j];
      w[i] = beta * p;
      vp += v[i] * w[i];
    }
    const half = (beta * vp) / 2;
    for (let i = k + 1; i < n; i++) w[i] -= half * v[i];
    for (let i = k + 1; i < n; i++) for (let j = k + 1; j < n; j++) a[i * n + j] -= v[i] * w[j] + w[i] * v[j];
    a[(k + 1) * n + k] = alpha;
    a[k * n + k + 1] = alpha;
    for (let i = k + 2; i < n; i++) a[i * n + k] = a[k * n + i] = 0;
    // Q <- Q P.
    for (let r = 0; r < n; r++) {
      let qv = 0;
      for (let j = k + 1; j < n; j++) qv += q[r * n + j] * v[j];
      qv *= beta;
      for (let j = k + 1; j < n; j++) q[r * n + j] -= qv * v[j];
    }
  }
  const diag = new Float64Array(n);
  const off = new Float64Array(n);
  for (let i = 0; i < n; i++) diag[i] = a[i * n + i];
  for (let i = 0; i + 1 < n; i++) off[i] = a[(i + 1) * n + i];
  return { diag, off, q };
}

/**
 * Implicitly shifted QL iterations on a symmetric tridiagonal matrix (diagonal `d`,
 * off-diagonal `e`, both overwritten: `d` ends as the eigenvalues), applying every
 * rotation to the columns of `z` (n x n, row-major), which ends as the eigenvectors.
 */
function tridiagonalEigen(d: Float64Array, e: Float64Array, z: Float64Array, n: number): void {
  for (let l = 0; l < n; l++) {
    for (let iteration = 0; iteration < 64; iteration++) {
      // The first negligible off-diagonal entry at or after l splits the problem.
      let m = l;
      while (m < n - 1 && Math.abs(e[m]) > Number.EPSILON * (Math.abs(d[m]) + Math.abs(d[m + 1]))) m++;
      if (m === l) break;
      // Wilkinson's shift from the leading 2 x 2 block, folded into the first rotation.
      let g = (d[l + 1] - d[l]) / (2 * e[l]);
      let r = Math.hypot(g, 1);
      g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let p = 0;
      let underflow = false;
      for (let i = m - 1; i >= l; i--) {
        const f = s * e[i];
        const b = c * e[i];
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          // The rotation vanished: the bulge is gone early; restart on the deflated block.
          d[i + 1] -= p;
          e[m] = 0;
          underflow = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1] - p;
        r = (d[i] - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        for (let k = 0; k < n; k++) {
          const zi = z[k * n + i];
          const zj = z[k * n + i + 1];
          z[k * n + i + 1] = s * zi + c * zj;
          z[k * n + i] = c * zi - s * zj;
        }
      }
      if (underflow) continue;
      d[l] -= p;
      e[l] = g;
      e[m] = 0;
    }
  }
}

/** Eigenvalues and eigenvectors (columns) of the symmetric `a` (overwritten). */
function symmetricEigen(a: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const { diag, off, q } = tridiagonalize(a, n);
  tridiagonalEigen(diag, off, q, n);
  return { values: diag, vectors: q };
}

function computeEigh(out: TypedArray, [a]: readonly TypedArray[], sig: CallSignature): void {
  const n = sig.shape[sig.shape.length - 1];
  const m = new Float64Array(n * n);
  for (let batch = 0, count = batches(sig.shape, 2); batch < count; batch++) {
    const base = batch * n * n;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) m[i * n + j] = 0.5 * (a[base + i * n + j] + a[base + j * n + i]);
    const { values, vectors } = symmetricEigen(m, n);
    const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => values[i] - values[j] || i - j);
    const at = batch * (n + 1) * n;
    order.forEach((src, col) => {
      out[at + col] = values[src];
      // A deterministic sign: the largest component of each eigenvector is positive.
      let big = 0;
      for (let r = 1; r < n; r++) if (Math.abs(vectors[r * n + src]) > Math.abs(vectors[big * n + src]) + 1e-12) big = r;
      const flip = vectors[big * n + src] < 0 ? -1 : 1;
      for (let r = 0; r < n; r++) out[at + (r + 1) * n + col] = flip * vectors[r * n + src];
    });
  }
}

// Registration -------------------------------------------------------------------------------

interface OpaqueSpec {
  op: (typeof OPS_BY_KIND)['opaque'][number];
  arity: number;
  infer(inputs: readonly Node[], attrs: Attrs): { shape: Shape; dtype: DType };
  compute(out: TypedArray, inputs: readonly TypedArray[], signature: CallSignature): void;
  jvp: JvpRule;
  vjp: VjpRule;
}

function opaque(spec: OpaqueSpec): void {
  registerPrimitive({
    ...spec,
    kind: 'opaque',
    batch: batchLeading,
    evaluate(inputs, node) {
      const out = allocate(node.dtype, sizeOf(node.shape));
      spec.compute(out, inputs, node);
      return out;
    },
  });
}

opaque({
  op: 'solve',
  arity: 2,
  infer: inferSolve('solve'),
  compute: computeSolve,
  // X = A^-1 B: dX = A^-1 (dB - dA X).
  jvp: ([a], [da, db], x) => {
    const rhs = plus(db, da ? o.neg(matmul(da, x)) : null);
    return rhs && applyPrim('solve', [a, rhs]);
  },
  vjp: (ct, [a], x) => {
    const ctB = applyPrim('solve', [mT(a), ct]);
    return [o.neg(matmul(ctB, mT(x))), ctB];
  },
});

opaque({
  op: 'triangular_solve',
  arity: 2,
  infer: inferSolve('triangular_solve'),
  compute: computeTriangularSolve,
  // X = op(A)^-1 B over A's triangle: dX = op(A)^-1 (dB - op(tri(dA)) X).
  jvp: ([a], [da, db], x, attrs) => {
    const opDa = da && (attrs.transpose ? mT(triangleOf(da, attrs)) : triangleOf(da, attrs));
    const rhs = plus(db, opDa ? o.neg(matmul(opDa, x)) : null);
    return rhs && triangularSolve(a, rhs, attrs as unknown as TriangularAttrs);
  },
  vjp: (ct, [a], x, attrs) => {
    const ctB = triangularSolve(a, ct, { ...(attrs as unknown as TriangularAttrs), transpose: !attrs.transpose });
    const ctOpA = o.neg(matmul(ctB, mT(x)));
    return [triangleOf(attrs.transpose ? mT(ctOpA) : ctOpA, attrs), ctB];
  },
});

const lowerSolve = (l: Tensor, b: Tensor, transposed = false) => triangularSolve(l, b, { lower: true, transpose: transposed, unitDiagonal: false });

opaque({
  op: 'cholesky',
  arity: 1,
  infer: ([a]) => {
    checkFloatMatrix('cholesky', a, 'A');
    return { shape: a.shape, dtype: a.dtype };
  },
  compute: computeCholesky,
  // A = L L^T (of the symmetric part): dL = L Φ(L^-1 dA L^-T), Φ = lower triangle, half diagonal.
  jvp: (_p, [da], l) => {
    const left = lowerSolve(l, sym(da!)); // L^-1 dA
    const middle = mT(lowerSolve(l, mT(left))); // L^-1 dA L^-T
    return matmul(l, lowerHalfDiagonal(middle));
  },
  // The transpose of the map above: L^-T Φ(L^T ḡ) L^-1, symmetrized.
  vjp: (ct, _p, l) => {
    const phi = lowerHalfDiagonal(matmul(mT(l), ct));
    const right = lowerSolve(l, phi, true); // L^-T Φ
    return [sym(mT(lowerSolve(l, mT(right), true)))]; // (L^-T (L^-T Φ)^T)^T = L^-T Φ L^-1
  },
});

/** Packs a tangent of log|det| into the slogdet layout [..., 2] (the sign's tangent is zero). */
function packSlogdet(dLog: Tensor): Tensor {
  const column = unsqueeze(dLog, -1);
  return concat([o.mul(column, 0), column], -1);
}

opaque({
  op: 'slogdet',
  arity: 1,
  infer: ([a]) => {
    checkFloatMatrix('slogdet', a, 'A');
    return { shape: [...a.shape.slice(0, -2), 2], dtype: a.dtype };
  },
  compute: computeSlogdet,
  // d log|det A| = tr(A^-1 dA).
  jvp: ([a], [da]) => packSlogdet(sum(diagonal(applyPrim('solve', [a, da!]), 0, -2, -1), { axis: -1 })),
  vjp: (ct, [a]) => {
    const ctLog = unsqueeze(shrink(ct, [...ct.shape.slice(0, -1).map((d): [number, number] => [0, d]), [1, 2]]), -1); // [..., 1, 1]
    return [o.mul(applyPrim('solve', [mT(a), identityLike(a)]), ctLog)]; // A^-T log|det|̄
  },
});

/** The eigenvalues (row 0) and eigenvectors (rows 1..n) of the packed eigh output. */
function unpackEigh(packed: Tensor): [Tensor, Tensor] {
  const n = packed.shape[packed.rank - 1];
  const batch = packed.shape.slice(0, -2).map((d): [number, number] => [0, d]);
  const values = shrink(packed, [...batch, [0, 1], [0, n]]);
  const vectors = shrink(packed, [...batch, [1, n + 1], [0, n]]);
  return [values, vectors];
}

/** F[i][j] = 1 / (w[j] - w[i]) off the diagonal, 0 where the eigenvalues coincide. */
function gapReciprocals(values: Tensor): Tensor {
  const gaps = o.sub(values, mT(values)); // [..., n, n]: w[j] - w[i]
  const equal = o.eq(gaps, 0);
  return o.where(equal, 0, o.reciprocal(o.where(equal, 1, gaps)));
}

opaque({
  op: 'eigh',
  arity: 1,
  infer: ([a]) => {
    const n = checkFloatMatrix('eigh', a, 'A');
    return { shape: [...a.shape.slice(0, -2), n + 1, n], dtype: a.dtype };
  },
  compute: computeEigh,
  // dw = diag(V^T dA V), dV = V (F ∘ V^T dA V).
  jvp: (_p, [da], packed) => {
    const [values, vectors] = unpackEigh(packed);
    const rotated = matmul(mT(vectors), matmul(sym(da!), vectors));
    const dValues = unsqueeze(diagonal(rotated, 0, -2, -1), -2);
    const dVectors = matmul(vectors, o.mul(gapReciprocals(values), rotated));
    return concat([dValues, dVectors], -2);
  },
  // Ā = V (diag(w̄) + F ∘ V^T V̄) V^T, symmetrized.
  vjp: (ct, _p, packed) => {
    const [values, vectors] = unpackEigh(packed);
    const [ctValues, ctVectors] = unpackEigh(ct);
    const inner = o.add(o.mul(identityLike(vectors), ctValues), o.mul(gapReciprocals(values), matmul(mT(vectors), ctVectors)));
    return [sym(matmul(vectors, matmul(inner, mT(vectors))))];
  },
});
