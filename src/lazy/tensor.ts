// The emitted declarations keep this directive, so a consumer whose lib lacks ES2024/ESNext
// disposables still typechecks `[Symbol.dispose]` (and may write `using`).
/// <reference lib="esnext.disposable" preserve="true" />
import type { DType, TypedArray } from './dtype.js';
import { ArgumentError } from './errors.js';
import { formatTensor } from './format.js';
import { forgetNode, type Node } from './node.js';
import { Storage } from '../backends/device.js';
import { realize } from './realize.js';
import { sizeOf, type Shape } from './shape.js';
import * as ops from './ops/index.js';
import type { NestedArray, TensorLike } from './ops/core.js';
import type { ReduceArg, ReduceOptions } from './ops/reduce.js';
import type { Reduction } from './ops/loss.js';
import type { SliceSpec } from './ops/movement.js';

/** Nested arrays as returned by `toArray()`. */
export type NestedNumbers = number | boolean | NestedNumbers[];

/**
 * The user's handle on a lazy value: an immutable DAG node. Every op builds a new node;
 * nothing is computed until a value is read (`toArray`, `item`, `data`, `dataSync`,
 * `toString`).
 * @example
 * const x = tensor([1, 2, 3]);
 * x.mul(2).add(1).sum().item(); // 15
 */
export class Tensor {
  constructor(readonly node: Node) {}

  get shape(): Shape {
    return this.node.shape;
  }
  get dtype(): DType {
    return this.node.dtype;
  }
  get rank(): number {
    return this.node.shape.length;
  }
  get size(): number {
    return sizeOf(this.node.shape);
  }

  // Reading values -------------------------------------------------------------------

  /**
   * Computes the value now and keeps it; returns this tensor. Worth it for data read many
   * times (a dataset indexed row by row, weights used by every step): later programs read
   * the stored buffer instead of recomputing, and a row of it is a view, not a kernel.
   * @example
   * const xs = randn([1000, 10], { seed: 0 }).realize();
   * for (let i = 0; i < 1000; i++) step(xs.select(0, i)); // one compiled program for every i
   */
  realize(): this {
    realize(this.node);
    return this;
  }

  /**
   * The values as a new typed array (row-major), computing them if needed. On a device that
   * reads back asynchronously only (a GPU) this throws a DeviceError: use `await data()`.
   * @example
   * tensor([1, 2, 3]).mul(2).dataSync(); // Float32Array [2, 4, 6]
   */
  dataSync(): TypedArray {
    return realize(this.node).readSync('dataSync').slice();
  }
  /**
   * The values as a Promise of a new typed array (row-major). The kernels are ordered at
   * once (as `realize()` does); only reading back waits, so this works on every device.
   * @example
   * const values = await tensor([1, 2, 3]).exp().data();
   */
  async data(): Promise<TypedArray> {
    const storage = realize(this.node);
    return (await storage.read()).slice();
  }
  /**
   * Frees the value's device memory now (a FinalizationRegistry is no substitute: it runs
   * late or never). Using the tensor afterwards, or a lazy value built from it that is not
   * computed yet, throws an ArgumentError. Views share memory with the value they view: it
   * goes when the last of them is disposed. With TypeScript 5.2+, `using x = ...` disposes at
   * the end of the block.
   * @example
   * const y = x.matmul(w).realize();
   * const total = y.sum().item();
   * y.dispose();
   */
  dispose(): void {
    const node = this.node;
    if (!node.realized) {
      forgetNode(node);
      node.inputs = [];
      node.realized = Storage.freed(node.dtype, this.size);
    }
    node.realized.dispose();
  }
  /** `using x = ...` calls dispose() at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }
  /** True once `dispose()` ran. */
  get disposed(): boolean {
    return this.node.realized?.disposed ?? false;
  }
  /** The values as nested JavaScript arrays (booleans for bool tensors). */
  toArray(): NestedNumbers {
    const data = realize(this.node).readSync('toArray');
    const asValue = (v: number): number | boolean => (this.dtype === 'bool' ? v !== 0 : v);
    const build = (axis: number, offset: number): NestedNumbers => {
      if (axis === this.rank) return asValue(data[offset]);
      const n = this.shape[axis];
      const stride = sizeOf(this.shape.slice(axis + 1));
      return Array.from({ length: n }, (_, i) => build(axis + 1, offset + i * stride));
    };
    return build(0, 0);
  }
  /** The single value of a tensor with one element. */
  item(): number {
    if (this.size !== 1) throw new ArgumentError(`item: the tensor has shape [${this.shape.join(', ')}] (${this.size} elements); item() needs exactly one; read several values with toArray() or dataSync()`);
    return realize(this.node).readSync('item')[0];
  }
  /** The values, formatted; on a device that reads asynchronously only, a note to await `data()` until they were read once. */
  toString(): string {
    const storage = realize(this.node);
    const values = storage.readableNow();
    if (!values && storage.device && !storage.disposed) return `Tensor ${this.dtype}[${this.shape.join(', ')}] on ${storage.device.name} (await data() to read it)`;
    return formatTensor(storage.readSync('toString'), this.shape, this.dtype);
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  // Elementwise ----------------------------------------------------------------------

  add(other: TensorLike): Tensor { return ops.add(this, other); }
  sub(other: TensorLike): Tensor { return ops.sub(this, other); }
  mul(other: TensorLike): Tensor { return ops.mul(this, other); }
  div(other: TensorLike): Tensor { return ops.div(this, other); }
  pow(other: TensorLike): Tensor { return ops.pow(this, other); }
  maximum(other: TensorLike): Tensor { return ops.maximum(this, other); }
  minimum(other: TensorLike): Tensor { return ops.minimum(this, other); }
  neg(): Tensor { return ops.neg(this); }
  abs(): Tensor { return ops.abs(this); }
  sign(): Tensor { return ops.sign(this); }
  exp(): Tensor { return ops.exp(this); }
  log(): Tensor { return ops.log(this); }
  log1p(): Tensor { return ops.log1p(this); }
  expm1(): Tensor { return ops.expm1(this); }
  sqrt(): Tensor { return ops.sqrt(this); }
  rsqrt(): Tensor { return ops.rsqrt(this); }
  reciprocal(): Tensor { return ops.reciprocal(this); }
  square(): Tensor { return ops.square(this); }
  sin(): Tensor { return ops.sin(this); }
  cos(): Tensor { return ops.cos(this); }
  tan(): Tensor { return ops.tan(this); }
  tanh(): Tensor { return ops.tanh(this); }
  sigmoid(): Tensor { return ops.sigmoid(this); }
  relu(): Tensor { return ops.relu(this); }
  gelu(): Tensor { return ops.gelu(this); }
  softplus(): Tensor { return ops.softplus(this); }
  floor(): Tensor { return ops.floor(this); }
  ceil(): Tensor { return ops.ceil(this); }
  round(): Tensor { return ops.round(this); }
  clamp(min?: TensorLike, max?: TensorLike): Tensor { return ops.clamp(this, min, max); }
  /** `where(condition, this, other)`. */
  where(condition: TensorLike, other: TensorLike): Tensor { return ops.where(condition, this, other); }
  stopGradient(): Tensor { return ops.stopGradient(this); }
  eq(other: TensorLike): Tensor { return ops.eq(this, other); }
  ne(other: TensorLike): Tensor { return ops.ne(this, other); }
  lt(other: TensorLike): Tensor { return ops.lt(this, other); }
  le(other: TensorLike): Tensor { return ops.le(this, other); }
  gt(other: TensorLike): Tensor { return ops.gt(this, other); }
  ge(other: TensorLike): Tensor { return ops.ge(this, other); }
  logicalAnd(other: TensorLike): Tensor { return ops.logicalAnd(this, other); }
  logicalOr(other: TensorLike): Tensor { return ops.logicalOr(this, other); }
  logicalNot(): Tensor { return ops.logicalNot(this); }
  cast(dtype: DType): Tensor { return ops.cast(this, dtype); }

  // Reductions -----------------------------------------------------------------------

  // A bare axis (a number or a list) is read as {axis}, as NumPy's and PyTorch's positional axis.
  sum(axisOrOptions?: ReduceArg): Tensor { return ops.sum(this, axisOrOptions); }
  mean(axisOrOptions?: ReduceArg): Tensor { return ops.mean(this, axisOrOptions); }
  prod(axisOrOptions?: ReduceArg): Tensor { return ops.prod(this, axisOrOptions); }
  max(axisOrOptions?: ReduceArg): Tensor { return ops.max(this, axisOrOptions); }
  min(axisOrOptions?: ReduceArg): Tensor { return ops.min(this, axisOrOptions); }
  argmax(axisOrOptions?: number | { axis?: number; keepdims?: boolean }): Tensor { return ops.argmax(this, axisOrOptions); }
  argmin(axisOrOptions?: number | { axis?: number; keepdims?: boolean }): Tensor { return ops.argmin(this, axisOrOptions); }
  var(axisOrOptions?: number | readonly number[] | (ReduceOptions & { correction?: number })): Tensor { return ops.variance(this, axisOrOptions); }
  std(axisOrOptions?: number | readonly number[] | (ReduceOptions & { correction?: number })): Tensor { return ops.std(this, axisOrOptions); }
  logsumexp(axisOrOptions?: ReduceArg): Tensor { return ops.logsumexp(this, axisOrOptions); }
  softmax(axisOrOptions?: number | { axis?: number }): Tensor { return ops.softmax(this, axisOrOptions); }
  logSoftmax(axisOrOptions?: number | { axis?: number }): Tensor { return ops.logSoftmax(this, axisOrOptions); }

  // Movement -------------------------------------------------------------------------

  reshape(shape: readonly number[]): Tensor { return ops.reshape(this, shape); }
  flatten(startDim = 0, endDim = -1): Tensor { return ops.flatten(this, startDim, endDim); }
  permute(perm: readonly number[]): Tensor { return ops.permute(this, perm); }
  transpose(dim0 = -2, dim1 = -1): Tensor { return ops.transpose(this, dim0, dim1); }
  /** All axes reversed (NumPy's `.T`). */
  get T(): Tensor { return ops.permute(this, this.shape.map((_, i) => this.rank - 1 - i)); }
  movedim(source: number, destination: number): Tensor { return ops.moveaxis(this, source, destination); }
  expand(shape: readonly number[]): Tensor { return ops.broadcastTo(this, shape); }
  broadcastTo(shape: readonly number[]): Tensor { return ops.broadcastTo(this, shape); }
  squeeze(axis?: number | readonly number[]): Tensor { return ops.squeeze(this, axis); }
  unsqueeze(axis: number): Tensor { return ops.unsqueeze(this, axis); }
  slice(specs: readonly SliceSpec[]): Tensor { return ops.slice(this, specs); }
  select(axis: number, index: number): Tensor { return ops.select(this, axis, index); }
  pad(pads: readonly (readonly [number, number])[], value = 0): Tensor { return ops.pad(this, pads, value); }
  flip(axis?: number | readonly number[]): Tensor { return ops.flip(this, axis); }
  concat(others: readonly TensorLike[], axis = 0): Tensor { return ops.concat([this, ...others], axis); }
  stack(others: readonly TensorLike[], axis = 0): Tensor { return ops.stack([this, ...others], axis); }
  split(sizeOrSections: number | readonly number[], axis = 0): Tensor[] { return ops.split(this, sizeOrSections, axis); }
  tile(reps: readonly number[]): Tensor { return ops.tile(this, reps); }
  gather(axis: number, index: TensorLike): Tensor { return ops.gather(this, axis, index); }
  indexSelect(axis: number, index: TensorLike): Tensor { return ops.indexSelect(this, axis, index); }
  scatterAdd(axis: number, index: TensorLike, src: TensorLike): Tensor { return ops.scatterAdd(this, axis, index, src); }
  diagonal(offset = 0, axis1 = 0, axis2 = 1): Tensor { return ops.diagonal(this, offset, axis1, axis2); }
  triu(k = 0): Tensor { return ops.triu(this, k); }
  tril(k = 0): Tensor { return ops.tril(this, k); }

  // Linear algebra and losses --------------------------------------------------------

  matmul(other: TensorLike): Tensor { return ops.matmul(this, other); }
  dot(other: TensorLike): Tensor { return ops.dot(this, other); }
  outer(other: TensorLike): Tensor { return ops.outer(this, other); }
  /** `x.einsum('ij,jk->ik', y)` is `einsum('ij,jk->ik', x, y)`: this tensor is the first operand. */
  einsum(spec: string, ...others: TensorLike[]): Tensor { return ops.einsum(spec, this, ...others); }
  /** `solve(this, b)`: X with this @ X = b. */
  solve(b: TensorLike): Tensor { return ops.solve(this, b); }
  cholesky(opts?: { upper?: boolean }): Tensor { return ops.cholesky(this, opts); }
  inv(): Tensor { return ops.inv(this); }
  det(): Tensor { return ops.det(this); }
  slogdet(): [Tensor, Tensor] { return ops.slogdet(this); }
  eigh(): [Tensor, Tensor] { return ops.eigh(this); }
  mseLoss(target: TensorLike, opts?: { reduction?: Reduction }): Tensor { return ops.mseLoss(this, target, opts); }
  crossEntropy(targets: TensorLike, opts?: { reduction?: Reduction }): Tensor { return ops.crossEntropy(this, targets, opts); }
}

export type { NestedArray, TensorLike };
