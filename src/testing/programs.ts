/**
 * Random programs for property tests of the transforms: random DAGs over the op set
 * (elementwise math on safe domains, broadcasting binary ops, reductions, movement ops,
 * matmul, where, softmax, ...). A program is data: it prints as TypeScript you can paste
 * into a test, and `program.fn` turns it into a function of tensors.
 *
 * Programs are decoded from a list of plain integers (one short list per step), so that
 * fast-check shrinks the integers and every shrunk list still decodes to a valid program:
 * fewer steps, earlier ops in the table (sin first), smaller attributes.
 *
 * Values stay where derivatives are smooth: ops that need a domain take a safe form
 * (`log(x^2 + 1)`, `x / (y^2 + 1)`, `pow(sigmoid(x) + 0.5, y)`), a bound on |value| is
 * tracked so nothing overflows, and the ops with kinks (abs, relu, maximum, max, where on
 * a comparison, clamp) report how far the values are from their kinks
 * (`program.kinkMargin(inputs)`), so that finite-difference tests can skip the rare inputs
 * that sit on one. Pass `{smooth: true}` to leave those ops out.
 */
import fc from 'fast-check';
import { broadcastShapes, sizeOf, type Shape } from '../lazy/shape.js';
import { Tensor, tensor, zeros, where, maximum, minimum, concat, stack, matmul, sub, type DType } from '../index.js';

/** A JSON-like attribute value of a step. */
export type StepAttr = number | boolean | null | readonly StepAttr[];

/** One step: `op` applied to earlier values (inputs are values 0..n-1). */
export interface ProgramStep {
  readonly op: string;
  readonly args: readonly number[];
  readonly attrs: Readonly<Record<string, StepAttr>>;
  /** The shape of the result. */
  readonly shape: Shape;
}

type Attrs = Readonly<Record<string, StepAttr>>;

interface OpSpec {
  readonly name: string;
  /** True when the derivative jumps somewhere (abs, max, where, ...). */
  readonly kinked?: boolean;
  /** A step with operand `x` first, or undefined when the op does not fit. */
  plan(b: Builder, x: number): Planned | undefined;
  apply(args: readonly Tensor[], attrs: Attrs): Tensor;
  /** TypeScript source of the step. */
  code(args: readonly string[], attrs: Attrs): string;
  /** Kinked ops: the distance of each element from the kink (the smallest one counts). */
  kink?(args: readonly Tensor[], attrs: Attrs): Tensor;
}

interface Planned {
  args: number[];
  attrs: Attrs;
  /** Bound on |result| given the bounds of the arguments. */
  bound: number;
}

const lit = (v: StepAttr | undefined): string => (v === undefined ? 'undefined' : JSON.stringify(v));

/**
 * A random program: input shapes, steps, and the value it returns. `fn` computes it;
 * `toString()` prints it as TypeScript.
 * @example
 * const p = decodeProgram([[2, 3]], [[0], [5]]);
 * String(p);                          // (x0: Tensor /* [2, 3] *\/) => { const v1 = x0.sin(); const v2 = v1.exp(); ... }
 * p.fn(randn([2, 3], { seed: 0 }));   // exp(sin(x))
 */
export class Program {
  constructor(
    readonly inputShapes: readonly Shape[],
    readonly steps: readonly ProgramStep[],
    /** The value returned (an index into inputs ++ steps). */
    readonly output: number,
  ) {}

  /** The program as a function of one tensor per input. */
  get fn(): (...inputs: Tensor[]) => Tensor {
    return (...inputs: Tensor[]) => {
      const all = this.evaluate(inputs);
      return all[this.output];
    };
  }

  /** Every value of the program (inputs first), built lazily from `inputs`. */
  evaluate(inputs: readonly Tensor[]): Tensor[] {
    if (inputs.length !== this.inputShapes.length) {
      throw new RangeError(`Program: expects ${this.inputShapes.length} inputs, got ${inputs.length}`);
    }
    const values = [...inputs];
    for (const step of this.steps) values.push(OPS_BY_NAME.get(step.op)!.apply(step.args.map((a) => values[a]), step.attrs));
    return values;
  }

  /** True when some step has a kink (abs, relu, maximum, max, where, clamp). */
  get kinked(): boolean {
    return this.steps.some((s) => OPS_BY_NAME.get(s.op)!.kinked);
  }

  /**
   * How far the values at `inputs` are from the nearest kink of any kinked step (Infinity
   * without kinks). Finite differences with steps well below this are valid.
   */
  kinkMargin(inputs: readonly Tensor[]): number {
    const values = this.evaluate(inputs);
    let margin = Infinity;
    this.steps.forEach((step) => {
      const spec = OPS_BY_NAME.get(step.op)!;
      if (!spec.kink) return;
      const d = spec.kink(step.args.map((a) => values[a]), step.attrs).cast('float64').dataSync();
      for (const v of d) margin = Math.min(margin, Number.isNaN(v) ? 0 : v);
    });
    return margin;
  }

  toString(): string {
    const n = this.inputShapes.length;
    const name = (i: number) => (i < n ? `x${i}` : `v${i}`);
    const params = this.inputShapes.map((s, i) => `x${i}: Tensor /* [${s.join(', ')}] */`).join(', ');
    const lines = this.steps.map((step, k) => {
      const spec = OPS_BY_NAME.get(step.op)!;
      return `  const ${name(n + k)} = ${spec.code(step.args.map(name), step.attrs)}; // [${step.shape.join(', ')}]`;
    });
    return `(${params}) => {\n${lines.join('\n')}\n  return ${name(this.output)};\n}`;
  }
}

// The decoder -------------------------------------------------------------------------------

/** Reads integers from a step's list; past its end every choice is 0. */
class Choices {
  private next = 0;
  constructor(private readonly raw: readonly number[]) {}
  /** An integer in [0, n). */
  int(n: number): number {
    if (n <= 1) return 0;
    const v = this.next < this.raw.length ? this.raw[this.next] : 0;
    this.next++;
    return v % n;
  }
  bool(): boolean {
    return this.int(2) === 1;
  }
}

interface ValueInfo {
  shape: Shape;
  bound: number;
  uses: number;
}

class Builder {
  readonly values: ValueInfo[];
  choices: Choices = new Choices([]);
  constructor(
    inputShapes: readonly Shape[],
    inputBound: number,
    readonly limits: { maxSize: number; maxRank: number; maxBound: number },
  ) {
    this.values = inputShapes.map((shape) => ({ shape, bound: inputBound, uses: 0 }));
  }
  int(n: number): number {
    return this.choices.int(n);
  }
  bool(): boolean {
    return this.choices.bool();
  }
  shape(i: number): Shape {
    return this.values[i].shape;
  }
  bound(i: number): number {
    return this.values[i].bound;
  }
  fits(shape: Shape, bound: number): boolean {
    return sizeOf(shape) > 0 && sizeOf(shape) <= this.limits.maxSize && shape.length <= this.limits.maxRank && bound <= this.limits.maxBound && Number.isFinite(bound);
  }
  /** Values nothing reads yet, latest first. */
  frontier(): number[] {
    return this.values.flatMap((v, i) => (v.uses === 0 ? [i] : [])).reverse();
  }
  /** A value (other than x where possible) satisfying `ok`, unused ones first; x itself if none. */
  partner(x: number, ok: (shape: Shape) => boolean): number | undefined {
    const candidates = this.values.map((_, i) => i).filter((i) => i !== x && ok(this.shape(i)));
    candidates.sort((a, b) => this.values[a].uses - this.values[b].uses || b - a);
    if (candidates.length === 0) return ok(this.shape(x)) ? x : undefined;
    return candidates[this.int(candidates.length)];
  }
  /** A non-empty set of axes of a rank-r value (sorted), or undefined for all axes. */
  axes(rank: number): number[] | undefined {
    if (rank === 0 || this.int(4) === 0) return undefined;
    const chosen = Array.from({ length: rank }, (_, a) => a).filter(() => this.bool());
    return chosen.length ? chosen : [this.int(rank)];
  }
}

function broadcasts(a: Shape, b: Shape): boolean {
  try {
    broadcastShapes('program', a, b);
    return true;
  } catch {
    return false;
  }
}

/** The shape of `op` applied to tensors of the given shapes (lazy: nothing is computed). */
function resultShape(spec: OpSpec, shapes: readonly Shape[], attrs: Attrs): Shape {
  return spec.apply(shapes.map((s) => zeros(s, { dtype: 'float64' })), attrs).shape;
}

// The op table ------------------------------------------------------------------------------

const CONSTANTS = [0.5, -1.5, 2, 0.25, -0.75];

function unary(name: string, apply: (x: Tensor) => Tensor, code: (x: string) => string, bound: (b: number) => number, kink?: (x: Tensor) => Tensor): OpSpec {
  return {
    name,
    kinked: kink !== undefined,
    plan: (b, x) => {
      const out = bound(b.bound(x));
      return b.fits(b.shape(x), out) ? { args: [x], attrs: {}, bound: out } : undefined;
    },
    apply: ([x]) => apply(x),
    code: ([x]) => code(x),
    kink: kink && (([x]) => kink(x)),
  };
}

function binary(name: string, apply: (x: Tensor, y: Tensor) => Tensor, code: (x: string, y: string) => string, bound: (a: number, b: number) => number, kink?: (x: Tensor, y: Tensor) => Tensor): OpSpec {
  return {
    name,
    kinked: kink !== undefined,
    plan: (b, x) => {
      const y = b.partner(x, (s) => broadcasts(b.shape(x), s) && sizeOf(broadcastShapes('program', b.shape(x), s)) <= b.limits.maxSize);
      if (y === undefined) return undefined;
      const out = bound(b.bound(x), b.bound(y));
      const shape = broadcastShapes('program', b.shape(x), b.shape(y));
      return b.fits(shape, out) ? { args: [x, y], attrs: {}, bound: out } : undefined;
    },
    apply: ([x, y]) => apply(x, y),
    code: ([x, y]) => code(x, y),
    kink: kink && (([x, y]) => kink(x, y)),
  };
}

function withConstant(name: string, apply: (x: Tensor, c: number) => Tensor, code: (x: string, c: number) => string, bound: (b: number, c: number) => number): OpSpec {
  return {
    name,
    plan: (b, x) => {
      const c = CONSTANTS[b.int(CONSTANTS.length)];
      const out = bound(b.bound(x), c);
      return b.fits(b.shape(x), out) ? { args: [x], attrs: { c }, bound: out } : undefined;
    },
    apply: ([x], a) => apply(x, a.c as number),
    code: ([x], a) => code(x, a.c as number),
  };
}

interface ReduceAttrs {
  axis: number[] | undefined;
  keepdims: boolean;
}
const reduceOpts = (a: Attrs): { axis?: number[]; keepdims: boolean } => (a.axis === null ? { keepdims: a.keepdims as boolean } : { axis: a.axis as number[], keepdims: a.keepdims as boolean });
const reduceCode = (a: Attrs): string => (a.axis === null ? `{ keepdims: ${a.keepdims} }` : `{ axis: ${lit(a.axis)}, keepdims: ${a.keepdims} }`);

function reduction(name: string, method: 'sum' | 'mean' | 'max' | 'min' | 'logsumexp' | 'var', bound: (b: number, n: number) => number, kinked = false): OpSpec {
  const apply = (x: Tensor, a: Attrs): Tensor => (method === 'var' ? x.var({ ...reduceOpts(a), correction: 0 }) : x[method](reduceOpts(a)));
  return {
    name,
    kinked,
    plan: (b, x) => {
      const shape = b.shape(x);
      const picked: ReduceAttrs = { axis: b.axes(shape.length), keepdims: b.bool() };
      const n = sizeOf((picked.axis ?? shape.map((_, i) => i)).map((i) => shape[i]));
      const out = bound(b.bound(x), n);
      return b.fits(shape, out) ? { args: [x], attrs: { axis: picked.axis ?? null, keepdims: picked.keepdims }, bound: out } : undefined;
    },
    apply: ([x], a) => apply(x, a),
    code: ([x], a) => (method === 'var' ? `${x}.var({ ...${reduceCode(a)}, correction: 0 })` : `${x}.${method}(${reduceCode(a)})`),
    // The gap between the largest and the second largest element of each reduced slice
    // (0 where the largest is tied).
    kink: kinked
      ? ([x], a) => {
          const t = method === 'min' ? x.neg() : x;
          const axis = a.axis === null ? undefined : (a.axis as number[]);
          const top = t.max({ axis, keepdims: true });
          const hits = t.eq(top);
          const second = where(hits, -Infinity, t).max({ axis, keepdims: true });
          const ties = hits.cast('float64').sum({ axis, keepdims: true }).gt(1);
          return where(ties, 0, top.sub(second));
        }
      : undefined,
  };
}

/** Candidate target shapes for reshape, each a different kind of regrouping. */
function reshapeTargets(shape: Shape, maxRank: number): number[][] {
  const out: number[][] = [];
  const r = shape.length;
  if (r >= 1) out.push([sizeOf(shape)]);
  for (let i = 0; i + 1 < r; i++) out.push([...shape.slice(0, i), shape[i] * shape[i + 1], ...shape.slice(i + 2)]);
  if (r < maxRank) {
    for (let i = 0; i < r; i++) {
      for (let p = 2; p < shape[i]; p++) if (shape[i] % p === 0) out.push([...shape.slice(0, i), p, shape[i] / p, ...shape.slice(i + 1)]);
    }
    for (let i = 0; i <= r; i++) out.push([...shape.slice(0, i), 1, ...shape.slice(i)]);
  }
  if (shape.includes(1)) out.push(shape.filter((d) => d !== 1));
  return out;
}

function randomPermutation(b: Builder, rank: number): number[] {
  const rest = Array.from({ length: rank }, (_, i) => i);
  const perm: number[] = [];
  while (rest.length) perm.push(rest.splice(b.int(rest.length), 1)[0]);
  return perm;
}

/** Index values in [0, size) for an index tensor of `shape` (constant int32 data). */
function indexData(b: Builder, shape: Shape, size: number): number[] {
  return Array.from({ length: sizeOf(shape) }, () => b.int(size));
}
const indexTensor = (a: Attrs): Tensor => tensor(a.index as number[], { dtype: 'int32', shape: a.indexShape as number[] });
const indexCode = (a: Attrs): string => `tensor(${lit(a.index)}, { dtype: 'int32', shape: ${lit(a.indexShape)} })`;

function movement(name: string, attrsFor: (b: Builder, shape: Shape) => Attrs | undefined, apply: (x: Tensor, a: Attrs) => Tensor, code: (x: string, a: Attrs) => string, bound: (b: number, a: Attrs) => number = (x) => x): OpSpec {
  const spec: OpSpec = {
    name,
    plan: (b, x) => {
      const attrs = attrsFor(b, b.shape(x));
      if (!attrs) return undefined;
      const out = bound(b.bound(x), attrs);
      return b.fits(resultShape(spec, [b.shape(x)], attrs), out) ? { args: [x], attrs, bound: out } : undefined;
    },
    apply: ([x], a) => apply(x, a),
    code: ([x], a) => code(x, a),
  };
  return spec;
}

const sq1 = (x: Tensor) => x.square().add(1);
const kinkAt = (x: Tensor, at: number) => x.sub(at).abs();

/** Every op random programs draw from, smooth ones first (shrinking goes toward the start). */
const PROGRAM_OPS: readonly OpSpec[] = [
  unary('sin', (x) => x.sin(), (x) => `${x}.sin()`, () => 1),
  unary('cos', (x) => x.cos(), (x) => `${x}.cos()`, () => 1),
  unary('tanh', (x) => x.tanh(), (x) => `${x}.tanh()`, () => 1),
  unary('sigmoid', (x) => x.sigmoid(), (x) => `${x}.sigmoid()`, () => 1),
  unary('neg', (x) => x.neg(), (x) => `${x}.neg()`, (b) => b),
  unary('exp', (x) => x.exp(), (x) => `${x}.exp()`, (b) => (b <= 3 ? Math.exp(b) : Infinity)),
  unary('expm1', (x) => x.expm1(), (x) => `${x}.expm1()`, (b) => (b <= 3 ? Math.exp(b) : Infinity)),
  unary('square', (x) => x.square(), (x) => `${x}.square()`, (b) => b * b),
  unary('logSq1', (x) => sq1(x).log(), (x) => `${x}.square().add(1).log()`, (b) => Math.log(b * b + 1)),
  unary('sqrtSq1', (x) => sq1(x).sqrt(), (x) => `${x}.square().add(1).sqrt()`, (b) => Math.sqrt(b * b + 1)),
  unary('rsqrtSq1', (x) => sq1(x).rsqrt(), (x) => `${x}.square().add(1).rsqrt()`, () => 1),
  unary('recipSq1', (x) => sq1(x).reciprocal(), (x) => `${x}.square().add(1).reciprocal()`, () => 1),
  unary('log1pSq', (x) => x.square().log1p(), (x) => `${x}.square().log1p()`, (b) => Math.log1p(b * b)),
  unary('softplus', (x) => x.softplus(), (x) => `${x}.softplus()`, (b) => b + 1),
  unary('gelu', (x) => x.gelu(), (x) => `${x}.gelu()`, (b) => b + 1),
  unary('tanTanh', (x) => x.tanh().tan(), (x) => `${x}.tanh().tan()`, () => 1.6),
  binary('add', (x, y) => x.add(y), (x, y) => `${x}.add(${y})`, (a, b) => a + b),
  binary('sub', (x, y) => x.sub(y), (x, y) => `${x}.sub(${y})`, (a, b) => a + b),
  binary('mul', (x, y) => x.mul(y), (x, y) => `${x}.mul(${y})`, (a, b) => a * b),
  binary('divSq1', (x, y) => x.div(sq1(y)), (x, y) => `${x}.div(${y}.square().add(1))`, (a) => a),
  binary('powSigmoid', (x, y) => x.sigmoid().add(0.5).pow(y), (x, y) => `${x}.sigmoid().add(0.5).pow(${y})`, (_a, b) => (b <= 8 ? 1.5 ** b : Infinity)),
  withConstant('addConst', (x, c) => x.add(c), (x, c) => `${x}.add(${c})`, (b, c) => b + Math.abs(c)),
  withConstant('mulConst', (x, c) => x.mul(c), (x, c) => `${x}.mul(${c})`, (b, c) => b * Math.abs(c)),
  withConstant('subFromConst', (x, c) => sub(c, x), (x, c) => `sub(${c}, ${x})`, (b, c) => b + Math.abs(c)),
  reduction('sum', 'sum', (b, n) => b * n),
  reduction('mean', 'mean', (b) => b),
  reduction('logsumexp', 'logsumexp', (b, n) => b + Math.log(n)),
  reduction('var', 'var', (b) => b * b),
  {
    name: 'softmax',
    plan: (b, x) => (b.shape(x).length ? { args: [x], attrs: { axis: b.int(b.shape(x).length) }, bound: 1 } : undefined),
    apply: ([x], a) => x.softmax(a.axis as number),
    code: ([x], a) => `${x}.softmax(${a.axis})`,
  },
  {
    name: 'logSoftmax',
    plan: (b, x) => {
      const shape = b.shape(x);
      if (!shape.length) return undefined;
      const axis = b.int(shape.length);
      const out = 2 * b.bound(x) + Math.log(shape[axis]);
      return b.fits(shape, out) ? { args: [x], attrs: { axis }, bound: out } : undefined;
    },
    apply: ([x], a) => x.logSoftmax(a.axis as number),
    code: ([x], a) => `${x}.logSoftmax(${a.axis})`,
  },
  {
    name: 'prod',
    plan: (b, x) => {
      const shape = b.shape(x);
      if (!shape.length) return undefined;
      const axis = b.int(shape.length);
      const out = b.bound(x) ** shape[axis];
      return shape[axis] <= 4 && b.fits(shape, out) ? { args: [x], attrs: { axis, keepdims: b.bool() }, bound: out } : undefined;
    },
    apply: ([x], a) => x.prod({ axis: a.axis as number, keepdims: a.keepdims as boolean }),
    code: ([x], a) => `${x}.prod({ axis: ${a.axis}, keepdims: ${a.keepdims} })`,
  },
  movement('reshape', (b, shape) => {
    const targets = reshapeTargets(shape, b.limits.maxRank);
    return targets.length ? { shape: targets[b.int(targets.length)] } : undefined;
  }, (x, a) => x.reshape(a.shape as number[]), (x, a) => `${x}.reshape(${lit(a.shape)})`),
  movement('permute', (b, shape) => (shape.length >= 2 ? { perm: randomPermutation(b, shape.length) } : undefined), (x, a) => x.permute(a.perm as number[]), (x, a) => `${x}.permute(${lit(a.perm)})`),
  movement('transpose', (b, shape) => (shape.length >= 2 ? { dim0: b.int(shape.length), dim1: -1 - b.int(shape.length) } : undefined), (x, a) => x.transpose(a.dim0 as number, a.dim1 as number), (x, a) => `${x}.transpose(${a.dim0}, ${a.dim1})`),
  movement('slice', (b, shape) => {
    if (!shape.length) return undefined;
    const axis = b.int(shape.length);
    const n = shape[axis];
    const step = [1, 2, -1, -2][b.int(4)];
    const start = b.int(n);
    if (step > 0) return { axis, start, stop: start + 1 + b.int(n - start), step };
    // Backwards from `start`; a null stop runs to the front.
    const stop = start === 0 || b.bool() ? null : b.int(start);
    return { axis, start, stop, step };
  }, (x, a) => x.slice([...Array<null>(a.axis as number).fill(null), [a.start as number, (a.stop ?? undefined) as number | undefined, a.step as number]]),
  (x, a) => `${x}.slice([${'null, '.repeat(a.axis as number)}[${a.start}, ${lit(a.stop ?? undefined)}, ${a.step}]])`),
  movement('select', (b, shape) => {
    if (!shape.length) return undefined;
    const axis = b.int(shape.length);
    return { axis, index: b.int(shape[axis]) };
  }, (x, a) => x.select(a.axis as number, a.index as number), (x, a) => `${x}.select(${a.axis}, ${a.index})`),
  movement('pad', (b, shape) => {
    if (!shape.length) return undefined;
    const pads = shape.map(() => [b.int(3), b.int(3)]);
    return { pads, value: [0, 0.5][b.int(2)] };
  }, (x, a) => x.pad(a.pads as [number, number][], a.value as number), (x, a) => `${x}.pad(${lit(a.pads)}, ${a.value})`, (bnd) => Math.max(bnd, 0.5)),
  movement('flip', (b, shape) => (shape.length ? { axes: b.axes(shape.length) ?? shape.map((_, i) => i) } : undefined), (x, a) => x.flip(a.axes as number[]), (x, a) => `${x}.flip(${lit(a.axes)})`),
  movement('expand', (b, shape) => {
    const ones = shape.flatMap((d, i) => (d === 1 ? [i] : []));
    const k = 2 + b.int(2);
    if (ones.length && b.bool()) {
      const at = ones[b.int(ones.length)];
      return { shape: shape.map((d, i) => (i === at ? k : d)) };
    }
    return { shape: [k, ...shape] };
  }, (x, a) => x.expand(a.shape as number[]), (x, a) => `${x}.expand(${lit(a.shape)})`),
  movement('tile', (b, shape) => (shape.length ? { reps: shape.map(() => 1 + b.int(2)) } : undefined), (x, a) => x.tile(a.reps as number[]), (x, a) => `${x}.tile(${lit(a.reps)})`),
  movement('indexSelect', (b, shape) => {
    if (!shape.length) return undefined;
    const axis = b.int(shape.length);
    const count = 1 + b.int(4);
    return { axis, index: indexData(b, [count], shape[axis]), indexShape: [count] };
  }, (x, a) => x.indexSelect(a.axis as number, indexTensor(a)), (x, a) => `${x}.indexSelect(${a.axis}, ${indexCode(a)})`),
  movement('gather', (b, shape) => {
    if (!shape.length) return undefined;
    const axis = b.int(shape.length);
    const indexShape = shape.map((d, i) => (i === axis ? 1 + b.int(3) : d));
    return { axis, index: indexData(b, indexShape, shape[axis]), indexShape };
  }, (x, a) => x.gather(a.axis as number, indexTensor(a)), (x, a) => `${x}.gather(${a.axis}, ${indexCode(a)})`),
  movement('diagonal', (b, shape) => (shape.length >= 2 ? { offset: b.int(3) - 1, axis1: 0, axis2: shape.length - 1 } : undefined),
    (x, a) => x.diagonal(a.offset as number, a.axis1 as number, a.axis2 as number), (x, a) => `${x}.diagonal(${a.offset}, ${a.axis1}, ${a.axis2})`),
  movement('triu', (b, shape) => (shape.length >= 2 ? { k: b.int(3) - 1 } : undefined), (x, a) => x.triu(a.k as number), (x, a) => `${x}.triu(${a.k})`),
  {
    name: 'scatterAdd',
    plan: (b, x) => {
      const shape = b.shape(x);
      if (!shape.length) return undefined;
      const src = b.partner(x, (s) => s.length === shape.length && s.every((d, i) => d === shape[i]));
      if (src === undefined) return undefined;
      const axis = b.int(shape.length);
      const indexShape = shape.map((d, i) => (i === axis ? 1 + b.int(d) : d));
      const out = b.bound(x) + b.bound(src) * indexShape[axis];
      return b.fits(shape, out) ? { args: [x, src], attrs: { axis, index: indexData(b, indexShape, shape[axis]), indexShape }, bound: out } : undefined;
    },
    apply: ([x, src], a) => x.scatterAdd(a.axis as number, indexTensor(a), src),
    code: ([x, src], a) => `${x}.scatterAdd(${a.axis}, ${indexCode(a)}, ${src})`,
  },
  {
    name: 'concat',
    plan: (b, x) => {
      const shape = b.shape(x);
      if (!shape.length) return undefined;
      const axis = b.int(shape.length);
      const y = b.partner(x, (s) => s.length === shape.length && s.every((d, i) => i === axis || d === shape[i]))!;
      const out = shape.map((d, i) => (i === axis ? d + b.shape(y)[axis] : d));
      const bound = Math.max(b.bound(x), b.bound(y));
      return b.fits(out, bound) ? { args: [x, y], attrs: { axis }, bound } : undefined;
    },
    apply: ([x, y], a) => concat([x, y], a.axis as number),
    code: ([x, y], a) => `concat([${x}, ${y}], ${a.axis})`,
  },
  {
    name: 'stack',
    plan: (b, x) => {
      const shape = b.shape(x);
      const y = b.partner(x, (s) => s.length === shape.length && s.every((d, i) => d === shape[i]))!;
      const axis = b.int(shape.length + 1);
      const out = [...shape];
      out.splice(axis, 0, 2);
      const bound = Math.max(b.bound(x), b.bound(y));
      return b.fits(out, bound) ? { args: [x, y], attrs: { axis }, bound } : undefined;
    },
    apply: ([x, y], a) => stack([x, y], a.axis as number),
    code: ([x, y], a) => `stack([${x}, ${y}], ${a.axis})`,
  },
  {
    name: 'matmul',
    plan: (b, x) => {
      const s = b.shape(x);
      if (!s.length) return undefined;
      const k = s[s.length - 1];
      const fitsRight = (t: Shape): boolean => {
        if (t.length === 0 || (t.length === 1 ? t[0] : t[t.length - 2]) !== k) return false;
        return s.length < 2 || t.length < 2 || broadcasts(s.slice(0, -2), t.slice(0, -2));
      };
      const y = b.partner(x, fitsRight);
      if (y === undefined) return undefined;
      const out = k * b.bound(x) * b.bound(y);
      let shape: Shape;
      try {
        shape = resultShape(MATMUL, [s, b.shape(y)], {});
      } catch {
        return undefined;
      }
      return b.fits(shape, out) ? { args: [x, y], attrs: {}, bound: out } : undefined;
    },
    apply: ([x, y]) => matmul(x, y),
    code: ([x, y]) => `${x}.matmul(${y})`,
  },
  {
    name: 'gram',
    plan: (b, x) => {
      const s = b.shape(x);
      const out = s[s.length - 1] * b.bound(x) ** 2;
      const shape = s.length >= 2 ? [...s.slice(0, -1), s[s.length - 2]] : [];
      return s.length >= 1 && b.fits(shape, out) ? { args: [x], attrs: { vector: s.length === 1 }, bound: out } : undefined;
    },
    apply: ([x], a) => (a.vector ? x.dot(x) : x.matmul(x.transpose())),
    code: ([x], a) => (a.vector ? `${x}.dot(${x})` : `${x}.matmul(${x}.transpose())`),
  },
  // Ops with kinks: their derivatives jump, so finite differences need inputs away from them.
  unary('abs', (x) => x.abs(), (x) => `${x}.abs()`, (b) => b, (x) => x.abs()),
  unary('relu', (x) => x.relu(), (x) => `${x}.relu()`, (b) => b, (x) => x.abs()),
  unary('clamp', (x) => x.clamp(-0.5, 0.5), (x) => `${x}.clamp(-0.5, 0.5)`, (b) => Math.min(b, 0.5), (x) => minimum(kinkAt(x, -0.5), kinkAt(x, 0.5))),
  binary('maximum', (x, y) => maximum(x, y), (x, y) => `${x}.maximum(${y})`, Math.max, (x, y) => x.sub(y).abs()),
  binary('minimum', (x, y) => minimum(x, y), (x, y) => `${x}.minimum(${y})`, Math.max, (x, y) => x.sub(y).abs()),
  binary('whereGt', (x, y) => where(x.gt(y), x, y.mul(2)), (x, y) => `where(${x}.gt(${y}), ${x}, ${y}.mul(2))`, (a, b) => Math.max(a, 2 * b), (x, y) => x.sub(y).abs()),
  reduction('max', 'max', (b) => b, true),
  reduction('min', 'min', (b) => b, true),
];

/** Joins a value nothing reads into the result: `x + mean(y)`. */
const ADD_MEAN: OpSpec = {
  name: 'addMean',
  plan: () => undefined,
  apply: ([x, y]) => x.add(y.mean()),
  code: ([x, y]) => `${x}.add(${y}.mean())`,
};

const OPS_BY_NAME = new Map([...PROGRAM_OPS, ADD_MEAN].map((op) => [op.name, op]));
const MATMUL = OPS_BY_NAME.get('matmul')!;

/**
 * The names of the ops random programs use; `smooth` leaves out the kinked ones.
 * @example
 * arbitraryProgram({ ops: programOpNames({ smooth: true }).filter((op) => op !== 'matmul') });
 */
export function programOpNames(opts: { smooth?: boolean } = {}): string[] {
  return PROGRAM_OPS.filter((op) => !(opts.smooth && op.kinked)).map((op) => op.name);
}

// Arbitraries -------------------------------------------------------------------------------

export interface ProgramConfig {
  /** Input shapes (fixed, or an arbitrary). Default: 1 or 2 inputs of rank 0..3 with dimensions 1..3, broadcast-compatible. */
  inputShapes?: readonly Shape[] | fc.Arbitrary<readonly Shape[]>;
  /** Number of random steps (default 1..6). */
  minSteps?: number;
  maxSteps?: number;
  /** The ops to draw from (default all, see `programOpNames()`). */
  ops?: readonly string[];
  /** Leave out the ops with kinks (abs, relu, clamp, maximum, minimum, where, max, min). */
  smooth?: boolean;
  /** Append `sum(sin(out))`, so the program returns a scalar (for grad and hessian). */
  scalarOutput?: boolean;
  /** Largest number of elements of any value (default 48). */
  maxSize?: number;
  /** Largest rank of any value (default 4). */
  maxRank?: number;
  /** Bound on |input| the program is built for (default 2), and on any value (default 50). */
  inputBound?: number;
  maxBound?: number;
}

/**
 * Shapes of 1 or 2 inputs: the first of rank 0..maxRank with dimensions 1..maxDim, the
 * second a suffix of it with some dimensions set to 1 (so that they broadcast).
 * @example
 * fc.sample(arbitraryInputShapes(), 1); // e.g. [[[2, 3], [1, 3]]]
 */
export function arbitraryInputShapes(opts: { maxInputs?: number; maxRank?: number; maxDim?: number } = {}): fc.Arbitrary<Shape[]> {
  const maxInputs = opts.maxInputs ?? 2;
  const first = fc.array(fc.integer({ min: 1, max: opts.maxDim ?? 3 }), { minLength: 0, maxLength: opts.maxRank ?? 3 });
  const variant = (shape: readonly number[]) =>
    fc.tuple(fc.nat({ max: shape.length }), fc.array(fc.boolean(), { minLength: shape.length, maxLength: shape.length })).map(([drop, ones]) =>
      shape.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d)),
    );
  return first.chain((shape) => fc.array(variant(shape), { minLength: 0, maxLength: maxInputs - 1 }).map((rest) => [shape, ...rest]));
}

/**
 * Decodes a program from input shapes and one list of integers per step: each list picks
 * the operand, the op and its attributes; any list of integers gives a valid program.
 * @example
 * decodeProgram([[3], [3]], [[0, 16], [2]]).toString(); // x1.add(x0), then its tanh
 */
export function decodeProgram(inputShapes: readonly Shape[], raw: readonly (readonly number[])[], config: ProgramConfig = {}): Program {
  const allowed = new Set(config.ops ?? programOpNames({ smooth: config.smooth }));
  const ops = PROGRAM_OPS.filter((op) => allowed.has(op.name) && !(config.smooth && op.kinked));
  if (ops.length === 0) throw new RangeError('decodeProgram: no ops to draw from');
  const b = new Builder(inputShapes, config.inputBound ?? 2, { maxSize: config.maxSize ?? 48, maxRank: config.maxRank ?? 4, maxBound: config.maxBound ?? 50 });
  const steps: ProgramStep[] = [];
  const push = (spec: OpSpec, planned: Planned) => {
    const shape = resultShape(spec, planned.args.map((a) => b.shape(a)), planned.attrs);
    planned.args.forEach((a) => b.values[a].uses++);
    b.values.push({ shape, bound: planned.bound, uses: 0 });
    steps.push({ op: spec.name, args: planned.args, attrs: planned.attrs, shape });
  };
  for (const choices of raw) {
    b.choices = new Choices(choices);
    // The first operand is one of the latest values nothing reads yet, so that steps chain.
    const frontier = b.frontier();
    const x = frontier[b.int(Math.min(frontier.length, 3))];
    const first = b.int(ops.length);
    // The drawn op, or the next one that fits (sin always does when allowed).
    for (let k = 0; k < ops.length; k++) {
      const spec = ops[(first + k) % ops.length];
      const planned = spec.plan(b, x);
      if (planned) {
        push(spec, planned);
        break;
      }
    }
  }
  // Every value nothing reads yet flows into the result, so that no input or step is dead.
  const [result, ...dead] = b.frontier();
  let out = result;
  for (const v of dead) {
    push(ADD_MEAN, { args: [out, v], attrs: {}, bound: b.bound(out) + b.bound(v) });
    out = b.values.length - 1;
  }
  if (config.scalarOutput) {
    push(OPS_BY_NAME.get('sin')!, { args: [out], attrs: {}, bound: 1 });
    push(OPS_BY_NAME.get('sum')!, { args: [out + 1], attrs: { axis: null, keepdims: false }, bound: sizeOf(b.shape(out + 1)) });
  }
  return new Program(inputShapes, steps, b.values.length - 1);
}

/**
 * Random programs (see the module comment). Each is a `Program`: print it with
 * `String(p)`, run it with `p.fn(...inputs)`.
 * @example
 * fc.assert(fc.property(arbitraryProgram({ smooth: true }), (p) => {
 *   const inputs = p.inputShapes.map((s) => randn(s, { seed: 0, dtype: 'float64' }));
 *   checkGrads(p.fn, inputs, { order: 1 });
 * }));
 */
export function arbitraryProgram(config: ProgramConfig = {}): fc.Arbitrary<Program> {
  const shapes: fc.Arbitrary<readonly Shape[]> = config.inputShapes === undefined ? arbitraryInputShapes({ maxRank: Math.min(3, config.maxRank ?? 3) }) : Array.isArray(config.inputShapes) ? fc.constant(config.inputShapes as readonly Shape[]) : (config.inputShapes as fc.Arbitrary<readonly Shape[]>);
  const stepChoices = fc.array(fc.nat({ max: 1 << 16 }), { minLength: 8, maxLength: 8 });
  const steps = fc.array(stepChoices, { minLength: config.minSteps ?? 1, maxLength: config.maxSteps ?? 6 });
  return fc.tuple(shapes, steps).map(([s, raw]) => decodeProgram(s, raw, config));
}

/**
 * Input values for a program: one tensor per input shape, entries in [-bound, bound]
 * (default: the bound the programs are built for, 2), float64 by default.
 * @example
 * arbitraryProgram().chain((p) => arbitraryProgramInputs(p).map((xs) => [p, xs] as const));
 */
export function arbitraryProgramInputs(program: Program, opts: { bound?: number; dtype?: DType } = {}): fc.Arbitrary<Tensor[]> {
  const bound = opts.bound ?? 2;
  const dtype = opts.dtype ?? 'float64';
  return fc.tuple(
    ...program.inputShapes.map((shape) =>
      fc
        .array(fc.double({ min: -bound, max: bound, noNaN: true, noDefaultInfinity: true }), { minLength: sizeOf(shape), maxLength: sizeOf(shape) })
        .map((data) => tensor(data, { shape, dtype })),
    ),
  );
}

/**
 * A program together with inputs for it (see `arbitraryProgramInputs`).
 * @example
 * fc.assert(fc.property(arbitraryProgramWithInputs({ smooth: true }), ([p, xs]) => checkGrads(p.fn, xs, { order: 1 })));
 */
export function arbitraryProgramWithInputs(config: ProgramConfig = {}, inputOpts: { bound?: number; dtype?: DType } = {}): fc.Arbitrary<[Program, Tensor[]]> {
  return arbitraryProgram(config).chain((p) => arbitraryProgramInputs(p, { bound: inputOpts.bound ?? config.inputBound, dtype: inputOpts.dtype }).map((xs): [Program, Tensor[]] => [p, xs]));
}
