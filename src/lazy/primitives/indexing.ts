/** gather and its transpose scatter_add (torch semantics along one axis). */
import { allocate, type DType } from '../dtype.js';
import { DTypeError, IndexError, ShapeError } from '../errors.js';
import { registerPrimitive, type BatchRule } from '../primitive.js';
import { formatShape, sizeOf, stridesOf } from '../shape.js';
import { applyPrim } from '../ops/core.js';
import { batchToFront } from './batching.js';
import { forEachIndex } from './util.js';

function checkIndexValue(op: string, value: number, size: number, shape: readonly number[]): number {
  if (!(value >= -size && value < size)) {
    throw new IndexError(`${op}: index ${value} is out of range for an axis of size ${size} (input shape ${formatShape(shape)}); indices must lie in [${-size}, ${size - 1}]`);
  }
  return value < 0 ? value + size : value;
}

/** Both operands get the batch axis in front; the indexed axis moves by one. */
const batchIndexed: BatchRule = (args, dims, node, size) => {
  const front = args.map((a, i) => batchToFront(a, dims[i], size));
  return [applyPrim(node.op, front, { ...node.attrs, axis: (node.attrs.axis as number) + 1 }), 0];
};

registerPrimitive({
  op: 'gather',
  kind: 'index',
  arity: 2,
  infer([x, idx], attrs) {
    const axis = attrs.axis as number;
    if (idx.dtype !== 'int32') throw new DTypeError(`gather: indices must be int32, got ${idx.dtype}`);
    if (idx.shape.length !== x.shape.length || idx.shape.some((d, i) => i !== axis && d !== x.shape[i])) {
      throw new ShapeError(`gather: index ${formatShape(idx.shape)} must match input ${formatShape(x.shape)} off axis ${axis}`);
    }
    return { shape: idx.shape, dtype: x.dtype as DType };
  },
  evaluate([data, idx], node, [x]) {
    const axis = node.attrs.axis as number;
    const strides = stridesOf(x.shape);
    const out = allocate(node.dtype, sizeOf(node.shape));
    forEachIndex(node.shape, (index, flat) => {
      let at = 0;
      for (let d = 0; d < index.length; d++) {
        const i = d === axis ? checkIndexValue('gather', idx[flat], x.shape[axis], x.shape) : index[d];
        at += i * strides[d];
      }
      out[flat] = data[at];
    });
    return out;
  },
  jvp: ([, idx], [t], _out, attrs) => applyPrim('gather', [t!, idx], attrs),
  vjp: (ct, [x, idx], _out, attrs) => [applyPrim('scatter_add', [idx, ct], { axis: attrs.axis, size: x.shape[attrs.axis as number] }), null],
  batch: batchIndexed,
});

registerPrimitive({
  op: 'scatter_add',
  kind: 'index',
  arity: 2,
  infer([idx, src], attrs) {
    const axis = attrs.axis as number;
    if (idx.dtype !== 'int32') throw new DTypeError(`scatter_add: indices must be int32, got ${idx.dtype}`);
    if (idx.shape.length !== src.shape.length || idx.shape.some((d, i) => d !== src.shape[i])) {
      throw new ShapeError(`scatter_add: index ${formatShape(idx.shape)} must match src ${formatShape(src.shape)}`);
    }
    return { shape: src.shape.map((d, i) => (i === axis ? (attrs.size as number) : d)), dtype: src.dtype as DType };
  },
  evaluate([idx, src], node, [, srcNode]) {
    const axis = node.attrs.axis as number;
    const size = node.attrs.size as number;
    const strides = stridesOf(node.shape);
    const acc = new Float64Array(sizeOf(node.shape));
    forEachIndex(srcNode.shape, (index, flat) => {
      let at = 0;
      for (let d = 0; d < index.length; d++) {
        const i = d === axis ? checkIndexValue('scatter_add', idx[flat], size, node.shape) : index[d];
        at += i * strides[d];
      }
      acc[at] += src[flat];
    });
    const out = allocate(node.dtype, acc.length);
    out.set(acc);
    return out;
  },
  jvp: ([idx], [, t], _out, attrs) => applyPrim('scatter_add', [idx, t!], attrs),
  vjp: (ct, [idx], _out, attrs) => [null, applyPrim('gather', [ct, idx], { axis: attrs.axis })],
  batch: batchIndexed,
});
