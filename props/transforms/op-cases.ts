/**
 * The table of differentiable ops the transform properties run over: every differentiable
 * primitive and composite, each with random attributes (axes, permutations, slices, ...)
 * drawn by fast-check and input domains on which its derivative is smooth (away from
 * kinks, ties and poles), so that finite differences are valid.
 */
import fc from 'fast-check';
import * as F from '../../src/index.js';
import { tensor, type Tensor } from '../../src/index.js';
import { axesArb, axisArb, broadcastableShapesArb, permutationArb, shapeArb } from '../../src/testing/index.js';

/** Where an input's values come from. */
export type Domain =
  /** Uniform in [min, max], at least 0.05 away from each point of `avoid`. */
  | { readonly kind: 'range'; readonly min: number; readonly max: number; readonly avoid?: readonly number[] }
  /** Magnitude in [0.3, 2] with either sign. */
  | { readonly kind: 'nonzero' }
  /** Distinct points of the grid offset + 0.025 k in [-2, 2] (no ties, gaps >= 0.025). */
  | { readonly kind: 'grid'; readonly offset: number };

export interface InputSpec {
  readonly shape: readonly number[];
  readonly domain: Domain;
}

/** One op with its attributes drawn: the function of its float inputs, and those inputs. */
export interface OpInstance {
  readonly label: string;
  readonly f: (...xs: Tensor[]) => Tensor;
  readonly inputs: readonly InputSpec[];
}

export interface OpCase {
  readonly name: string;
  readonly instance: fc.Arbitrary<OpInstance>;
}

const SMALL = { maxRank: 3, maxDim: 3 } as const;
const range = (min: number, max: number, avoid?: number[]): Domain => ({ kind: 'range', min, max, avoid });
const STD = range(-2, 2);
const NONZERO: Domain = { kind: 'nonzero' };
const POSITIVE = range(0.3, 3);
const GRID: Domain = { kind: 'grid', offset: 0 };

function instance(label: string, f: (...xs: Tensor[]) => Tensor, inputs: InputSpec[]): OpInstance {
  return {
    label,
    f,
    inputs,
    toString: () => `${label} on ${inputs.map((i) => `[${i.shape.join(', ')}]`).join(', ')}`,
  } as OpInstance;
}

const GRID_POINTS = (offset: number) => Array.from({ length: 160 }, (_, k) => Math.round((offset - 2 + 0.025 * k) * 1e6) / 1e6);

/** `size` values from a domain. */
export function domainValuesArb(domain: Domain, size: number): fc.Arbitrary<number[]> {
  switch (domain.kind) {
    case 'range': {
      const avoid = domain.avoid ?? [];
      const v = fc.double({ min: domain.min, max: domain.max, noNaN: true, noDefaultInfinity: true }).filter((x) => avoid.every((a) => Math.abs(x - a) > 0.05));
      return fc.array(v, { minLength: size, maxLength: size });
    }
    case 'nonzero':
      return fc.array(fc.tuple(fc.double({ min: 0.3, max: 2, noNaN: true }), fc.boolean()).map(([m, s]) => (s ? -m : m)), { minLength: size, maxLength: size });
    case 'grid':
      return fc.shuffledSubarray(GRID_POINTS(domain.offset), { minLength: size, maxLength: size });
    default:
      return domain satisfies never;
  }
}

/** float64 tensors for the inputs of an instance; `shapes` overrides the shapes (for batches). */
export function inputsArb(inst: OpInstance, shapes?: readonly (readonly number[])[]): fc.Arbitrary<Tensor[]> {
  return fc.tuple(
    ...inst.inputs.map((input, i) => {
      const shape = shapes ? shapes[i] : input.shape;
      return domainValuesArb(input.domain, shape.reduce((a, b) => a * b, 1)).map((v) => tensor(v, { shape, dtype: 'float64' }));
    }),
  );
}

// Builders -------------------------------------------------------------------------------------

function unary(name: string, f: (x: Tensor) => Tensor, domain: Domain = STD): OpCase {
  return { name, instance: shapeArb(SMALL).map((s) => instance(name, f, [{ shape: s, domain }])) };
}

function binary(name: string, f: (x: Tensor, y: Tensor) => Tensor, domains: [Domain, Domain] = [STD, STD]): OpCase {
  return { name, instance: broadcastableShapesArb(2, SMALL).map(([a, b]) => instance(name, f, [{ shape: a, domain: domains[0] }, { shape: b, domain: domains[1] }])) };
}

const reduceOptsArb = (shape: readonly number[], minAxes = 0) =>
  fc.tuple(fc.option(axesArb(shape, { minLength: minAxes }), { nil: undefined }), fc.boolean()).map(([axis, keepdims]) => ({ axis, keepdims }));

function reduction(name: string, f: (x: Tensor, opts: F.ReduceOptions) => Tensor, domain: Domain = STD): OpCase {
  return {
    name,
    instance: shapeArb(SMALL).chain((s) => reduceOptsArb(s).map((opts) => instance(`${name} ${JSON.stringify(opts)}`, (x) => f(x, opts), [{ shape: s, domain }]))),
  };
}

/** A movement op with attributes drawn from the input shape. */
function shaped<A>(name: string, shapes: fc.Arbitrary<number[]>, attrs: (shape: number[]) => fc.Arbitrary<A>, f: (x: Tensor, a: A) => Tensor, domain: Domain = STD): OpCase {
  return {
    name,
    instance: shapes.chain((s) => attrs(s).map((a) => instance(`${name} ${JSON.stringify(a)}`, (x) => f(x, a), [{ shape: s, domain }]))),
  };
}

function reshapeTargets(shape: readonly number[]): number[][] {
  const size = shape.reduce((a, b) => a * b, 1);
  const out: number[][] = [[size], [...shape].reverse(), [1, ...shape], [...shape, 1]];
  for (let i = 0; i + 1 < shape.length; i++) out.push([...shape.slice(0, i), shape[i] * shape[i + 1], ...shape.slice(i + 2)]);
  for (let p = 2; p < size; p++) if (size % p === 0) out.push([p, size / p], [p, -1]);
  return out;
}

const intTensor = (values: number[], shape: number[]) => tensor(values, { dtype: 'int32', shape });

// The table ------------------------------------------------------------------------------------

export const OP_CASES: readonly OpCase[] = [
  // Unary elementwise: primitives (neg, recip, sqrt, exp, log, sin, cos, tanh, log1p, expm1,
  // abs; sign, floor, ceil, round have zero derivatives) and composites.
  unary('neg', F.neg),
  unary('reciprocal', F.reciprocal, NONZERO),
  unary('sqrt', F.sqrt, POSITIVE),
  unary('rsqrt', F.rsqrt, POSITIVE),
  unary('exp', F.exp),
  unary('log', F.log, POSITIVE),
  unary('log1p', F.log1p, range(-0.5, 2)),
  unary('expm1', F.expm1),
  unary('sin', F.sin),
  unary('cos', F.cos),
  unary('tan', F.tan, range(-1.2, 1.2)),
  unary('tanh', F.tanh),
  unary('sigmoid', F.sigmoid),
  unary('relu', F.relu, NONZERO),
  unary('gelu', F.gelu),
  unary('softplus', F.softplus, range(-3, 3)),
  unary('abs', F.abs, NONZERO),
  unary('square', F.square),
  unary('sign', F.sign, NONZERO),
  unary('floor', F.floor, range(-2, 2, [-2, -1, 0, 1, 2])),
  unary('ceil', F.ceil, range(-2, 2, [-2, -1, 0, 1, 2])),
  unary('round', F.round, range(-2, 2, [-1.5, -0.5, 0.5, 1.5])),
  unary('clamp', (x) => F.clamp(x, -0.5, 0.5), range(-2, 2, [-0.5, 0.5])),
  unary('cast float64 -> float64', (x) => F.cast(x, 'float64')),
  // Binary elementwise with broadcasting: add, mul, div, pow, max primitives and composites.
  binary('add', F.add),
  binary('sub', F.sub),
  binary('mul', F.mul),
  binary('div', F.div, [STD, NONZERO]),
  binary('pow', F.pow, [POSITIVE, STD]),
  binary('maximum', F.maximum, [GRID, { kind: 'grid', offset: 0.0125 }]),
  binary('minimum', F.minimum, [GRID, { kind: 'grid', offset: 0.0125 }]),
  binary('add a weak scalar', (x) => F.add(x, 1.5)),
  binary('pow with a scalar exponent', (x) => F.pow(x, 2.5), [POSITIVE, STD]),
  {
    name: 'where',
    instance: broadcastableShapesArb(3, SMALL).chain(([c, a, b]) =>
      fc.array(fc.boolean(), { minLength: c.reduce((p, d) => p * d, 1), maxLength: c.reduce((p, d) => p * d, 1) }).map((bits) =>
        instance(`where ${JSON.stringify(bits)}`, (x, y) => F.where(tensor(bits, { shape: c }), x, y), [
          { shape: a, domain: STD },
          { shape: b, domain: STD },
        ]),
      ),
    ),
  },
  // Reductions: reduce_sum and reduce_max primitives and composites.
  reduction('sum', F.sum),
  reduction('mean', F.mean),
  reduction('prod', F.prod),
  reduction('max', F.max, GRID),
  reduction('min', F.min, GRID),
  reduction('logsumexp', F.logsumexp),
  reduction('var', (x, o) => F.variance(x, { ...o, correction: 0 }), GRID),
  {
    name: 'std',
    instance: shapeArb({ minRank: 1, ...SMALL })
      .filter((s) => s.some((d) => d > 1))
      .chain((s) => fc.constantFrom(...s.flatMap((d, i) => (d > 1 ? [i] : []))).chain((axis) => fc.boolean().map((keepdims) => instance(`std ${JSON.stringify({ axis, keepdims })}`, (x) => F.std(x, { axis, keepdims }), [{ shape: s, domain: GRID }])))),
  },
  shaped('softmax', shapeArb({ minRank: 1, ...SMALL }), (s) => axisArb(s), (x, axis) => F.softmax(x, axis)),
  shaped('logSoftmax', shapeArb({ minRank: 1, ...SMALL }), (s) => axisArb(s), (x, axis) => F.logSoftmax(x, axis)),
  // Movement: reshape, permute, expand, pad, shrink, flip primitives and composites.
  shaped('reshape', shapeArb(SMALL), (s) => fc.constantFrom(...reshapeTargets(s)), (x, shape) => F.reshape(x, shape)),
  shaped('permute', shapeArb(SMALL), (s) => permutationArb(s.length), (x, perm) => F.permute(x, perm)),
  shaped('transpose', shapeArb({ minRank: 2, ...SMALL }), (s) => fc.tuple(axisArb(s), axisArb(s)), (x, [a, b]) => F.transpose(x, a, b)),
  shaped('movedim', shapeArb({ minRank: 1, ...SMALL }), (s) => fc.tuple(axisArb(s), axisArb(s)), (x, [a, b]) => F.moveaxis(x, a, b)),
  shaped('broadcastTo', shapeArb(SMALL), (s) => fc.tuple(fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }), fc.array(fc.integer({ min: 1, max: 3 }), { minLength: s.length, maxLength: s.length })).map(([lead, grown]) => [...lead, ...s.map((d, i) => (d === 1 ? grown[i] : d))]), (x, shape) => F.broadcastTo(x, shape)),
  shaped('unsqueeze', shapeArb(SMALL), (s) => fc.integer({ min: -(s.length + 1), max: s.length }), (x, axis) => F.unsqueeze(x, axis)),
  shaped('squeeze', shapeArb({ maxRank: 3, maxDim: 2 }), () => fc.constant(undefined), (x) => F.squeeze(x)),
  shaped('flatten', shapeArb({ minRank: 1, ...SMALL }), (s) => fc.tuple(fc.nat({ max: s.length - 1 }), fc.nat({ max: s.length - 1 })).map(([a, b]) => [Math.min(a, b), Math.max(a, b)]), (x, [a, b]) => F.flatten(x, a, b)),
  shaped('slice', shapeArb({ minRank: 1, ...SMALL }), (s) => fc.array(fc.oneof(fc.constant(null), fc.tuple(fc.integer({ min: -4, max: 4 }), fc.integer({ min: -4, max: 4 }), fc.constantFrom(1, 2, 3, -1, -2))), { minLength: 1, maxLength: s.length }), (x, specs) => F.slice(x, specs as F.SliceSpec[])),
  shaped('select', shapeArb({ minRank: 1, ...SMALL }), (s) => axisArb(s).chain((a) => fc.integer({ min: -s[a < 0 ? a + s.length : a], max: s[a < 0 ? a + s.length : a] - 1 }).map((i) => [a, i])), (x, [a, i]) => F.select(x, a, i)),
  shaped('pad', shapeArb({ minRank: 1, ...SMALL }), (s) => fc.tuple(fc.tuple(...s.map((d) => fc.tuple(fc.integer({ min: -Math.floor((d - 1) / 2), max: 2 }), fc.integer({ min: -Math.floor((d - 1) / 2), max: 2 })))), fc.constantFrom(0, 0.5, -1)), (x, [pads, value]) => F.pad(x, pads, value)),
  shaped('flip', shapeArb(SMALL), (s) => fc.option(axesArb(s), { nil: undefined }), (x, axes) => F.flip(x, axes)),
  shaped('tile', shapeArb(SMALL), (s) => fc.array(fc.integer({ min: 1, max: 2 }), { minLength: 0, maxLength: s.length + 1 }), (x, reps) => F.tile(x, reps)),
  shaped('split', shapeArb({ minRank: 1, ...SMALL }), (s) => axisArb(s).chain((a) => fc.integer({ min: 1, max: s[a < 0 ? a + s.length : a] }).chain((size) => fc.nat({ max: Math.ceil(s[a < 0 ? a + s.length : a] / size) - 1 }).map((k) => [a, size, k]))), (x, [a, size, k]) => F.split(x, size, a)[k]),
  shaped('diagonal', shapeArb({ minRank: 2, ...SMALL }), (s) => fc.tuple(fc.integer({ min: -1, max: 1 }), permutationArb(s.length)).filter(([o, [a, b]]) => Math.min(s[a] - Math.max(0, -o), s[b] - Math.max(0, o)) > 0), (x, [o, [a, b]]) => F.diagonal(x, o, a, b)),
  shaped('triu', shapeArb({ minRank: 2, ...SMALL }), () => fc.integer({ min: -2, max: 2 }), (x, k) => F.triu(x, k)),
  shaped('tril', shapeArb({ minRank: 2, ...SMALL }), () => fc.integer({ min: -2, max: 2 }), (x, k) => F.tril(x, k)),
  shaped('indexSelect', shapeArb({ minRank: 1, ...SMALL }), (s) => axisArb(s).chain((a) => fc.array(fc.nat({ max: s[a < 0 ? a + s.length : a] - 1 }), { minLength: 1, maxLength: 4 }).map((idx) => [a, idx] as const)), (x, [a, idx]) => F.indexSelect(x, a, intTensor([...idx], [idx.length]))),
  shaped('gather', shapeArb({ minRank: 1, ...SMALL }), (s) =>
    axisArb(s).chain((a) => {
      const ax = a < 0 ? a + s.length : a;
      return fc.tuple(...s.map((d, i) => (i === ax ? fc.integer({ min: 1, max: 3 }) : fc.integer({ min: 1, max: d })))).chain((shape) => fc.array(fc.nat({ max: s[ax] - 1 }), { minLength: shape.reduce((p, d) => p * d, 1), maxLength: shape.reduce((p, d) => p * d, 1) }).map((idx) => [a, idx, shape] as const));
    }), (x, [a, idx, shape]) => F.gather(x, a, intTensor([...idx], [...shape]))),
  {
    name: 'scatterAdd',
    instance: shapeArb({ minRank: 1, ...SMALL }).chain((s) =>
      axisArb(s).chain((a) => {
        const ax = a < 0 ? a + s.length : a;
        return fc.tuple(...s.map((d) => fc.integer({ min: 1, max: d }))).chain((shape) =>
          fc.array(fc.nat({ max: s[ax] - 1 }), { minLength: shape.reduce((p, d) => p * d, 1), maxLength: shape.reduce((p, d) => p * d, 1) }).map((idx) =>
            instance(`scatterAdd ${JSON.stringify({ axis: a, index: idx, indexShape: shape })}`, (x, src) => F.scatterAdd(x, a, intTensor(idx, shape), src), [
              { shape: s, domain: STD },
              { shape, domain: STD },
            ]),
          ),
        );
      }),
    ),
  },
  {
    name: 'concat',
    instance: shapeArb({ minRank: 1, ...SMALL }).chain((s) =>
      fc.tuple(axisArb(s), fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 2 })).map(([a, sizes]) => {
        const ax = a < 0 ? a + s.length : a;
        const shapes = [s, ...sizes.map((n) => s.map((d, i) => (i === ax ? n : d)))];
        return instance(`concat axis ${a}`, (...xs) => F.concat(xs, a), shapes.map((shape) => ({ shape, domain: STD })));
      }),
    ),
  },
  {
    name: 'stack',
    instance: shapeArb(SMALL).chain((s) => fc.tuple(fc.integer({ min: -(s.length + 1), max: s.length }), fc.integer({ min: 1, max: 3 })).map(([a, n]) => instance(`stack axis ${a}`, (...xs) => F.stack(xs, a), Array.from({ length: n }, () => ({ shape: s, domain: STD }))))),
  },
  // Linear algebra and losses (composites of mul, reduce_sum, movement, gather).
  {
    name: 'matmul',
    instance: fc
      .tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.constantFrom<number[]>([], [2], [1], [2, 1]), fc.constantFrom<number[]>([], [2], [1]), fc.constantFrom('mm', 'vm', 'mv', 'vv'))
      .map(([n, k, m, ba, bb, kind]) => {
        const a = kind[0] === 'v' ? [k] : [...ba, n, k];
        const b = kind[1] === 'v' ? [k] : [...bb, k, m];
        return instance(`matmul ${kind}`, F.matmul, [
          { shape: a, domain: STD },
          { shape: b, domain: STD },
        ]);
      }),
  },
  { name: 'dot', instance: fc.integer({ min: 1, max: 4 }).map((n) => instance('dot', F.dot, [{ shape: [n], domain: STD }, { shape: [n], domain: STD }])) },
  { name: 'outer', instance: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })).map(([n, m]) => instance('outer', F.outer, [{ shape: [n], domain: STD }, { shape: [m], domain: STD }])) },
  {
    name: 'einsum',
    instance: fc.constantFrom<[string, number[][]]>(['ij,jk->ik', [[2, 3], [3, 2]]], ['bij,bjk->bik', [[2, 2, 3], [2, 3, 1]]], ['ii->i', [[3, 3]]], ['ij->ji', [[2, 3]]], ['i,i->', [[3], [3]]], ['ij,j', [[2, 3], [3]]]).map(([spec, shapes]) =>
      instance(`einsum '${spec}'`, (...xs) => F.einsum(spec, ...xs), shapes.map((shape) => ({ shape, domain: STD }))),
    ),
  },
  { name: 'mseLoss', instance: shapeArb(SMALL).map((s) => instance('mseLoss', (p, t) => F.mseLoss(p, t), [{ shape: s, domain: STD }, { shape: s, domain: STD }])) },
  {
    name: 'crossEntropy',
    instance: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 2, max: 4 })).chain(([n, c]) =>
      fc.tuple(fc.array(fc.nat({ max: c - 1 }), { minLength: n, maxLength: n }), fc.constantFrom<F.Reduction>('mean', 'sum', 'none')).map(([targets, reduction]) =>
        instance(`crossEntropy ${JSON.stringify({ targets, reduction })}`, (z) => F.crossEntropy(z, intTensor(targets, [n]), { reduction }), [{ shape: [n, c], domain: STD }]),
      ),
    ),
  },
];
