/** Leaves: constants, computed buffers, transform Params, iota and random values. */
import { allocate, coerce, type DType } from '../dtype.js';
import { TransformError } from '../errors.js';
import { prim } from '../build.js';
import { registerPrimitive, type PrimitiveRule } from '../primitive.js';
import { normalRandom, uniformRandom } from './random-fill.js';
import { forEachIndex } from './util.js';
import { sizeOf, type Shape } from '../shape.js';
import { Tensor } from '../tensor.js';

type LeafSpec = Pick<PrimitiveRule, 'op' | 'infer' | 'evaluate'> & Partial<Pick<PrimitiveRule, 'batch'>>;

function leaf(spec: LeafSpec): PrimitiveRule {
  return registerPrimitive({ kind: 'leaf', arity: 0, jvp: 'leaf', vjp: 'leaf', batch: 'leaf', ...spec });
}

leaf({
  op: 'const',
  infer: () => {
    throw new Error('const nodes are built by constant()');
  },
  evaluate(_inputs, node) {
    const out = allocate(node.dtype, 1);
    out[0] = coerce(Number(node.attrs.value), node.dtype);
    return out;
  },
});

leaf({
  op: 'buffer',
  infer: () => {
    throw new Error('buffer nodes are built by bufferNode()');
  },
  evaluate(_inputs, node) {
    if (!node.realized) throw new Error('functs internal error: a buffer node lost its data');
    return node.realized.readSync('interp');
  },
});

leaf({
  op: 'param',
  infer: () => {
    throw new Error('param nodes are built by paramNode()');
  },
  evaluate(_inputs, node) {
    throw new TransformError(`${String(node.attrs.transform)}: internal error: a Param reached a backend unbound`);
  },
});

leaf({
  op: 'iota',
  infer: (_inputs, attrs) => ({ shape: attrs.shape as Shape, dtype: attrs.dtype as DType }),
  evaluate(_inputs, node) {
    const axis = node.attrs.axis as number;
    const out = allocate(node.dtype, sizeOf(node.shape));
    forEachIndex(node.shape, (index, flat) => (out[flat] = index[axis]));
    return out;
  },
});

leaf({
  op: 'random',
  infer: (_inputs, attrs) => ({ shape: attrs.shape as Shape, dtype: attrs.dtype as DType }),
  evaluate(_inputs, node) {
    const out = allocate(node.dtype, sizeOf(node.shape));
    const seed = node.attrs.seed as number;
    if (node.attrs.distribution === 'normal') normalRandom(out, seed);
    else uniformRandom(out, seed);
    return out;
  },
  // Under vmap with randomness 'different': one independent sample per example.
  batch: (_args, _dims, node, size) => {
    const batchedBy = (node.attrs.batchedBy as number[]) ?? [];
    return [new Tensor(prim('random', [], { ...node.attrs, shape: [size, ...node.shape], batchedBy: batchedBy.slice(0, -1) })), 0];
  },
});
