/**
 * Linear algebra on the Hessians users compute: solves, factorizations, determinants and
 * the symmetric eigendecomposition. Each works on the last two axes and batches over the
 * leading ones (which broadcast between two operands, as matmul). They are backed by the
 * opaque primitives of primitives/linalg.ts, so grad, jvp, vmap, jacfwd, jacrev, hessian
 * and jit all go through them.
 *
 * Degenerate input follows JAX: a singular matrix gives Inf/NaN from solve and inv, det 0
 * and slogdet [0, -Infinity]; cholesky of a matrix that is not positive definite is all
 * NaN. Nothing throws on values, only on shapes and dtypes.
 */
import { isFloat, type DType } from '../dtype.js';
import { ArgumentError, DTypeError, ShapeError } from '../errors.js';
import { broadcastShapes, formatShape, sameShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { applyPrim, asTensor, type TensorLike } from './core.js';
import { cast, exp, mul } from './elementwise.js';
import { broadcastTo, select, shrink, squeeze, transpose, unsqueeze } from './movement.js';
import { eye } from './creation.js';

/** Checks `x` is a (batch of) square float matrices; returns n. */
function squareFloat(op: string, x: Tensor, name = 'A'): number {
  if (!isFloat(x.dtype)) throw new DTypeError(`${op}: ${name} must be float32 or float64, got ${x.dtype} of shape ${formatShape(x.shape)}; cast it first with ${name.toLowerCase()}.cast('float32')`);
  const n = x.shape[x.rank - 1];
  if (x.rank < 2 || x.shape[x.rank - 2] !== n) {
    throw new ShapeError(`${op}: ${name} must be a square matrix or a batch of them, [..., n, n], got ${formatShape(x.shape)}`);
  }
  return n;
}

/** The dtype two float operands compute in (float64 if either is). */
function commonFloat(op: string, a: Tensor, b: Tensor): DType {
  if (!isFloat(b.dtype)) throw new DTypeError(`${op}: B must be float32 or float64, got ${b.dtype} of shape ${formatShape(b.shape)}; cast it first with b.cast('float32')`);
  return a.dtype === 'float64' || b.dtype === 'float64' ? 'float64' : 'float32';
}

/**
 * The right-hand side as a batch of matrices [..., n, k] with A's batch axes broadcast
 * against B's. B is a vector (or a batch of vectors) when it has rank 1 or the shape of A
 * without its last axis, as in PyTorch; `vector` says to squeeze the result back.
 */
function alignRightHandSide(op: string, a: Tensor, b: Tensor, vectors = true): { a: Tensor; b: Tensor; vector: boolean } {
  const n = a.shape[a.rank - 1];
  const vector = vectors && (b.rank === 1 || (b.rank === a.rank - 1 && sameShape(b.shape, a.shape.slice(0, -1))));
  const matrix = vector ? unsqueeze(b, -1) : b;
  if (matrix.rank < 2 || matrix.shape[matrix.rank - 2] !== n) {
    throw new ShapeError(`${op}: B ${formatShape(b.shape)} does not fit A ${formatShape(a.shape)}; B must be [..., ${n}] (vectors) or [..., ${n}, k] (matrices)`);
  }
  let batch: number[];
  try {
    batch = broadcastShapes(op, a.shape.slice(0, -2), matrix.shape.slice(0, -2));
  } catch {
    throw new ShapeError(`${op}: the batch axes of A ${formatShape(a.shape)} and B ${formatShape(b.shape)} cannot be broadcast together; make each pair of sizes equal or 1`);
  }
  return { a: broadcastTo(a, [...batch, n, n]), b: broadcastTo(matrix, [...batch, n, matrix.shape[matrix.rank - 1]]), vector };
}

/** Validates and promotes (A, B) for a solve; returns them aligned. */
function solveOperands(op: string, aLike: TensorLike, bLike: TensorLike): { a: Tensor; b: Tensor; vector: boolean } {
  const a0 = asTensor(aLike);
  squareFloat(op, a0);
  const b0 = asTensor(bLike, a0.dtype);
  const dtype = commonFloat(op, a0, b0);
  return alignRightHandSide(op, cast(a0, dtype), cast(b0, dtype));
}

/**
 * Solves A X = B for X (A square and invertible), batched over leading axes. B is a vector
 * `[..., n]` when it has rank 1 or A's shape without its last axis, else matrices
 * `[..., n, k]`. LU with partial pivoting; a singular A gives Inf/NaN, as JAX.
 * @example
 * solve(tensor([[3, 1], [1, 2]]), tensor([9, 8])); // [2, 3]
 */
export function solve(a: TensorLike, b: TensorLike): Tensor {
  const aligned = solveOperands('solve', a, b);
  const x = applyPrim('solve', [aligned.a, aligned.b]);
  return aligned.vector ? squeeze(x, -1) : x;
}

/** Options of `triangularSolve`. */
export interface TriangularSolveOptions {
  /**
   * Which triangle of A holds the matrix (the other is ignored). Required: JAX defaults to
   * upper, PyTorch has no default, so a default here would surprise someone.
   */
  lower: boolean;
  /** Solve with A^T instead of A. Default false. */
  transpose?: boolean;
  /** Take A's diagonal as ones (it is not read). Default false. */
  unitDiagonal?: boolean;
  /** true (default): op(A) X = B; false: X op(A) = B. */
  left?: boolean;
}

/**
 * Solves op(A) X = B (or X op(A) = B with `left: false`) for triangular A, reading only
 * A's triangle; op(A) is A or, with `transpose`, A^T. B broadcasts as in `solve`.
 * @example
 * const L = tensor([[2, 0], [1, 1]]);
 * triangularSolve(L, tensor([4, 5]), { lower: true }); // [2, 3]
 */
export function triangularSolve(a: TensorLike, b: TensorLike, opts: TriangularSolveOptions): Tensor {
  if (typeof opts?.lower !== 'boolean') throw new ArgumentError("triangularSolve: pass { lower: true } or { lower: false } to say which triangle of A holds the matrix");
  const { lower, transpose: trans = false, unitDiagonal = false, left = true } = opts;
  const attrs = { lower, transpose: trans, unitDiagonal };
  if (left) {
    const aligned = solveOperands('triangularSolve', a, b);
    const x = applyPrim('triangular_solve', [aligned.a, aligned.b], attrs);
    return aligned.vector ? squeeze(x, -1) : x;
  }
  // X op(A) = B  <=>  op(A)^T X^T = B^T.
  const a0 = asTensor(a);
  squareFloat('triangularSolve', a0);
  const b0 = asTensor(b, a0.dtype);
  const dtype = commonFloat('triangularSolve', a0, b0);
  const vector = b0.rank === 1;
  const bt = vector ? unsqueeze(b0, -1) : transpose(b0, -2, -1);
  const aligned = alignRightHandSide('triangularSolve', cast(a0, dtype), cast(bt, dtype), false);
  const xt = applyPrim('triangular_solve', [aligned.a, aligned.b], { ...attrs, transpose: !trans });
  return vector ? squeeze(xt, -1) : transpose(xt, -2, -1);
}

/**
 * The Cholesky factor of a symmetric positive-definite matrix: lower triangular L with
 * A = L L^T (with `upper: true`, U = L^T, A = U^T U). Reads the symmetric part
 * (A + A^T) / 2, as JAX, so derivatives are those of a symmetric input. A matrix that is not
 * positive definite gives a factor of NaN, as JAX.
 * @example
 * cholesky(tensor([[4, 2], [2, 2]])); // [[2, 0], [1, 1]]
 */
export function cholesky(a: TensorLike, opts: { upper?: boolean } = {}): Tensor {
  const x = asTensor(a);
  squareFloat('cholesky', x);
  const l = applyPrim('cholesky', [x]);
  return opts.upper ? transpose(l, -2, -1) : l;
}

/**
 * Solves A X = B given the Cholesky factor of A (`L` lower by default, as `cholesky`
 * returns it; `{ lower: false }` for U with A = U^T U). The factor comes first, as JAX's
 * `cho_solve` (PyTorch's `cholesky_solve(B, L)` takes them the other way round).
 * @example
 * const L = cholesky(tensor([[4, 2], [2, 2]]));
 * choleskySolve(L, tensor([6, 4])); // [1, 1]
 */
export function choleskySolve(factor: TensorLike, b: TensorLike, opts: { lower?: boolean } = {}): Tensor {
  const lower = opts.lower ?? true;
  // A = L L^T: L Y = B, then L^T X = Y. A = U^T U: U^T Y = B, then U X = Y.
  const y = triangularSolve(factor, b, { lower, transpose: !lower });
  return triangularSolve(factor, y, { lower, transpose: lower });
}

/**
 * The inverse of a square matrix (batched). Prefer `solve(A, B)` to `inv(A).matmul(B)`.
 * A singular matrix gives Inf/NaN.
 * @example
 * inv(tensor([[2, 0], [0, 4]])); // [[0.5, 0], [0, 0.25]]
 */
export function inv(a: TensorLike): Tensor {
  const x = asTensor(a);
  const n = squareFloat('inv', x);
  return applyPrim('solve', [x, broadcastTo(eye(n, n, { dtype: x.dtype }), x.shape)]);
}

/**
 * The sign and the log of the absolute value of the determinant, `[sign, logabsdet]`
 * (batched), as NumPy/JAX/PyTorch: det = sign * exp(logabsdet) without overflow. A singular
 * matrix gives [0, -Infinity].
 * @example
 * const [sign, logAbsDet] = slogdet(tensor([[0, 2], [3, 0]])); // -1, log(6)
 */
export function slogdet(a: TensorLike): [Tensor, Tensor] {
  const x = asTensor(a);
  squareFloat('slogdet', x);
  const packed = applyPrim('slogdet', [x]);
  return [select(packed, -1, 0), select(packed, -1, 1)];
}

/**
 * The determinant (batched), as sign * exp(log|det|) from an LU factorization.
 * @example
 * det(tensor([[1, 2], [3, 4]])); // -2
 */
export function det(a: TensorLike): Tensor {
  const x = asTensor(a);
  squareFloat('det', x);
  const [sign, logAbsDet] = slogdet(x);
  return mul(sign, exp(logAbsDet));
}

/**
 * The eigendecomposition of a symmetric matrix (batched): `[eigenvalues, eigenvectors]`
 * with the eigenvalues ascending and the eigenvectors as the columns of an orthogonal
 * matrix, A = V diag(w) V^T. Reads the symmetric part (A + A^T) / 2, as JAX. Each
 * eigenvector's largest component is positive. Derivatives of the eigenvectors are
 * undefined where eigenvalues repeat (the terms of coinciding eigenvalues are left out, so
 * gradients through the eigenvalues alone stay finite).
 * @example
 * const [w, V] = eigh(tensor([[2, 1], [1, 2]])); // w = [1, 3], V = [[0.707, 0.707], [-0.707, 0.707]]
 */
export function eigh(a: TensorLike): [Tensor, Tensor] {
  const x = asTensor(a);
  const n = squareFloat('eigh', x);
  const packed = applyPrim('eigh', [x]);
  const batch = x.shape.slice(0, -2).map((d): [number, number] => [0, d]);
  return [select(packed, -2, 0), shrink(packed, [...batch, [1, n + 1], [0, n]])];
}
