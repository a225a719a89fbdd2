/**
 * Key-based random numbers in JAX's style, exported as the `random` namespace. A key is
 * data: an int32 tensor of shape [2] (two 32-bit words, as JAX's raw keys). Every draw is
 * a pure function of (key, position), computed by the elementwise `random_bits` primitive,
 * so draws fuse with their consumers, vmap over a batch of keys gives one sample per key,
 * and jit of a function taking a key traces once and draws anew for every key.
 * A key is used once: `split` or `foldIn` it to get fresh keys for further draws.
 */
import { isFloat, type DType } from '../dtype.js';
import { ArgumentError, DTypeError, ShapeError } from '../errors.js';
import { checkShape, formatShape, sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { applyPrim, asTensor, type TensorLike } from './core.js';
import { iota, tensor, zeros } from './creation.js';
import { add, cast, cos, div, eq, floor, logicalAnd, logicalOr, lt, log, mul, sqrt, sub } from './elementwise.js';
import { broadcastTo, indexSelect, reshape, scatterAdd, select, stack } from './movement.js';
import { sum } from './reduce.js';

/**
 * Separate streams of one key: each use adds its own constant to the first key word, so
 * normal() and split() of one key draw unrelated bits.
 */
const STREAM = { bits: 0, normalRadius: 1, normalAngle: 2, split: 3, foldIn0: 4, foldIn1: 5 } as const;

function checkKey(key: Tensor, op: string): Tensor {
  if (!(key instanceof Tensor)) throw new ArgumentError(`random.${op}: the key must be a tensor from random.key(seed) or random.split(key), got ${typeof key}`);
  if (key.dtype !== 'int32') throw new DTypeError(`random.${op}: a key is an int32 tensor of shape [2], got ${key.dtype}; make keys with random.key(seed)`);
  if (key.rank !== 1 || key.shape[0] !== 2) {
    throw new ShapeError(`random.${op}: a key has shape [2], got ${formatShape(key.shape)}; for a batch of keys (e.g. from random.split) use vmap((k) => random.${op}(k, ...))(keys)`);
  }
  return key;
}

/** 32 random bits (int32) per element of `shape`, from `stream` of `key`. */
function bits(key: Tensor, shape: readonly number[], stream: number, op: string): Tensor {
  const s = checkShape(shape, `random.${op}`);
  const k = checkKey(key, op);
  const k0 = stream === 0 ? select(k, 0, 0) : add(select(k, 0, 0), Math.imul(stream, 0x9e3779b9));
  const counter = reshape(iota([sizeOf(s)], 0), s);
  return applyPrim('random_bits', [broadcastTo(k0, s), broadcastTo(select(k, 0, 1), s), counter]);
}

/** Uniform in [0, 1) as float64 with 32 random bits. */
function unit64(b: Tensor): Tensor {
  return div(add(cast(b, 'float64'), 2 ** 31), 2 ** 32);
}

function floatDType(dtype: DType | undefined, op: string): DType {
  const d = dtype ?? 'float32';
  if (!isFloat(d)) throw new DTypeError(`random.${op}: draws floats, got dtype ${d}; use float32 or float64 (random.randint draws integers)`);
  return d;
}

/**
 * A key from an integer seed: equal seeds give equal keys, and every draw from a key
 * depends only on the key.
 * @example
 * const key = random.key(0);
 * const keys = random.split(key, 2);     // [2, 2]: row i is a key
 * random.normal(keys.select(0, 0), [3]); // three standard normal samples
 */
export function key(seed: number): Tensor {
  if (!Number.isSafeInteger(seed)) throw new ArgumentError(`random.key: the seed ${seed} must be a whole number (a safe integer)`);
  const high = Math.floor(seed / 2 ** 32);
  return tensor([high | 0, seed | 0], { dtype: 'int32' });
}

/**
 * `n` new keys from `key`, as an int32 tensor of shape [n, 2] (row i is a key), independent
 * of each other and of draws from `key` itself.
 * @example
 * const keys = random.split(random.key(0), 8);
 * vmap((k: Tensor) => random.normal(k, [3]))(keys); // [8, 3], a different sample per key
 */
export function split(key: Tensor, n = 2): Tensor {
  if (!Number.isInteger(n) || n < 0) throw new ArgumentError(`random.split: n ${n} must be a whole number >= 0`);
  return bits(key, [n, 2], STREAM.split, 'split');
}

/**
 * A new key from `key` and an integer (a step number, a worker index): equal inputs give
 * equal keys, different `data` unrelated keys. `data` may be a traced int32 scalar.
 * @example
 * const stepKey = random.foldIn(random.key(0), 17);
 */
export function foldIn(key: Tensor, data: number | Tensor): Tensor {
  const d = asTensor(data, 'int32');
  if (d.dtype !== 'int32' || d.rank !== 0) throw new ArgumentError(`random.foldIn: data must be a whole number or an int32 scalar tensor, got ${d.dtype} of shape ${formatShape(d.shape)}`);
  if (typeof data === 'number' && !Number.isInteger(data)) throw new ArgumentError(`random.foldIn: data ${data} must be a whole number`);
  const k = checkKey(key, 'foldIn');
  const word = (stream: number) => applyPrim('random_bits', [add(select(k, 0, 0), Math.imul(stream, 0x9e3779b9)), select(k, 0, 1), d]);
  return stack([word(STREAM.foldIn0), word(STREAM.foldIn1)]);
}

export interface UniformOptions {
  /** Lower bound, included (default 0). */
  minval?: number;
  /** Upper bound, excluded (default 1). */
  maxval?: number;
  /** float32 (default) or float64. */
  dtype?: DType;
}

/**
 * Uniform samples in [minval, maxval) of the given shape.
 * @example
 * random.uniform(random.key(1), [2, 3], { minval: -1, maxval: 1 });
 */
export function uniform(key: Tensor, shape: readonly number[], opts: UniformOptions = {}): Tensor {
  const dtype = floatDType(opts.dtype, 'uniform');
  const minval = opts.minval ?? 0;
  const maxval = opts.maxval ?? 1;
  if (!(Number.isFinite(minval) && Number.isFinite(maxval) && minval < maxval)) {
    throw new ArgumentError(`random.uniform: minval ${minval} and maxval ${maxval} must be finite with minval < maxval`);
  }
  const b = bits(key, shape, STREAM.bits, 'uniform');
  // float32 keeps 24 of the 32 bits, so that rounding never gives 1.
  const unit = dtype === 'float32' ? div(floor(div(add(cast(b, 'float64'), 2 ** 31), 2 ** 8)), 2 ** 24) : unit64(b);
  const scaled = minval === 0 && maxval === 1 ? unit : add(mul(unit, maxval - minval), minval);
  return cast(scaled, dtype);
}

/**
 * Standard normal samples of the given shape (Box-Muller on two independent streams).
 * @example
 * random.normal(random.key(0), [1000]).mean(); // about 0
 */
export function normal(key: Tensor, shape: readonly number[], opts: { dtype?: DType } = {}): Tensor {
  const dtype = floatDType(opts.dtype, 'normal');
  const radius = sqrt(mul(log(sub(1, unit64(bits(key, shape, STREAM.normalRadius, 'normal')))), -2));
  const angle = mul(unit64(bits(key, shape, STREAM.normalAngle, 'normal')), 2 * Math.PI);
  return cast(mul(radius, cos(angle)), dtype);
}

/**
 * Bool samples that are true with probability `p` (a number or a tensor broadcast to
 * `shape`; default shape: p's shape).
 * @example
 * random.bernoulli(random.key(2), 0.9, [4, 4]); // a dropout mask
 */
export function bernoulli(key: Tensor, p: TensorLike = 0.5, shape?: readonly number[]): Tensor {
  const prob = asTensor(p, 'float64');
  const s = shape ?? prob.shape;
  return lt(unit64(bits(key, s, STREAM.bits, 'bernoulli')), broadcastTo(cast(prob, 'float64'), s));
}

/**
 * Integers drawn uniformly from [minval, maxval) (int32).
 * @example
 * random.randint(random.key(3), [5], 0, 10); // five digits
 */
export function randint(key: Tensor, shape: readonly number[], minval: number, maxval: number): Tensor {
  if (!(Number.isInteger(minval) && Number.isInteger(maxval) && minval < maxval && minval >= -(2 ** 31) && maxval <= 2 ** 31)) {
    throw new ArgumentError(`random.randint: minval ${minval} and maxval ${maxval} must be int32 whole numbers with minval < maxval`);
  }
  // The bias of floor(u * range) is at most range / 2^32 per value.
  const u = unit64(bits(key, shape, STREAM.bits, 'randint'));
  return cast(add(floor(mul(u, maxval - minval)), minval), 'int32');
}

/**
 * A random permutation of 0..n-1 (int32), or of the rows of a tensor (along axis 0).
 * Each element's rank among n random words (ties broken by position) is its place, which
 * costs n^2 comparisons: meant for n up to a few thousand (shuffling a dataset's indices
 * per epoch, not sorting millions).
 * @example
 * random.permutation(random.key(0), 5);                  // e.g. [3, 0, 4, 1, 2]
 * random.permutation(random.key(0), tensor([[1, 2], [3, 4], [5, 6]])); // rows shuffled
 */
export function permutation(key: Tensor, nOrRows: number | Tensor): Tensor {
  const n = typeof nOrRows === 'number' ? nOrRows : nOrRows.rank > 0 ? nOrRows.shape[0] : -1;
  if (!Number.isInteger(n) || n < 0) throw new ArgumentError(`random.permutation: give a whole number n >= 0 or a tensor of rank >= 1 to shuffle along axis 0, got ${typeof nOrRows === 'number' ? nOrRows : `a scalar tensor`}`);
  const words = bits(key, [n], STREAM.bits, 'permutation');
  const [wi, wj] = [reshape(words, [n, 1]), reshape(words, [1, n])];
  const [i, j] = [iota([n, 1], 0), iota([1, n], 1)];
  // rank_i = #{j : w_j < w_i, or w_j = w_i and j < i}: distinct ranks 0..n-1.
  const before = logicalOr(lt(wj, wi), logicalAnd(eq(wj, wi), lt(j, i)));
  const rank = cast(sum(cast(before, 'int32'), { axis: 1 }), 'int32');
  const order = scatterAdd(zeros([n], { dtype: 'int32' }), 0, rank, iota([n], 0));
  return typeof nOrRows === 'number' ? order : indexSelect(nOrRows, 0, order);
}
