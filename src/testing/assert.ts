/** Numerical assertions for tests: tensors, nested arrays and numbers compared with tolerances. */
import { Tensor, type DType, type NestedNumbers } from '../index.js';
import { describeValue } from '../lazy/errors.js';

/** What `assertAllClose` compares: a tensor, nested arrays of numbers or booleans, or a number. */
export type Comparable = Tensor | NestedNumbers | readonly Comparable[];

/** Thrown by `assertAllClose` when values or shapes differ. */
export class AssertionError extends Error {
  /** Node's code for failed assertions, so that test runners report it as one. */
  readonly code = 'ERR_ASSERTION';
  constructor(message: string) {
    super(message);
    this.name = 'AssertionError';
  }
}

export interface CloseOptions {
  /** Relative tolerance: |actual - expected| <= atol + rtol * |expected|. */
  rtol?: number;
  /** Absolute tolerance. */
  atol?: number;
  /** Whether NaN matches NaN at the same position (default true). */
  equalNan?: boolean;
  /** Prefix of the error message, to say what was compared. */
  message?: string;
}

/** Default tolerances, as torch.testing.assert_close; integers and bools compare exactly. */
const TOLERANCES: Record<DType, { rtol: number; atol: number }> = {
  float32: { rtol: 1.3e-6, atol: 1e-5 },
  float64: { rtol: 1e-7, atol: 1e-7 },
  int32: { rtol: 0, atol: 0 },
  bool: { rtol: 0, atol: 0 },
};

interface Flat {
  shape: number[];
  values: number[];
  dtype?: DType;
}

function flatten(x: Comparable, side: string): Flat {
  if (x instanceof Tensor) return { shape: [...x.shape], values: Array.from(x.dataSync()), dtype: x.dtype };
  if (typeof x === 'number') return { shape: [], values: [x] };
  if (typeof x === 'boolean') return { shape: [], values: [x ? 1 : 0] };
  if (!Array.isArray(x)) throw new AssertionError(`assertAllClose: ${side} is ${describeValue(x)}, not a tensor, a number or nested arrays of numbers`);
  const parts = (x as readonly Comparable[]).map((item) => flatten(item, side));
  const inner = parts.length ? parts[0].shape : [];
  for (const [i, part] of parts.entries()) {
    if (part.shape.join() !== inner.join()) {
      throw new AssertionError(`assertAllClose: ${side} is ragged: element ${i} has shape [${part.shape.join(', ')}] but element 0 has [${inner.join(', ')}]`);
    }
  }
  return { shape: [parts.length, ...inner], values: parts.flatMap((p) => p.values) };
}

function indexOf(flat: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    index[d] = flat % shape[d];
    flat = Math.floor(flat / shape[d]);
  }
  return index;
}

function close(a: number, e: number, rtol: number, atol: number, equalNan: boolean): boolean {
  if (Number.isNaN(a) || Number.isNaN(e)) return equalNan && Number.isNaN(a) && Number.isNaN(e);
  if (a === e) return true; // also equal infinities
  if (!Number.isFinite(a) || !Number.isFinite(e)) return false;
  return Math.abs(a - e) <= atol + rtol * Math.abs(e);
}

/** The looser default of the two sides' dtypes (plain numbers count as float64). */
function defaultTolerance(a: Flat, e: Flat): { rtol: number; atol: number } {
  const candidates = [a.dtype, e.dtype].filter((d): d is DType => d !== undefined).map((d) => TOLERANCES[d]);
  if (candidates.length === 0) return TOLERANCES.float64;
  // A tensor compared with exact numbers: use the tensor's precision.
  return candidates.reduce((x, y) => (x.rtol >= y.rtol ? x : y));
}

/**
 * Asserts that `actual` and `expected` have one shape and agree elementwise within
 * `atol + rtol * |expected|`. Either side may be a Tensor, nested arrays or a number.
 * Default tolerances follow the dtypes involved (as torch.testing.assert_close): float32
 * rtol 1.3e-6 atol 1e-5, float64 and plain numbers rtol 1e-7 atol 1e-7, int32/bool exact.
 * Throws an AssertionError naming the shapes, or the first mismatching index with both values
 * and the largest difference.
 * @example
 * assertAllClose(tensor([1, 2]).div(3), [0.3333333, 0.6666667]);
 * assertAllClose(x.sum(), 6, { atol: 1e-6 });
 */
export function assertAllClose(actual: Comparable, expected: Comparable, opts: CloseOptions = {}): void {
  const a = flatten(actual, 'actual');
  const e = flatten(expected, 'expected');
  const prefix = opts.message ? `${opts.message}: ` : '';
  if (a.shape.join() !== e.shape.join()) {
    throw new AssertionError(`${prefix}assertAllClose: shape mismatch: actual [${a.shape.join(', ')}] vs expected [${e.shape.join(', ')}]`);
  }
  const { rtol, atol } = { ...defaultTolerance(a, e), ...definedOnly({ rtol: opts.rtol, atol: opts.atol }) };
  const equalNan = opts.equalNan ?? true;
  let first = -1;
  let mismatches = 0;
  let worst = -1;
  let worstDiff = -1;
  for (let i = 0; i < a.values.length; i++) {
    if (close(a.values[i], e.values[i], rtol, atol, equalNan)) continue;
    mismatches++;
    if (first < 0) first = i;
    const diff = Math.abs(a.values[i] - e.values[i]);
    if (!(diff <= worstDiff)) {
      worstDiff = diff;
      worst = i;
    }
  }
  if (mismatches === 0) return;
  const at = (i: number) => `[${indexOf(i, a.shape).join(', ')}]`;
  const allowed = atol + rtol * Math.abs(e.values[first]);
  throw new AssertionError(
    `${prefix}assertAllClose: ${mismatches} of ${a.values.length} elements differ (rtol ${rtol}, atol ${atol}); ` +
      `first at ${at(first)}: actual ${a.values[first]}, expected ${e.values[first]} ` +
      `(|difference| ${Math.abs(a.values[first] - e.values[first])}, allowed ${allowed}); ` +
      `largest |difference| ${worstDiff} at ${at(worst)}`,
  );
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
