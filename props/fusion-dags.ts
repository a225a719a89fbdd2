/**
 * Random DAGs that stress what fusion has to get right: chains of movement ops (reshape,
 * permute, expand, pad, slice, flip, concat) whose index expressions the simplifier must
 * fold exactly, reductions over random axes read back through broadcasts, int32 arithmetic
 * that wraps around, bool masks, comparisons of computed float32 values, gathers and
 * scatters. A DAG is decoded from lists of integers, so fast-check shrinks it to a small one.
 */
import fc from 'fast-check';
import { concat, tensor, where, type DType, type Tensor } from '../src/index.js';
import { sizeOf } from '../src/lazy/shape.js';

/** Values larger than this are not grown further (keeps runs fast). */
const MAX_SIZE = 240;

export interface RandomDag {
  readonly inputShapes: readonly number[][];
  readonly steps: readonly (readonly number[])[];
  /** Builds the DAG on the given inputs; every step's description is pushed to `log`. */
  build(inputs: readonly Tensor[], log?: string[]): Tensor;
  /** The call of `decodeDag` that rebuilds this DAG. */
  toString(): string;
}

/** Picks deterministic choices from a list of integers. */
class Choices {
  private next = 0;
  constructor(private readonly raw: readonly number[]) {}
  int(n: number): number {
    if (n <= 1) return 0;
    const v = this.raw[this.next++ % this.raw.length] ?? 0;
    return v % n;
  }
  bool(): boolean {
    return this.int(2) === 1;
  }
}

function factorPairs(n: number): [number, number][] {
  const out: [number, number][] = [];
  for (let a = 2; a < n; a++) if (n % a === 0) out.push([a, n / a]);
  return out;
}

/**
 * One step. `float` is the float dtype of the DAG (float64 for float64 inputs, else
 * float32), so that a float64 DAG computes in float64 throughout and can be compared tightly.
 */
type Step = (x: Tensor, c: Choices, pool: readonly Tensor[], log: string[], float: DType) => Tensor | undefined;

const STEPS: Step[] = [
  // reshape: merge two neighbours, split one, add or drop a size-1 axis
  (x, c, _p, log) => {
    const s = [...x.shape];
    const kind = c.int(4);
    if (kind === 0 && s.length >= 2) {
      const i = c.int(s.length - 1);
      s.splice(i, 2, s[i] * s[i + 1]);
    } else if (kind === 1 && s.length > 0) {
      const i = c.int(s.length);
      const pairs = factorPairs(s[i]);
      if (pairs.length === 0) return undefined;
      s.splice(i, 1, ...pairs[c.int(pairs.length)]);
    } else if (kind === 2 && s.length < 5) {
      s.splice(c.int(s.length + 1), 0, 1);
    } else {
      const ones = s.flatMap((d, i) => (d === 1 ? [i] : []));
      if (ones.length === 0) return undefined;
      s.splice(ones[c.int(ones.length)], 1);
    }
    log.push(`reshape([${s}])`);
    return x.reshape(s);
  },
  // permute
  (x, c, _p, log) => {
    if (x.rank < 2) return undefined;
    const perm = x.shape.map((_, i) => i);
    for (let i = perm.length - 1; i > 0; i--) {
      const j = c.int(i + 1);
      [perm[i], perm[j]] = [perm[j], perm[i]];
    }
    log.push(`permute([${perm}])`);
    return x.permute(perm);
  },
  // broadcast a new or size-1 axis
  (x, c, _p, log) => {
    if (x.size * 3 > MAX_SIZE || x.rank >= 5) return undefined;
    const at = c.int(x.rank + 1);
    const shape = [...x.shape];
    shape.splice(at, 0, 1);
    const target = [...shape];
    target[at] = 2 + c.int(2);
    log.push(`unsqueeze(${at}).expand([${target}])`);
    return x.unsqueeze(at).expand(target);
  },
  // pad with zeros or a value
  (x, c, _p, log) => {
    if (x.rank === 0 || x.size * 4 > MAX_SIZE) return undefined;
    const pads = x.shape.map(() => [c.int(3), c.int(3)] as [number, number]);
    const value = c.bool() ? 0 : 1.5;
    log.push(`pad(${JSON.stringify(pads)}, ${value})`);
    return x.pad(pads, value);
  },
  // slice
  (x, c, _p, log) => {
    if (x.rank === 0) return undefined;
    const specs = x.shape.map((d) => {
      const start = c.int(d);
      return [start, start + 1 + c.int(d - start)] as [number, number];
    });
    log.push(`slice(${JSON.stringify(specs)})`);
    return x.slice(specs);
  },
  // flip
  (x, c, _p, log) => {
    const axes = x.shape.flatMap((_, i) => (c.bool() ? [i] : []));
    log.push(`flip([${axes}])`);
    return x.flip(axes);
  },
  // a binary op with another value (broadcast by its sum when the shapes differ)
  (x, c, pool, log) => {
    const y = pool[c.int(pool.length)];
    const other = y.dtype === x.dtype && y.shape.join() === x.shape.join() ? y : y.cast(x.dtype === 'bool' ? 'int32' : x.dtype).sum().cast(x.dtype === 'bool' ? 'int32' : x.dtype);
    const base = x.dtype === 'bool' ? x.cast('int32') : x;
    const op = c.int(4);
    log.push(`${['add', 'mul', 'maximum', 'sub'][op]}(${other === y ? 'v' : 'sum(v)'})`);
    return [base.add(other), base.mul(other), base.maximum(other), base.sub(other)][op];
  },
  // unary math (float) or integer wrap-around
  (x, c, _p, log, float) => {
    if (x.dtype === 'int32') {
      log.push('mul(65537).add(2147483000)');
      return x.mul(65537).add(2147483000);
    }
    const f = x.dtype === 'bool' ? x.cast(float) : x;
    const op = c.int(5);
    log.push(['tanh', 'exp(tanh)', 'sin', 'square', 'neg.abs'][op]);
    return [f.tanh(), f.tanh().exp(), f.sin(), f.square(), f.neg().abs()][op];
  },
  // reduction over random axes, kept or not
  (x, c, _p, log) => {
    if (x.rank === 0) return undefined;
    const axes = x.shape.flatMap((_, i) => (c.bool() ? [i] : []));
    const keepdims = c.bool();
    const max = c.bool();
    log.push(`${max ? 'max' : 'sum'}({axis: [${axes}], keepdims: ${keepdims}})`);
    return max ? x.max({ axis: axes, keepdims }) : x.sum({ axis: axes, keepdims });
  },
  // a reduction read back through a broadcast (softmax-like)
  (x, c, _p, log, float) => {
    if (x.rank === 0 || x.dtype === 'bool') return undefined;
    const axis = c.int(x.rank);
    log.push(`sub(max(axis ${axis})).div(sum(abs, axis ${axis}) + 1)`);
    const f = x.cast(x.dtype === 'int32' ? float : x.dtype);
    return f.sub(f.max({ axis, keepdims: true })).div(f.abs().sum({ axis, keepdims: true }).add(1));
  },
  // comparisons of computed values, masks and where
  (x, c, _p, log, float) => {
    const f = x.dtype === 'bool' ? x.cast(float) : x;
    const mask = c.bool() ? f.mul(3).gt(f.add(0.1)) : f.eq(f.mul(1.5).sub(f.div(2)));
    log.push('where(mask, x, -x)');
    return where(mask, f, f.neg());
  },
  // casts
  (x, c, _p, log, float) => {
    const to: DType[] = ['int32', 'bool', float];
    const dtype = to[c.int(to.length)];
    log.push(`cast(${dtype})`);
    return (dtype === 'int32' && x.dtype !== 'bool' ? x.mul(7.3) : x).cast(dtype);
  },
  // gather along an axis with indices computed from the data
  (x, c, _p, log) => {
    if (x.rank === 0 || x.dtype === 'bool') return undefined;
    const axis = c.int(x.rank);
    const n = x.shape[axis];
    const idx = indicesBelow(x, n).slice(x.shape.map((d, i) => (i === axis ? [0, Math.min(d, 1 + c.int(3))] : null)));
    log.push(`gather(${axis}, ...)`);
    return x.gather(axis, idx);
  },
  // scatter-add into zeros
  (x, c, _p, log) => {
    if (x.rank === 0 || x.dtype === 'bool') return undefined;
    const axis = c.int(x.rank);
    const size = 1 + c.int(3);
    const shape = x.shape.map((d, i) => (i === axis ? size : d));
    log.push(`scatterAdd(${axis}, ...)`);
    return x.mul(0).sum({ axis, keepdims: true }).expand(shape).scatterAdd(axis, indicesBelow(x, size), x);
  },
  // concat with a flipped copy
  (x, c, _p, log) => {
    if (x.rank === 0 || x.size * 2 > MAX_SIZE) return undefined;
    const axis = c.int(x.rank);
    log.push(`concat([x, flip(x)], ${axis})`);
    return concat([x, x.flip(axis)], axis);
  },
];

/** int32 indices in [0, n) computed from the values of x (same shape). */
function indicesBelow(x: Tensor, n: number): Tensor {
  // In float64: |x| * 10 of a wrapped-around int32 is near 2^34, where float32's remainder is
  // off by far more than n.
  const f = x.cast('float64').abs().mul(10).floor();
  return f.sub(f.div(n).floor().mul(n)).cast('int32');
}

/** Random DAGs over 1 or 2 inputs of the given dtype. */
export function arbitraryDag(opts: { maxSteps?: number } = {}): fc.Arbitrary<RandomDag> {
  const shape = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 3 });
  const steps = fc.array(fc.array(fc.nat({ max: 1 << 16 }), { minLength: 8, maxLength: 8 }), { minLength: 1, maxLength: opts.maxSteps ?? 8 });
  return fc.tuple(fc.array(shape, { minLength: 1, maxLength: 2 }), steps).map(([inputShapes, raw]) => decodeDag(inputShapes, raw));
}

/** The DAG that a list of input shapes and step choices decode to (for reproducing failures). */
export function decodeDag(inputShapes: readonly number[][], raw: readonly (readonly number[])[]): RandomDag {
  return {
    inputShapes,
    steps: raw,
    build(inputs, log = []) {
      const pool = [...inputs];
      const float: DType = inputs[0].dtype === 'float64' ? 'float64' : 'float32';
      let x = inputs[0];
      for (const choice of raw) {
        const c = new Choices(choice);
        const first = c.int(STEPS.length);
        if (c.bool()) x = pool[c.int(pool.length)];
        for (let k = 0; k < STEPS.length; k++) {
          const next = STEPS[(first + k) % STEPS.length](x, c, pool, log, float);
          if (next && sizeOf(next.shape) <= MAX_SIZE && next.size > 0) {
            x = next;
            pool.push(x);
            break;
          }
        }
      }
      return x;
    },
    toString: () => `decodeDag(${JSON.stringify(inputShapes)}, ${JSON.stringify(raw)})`,
  };
}

/** Inputs for a DAG: values in [-2, 2] of the given dtype. */
export function dagInputs(dag: RandomDag, dtype: DType): fc.Arbitrary<Tensor[]> {
  return fc.tuple(
    ...dag.inputShapes.map((shape) =>
      fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: sizeOf(shape), maxLength: sizeOf(shape) }).map((values) => tensor(values, { shape, dtype })),
    ),
  );
}
