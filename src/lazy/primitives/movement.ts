/** The six movement primitives. Each is an index map; none computes anything. */
import { describeValue, ShapeError } from '../errors.js';
import { registerPrimitive, type BatchRule, type OPS_BY_KIND, type PrimitiveRule } from '../primitive.js';
import { formatShape, inversePermutation, sizeOf, stridesOf, type Shape } from '../shape.js';
import type { Attrs, Node } from '../node.js';
import type { Tensor } from '../tensor.js';
import { applyPrim } from '../ops/core.js';
import { moveaxis } from '../ops/movement.js';
import { readThrough } from './util.js';
import type { DType } from '../dtype.js';

type Ranges = [number, number][];

interface MovementSpec {
  op: (typeof OPS_BY_KIND)['movement'][number];
  infer(x: Node, attrs: Attrs): Shape;
  /** For an output index, the input flat index it reads (-1: the zero of padding). */
  sourceIndex(x: Node, attrs: Attrs): (index: number[]) => number;
  /** The same op for the transposed/linear direction, for vjp. */
  transpose(ct: Tensor, x: Tensor, attrs: Attrs): Tensor;
  /** Attributes of the same op on an input whose batch axis was moved to the front. */
  batchAttrs(attrs: Attrs, size: number, x: Tensor): Attrs;
}

function movement(spec: MovementSpec): PrimitiveRule {
  const batch: BatchRule = ([x], [d], node, size) => {
    const front = d === 0 ? x : moveaxis(x, d!, 0);
    return [applyPrim(node.op, [front], spec.batchAttrs(node.attrs, size, front)), 0];
  };
  return registerPrimitive({
    op: spec.op,
    kind: 'movement',
    arity: 1,
    infer: ([x], attrs) => ({ shape: spec.infer(x, attrs), dtype: x.dtype as DType }),
    evaluate: ([data], node, [x]) => readThrough(node.shape, node.dtype, data, spec.sourceIndex(x, node.attrs)),
    jvp: (_p, [t], _out, attrs) => applyPrim(spec.op, [t!], attrs),
    vjp: (ct, [x], _out, attrs) => [spec.transpose(ct, x, attrs)],
    batch,
  });
}

movement({
  op: 'reshape',
  infer: (x, attrs) => {
    const shape = attrs.shape as number[];
    if (sizeOf(shape) !== sizeOf(x.shape)) throw new ShapeError(`reshape: ${formatShape(x.shape)} cannot become ${formatShape(shape)}`);
    return shape;
  },
  sourceIndex: (_x, attrs) => {
    const strides = stridesOf(attrs.shape as number[]);
    return (index) => index.reduce((at, i, d) => at + i * strides[d], 0);
  },
  transpose: (ct, x) => applyPrim('reshape', [ct], { shape: [...x.shape] }),
  batchAttrs: (attrs, size) => ({ shape: [size, ...(attrs.shape as number[])] }),
});

movement({
  op: 'permute',
  infer: (x, attrs) => (attrs.perm as number[]).map((p) => x.shape[p]),
  sourceIndex: (x, attrs) => {
    const perm = attrs.perm as number[];
    const strides = stridesOf(x.shape);
    return (index) => index.reduce((at, i, d) => at + i * strides[perm[d]], 0);
  },
  transpose: (ct, _x, attrs) => applyPrim('permute', [ct], { perm: inversePermutation(attrs.perm as number[]) }),
  batchAttrs: (attrs) => ({ perm: [0, ...(attrs.perm as number[]).map((p) => p + 1)] }),
});

movement({
  op: 'expand',
  infer: (x, attrs) => {
    const shape = attrs.shape as number[];
    if (shape.length !== x.shape.length || shape.some((d, i) => d !== x.shape[i] && x.shape[i] !== 1)) {
      throw new ShapeError(`expand: ${formatShape(x.shape)} cannot expand to ${formatShape(shape)} (only size-1 axes grow; ranks must match)`);
    }
    return shape;
  },
  sourceIndex: (x) => {
    const strides = stridesOf(x.shape).map((s, d) => (x.shape[d] === 1 ? 0 : s));
    return (index) => index.reduce((at, i, d) => at + i * strides[d], 0);
  },
  // The transpose of a broadcast sums over the broadcast axes.
  transpose: (ct, x) => applyPrim('reduce_sum', [ct], { shape: [...x.shape] }),
  batchAttrs: (attrs, size) => ({ shape: [size, ...(attrs.shape as number[])] }),
});

movement({
  op: 'pad',
  infer: (x, attrs) => {
    const pads = attrs.pads as Ranges;
    if (pads.length !== x.shape.length || pads.some(([lo, hi]) => lo < 0 || hi < 0)) throw new ShapeError(`pad: ${describeValue(pads)} does not fit ${formatShape(x.shape)}`);
    return x.shape.map((d, i) => d + pads[i][0] + pads[i][1]);
  },
  sourceIndex: (x, attrs) => {
    const pads = attrs.pads as Ranges;
    const strides = stridesOf(x.shape);
    return (index) => {
      let at = 0;
      for (let d = 0; d < index.length; d++) {
        const i = index[d] - pads[d][0];
        if (i < 0 || i >= x.shape[d]) return -1;
        at += i * strides[d];
      }
      return at;
    };
  },
  transpose: (ct, x, attrs) => applyPrim('shrink', [ct], { ranges: (attrs.pads as Ranges).map(([lo], i) => [lo, lo + x.shape[i]]) }),
  batchAttrs: (attrs) => ({ pads: [[0, 0], ...(attrs.pads as Ranges)] }),
});

movement({
  op: 'shrink',
  infer: (x, attrs) => {
    const ranges = attrs.ranges as Ranges;
    if (ranges.length !== x.shape.length || ranges.some(([s, e], i) => s < 0 || e < s || e > x.shape[i])) throw new ShapeError(`shrink: ${describeValue(ranges)} does not fit ${formatShape(x.shape)}`);
    return ranges.map(([s, e]) => e - s);
  },
  sourceIndex: (x, attrs) => {
    const ranges = attrs.ranges as Ranges;
    const strides = stridesOf(x.shape);
    return (index) => index.reduce((at, i, d) => at + (i + ranges[d][0]) * strides[d], 0);
  },
  transpose: (ct, x, attrs) => applyPrim('pad', [ct], { pads: (attrs.ranges as Ranges).map(([s, e], i) => [s, x.shape[i] - e]) }),
  batchAttrs: (attrs, size) => ({ ranges: [[0, size], ...(attrs.ranges as Ranges)] }),
});

movement({
  op: 'flip',
  infer: (x) => x.shape,
  sourceIndex: (x, attrs) => {
    const axes = attrs.axes as number[];
    const strides = stridesOf(x.shape);
    return (index) => index.reduce((at, i, d) => at + (axes.includes(d) ? x.shape[d] - 1 - i : i) * strides[d], 0);
  },
  transpose: (ct, _x, attrs) => applyPrim('flip', [ct], attrs),
  batchAttrs: (attrs) => ({ axes: (attrs.axes as number[]).map((a) => a + 1) }),
});
