/** reduce_sum and reduce_max: the reduced axes are kept as size 1 (attrs.shape is the result). */
import { allocate, isFloat } from '../dtype.js';
import { ShapeError } from '../errors.js';
import { registerPrimitive, type BatchRule } from '../primitive.js';
import { formatShape, sizeOf, stridesOf, type Shape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { applyPrim } from '../ops/core.js';
import * as o from '../ops/elementwise.js';
import { forEachIndex } from './util.js';

function inferReduce(op: string) {
  return (inputs: readonly { shape: Shape; dtype: import('../dtype.js').DType }[], attrs: Record<string, unknown>) => {
    const [x] = inputs;
    const shape = attrs.shape as number[];
    if (shape.length !== x.shape.length || shape.some((d, i) => d !== x.shape[i] && d !== 1)) {
      throw new ShapeError(`${op}: result shape ${formatShape(shape)} does not keep the rank of ${formatShape(x.shape)} with reduced axes as 1`);
    }
    return { shape, dtype: x.dtype };
  };
}

/** Folds `x` into the kept shape with `combine`, starting from `initial`. */
function reduceInto(x: ArrayLike<number>, inShape: Shape, outShape: Shape, initial: number, combine: (acc: number, v: number) => number): Float64Array {
  const acc = new Float64Array(sizeOf(outShape)).fill(initial);
  const outStrides = stridesOf(outShape);
  const strideFor = inShape.map((d, i) => (outShape[i] === 1 && d !== 1 ? 0 : outStrides[i]));
  forEachIndex(inShape, (index, flat) => {
    let at = 0;
    for (let d = 0; d < index.length; d++) at += index[d] * strideFor[d];
    acc[at] = combine(acc[at], x[flat]);
  });
  return acc;
}

/** The batch axis stays where it is; the kept shape gains it. */
const batchReduce: BatchRule = (args, dims, node, size) => {
  const d = dims[0]!;
  const shape = [...node.shape];
  shape.splice(d, 0, size);
  return [applyPrim(node.op, args, { shape }), d];
};

const expandTo = (t: Tensor, shape: Shape): Tensor => applyPrim('expand', [t], { shape: [...shape] });

registerPrimitive({
  op: 'reduce_sum',
  kind: 'reduce',
  arity: 1,
  infer: inferReduce('reduce_sum'),
  evaluate(inputs, node, inputNodes) {
    // An int32 sum wraps at every step, as int32 arithmetic does (a float64 total would
    // lose its low bits past 2^53 before the final wrap).
    const add = node.dtype === 'int32' ? (a: number, v: number) => (a + v) | 0 : (a: number, v: number) => a + v;
    const acc = reduceInto(inputs[0], inputNodes[0].shape, node.shape, 0, add);
    const out = allocate(node.dtype, acc.length);
    out.set(acc);
    return out;
  },
  jvp: ([], [t], _out, attrs) => applyPrim('reduce_sum', [t!], attrs),
  vjp: (ct, [x]) => [expandTo(ct, x.shape)],
  batch: batchReduce,
});

/** Where x attains the maximum, shared evenly among ties (so the gradient sums to one). */
function maxMask(x: Tensor, out: Tensor): Tensor {
  const hits = o.cast(o.eq(x, expandTo(out, x.shape)), x.dtype);
  const count = applyPrim('reduce_sum', [hits], { shape: [...out.shape] });
  return o.div(hits, expandTo(count, x.shape));
}

registerPrimitive({
  op: 'reduce_max',
  kind: 'reduce',
  arity: 1,
  infer: inferReduce('reduce_max'),
  evaluate(inputs, node, inputNodes) {
    const acc = reduceInto(inputs[0], inputNodes[0].shape, node.shape, -Infinity, (a, v) => (v !== v || a !== a ? NaN : v > a ? v : a));
    const out = allocate(node.dtype, acc.length);
    out.set(acc);
    return out;
  },
  jvp: ([x], [t], out) => (isFloat(x.dtype) ? applyPrim('reduce_sum', [o.mul(t!, maxMask(x, out))], { shape: [...out.shape] }) : null),
  vjp: (ct, [x], out) => [isFloat(x.dtype) ? o.mul(expandTo(ct, x.shape), maxMask(x, out)) : null],
  batch: batchReduce,
});
