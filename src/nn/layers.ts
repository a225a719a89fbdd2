/** The standard layers, each a Module with PyTorch's parameter names, shapes and initialization. */
import { ArgumentError, DTypeError, ShapeError } from '../lazy/errors.js';
import { randomBits } from '../lazy/random.js';
import { formatShape } from '../lazy/shape.js';
import type { Tensor } from '../lazy/tensor.js';
import { add, flatten, gelu, indexSelect, mean, mul, ones, rand, relu, reshape, rsqrt, sigmoid, stopGradient, sub, tanh, variance, where, zeros } from '../lazy/ops/index.js';
import { avgPool2d, conv2d, maxPool2d, type Pair } from './conv.js';
import { Module } from './module.js';

let globalSeed = 0;
let globalDraws = 0;

/**
 * Sets the seed that modules built without an explicit `seed` draw their initial values
 * from: after `manualSeed(s)`, the same sequence of constructions gives the same weights.
 * @example
 * nn.manualSeed(0);
 * const a = new nn.Linear(3, 3);
 * nn.manualSeed(0);
 * const b = new nn.Linear(3, 3); // a.weight equals b.weight
 */
export function manualSeed(seed: number): void {
  if (!Number.isInteger(seed)) throw new ArgumentError(`manualSeed: seed ${seed} must be a whole number`);
  globalSeed = seed;
  globalDraws = 0;
}

/** A seed of its own for each module: the given one, or the next draw of the global sequence. */
function moduleSeed(given: number | undefined): number {
  if (given !== undefined) {
    if (!Number.isInteger(given)) throw new ArgumentError(`nn: seed ${given} must be a whole number`);
    return given;
  }
  return randomBits(globalSeed, globalDraws++) | 0;
}

/** Uniform in [-bound, bound), one of the `k`-th independent streams of `seed`. */
function uniform(shape: readonly number[], bound: number, seed: number, k: number): Tensor {
  return sub(mul(rand(shape, { seed: randomBits(seed, k) | 0 }), 2 * bound), bound).realize();
}

export interface InitOptions {
  /** Seed of the initial values (default: the next draw after `manualSeed`). */
  seed?: number;
}

/**
 * y = x Wᵀ + b, with W [out, in] and b [out] drawn from U(-1/√in, 1/√in) (PyTorch's
 * Kaiming-uniform default).
 * @example
 * const layer = new nn.Linear(3, 2, { seed: 0 });
 * layer(randn([5, 3], { seed: 1 })).shape; // [5, 2]
 */
export class Linear extends Module {
  declare readonly weight: Tensor;
  declare readonly bias: Tensor | undefined;
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(inFeatures: number, outFeatures: number, opts: InitOptions & { bias?: boolean } = {}) {
    super();
    checkSizes('Linear', { inFeatures, outFeatures });
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    const seed = moduleSeed(opts.seed);
    const bound = 1 / Math.sqrt(inFeatures);
    this.registerParameter('weight', uniform([outFeatures, inFeatures], bound, seed, 0));
    if (opts.bias ?? true) this.registerParameter('bias', uniform([outFeatures], bound, seed, 1));
  }

  forward(x: Tensor): Tensor {
    if (x.rank < 1 || x.shape[x.rank - 1] !== this.inFeatures) {
      throw new ShapeError(`Linear: input ${formatShape(x.shape)} must end in ${this.inFeatures} features`);
    }
    const y = x.matmul(this.weight.T);
    return this.bias ? y.add(this.bias) : y;
  }

  protected override describe(): string {
    return `${this.inFeatures}, ${this.outFeatures}${this.bias ? '' : ', {bias: false}'}`;
  }
}

function checkSizes(op: string, sizes: Record<string, number>): void {
  for (const [name, v] of Object.entries(sizes)) {
    if (!Number.isInteger(v) || v < 1) throw new ArgumentError(`${op}: ${name} ${v} must be a whole number >= 1`);
  }
}

export interface Conv2dModuleOptions extends InitOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  bias?: boolean;
}

/**
 * A 2-D convolution layer over [N, C, H, W]: weight [out, in, KH, KW] and bias [out], both
 * from U(-1/√(in·KH·KW), 1/√(in·KH·KW)) as PyTorch.
 * @example
 * const conv = new nn.Conv2d(1, 4, 3, { padding: 1, seed: 0 });
 * conv(randn([2, 1, 8, 8], { seed: 1 })).shape; // [2, 4, 8, 8]
 */
export class Conv2d extends Module {
  declare readonly weight: Tensor;
  declare readonly bias: Tensor | undefined;
  readonly kernelSize: [number, number];

  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: Pair, readonly opts: Conv2dModuleOptions = {}) {
    super();
    this.kernelSize = typeof kernelSize === 'number' ? [kernelSize, kernelSize] : [kernelSize[0], kernelSize[1]];
    checkSizes('Conv2d', { inChannels, outChannels, kernelHeight: this.kernelSize[0], kernelWidth: this.kernelSize[1] });
    const seed = moduleSeed(opts.seed);
    const bound = 1 / Math.sqrt(inChannels * this.kernelSize[0] * this.kernelSize[1]);
    this.registerParameter('weight', uniform([outChannels, inChannels, ...this.kernelSize], bound, seed, 0));
    if (opts.bias ?? true) this.registerParameter('bias', uniform([outChannels], bound, seed, 1));
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias ?? null, this.opts);
  }

  protected override describe(): string {
    return `${this.inChannels}, ${this.outChannels}, ${this.kernelSize.join('x')}`;
  }
}

/** 2-D max pooling as a module (see `maxPool2d`). @example new nn.MaxPool2d(2)(randn([1, 1, 4, 4], { seed: 0 })).shape; // [1, 1, 2, 2] */
export class MaxPool2d extends Module {
  constructor(readonly kernelSize: Pair, readonly opts: { stride?: Pair; padding?: Pair } = {}) {
    super();
  }
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernelSize, this.opts);
  }
}

/** 2-D average pooling as a module (see `avgPool2d`). @example new nn.AvgPool2d(2)(ones([1, 1, 4, 4])).shape; // [1, 1, 2, 2] */
export class AvgPool2d extends Module {
  constructor(readonly kernelSize: Pair, readonly opts: { stride?: Pair; padding?: Pair } = {}) {
    super();
  }
  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.kernelSize, this.opts);
  }
}

/** Merges the axes startDim..endDim (default 1..-1: everything but the batch). @example new nn.Flatten()(ones([2, 3, 4])).shape; // [2, 12] */
export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return flatten(x, this.startDim, this.endDim);
  }
}

/** max(x, 0). @example new nn.ReLU()(tensor([-1, 2])).toArray(); // [0, 2] */
export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

/** tanh(x). @example new nn.Tanh()(tensor([0])).toArray(); // [0] */
export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return tanh(x);
  }
}

/** The Gaussian error linear unit. @example new nn.GELU()(tensor([0])).toArray(); // [0] */
export class GELU extends Module {
  forward(x: Tensor): Tensor {
    return gelu(x);
  }
}

/** 1 / (1 + exp(-x)). @example new nn.Sigmoid()(tensor([0])).toArray(); // [0.5] */
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return sigmoid(x);
  }
}

/** Passes its input through. @example new nn.Identity()(tensor([1])).toArray(); // [1] */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

/**
 * In training mode, zeroes each element with probability `p` and scales the rest by
 * 1/(1-p); in evaluation mode, the identity. Each call draws a new mask (a seed of the
 * module's own sequence). It is a random op: under vmap it follows the vmap's
 * `randomness` ('error' by default refuses; 'different' gives each example its own mask;
 * 'same' shares one). Under jit the mask is part of the trace, so it repeats on every call.
 * @example
 * const drop = new nn.Dropout(0.5, { seed: 0 });
 * drop(ones([4])).toArray(); // some 0s, the rest 2s
 * drop.eval()(ones([4])).toArray(); // [1, 1, 1, 1]
 */
export class Dropout extends Module {
  private calls = 0;
  private readonly seed: number;

  constructor(readonly p = 0.5, opts: InitOptions = {}) {
    super();
    if (!(p >= 0 && p < 1)) throw new ArgumentError(`Dropout: p ${p} must lie in [0, 1)`);
    this.seed = moduleSeed(opts.seed);
  }

  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    const keep = rand(x.shape, { seed: randomBits(this.seed, this.calls++) | 0 }).ge(this.p);
    return where(keep, x.div(1 - this.p), 0);
  }

  protected override describe(): string {
    return `p=${this.p}`;
  }
}

/**
 * Normalizes over the trailing `normalizedShape` axes (biased variance, as PyTorch), then
 * scales by `weight` (ones) and shifts by `bias` (zeros).
 * @example
 * new nn.LayerNorm(4)(randn([2, 4], { seed: 0 })).mean({ axis: -1 }).toArray(); // ≈ [0, 0]
 */
export class LayerNorm extends Module {
  declare readonly weight: Tensor | undefined;
  declare readonly bias: Tensor | undefined;
  readonly normalizedShape: number[];

  constructor(normalizedShape: number | readonly number[], readonly opts: { eps?: number; elementwiseAffine?: boolean } = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    checkSizes('LayerNorm', Object.fromEntries(this.normalizedShape.map((d, i) => [`normalizedShape[${i}]`, d])));
    if (opts.elementwiseAffine ?? true) {
      this.registerParameter('weight', ones(this.normalizedShape));
      this.registerParameter('bias', zeros(this.normalizedShape));
    }
  }

  forward(x: Tensor): Tensor {
    const n = this.normalizedShape.length;
    if (x.rank < n || x.shape.slice(x.rank - n).some((d, i) => d !== this.normalizedShape[i])) {
      throw new ShapeError(`LayerNorm: input ${formatShape(x.shape)} must end in ${formatShape(this.normalizedShape)}`);
    }
    const axes = this.normalizedShape.map((_, i) => x.rank - n + i);
    const centered = x.sub(mean(x, { axis: axes, keepdims: true }));
    const normed = centered.mul(rsqrt(variance(x, { axis: axes, keepdims: true, correction: 0 }).add(this.opts.eps ?? 1e-5)));
    return this.weight && this.bias ? normed.mul(this.weight).add(this.bias) : normed;
  }
}

/**
 * A lookup table: row `i` of `weight` [numEmbeddings, embeddingDim] (drawn from N(0, 1))
 * for each int32 index.
 * @example
 * const emb = new nn.Embedding(10, 3, { seed: 0 });
 * emb(tensor([[1, 2], [3, 4]], { dtype: 'int32' })).shape; // [2, 2, 3]
 */
export class Embedding extends Module {
  declare readonly weight: Tensor;

  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, opts: InitOptions = {}) {
    super();
    checkSizes('Embedding', { numEmbeddings, embeddingDim });
    const seed = moduleSeed(opts.seed);
    // Box-Muller over two uniform streams keeps this file free of a second random primitive.
    const u1 = sub(1, rand([numEmbeddings, embeddingDim], { seed: randomBits(seed, 0) | 0 }));
    const u2 = rand([numEmbeddings, embeddingDim], { seed: randomBits(seed, 1) | 0 });
    this.registerParameter('weight', u1.log().mul(-2).sqrt().mul(u2.mul(2 * Math.PI).cos()).realize());
  }

  forward(indices: Tensor): Tensor {
    if (indices.dtype !== 'int32') throw new DTypeError(`Embedding: indices must be int32, got ${indices.dtype}; create them with {dtype: 'int32'}`);
    const rows = indexSelect(this.weight, 0, reshape(indices, [-1]));
    return reshape(rows, [...indices.shape, this.embeddingDim]);
  }
}

/**
 * Batch normalization over axis 1 of [N, C] or [N, C, ...]: in training mode it normalizes
 * by the batch's statistics and updates the buffers `runningMean` and `runningVar`
 * (momentum 0.1, unbiased variance, as PyTorch); in evaluation mode it uses the buffers.
 * Inside `functionalCall` and the functions of `makeFunctional` the updates are dropped:
 * the module's state is what it was before the call.
 * @example
 * const bn = new nn.BatchNorm(3);
 * bn(randn([8, 3], { seed: 0 }));   // normalized per feature; runningMean moved
 * bn.eval()(randn([2, 3], { seed: 1 }));
 */
export class BatchNorm extends Module {
  declare readonly weight: Tensor | undefined;
  declare readonly bias: Tensor | undefined;
  declare runningMean: Tensor;
  declare runningVar: Tensor;
  readonly eps: number;
  readonly momentum: number;

  constructor(readonly numFeatures: number, opts: { eps?: number; momentum?: number; affine?: boolean } = {}) {
    super();
    checkSizes('BatchNorm', { numFeatures });
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum ?? 0.1;
    if (opts.affine ?? true) {
      this.registerParameter('weight', ones([numFeatures]));
      this.registerParameter('bias', zeros([numFeatures]));
    }
    this.registerBuffer('runningMean', zeros([numFeatures]));
    this.registerBuffer('runningVar', ones([numFeatures]));
  }

  forward(x: Tensor): Tensor {
    if (x.rank < 2 || x.shape[1] !== this.numFeatures) {
      throw new ShapeError(`BatchNorm: input ${formatShape(x.shape)} must be [N, ${this.numFeatures}, ...] (features on axis 1)`);
    }
    const axes = x.shape.map((_, i) => i).filter((i) => i !== 1);
    const perFeature = (t: Tensor) => reshape(t, x.shape.map((d, i) => (i === 1 ? d : 1)));
    let m: Tensor;
    let v: Tensor;
    if (this.training) {
      m = mean(x, { axis: axes });
      v = variance(x, { axis: axes, correction: 0 });
      const count = x.size / this.numFeatures;
      if (count < 2) throw new ShapeError(`BatchNorm: training needs more than one value per feature, got input ${formatShape(x.shape)}; use eval() for single examples`);
      const k = this.momentum;
      this.runningMean = add(mul(this.runningMean, 1 - k), mul(stopGradient(m), k));
      this.runningVar = add(mul(this.runningVar, 1 - k), mul(stopGradient(v), (k * count) / (count - 1)));
    } else {
      m = this.runningMean;
      v = this.runningVar;
    }
    const normed = x.sub(perFeature(m)).mul(perFeature(rsqrt(v.add(this.eps))));
    return this.weight && this.bias ? normed.mul(perFeature(this.weight)).add(perFeature(this.bias)) : normed;
  }

  protected override describe(): string {
    return `${this.numFeatures}`;
  }
}

/**
 * Runs its modules in order, each on the previous one's output; they are registered as
 * `'0'`, `'1'`, ... (so parameters are named `'0.weight'` and so on).
 * @example
 * const model = new nn.Sequential(new nn.Linear(2, 8), new nn.ReLU(), new nn.Linear(8, 1));
 * model(randn([4, 2], { seed: 0 })).shape; // [4, 1]
 */
export class Sequential extends Module {
  readonly layers: Module[];

  constructor(...modules: Module[]) {
    super();
    this.layers = modules;
    modules.forEach((m, i) => this.registerModule(String(i), m));
  }

  forward(x: Tensor): Tensor {
    return this.layers.reduce((h, m) => m.forward(h), x);
  }
}

/** An activation by name, or a function that makes a fresh activation module. */
export type Activation = 'relu' | 'tanh' | 'gelu' | 'sigmoid' | (() => Module);

function makeActivation(a: Activation): Module {
  if (typeof a === 'function') return a();
  switch (a) {
    case 'relu': return new ReLU();
    case 'tanh': return new Tanh();
    case 'gelu': return new GELU();
    case 'sigmoid': return new Sigmoid();
    default: throw new ArgumentError(`MLP: activation ${JSON.stringify(a)} must be 'relu', 'tanh', 'gelu', 'sigmoid' or a function returning a Module`);
  }
}

/**
 * A multilayer perceptron: Linear layers between the given sizes with an activation (ReLU by
 * default) between them and none after the last. With `seed`, layer i is seeded `seed + i`.
 * @example
 * const mlp = new nn.MLP([4, 32, 32, 1], { activation: 'tanh', seed: 0 });
 * mlp(randn([10, 4], { seed: 1 })).shape; // [10, 1]
 */
export class MLP extends Sequential {
  constructor(sizes: readonly number[], opts: InitOptions & { activation?: Activation; dropout?: number } = {}) {
    if (sizes.length < 2) throw new ArgumentError(`MLP: sizes ${JSON.stringify(sizes)} must list at least an input and an output size`);
    const layers: Module[] = [];
    for (let i = 0; i + 1 < sizes.length; i++) {
      layers.push(new Linear(sizes[i], sizes[i + 1], { seed: opts.seed === undefined ? undefined : opts.seed + i }));
      if (i + 2 < sizes.length) {
        layers.push(makeActivation(opts.activation ?? 'relu'));
        if (opts.dropout) layers.push(new Dropout(opts.dropout, { seed: opts.seed === undefined ? undefined : opts.seed + 1000 + i }));
      }
    }
    super(...layers);
  }
}

