// The table test: every primitive has a jvp, a vjp and a batching rule, and each non-leaf
// one works on an example (derivatives against finite differences, batching against a loop).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { jvp, makeGraph, stack, tensor, vjp, vmap, rand, type Tensor } from '../../src/index.js';
import { allPrimitives, type PrimitiveRule } from '../../src/lazy/primitive.js';
import { applyPrim } from '../../src/lazy/ops/core.js';
import { assertAllClose, checkGrads } from '../../src/testing/index.js';

const f64 = (values: number[], shape?: number[]) => tensor(values, { dtype: 'float64', shape });
const X = f64([0.7, -1.3, 0.4, 1.9, -0.2, 1.1], [2, 3]);
const POSITIVE = f64([0.7, 1.3, 0.4, 1.9, 0.2, 1.1], [2, 3]);
const Y = f64([0.3, 0.9, -1.7, 0.5, 1.4, -0.6], [2, 3]);
const MASK = tensor([true, false, true, false, false, true], { shape: [2, 3] });
const INDEX = tensor([2, 0, 0, 1, 1, 2], { dtype: 'int32', shape: [2, 3] });
// Matrices for the linear-algebra primitives: well conditioned for every batching copy below.
const M = f64([0.7, -0.3, 0.4, 0.2, -0.5, 0.1, 0.6, 0.3, -0.2], [3, 3]);
const SHIFT = f64([4, 0, 0, 0, 4, 0, 0, 0, 4], [3, 3]);
const R = f64([0.3, 0.9, -1.7, 0.5, 1.4, -0.6], [3, 2]);
const spd = (a: Tensor) => a.matmul(a.T).add(SHIFT);

interface Example {
  /** Float inputs, differentiated and batched over. */
  inputs: Tensor[];
  /** Builds the primitive itself from the inputs. */
  apply: (...xs: Tensor[]) => Tensor;
  /** 'fd': derivatives checked against finite differences; 'zero': the derivative is zero. */
  derivative: 'fd' | 'zero' | 'cast';
}

const unary = (op: string, x = X, derivative: Example['derivative'] = 'fd'): Example => ({ inputs: [x], apply: (a) => applyPrim(op, [a]), derivative });
const binary = (op: string, a = X, b = Y, derivative: Example['derivative'] = 'fd'): Example => ({ inputs: [a, b], apply: (p, q) => applyPrim(op, [p, q]), derivative });

/** One example per non-leaf primitive; a new primitive without one fails the table test. */
const EXAMPLES: Record<string, Example> = {
  neg: unary('neg'),
  recip: unary('recip'),
  sqrt: unary('sqrt', POSITIVE),
  exp: unary('exp'),
  log: unary('log', POSITIVE),
  sin: unary('sin'),
  cos: unary('cos'),
  tanh: unary('tanh'),
  logistic: unary('logistic'),
  log1p: unary('log1p', POSITIVE),
  expm1: unary('expm1'),
  abs: unary('abs'),
  sign: unary('sign', X, 'zero'),
  floor: unary('floor', X, 'zero'),
  ceil: unary('ceil', X, 'zero'),
  round: unary('round', X, 'zero'),
  stop_gradient: unary('stop_gradient', X, 'zero'),
  add: binary('add'),
  mul: binary('mul'),
  div: binary('div'),
  pow: binary('pow', POSITIVE, Y),
  max: binary('max'),
  lt: binary('lt', X, Y, 'zero'),
  eq: { inputs: [X], apply: (a) => applyPrim('eq', [a, applyPrim('round', [a])]), derivative: 'zero' },
  where: { inputs: [X, Y], apply: (a, b) => applyPrim('where', [MASK, a, b]), derivative: 'fd' },
  cast: { inputs: [X.cast('float32')], apply: (a) => applyPrim('cast', [a], { dtype: 'float64' }), derivative: 'cast' },
  reduce_sum: { inputs: [X], apply: (a) => applyPrim('reduce_sum', [a], { shape: [2, 1] }), derivative: 'fd' },
  reduce_max: { inputs: [X], apply: (a) => applyPrim('reduce_max', [a], { shape: [1, 3] }), derivative: 'fd' },
  reshape: { inputs: [X], apply: (a) => applyPrim('reshape', [a], { shape: [3, 1, 2] }), derivative: 'fd' },
  permute: { inputs: [X], apply: (a) => applyPrim('permute', [a], { perm: [1, 0] }), derivative: 'fd' },
  expand: { inputs: [X], apply: (a) => applyPrim('expand', [applyPrim('reshape', [a], { shape: [2, 1, 3] })], { shape: [2, 4, 3] }), derivative: 'fd' },
  pad: { inputs: [X], apply: (a) => applyPrim('pad', [a], { pads: [[1, 0], [0, 2]] }), derivative: 'fd' },
  shrink: { inputs: [X], apply: (a) => applyPrim('shrink', [a], { ranges: [[1, 2], [0, 2]] }), derivative: 'fd' },
  flip: { inputs: [X], apply: (a) => applyPrim('flip', [a], { axes: [1] }), derivative: 'fd' },
  gather: { inputs: [X], apply: (a) => applyPrim('gather', [a, INDEX], { axis: 1 }), derivative: 'fd' },
  scatter_add: { inputs: [X], apply: (a) => applyPrim('scatter_add', [INDEX, a], { axis: 1, size: 4 }), derivative: 'fd' },
  random_bits: {
    inputs: [X],
    apply: (a) => {
      const word = a.mul(1e4).cast('int32');
      return applyPrim('random_bits', [word, word.neg(), INDEX]);
    },
    derivative: 'zero',
  },
  solve: { inputs: [M, R], apply: (a, b) => applyPrim('solve', [a.add(SHIFT), b]), derivative: 'fd' },
  triangular_solve: { inputs: [M, R], apply: (a, b) => applyPrim('triangular_solve', [a.add(SHIFT), b], { lower: false, transpose: true, unitDiagonal: false }), derivative: 'fd' },
  cholesky: { inputs: [M], apply: (a) => applyPrim('cholesky', [spd(a)]), derivative: 'fd' },
  slogdet: { inputs: [M], apply: (a) => applyPrim('slogdet', [a.add(SHIFT)]), derivative: 'fd' },
  eigh: { inputs: [M], apply: (a) => applyPrim('eigh', [a.add(a.T).add(f64([1, 0, 0, 0, 3, 0, 0, 0, 6], [3, 3]))]), derivative: 'fd' },
};

const isRule = (r: unknown): boolean => typeof r === 'function';

/** vmap over a stack of 3 perturbed copies of each input equals the loop over them. */
function checkBatching(ex: Example): void {
  const copies = (x: Tensor) => [x, x.mul(0.5).add(0.25), x.flip().neg()].map((c) => c.cast(x.dtype));
  const batches = ex.inputs.map((x) => stack(copies(x), 1));
  const mapped = vmap(ex.apply, { inDims: 1 })(...batches);
  const loop = stack([0, 1, 2].map((i) => ex.apply(...ex.inputs.map((x) => copies(x)[i]))));
  assertAllClose(mapped, loop, { rtol: 0, atol: 0 });
}

describe('every primitive has a jvp, a vjp and a batching rule', () => {
  const all = allPrimitives();

  test('the registry holds the primitives of the design', () => {
    const names: string[] = all.map((p) => p.op);
    for (const op of ['const', 'buffer', 'param', 'iota', 'random', ...Object.keys(EXAMPLES)]) assert.ok(names.includes(op), `${op} is registered`);
  });

  test("'leaf' rules only for kind 'leaf'; leaves have no derivative rules; random batches", () => {
    for (const p of all) {
      const leafy = [p.jvp, p.vjp, p.batch].filter((r) => r === 'leaf').length;
      if (p.kind === 'leaf') {
        assert.equal(p.jvp, 'leaf', `${p.op}: a leaf has no jvp rule`);
        assert.equal(p.vjp, 'leaf', `${p.op}: a leaf has no vjp rule`);
      } else {
        assert.equal(leafy, 0, `${p.op} (kind ${p.kind}) must have jvp, vjp and batch rules`);
        assert.ok(isRule(p.jvp) && isRule(p.vjp) && isRule(p.batch), `${p.op}: rules are functions`);
      }
    }
    const random = all.find((p) => p.op === 'random') as PrimitiveRule;
    assert.ok(isRule(random.batch), 'the random leaf has a batching rule');
  });

  for (const p of all.filter((r) => r.kind !== 'leaf')) {
    test(`${p.op} works on an example: jvp, vjp and batching`, () => {
      const ex = EXAMPLES[p.op];
      assert.ok(ex, `no example for the primitive ${p.op}: add one to EXAMPLES`);
      const counts = makeGraph(ex.apply)(...ex.inputs).opCounts();
      assert.ok((counts[p.op] ?? 0) >= 1, `the example of ${p.op} builds it (graph: ${JSON.stringify(counts)})`);
      if (ex.derivative === 'fd') checkGrads(ex.apply, ex.inputs, { order: 2 });
      else if (ex.derivative === 'zero') {
        const out = ex.apply(...ex.inputs);
        const [, tangent] = jvp(ex.apply, ex.inputs, ex.inputs.map((x) => x.cos()));
        assertAllClose(tangent, out.mul(0).cast(out.dtype), { rtol: 0, atol: 0 });
        const [, back] = vjp(ex.apply, ex.inputs);
        const grads = back(out);
        grads.forEach((g, i) => assertAllClose(g, ex.inputs[i].mul(0), { rtol: 0, atol: 0 }));
      } else {
        // cast float32 -> float64: the tangent is cast along, the cotangent cast back.
        const [x] = ex.inputs;
        const t = x.cos();
        const [, tangent] = jvp(ex.apply, [x], [t]);
        assert.equal(tangent.dtype, 'float64');
        assertAllClose(tangent, t.cast('float64'), { rtol: 0, atol: 0 });
        const u = x.sin().cast('float64');
        const [g] = vjp(ex.apply, [x])[1](u);
        assert.equal(g.dtype, 'float32');
        assertAllClose(g, u.cast('float32'), { rtol: 0, atol: 0 });
      }
      checkBatching(ex);
    });
  }

  test('the random leaf batches: one sample per example with randomness "different"', () => {
    const draws = vmap((x: Tensor) => x.add(rand([4], { seed: 3 })), { randomness: 'different' })(tensor([0, 0, 0]));
    const rows = draws.toArray() as number[][];
    assert.deepEqual(draws.shape, [3, 4]);
    assert.notDeepEqual(rows[0], rows[1]);
    assert.notDeepEqual(rows[1], rows[2]);
  });
});
