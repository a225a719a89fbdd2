/**
 * 2-D convolution and pooling as composites of existing ops: padding, one gather of the
 * windows (im2col) and a reduction (einsum with the weights, max or mean), so grad, vmap and
 * jit need no rules of their own.
 */
import { ArgumentError, ShapeError } from '../lazy/errors.js';
import { formatShape } from '../lazy/shape.js';
import type { Tensor } from '../lazy/tensor.js';
import { add, asTensor, einsum, indexSelect, max, mean, pad, reshape, squeeze, tensor, unsqueeze, type TensorLike } from '../lazy/ops/index.js';

/** A size for both spatial axes, or `[height, width]`. */
export type Pair = number | readonly [number, number];

export interface Conv2dOptions {
  /** Step between windows (default 1). */
  stride?: Pair;
  /** Zeros added on each side of the input (default 0). */
  padding?: Pair;
  /** Spacing between kernel taps (default 1). */
  dilation?: Pair;
}

export interface Pool2dOptions {
  /** Step between windows (default: the kernel size, as PyTorch). */
  stride?: Pair;
  /** Added on each side: -Infinity for max pooling, zeros (counted in the mean) for average pooling. */
  padding?: Pair;
}

function pair(op: string, what: string, value: Pair, min: number): [number, number] {
  const p: [number, number] = typeof value === 'number' ? [value, value] : [value[0], value[1]];
  if (!(Array.isArray(value) ? value.length === 2 : true) || p.some((v) => !Number.isInteger(v) || v < min)) {
    throw new ArgumentError(`${op}: ${what} ${JSON.stringify(value)} must be a whole number >= ${min} or a pair of them`);
  }
  return p;
}

/** Accepts [N, C, H, W] or an unbatched [C, H, W]; returns the 4-D view and whether to drop N. */
function asBatched(op: string, x: Tensor): [Tensor, boolean] {
  if (x.rank === 4) return [x, false];
  if (x.rank === 3) return [unsqueeze(x, 0), true];
  throw new ShapeError(`${op}: input of shape ${formatShape(x.shape)} must be [N, C, H, W] or [C, H, W]`);
}

interface Patches {
  /** [N, C, KH·KW, OH, OW]: the input under each kernel tap, for every output position. */
  patches: Tensor;
  outH: number;
  outW: number;
}

/**
 * im2col by one gather: the padded input, flattened per channel, is indexed by a constant
 * table of (tap, output position) -> input position. One gather keeps the DAG small for the
 * scheduler, and its derivative is one scatter-add.
 */
function patches(op: string, x: Tensor, kernel: [number, number], stride: [number, number], padding: [number, number], dilation: [number, number], padValue: number): Patches {
  const [n, c, h, w] = x.shape;
  const outH = Math.floor((h + 2 * padding[0] - dilation[0] * (kernel[0] - 1) - 1) / stride[0]) + 1;
  const outW = Math.floor((w + 2 * padding[1] - dilation[1] * (kernel[1] - 1) - 1) / stride[1]) + 1;
  if (outH < 1 || outW < 1) {
    throw new ShapeError(`${op}: a ${kernel[0]}x${kernel[1]} kernel (dilation ${dilation.join('x')}, padding ${padding.join('x')}) does not fit input ${formatShape(x.shape)}; make the input larger or the kernel smaller`);
  }
  const padded = padding[0] || padding[1] ? pad(x, [[0, 0], [0, 0], [padding[0], padding[0]], [padding[1], padding[1]]], padValue) : x;
  const paddedW = w + 2 * padding[1];
  const taps = kernel[0] * kernel[1];
  const table = new Int32Array(taps * outH * outW);
  let at = 0;
  for (let ki = 0; ki < kernel[0]; ki++) {
    for (let kj = 0; kj < kernel[1]; kj++) {
      for (let y = 0; y < outH; y++) {
        for (let xx = 0; xx < outW; xx++) table[at++] = (y * stride[0] + ki * dilation[0]) * paddedW + xx * stride[1] + kj * dilation[1];
      }
    }
  }
  const flat = reshape(padded, [n, c, -1]);
  return { patches: reshape(indexSelect(flat, 2, tensor(table)), [n, c, taps, outH, outW]), outH, outW };
}

/**
 * 2-D cross-correlation, as PyTorch's `conv2d`: input [N, C, H, W] (or [C, H, W]), weight
 * [O, C, KH, KW], optional bias [O]; the result is [N, O, OH, OW]. Differentiable in every
 * argument and batchable with vmap.
 * @example
 * const x = randn([1, 3, 8, 8], { seed: 0 });
 * const w = randn([4, 3, 3, 3], { seed: 1 });
 * conv2d(x, w, null, { padding: 1 }).shape; // [1, 4, 8, 8]
 */
export function conv2d(input: TensorLike, weight: TensorLike, bias?: TensorLike | null, opts: Conv2dOptions = {}): Tensor {
  const [x, unbatched] = asBatched('conv2d', asTensor(input));
  const wt = asTensor(weight, x.dtype);
  if (wt.rank !== 4 || wt.shape[1] !== x.shape[1]) {
    throw new ShapeError(`conv2d: weight ${formatShape(wt.shape)} does not fit input ${formatShape(x.shape)}; it must be [out channels, ${x.shape[1]}, kernel height, kernel width]`);
  }
  const stride = pair('conv2d', 'stride', opts.stride ?? 1, 1);
  const padding = pair('conv2d', 'padding', opts.padding ?? 0, 0);
  const dilation = pair('conv2d', 'dilation', opts.dilation ?? 1, 1);
  const [outChannels, , kh, kw] = wt.shape;
  const { patches: cols } = patches('conv2d', x, [kh, kw], stride, padding, dilation, 0);
  let out = einsum('nckyx,ock->noyx', cols, reshape(wt, [outChannels, wt.shape[1], kh * kw]));
  if (bias !== undefined && bias !== null) {
    const b = asTensor(bias, out.dtype);
    if (b.rank !== 1 || b.shape[0] !== outChannels) throw new ShapeError(`conv2d: bias ${formatShape(b.shape)} must be [${outChannels}], one value per output channel`);
    out = add(out, reshape(b, [1, outChannels, 1, 1]));
  }
  return unbatched ? squeeze(out, 0) : out;
}

function pool(op: string, input: TensorLike, kernelSize: Pair, opts: Pool2dOptions, kind: 'max' | 'avg'): Tensor {
  const [x, unbatched] = asBatched(op, asTensor(input));
  const kernel = pair(op, 'kernelSize', kernelSize, 1);
  const stride = pair(op, 'stride', opts.stride ?? kernel, 1);
  const padding = pair(op, 'padding', opts.padding ?? 0, 0);
  if (padding[0] * 2 > kernel[0] || padding[1] * 2 > kernel[1]) {
    throw new ArgumentError(`${op}: padding ${padding.join('x')} must be at most half the kernel ${kernel.join('x')} (as PyTorch), so that every window holds an input value`);
  }
  const { patches: windows } = patches(op, x, kernel, stride, padding, [1, 1], kind === 'max' ? -Infinity : 0);
  const out = kind === 'max' ? max(windows, { axis: 2 }) : mean(windows, { axis: 2 });
  return unbatched ? squeeze(out, 0) : out;
}

/**
 * 2-D max pooling over [N, C, H, W] (or [C, H, W]) with a `kernelSize` window; the stride
 * defaults to the kernel size.
 * @example
 * maxPool2d(randn([1, 2, 4, 4], { seed: 0 }), 2).shape; // [1, 2, 2, 2]
 */
export function maxPool2d(input: TensorLike, kernelSize: Pair, opts: Pool2dOptions = {}): Tensor {
  return pool('maxPool2d', input, kernelSize, opts, 'max');
}

/**
 * 2-D average pooling over [N, C, H, W] (or [C, H, W]); padded zeros count in the mean
 * (PyTorch's default `count_include_pad`).
 * @example
 * avgPool2d(ones([1, 1, 4, 4]), 2).toArray(); // [[[[1, 1], [1, 1]]]]
 */
export function avgPool2d(input: TensorLike, kernelSize: Pair, opts: Pool2dOptions = {}): Tensor {
  return pool('avgPool2d', input, kernelSize, opts, 'avg');
}
