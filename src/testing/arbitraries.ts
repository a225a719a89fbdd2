/**
 * fast-check arbitraries for property tests of code written with functs: shapes, sets of
 * broadcast-compatible shapes, tensors with finite values, axes and permutations, and the
 * number of runs to ask for (`numRuns`).
 */
import fc from 'fast-check';
import { ArgumentError, tensor, type DType, type Tensor } from '../index.js';

/**
 * How many runs a property should make: `quick` normally, ten times as many when the
 * environment variable FUNCTS_THOROUGH is 1 (for a long, thorough run before a release).
 *
 * It also applies FUNCTS_SEED (see `replayFromEnvironment`), so that a failure reported as
 * `{ seed: -123, path: "45:2:0" }` replays with
 * `FUNCTS_SEED=-123 npm test -- <file> --test-name-pattern=<test>`.
 * @example
 * fc.assert(fc.property(shapeArb(), (shape) => ...), { numRuns: numRuns(50) });
 */
export function numRuns(quick: number): number {
  replayFromEnvironment();
  const thorough = environment('FUNCTS_THOROUGH') === '1';
  return thorough ? quick * 10 : quick;
}

function environment(name: string): string | undefined {
  return typeof process !== 'undefined' ? process.env?.[name] : undefined;
}

/**
 * Sets fast-check's global seed from the environment variable FUNCTS_SEED (an integer: the
 * seed a failing property printed), so the property generates the same cases again, fails
 * at the same one and shrinks it to the same counterexample; without it, fast-check picks a
 * seed per property and prints it with any failure. `numRuns` calls it, so property tests
 * that size their runs with `numRuns` need nothing else. Replay one test at a time (Node's
 * `--test-name-pattern`): every property of the process takes the same seed. (fast-check
 * takes a counterexample's `path` per call only, not globally; the seed alone suffices.)
 * Throws an ArgumentError when FUNCTS_SEED is not an integer.
 * @example
 * // FUNCTS_SEED=-1520733186
 * replayFromEnvironment(); // fc.readConfigureGlobal().seed === -1520733186
 */
export function replayFromEnvironment(): void {
  const seed = environment('FUNCTS_SEED');
  if (seed === undefined) return;
  const parsed = Number(seed);
  if (seed.trim() === '' || !Number.isInteger(parsed)) {
    throw new ArgumentError(`replayFromEnvironment: FUNCTS_SEED is '${seed}', not an integer; pass the seed a failing property printed, e.g. FUNCTS_SEED=-1520733186`);
  }
  const current = fc.readConfigureGlobal();
  if (current.seed !== parsed) fc.configureGlobal({ ...current, seed: parsed });
}

/** Bounds of generated shapes. */
export interface ShapeOptions {
  /** Fewest axes (default 0: scalars included). */
  minRank?: number;
  /** Most axes (default 4). */
  maxRank?: number;
  /** Smallest dimension (default 1; pass 0 to include empty tensors). */
  minDim?: number;
  /** Largest dimension (default 4). Size-1 dimensions come up often, to exercise broadcasting. */
  maxDim?: number;
}

/**
 * Shapes of rank minRank..maxRank with dimensions minDim..maxDim.
 * @example
 * fc.assert(fc.property(shapeArb({ maxRank: 3 }), (shape) => zeros(shape).size === shape.reduce((a, b) => a * b, 1)));
 */
export function shapeArb(opts: ShapeOptions = {}): fc.Arbitrary<number[]> {
  const { minRank = 0, maxRank = 4, minDim = 1, maxDim = 4 } = opts;
  return fc.array(fc.integer({ min: minDim, max: maxDim }), { minLength: minRank, maxLength: maxRank });
}

/** An operand shape that broadcasts to `full`: some leading axes dropped, some others set to 1. */
function broadcastOperandArb(full: readonly number[]): fc.Arbitrary<number[]> {
  return fc
    .tuple(fc.integer({ min: 0, max: full.length }), fc.array(fc.boolean(), { minLength: full.length, maxLength: full.length }))
    .map(([dropped, toOne]) => full.slice(dropped).map((d, i) => (toOne[dropped + i] ? 1 : d)));
}

/**
 * `count` shapes that broadcast together (NumPy rules): each is a broadcast operand of one
 * common shape, with leading axes dropped and some dimensions set to 1.
 * @example
 * fc.assert(fc.property(broadcastableShapesArb(2), ([a, b]) => add(ones(a), ones(b)).rank === Math.max(a.length, b.length)));
 */
export function broadcastableShapesArb(count = 2, opts: ShapeOptions = {}): fc.Arbitrary<number[][]> {
  return shapeArb(opts).chain((full) => fc.tuple(...Array.from({ length: count }, () => broadcastOperandArb(full))));
}

/** The values a generated tensor holds. */
export interface ValueOptions {
  /** float32 (default), float64, int32 or bool. */
  dtype?: DType;
  /** Smallest value (default -10; ignored for bool). */
  min?: number;
  /** Largest value (default 10; ignored for bool). */
  max?: number;
}

/**
 * `size` finite numbers of the given dtype in [min, max] (0/1 for bool), as plain numbers.
 * @example
 * fc.assert(fc.property(valuesArb(6, { dtype: 'int32', min: 0, max: 5 }), (values) => values.every(Number.isInteger)));
 */
export function valuesArb(size: number, opts: ValueOptions = {}): fc.Arbitrary<number[]> {
  const { dtype = 'float32', min = -10, max = 10 } = opts;
  if (!(Number.isFinite(min) && Number.isFinite(max) && min <= max)) {
    throw new ArgumentError(`valuesArb: the range [${min}, ${max}] must be finite and non-empty`);
  }
  let element: fc.Arbitrary<number>;
  switch (dtype) {
    case 'float32':
    case 'float64':
      element = fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
      break;
    case 'int32':
      element = fc.integer({ min: Math.ceil(min), max: Math.floor(max) });
      break;
    case 'bool':
      element = fc.boolean().map((b) => (b ? 1 : 0));
      break;
    default:
      return dtype satisfies never;
  }
  return fc.array(element, { minLength: size, maxLength: size });
}

/**
 * Tensors of one shape and dtype holding finite values in [min, max] (float32 values are
 * rounded to float32, so they may reach min or max after rounding).
 * @example
 * fc.assert(fc.property(tensorArb([2, 3], { dtype: 'float64' }), (x) => x.add(0).sub(x).abs().max().item() === 0));
 */
export function tensorArb(shape: readonly number[], opts: ValueOptions = {}): fc.Arbitrary<Tensor> {
  const dtype = opts.dtype ?? 'float32';
  const size = shape.reduce((a, b) => a * b, 1);
  return valuesArb(size, opts).map((values) => tensor(values, { dtype, shape }));
}

/**
 * Tensors of a random shape (see `shapeArb`) with values as in `tensorArb`.
 * @example
 * fc.assert(fc.property(shapedTensorArb({ maxRank: 3 }), (x) => x.neg().neg().sub(x).abs().sum().item() === 0));
 */
export function shapedTensorArb(shapeOpts: ShapeOptions = {}, valueOpts: ValueOptions = {}): fc.Arbitrary<Tensor> {
  return shapeArb(shapeOpts).chain((shape) => tensorArb(shape, valueOpts));
}

function rankOf(shapeOrRank: readonly number[] | number): number {
  return typeof shapeOrRank === 'number' ? shapeOrRank : shapeOrRank.length;
}

/**
 * One axis of a shape (or of a rank), in either form: 0..rank-1 or -rank..-1.
 * @example
 * fc.assert(fc.property(axisArb([2, 3, 4]), (axis) => sum(ones([2, 3, 4]), { axis }).rank === 2));
 */
export function axisArb(shapeOrRank: readonly number[] | number): fc.Arbitrary<number> {
  const rank = rankOf(shapeOrRank);
  if (rank < 1) throw new ArgumentError('axisArb: a 0-d shape has no axes; generate shapes with minRank: 1');
  return fc.integer({ min: -rank, max: rank - 1 });
}

/**
 * A set of distinct axes of a shape (possibly empty), in random order, each axis in either
 * its non-negative or its negative form.
 * @example
 * fc.assert(fc.property(axesArb([2, 3, 4]), (axis) => sum(ones([2, 3, 4]), { axis }).rank === 3 - axis.length));
 */
export function axesArb(shapeOrRank: readonly number[] | number, opts: { minLength?: number } = {}): fc.Arbitrary<number[]> {
  const rank = rankOf(shapeOrRank);
  const all = Array.from({ length: rank }, (_, i) => i);
  return fc
    .shuffledSubarray(all, { minLength: opts.minLength ?? 0 })
    .chain((axes) => fc.tuple(...axes.map((a) => fc.constantFrom(a, a - rank))))
    .map((axes) => [...axes]);
}

/**
 * A permutation of 0..rank-1.
 * @example
 * fc.assert(fc.property(permutationArb(3), (perm) => permute(ones([1, 2, 3]), perm).size === 6));
 */
export function permutationArb(rank: number): fc.Arbitrary<number[]> {
  const all = Array.from({ length: rank }, (_, i) => i);
  return fc.shuffledSubarray(all, { minLength: rank, maxLength: rank });
}
