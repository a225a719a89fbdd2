/** The elementwise primitives: unary math, binary arithmetic, comparisons, where, cast. */
import { allocate, isFloat, type DType } from '../dtype.js';
import { DTypeError, ShapeError } from '../errors.js';
import { registerPrimitive, type ElementwiseOp, type JvpRule, type PrimitiveRule, type VjpRule } from '../primitive.js';
import { formatShape, sameShape, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { applyPrim, symbolicZerosLike } from '../ops/core.js';
import * as o from '../ops/elementwise.js';
import { batchElementwise } from './batching.js';
import { keyedBits } from '../random.js';

type OutputType = 'same' | 'bool' | 'cast';

interface ElementwiseSpec {
  op: ElementwiseOp;
  arity: number;
  output?: OutputType;
  /** Input dtypes the op accepts ('float': float32/float64 only). */
  domain?: 'any' | 'numeric' | 'float';
  scalar: (...xs: number[]) => number;
  /** When the scalar function depends on the output dtype (cast). */
  scalarFor?: (dtype: DType) => (...xs: number[]) => number;
  jvp: JvpRule;
  vjp: VjpRule;
}

function elementwise(spec: ElementwiseSpec): PrimitiveRule {
  const output = spec.output ?? 'same';
  return registerPrimitive({
    op: spec.op,
    kind: 'elementwise',
    arity: spec.arity,
    scalar: spec.scalar,
    scalarFor: spec.scalarFor,
    jvp: spec.jvp,
    vjp: spec.vjp,
    batch: batchElementwise,
    infer(inputs, attrs) {
      if (inputs.length !== spec.arity) throw new ShapeError(`${spec.op}: expects ${spec.arity} inputs, got ${inputs.length}`);
      const shape = inputs[0].shape;
      if (!inputs.every((n) => sameShape(n.shape, shape))) {
        throw new ShapeError(`${spec.op}: operand shapes ${inputs.map((n) => formatShape(n.shape)).join(', ')} differ (primitives need equal shapes; use the broadcasting op)`);
      }
      const valueInputs = spec.op === 'where' ? inputs.slice(1) : inputs;
      const dtype0 = valueInputs[0].dtype;
      if (spec.op !== 'cast' && !valueInputs.every((n) => n.dtype === dtype0)) {
        throw new DTypeError(`${spec.op}: operand dtypes ${valueInputs.map((n) => n.dtype).join(', ')} differ; cast them to one dtype`);
      }
      if (spec.op === 'where' && inputs[0].dtype !== 'bool') throw new DTypeError(`where: the condition must be bool, got ${inputs[0].dtype}`);
      const domain = spec.domain ?? 'any';
      if ((domain === 'float' && !isFloat(dtype0)) || (domain === 'numeric' && dtype0 === 'bool')) {
        throw new DTypeError(`${spec.op}: does not take ${dtype0} operands of shape ${formatShape(shape)}; cast to ${domain === 'float' ? 'float32' : 'int32'} first`);
      }
      const dtype: DType = output === 'bool' ? 'bool' : output === 'cast' ? (attrs.dtype as DType) : dtype0;
      return { shape, dtype };
    },
    evaluate(inputs, node) {
      const out = allocate(node.dtype, sizeOf(node.shape));
      const f = spec.scalarFor ? spec.scalarFor(node.dtype) : spec.scalar;
      if (inputs.length === 1) {
        const [a] = inputs;
        for (let i = 0; i < out.length; i++) out[i] = f(a[i]);
      } else if (inputs.length === 2) {
        const [a, b] = inputs;
        for (let i = 0; i < out.length; i++) out[i] = f(a[i], b[i]);
      } else {
        const [a, b, c] = inputs;
        for (let i = 0; i < out.length; i++) out[i] = f(a[i], b[i], c[i]);
      }
      return out;
    },
  });
}

/** A unary op whose derivative is `derivative(x, out)`: jvp t*d, vjp ct*d. */
function unary(op: ElementwiseOp, domain: ElementwiseSpec['domain'], scalar: (x: number) => number, derivative: ((x: Tensor, out: Tensor) => Tensor) | null): PrimitiveRule {
  return elementwise({
    op,
    arity: 1,
    domain,
    scalar,
    jvp: derivative ? ([x], [t], out) => o.mul(t!, derivative(x, out)) : () => null,
    vjp: derivative ? (ct, [x], out) => [o.mul(ct, derivative(x, out))] : () => [null],
  });
}

/**
 * The logistic function 1 / (1 + e^-x), from whichever side keeps e^(-|x|) <= 1: no
 * overflow for any x, and relative accuracy in the left tail (e^x / (1 + e^x)).
 */
export function logistic(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** Round half to even, as NumPy. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

elementwise({
  op: 'neg', arity: 1, domain: 'numeric',
  scalar: (x) => -x,
  jvp: (_p, [t]) => o.neg(t!),
  vjp: (ct) => [o.neg(ct)],
});
unary('recip', 'float', (x) => 1 / x, (_x, out) => o.neg(o.mul(out, out)));
unary('sqrt', 'float', Math.sqrt, (_x, out) => o.div(0.5, out));
unary('exp', 'float', Math.exp, (_x, out) => out);
unary('log', 'float', Math.log, (x) => o.reciprocal(x));
unary('sin', 'float', Math.sin, (x) => o.cos(x));
unary('cos', 'float', Math.cos, (x) => o.neg(o.sin(x)));
unary('tanh', 'float', Math.tanh, (_x, out) => o.sub(1, o.mul(out, out)));
// A primitive (as JAX's logistic) so that its derivative out * (1 - out) stays finite: the
// composite 1 / (1 + exp(-x)) differentiated through exp gives 0 * Infinity = NaN at x = -1000.
unary('logistic', 'float', logistic, (_x, out) => o.mul(out, o.sub(1, out)));
unary('log1p', 'float', Math.log1p, (x) => o.reciprocal(o.add(x, 1)));
unary('expm1', 'float', Math.expm1, (_x, out) => o.add(out, 1));
unary('abs', 'numeric', Math.abs, (x) => o.sign(x));
unary('sign', 'numeric', Math.sign, null);
unary('floor', 'float', Math.floor, null);
unary('ceil', 'float', Math.ceil, null);
unary('round', 'float', roundHalfEven, null);
unary('stop_gradient', 'any', (x) => x, null);

const sumTangents = (a: Tensor | null, b: Tensor | null): Tensor | null => (a && b ? o.add(a, b) : a ?? b);

elementwise({
  op: 'add', arity: 2, domain: 'numeric',
  scalar: (a, b) => a + b,
  jvp: (_p, [ta, tb]) => sumTangents(ta, tb),
  vjp: (ct) => [ct, ct],
});
elementwise({
  op: 'mul', arity: 2, domain: 'numeric',
  scalar: (a, b) => a * b,
  // An int32 product wraps around; a float64 product loses its low bits beyond 2^53 first.
  scalarFor: (dtype) => (dtype === 'int32' ? Math.imul : (a, b) => a * b),
  jvp: ([a, b], [ta, tb]) => sumTangents(ta && o.mul(ta, b), tb && o.mul(a, tb)),
  vjp: (ct, [a, b]) => [o.mul(ct, b), o.mul(a, ct)],
});
elementwise({
  op: 'div', arity: 2, domain: 'float',
  scalar: (a, b) => a / b,
  jvp: ([, b], [ta, tb], out) => {
    if (!tb) return o.div(ta!, b);
    const outTangent = o.mul(out, tb);
    return o.div(ta ? o.sub(ta, outTangent) : o.neg(outTangent), b);
  },
  vjp: (ct, [, b], out) => [o.div(ct, b), o.neg(o.div(o.mul(ct, out), b))],
});

/**
 * d(a^b)/da = b a^(b-1), defined as 0 where a == b == 0 (where it would be 0 * inf). Only
 * that point is selected away: selecting on b == 0 alone (as JAX does) would also zero
 * the derivative of this with respect to b there, which is a^(-1), and so mixed second
 * derivatives at b == 0.
 */
const powBase = (a: Tensor, b: Tensor): Tensor => o.where(o.logicalAnd(o.eq(b, 0), o.eq(a, 0)), 0, o.mul(b, o.pow(a, o.sub(b, 1))));
/** d(a^b)/db = a^b log(a), defined as 0 where a == 0. */
const powExponent = (a: Tensor, out: Tensor): Tensor => o.where(o.eq(a, 0), 0, o.mul(out, o.log(a)));
elementwise({
  op: 'pow', arity: 2, domain: 'float',
  scalar: Math.pow,
  jvp: ([a, b], [ta, tb], out) => sumTangents(ta && o.mul(ta, powBase(a, b)), tb && o.mul(tb, powExponent(a, out))),
  vjp: (ct, [a, b], out) => [o.mul(ct, powBase(a, b)), o.mul(ct, powExponent(a, out))],
});

/**
 * Where a > b the gradient goes to a, where equal it is split evenly (as JAX): (a > b) + (a >= b)
 * halved, which needs no equality test (those make the fused backend round every float32
 * operation upstream, see feedsEquality in src/fusion/schedule.ts).
 */
const maxShare = (a: Tensor, b: Tensor): Tensor => o.mul(o.add(o.gt(a, b).cast(a.dtype), o.ge(a, b).cast(a.dtype)), 0.5);
elementwise({
  op: 'max', arity: 2, domain: 'any',
  scalar: (a, b) => (a !== a || b !== b ? NaN : Math.max(a, b)),
  jvp: ([a, b], [ta, tb]) => {
    const share = maxShare(a, b);
    return sumTangents(ta && o.mul(ta, share), tb && o.mul(tb, o.sub(1, share)));
  },
  vjp: (ct, [a, b]) => {
    const share = maxShare(a, b);
    return [o.mul(ct, share), o.mul(ct, o.sub(1, share))];
  },
});
elementwise({
  op: 'lt', arity: 2, output: 'bool', domain: 'any',
  scalar: (a, b) => (a < b ? 1 : 0),
  jvp: () => null,
  vjp: () => [null, null],
});
elementwise({
  op: 'eq', arity: 2, output: 'bool', domain: 'any',
  scalar: (a, b) => (a === b ? 1 : 0),
  jvp: () => null,
  vjp: () => [null, null],
});

const zerosOf = symbolicZerosLike;
elementwise({
  op: 'where', arity: 3, domain: 'any',
  scalar: (c, a, b) => (c ? a : b),
  jvp: ([c, a], [, ta, tb]) => applyPrim('where', [c, ta ?? zerosOf(tb!), tb ?? zerosOf(ta!)]),
  vjp: (ct, [c]) => {
    const zero = zerosOf(ct);
    return [null, applyPrim('where', [c, ct, zero]), applyPrim('where', [c, zero, ct])];
  },
});

function castScalar(dtype: DType): (x: number) => number {
  switch (dtype) {
    case 'float32': return Math.fround;
    case 'float64': return (x) => x;
    case 'int32': return (x) => x | 0;
    case 'bool': return (x) => (x !== 0 ? 1 : 0);
    default: return dtype satisfies never;
  }
}
elementwise({
  op: 'cast', arity: 1, output: 'cast',
  scalar: (x) => x,
  scalarFor: castScalar,
  jvp: ([x], [t], out) => (isFloat(x.dtype) && isFloat(out.dtype) ? o.cast(t!, out.dtype) : null),
  vjp: (ct, [x], out) => [isFloat(x.dtype) && isFloat(out.dtype) ? o.cast(ct, x.dtype) : null],
});

// Counter-based random bits from a key held as data (the `random` namespace): elementwise,
// so it fuses like arithmetic and batches over keys under vmap with no special rule.
elementwise({
  op: 'random_bits', arity: 3, domain: 'numeric',
  scalar: keyedBits,
  jvp: () => null,
  vjp: () => [null, null, null],
});
