// Modules: registration and naming, callability, PyTorch's initialization, state saved and
// loaded (JSON included), train/eval, and each layer against a float64 reference.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { ArgumentError, DTypeError, ShapeError, TransformError, functionalCall, nn, ones, randn, tensor, vmap, zeros, type Tensor } from '../../src/index.js';
import { assertAllClose, checkGrads } from '../../src/testing/index.js';

const rows = (t: Tensor) => t.toArray() as number[][];

describe('Module', () => {
  test('a module is callable, is an instance of its class, and names its parameters by dotted paths', () => {
    const model = new nn.Sequential(new nn.Linear(3, 4, { seed: 0 }), new nn.Tanh(), new nn.Sequential(new nn.Linear(4, 2, { seed: 1 }), new nn.LayerNorm(2)));
    assert.ok(model instanceof nn.Sequential && model instanceof nn.Module);
    assert.equal(typeof model, 'function');
    const x = randn([5, 3], { seed: 2 });
    assertAllClose(model(x), model.forward(x), { rtol: 0, atol: 0 });
    assert.deepEqual(model.namedParameters().map(([n]) => n), ['0.weight', '0.bias', '2.0.weight', '2.0.bias', '2.1.weight', '2.1.bias']);
    assert.deepEqual(model.namedModules().map(([n, m]) => `${n}:${m.typeName}`), [':Sequential', '0:Linear', '1:Tanh', '2:Sequential', '2.0:Linear', '2.1:LayerNorm']);
    assert.equal(model.parameters().length, 6);
    assert.match(model.toString(), /\(0\): Linear\(3, 4\)/);
    assert.equal(inspect(model), model.toString());
  });

  test('a user-defined module registers parameters, buffers and children, read back as properties', () => {
    class Scaled extends nn.Module {
      declare readonly scale: Tensor;
      declare readonly offset: Tensor;
      declare readonly inner: nn.Linear;
      // `name` and `length` are free for modules to use, although a module is a function.
      override name = 'scaled';
      override length = 3;
      constructor() {
        super();
        this.registerParameter('scale', full3(2));
        this.registerBuffer('offset', full3(1));
        this.registerModule('inner', new nn.Linear(3, 3, { seed: 0 }));
      }
      forward(x: Tensor): Tensor {
        return this.inner(x).mul(this.scale).add(this.offset);
      }
    }
    const full3 = (v: number) => ones([3]).mul(v);
    const m = new Scaled();
    assert.equal(m.name, 'scaled');
    assert.equal(m.length, 3);
    assert.deepEqual(m.namedParameters().map(([n]) => n), ['scale', 'inner.weight', 'inner.bias']);
    assert.deepEqual(m.namedBuffers().map(([n]) => n), ['offset']);
    const x = randn([2, 3], { seed: 1 });
    assertAllClose(m(x), m.inner(x).mul(2).add(1), { rtol: 0, atol: 0 });
    assert.throws(() => m.registerParameter('scale', zeros([1])), (e: Error) => e instanceof ArgumentError && /'scale' is already registered/.test(e.message));
    assert.throws(() => m.registerParameter('a.b', zeros([1])), ArgumentError);
  });

  test('train() and eval() reach every descendant', () => {
    const model = new nn.Sequential(new nn.Dropout(0.5), new nn.Sequential(new nn.BatchNorm(3)));
    model.eval();
    assert.ok(model.namedModules().every(([, m]) => !m.training));
    model.train();
    assert.ok(model.namedModules().every(([, m]) => m.training));
  });
});

describe('initialization', () => {
  test('Linear and Conv2d draw weight and bias from U(-1/√fanIn, 1/√fanIn), reproducibly per seed', () => {
    for (const [layer, fanIn] of [[new nn.Linear(50, 40, { seed: 3 }), 50], [new nn.Conv2d(4, 30, 3, { seed: 3 }), 36]] as const) {
      const bound = 1 / Math.sqrt(fanIn);
      const w = Array.from(layer.weight.dataSync());
      assert.ok(w.every((v) => Math.abs(v) <= bound));
      // 2000 draws of a uniform distribution come close to both ends and average near zero.
      assert.ok(Math.max(...w) > 0.95 * bound && Math.min(...w) < -0.95 * bound);
      assert.ok(Math.abs(w.reduce((a, b) => a + b, 0) / w.length) < 0.1 * bound);
      assert.ok(Array.from(layer.bias!.dataSync()).every((v) => Math.abs(v) <= bound));
    }
    assertAllClose(new nn.Linear(5, 4, { seed: 7 }).weight, new nn.Linear(5, 4, { seed: 7 }).weight, { rtol: 0, atol: 0 });
    assert.notDeepEqual(new nn.Linear(5, 4, { seed: 7 }).weight.toArray(), new nn.Linear(5, 4, { seed: 8 }).weight.toArray());
  });

  test('manualSeed makes unseeded construction reproducible, and successive layers differ', () => {
    nn.manualSeed(42);
    const a = new nn.MLP([3, 3, 3]);
    nn.manualSeed(42);
    const b = new nn.MLP([3, 3, 3]);
    a.parameters().forEach((t, i) => assertAllClose(t, b.parameters()[i], { rtol: 0, atol: 0 }));
    assert.notDeepEqual(a.parameters()[0].toArray(), a.parameters()[2].toArray());
  });
});

describe('state', () => {
  test('stateDict and loadStateDict round trip, through JSON too', () => {
    const make = (seed: number) => new nn.Sequential(new nn.Linear(3, 4, { seed }), new nn.BatchNorm(4), new nn.ReLU(), new nn.Linear(4, 2, { seed: seed + 1 }));
    const source = make(0);
    source(randn([6, 3], { seed: 5 })); // moves the running statistics away from their initial values
    source.eval();
    const x = randn([3, 3], { seed: 6 });
    const copy = make(10).eval();
    copy.loadStateDict(source.stateDict());
    assertAllClose(copy(x), source(x), { rtol: 0, atol: 0 });
    const fromJson = make(20).eval().loadStateDict(JSON.parse(JSON.stringify(source)));
    assertAllClose(fromJson(x), source(x), { rtol: 0, atol: 0 });
    assert.deepEqual(Object.keys(source.stateDict()), ['0.weight', '0.bias', '1.weight', '1.bias', '3.weight', '3.bias', '1.runningMean', '1.runningVar']);
  });

  test('loading names the module and the path of a wrong entry', () => {
    const model = new nn.Sequential(new nn.Linear(3, 4, { seed: 0 }));
    assert.throws(() => model.loadStateDict({ '0.weight': zeros([4, 2]) }), (e: Error) => e instanceof ShapeError && /Sequential\.loadStateDict: '0\.weight' has shape \[4, 2\] but the module's is \[4, 3\]/.test(e.message));
    assert.throws(() => model.loadStateDict({ '0.wieght': zeros([4, 3]) }), (e: Error) => e instanceof ArgumentError && /'0\.wieght' is not a parameter or buffer/.test(e.message));
    assert.throws(() => model.loadStateDict({ '0.weight': zeros([4, 3]) }), (e: Error) => e instanceof ArgumentError && /missing '0\.bias'/.test(e.message));
    assert.throws(() => model.loadStateDict({ '0.bias': { shape: [4], dtype: 'complex' as 'float32', data: [0, 0, 0, 0] } }, { strict: false }), DTypeError);
    model.loadStateDict({ '0.bias': zeros([4]) }, { strict: false });
    assert.deepEqual(model.stateDict()['0.bias'].toArray(), [0, 0, 0, 0]);
  });
});

describe('layers against float64 references', () => {
  test('Linear: x Wᵀ + b', () => {
    const layer = new nn.Linear(3, 2, { seed: 1 });
    const x = randn([4, 3], { seed: 2 });
    const [w, b, xs] = [rows(layer.weight), layer.bias!.toArray() as number[], rows(x)];
    assertAllClose(layer(x), xs.map((r) => w.map((wr, o) => b[o] + wr.reduce((s, v, i) => s + v * r[i], 0))), { rtol: 1e-5, atol: 1e-6 });
  });

  test('LayerNorm normalizes the trailing axes; its gradients agree with finite differences', () => {
    const ln = new nn.LayerNorm(4);
    const x = randn([3, 4], { seed: 3 }).cast('float64');
    const expected = rows(x).map((r) => {
      const m = r.reduce((a, b) => a + b, 0) / r.length;
      const v = r.reduce((a, b) => a + (b - m) ** 2, 0) / r.length;
      return r.map((e) => (e - m) / Math.sqrt(v + 1e-5));
    });
    assertAllClose(ln(x), expected, { rtol: 1e-6, atol: 1e-6 });
    checkGrads((xi: Tensor, w: Tensor, b: Tensor) => functionalCall(ln, { weight: w, bias: b }, [xi]), [x, randn([4], { seed: 4 }), randn([4], { seed: 5 })], { order: 1 });
  });

  test('BatchNorm: batch statistics in training (updating the running buffers), running ones in eval', () => {
    const bn = new nn.BatchNorm(2, { momentum: 0.25 });
    const x = randn([5, 2, 3], { seed: 6 }).cast('float64');
    const data = x.toArray() as number[][][];
    const perFeature = [0, 1].map((c) => data.flatMap((s) => s[c]));
    const stats = perFeature.map((v) => {
      const m = v.reduce((a, b) => a + b, 0) / v.length;
      return { m, biased: v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length, unbiased: v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1) };
    });
    const out = bn(x);
    assertAllClose(out, data.map((s) => s.map((row, c) => row.map((e) => (e - stats[c].m) / Math.sqrt(stats[c].biased + 1e-5)))), { rtol: 1e-5, atol: 1e-5 });
    assertAllClose(bn.runningMean, stats.map((s) => 0.25 * s.m), { rtol: 1e-5, atol: 1e-6 });
    assertAllClose(bn.runningVar, stats.map((s) => 0.75 + 0.25 * s.unbiased), { rtol: 1e-5, atol: 1e-6 });
    bn.eval();
    const rm = bn.runningMean.toArray() as number[];
    const rv = bn.runningVar.toArray() as number[];
    assertAllClose(bn(x), data.map((s) => s.map((row, c) => row.map((e) => (e - rm[c]) / Math.sqrt(rv[c] + 1e-5)))), { rtol: 1e-5, atol: 1e-5 });
    assert.throws(() => bn.train()(randn([1, 2], { seed: 0 })), (e: Error) => e instanceof ShapeError && /more than one value per feature/.test(e.message));
  });

  test('a functional call leaves BatchNorm’s running statistics as they were', () => {
    const bn = new nn.BatchNorm(2);
    functionalCall(bn, {}, [randn([4, 2], { seed: 1 })]);
    assert.deepEqual(bn.runningMean.toArray(), [0, 0]);
    assert.deepEqual(bn.runningVar.toArray(), [1, 1]);
  });

  test('Embedding picks rows by int32 index', () => {
    const emb = new nn.Embedding(5, 3, { seed: 2 });
    const w = rows(emb.weight);
    assertAllClose(emb(tensor([[4, 0], [2, 2]], { dtype: 'int32' })), [[w[4], w[0]], [w[2], w[2]]], { rtol: 0, atol: 0 });
    assert.throws(() => emb(tensor([1, 2])), DTypeError);
    // N(0, 1) draws: 2000 of them have a mean near 0 and a variance near 1.
    const big = Array.from(new nn.Embedding(1000, 2, { seed: 3 }).weight.dataSync());
    const mean = big.reduce((a, b) => a + b, 0) / big.length;
    assert.ok(Math.abs(mean) < 0.1 && Math.abs(big.reduce((a, b) => a + (b - mean) ** 2, 0) / big.length - 1) < 0.1);
  });

  test('activations: ReLU, Tanh, GELU, Sigmoid', () => {
    const x = tensor([-2, -0.5, 0, 0.5, 2], { dtype: 'float64' });
    const v = x.toArray() as number[];
    assertAllClose(new nn.ReLU()(x), v.map((e) => Math.max(e, 0)), { rtol: 0, atol: 0 });
    assertAllClose(new nn.Tanh()(x), v.map(Math.tanh), { rtol: 1e-12, atol: 1e-12 });
    assertAllClose(new nn.Sigmoid()(x), v.map((e) => 1 / (1 + Math.exp(-e))), { rtol: 1e-12, atol: 1e-12 });
    // GELU(x) = x Φ(x); Φ from the error function's series, accurate far beyond the tolerance here.
    const erf = (z: number) => { let sum = 0; let term = z; for (let n = 0; n < 60; n++) { sum += term / (2 * n + 1); term *= (-z * z) / (n + 1); } return (2 / Math.sqrt(Math.PI)) * sum; };
    assertAllClose(new nn.GELU()(x), v.map((e) => 0.5 * e * (1 + erf(e / Math.SQRT2))), { rtol: 1e-3, atol: 1e-3 });
  });
});

describe('Dropout', () => {
  test('in training zeroes about p of the elements and scales the rest by 1/(1-p); in eval it is the identity', () => {
    const drop = new nn.Dropout(0.25, { seed: 1 });
    const out = Array.from(drop(ones([4000])).dataSync());
    const zeroed = out.filter((v) => v === 0).length / out.length;
    assert.ok(Math.abs(zeroed - 0.25) < 0.03, `zeroed ${zeroed}`);
    assert.ok(out.every((v) => v === 0 || Math.abs(v - 1 / 0.75) < 1e-6));
    assert.notDeepEqual(Array.from(drop(ones([50])).dataSync()), Array.from(drop(ones([50])).dataSync()), 'each call draws a new mask');
    assert.deepEqual(drop.eval()(ones([3])).toArray(), [1, 1, 1]);
  });

  test('meets vmap’s randomness modes: error refuses, different draws per example, same shares one mask', () => {
    const drop = new nn.Dropout(0.5, { seed: 2 });
    const xs = ones([4, 64]);
    assert.throws(() => vmap((x: Tensor) => drop(x))(xs), TransformError);
    const different = rows(vmap((x: Tensor) => drop(x), { randomness: 'different' })(xs));
    assert.ok(different.some((r) => JSON.stringify(r) !== JSON.stringify(different[0])));
    const same = rows(vmap((x: Tensor) => drop(x), { randomness: 'same' })(xs));
    assert.ok(same.every((r) => JSON.stringify(r) === JSON.stringify(same[0])));
    assert.ok(same[0].some((v) => v === 0) && same[0].some((v) => v !== 0));
  });
});

describe('layer errors', () => {
  test('name the layer, the shapes and what fits', () => {
    const expectError = (f: () => unknown, type: new (...a: never[]) => Error, pattern: RegExp) => assert.throws(f, (e: Error) => e instanceof type && pattern.test(e.message), pattern.source);
    expectError(() => new nn.Linear(3, 2)(zeros([4, 5])), ShapeError, /Linear: input \[4, 5\] must end in 3 features/);
    expectError(() => new nn.LayerNorm([2, 3])(zeros([4, 3, 2])), ShapeError, /LayerNorm: input \[4, 3, 2\] must end in \[2, 3\]/);
    expectError(() => new nn.BatchNorm(3)(zeros([4, 2])), ShapeError, /BatchNorm: input \[4, 2\] must be \[N, 3, \.\.\.\]/);
    expectError(() => new nn.Conv2d(2, 4, 3)(zeros([1, 3, 5, 5])), ShapeError, /conv2d: weight \[4, 2, 3, 3\] does not fit input \[1, 3, 5, 5\]/);
    expectError(() => new nn.Linear(0, 2), ArgumentError, /Linear: inFeatures 0 must be a whole number >= 1/);
    expectError(() => new nn.MLP([3]), ArgumentError, /MLP: sizes \[3\] must list at least an input and an output size/);
    expectError(() => new nn.MLP([3, 4, 1], { activation: 'swish' as 'relu' }), ArgumentError, /MLP: activation "swish"/);
    expectError(() => new nn.Dropout(1), ArgumentError, /Dropout: p 1 must lie in \[0, 1\)/);
    expectError(() => new nn.Sequential(new nn.ReLU()).registerModule('x', {} as nn.Module), ArgumentError, /registerModule: 'x' is not a Module/);
  });

  test('Conv2d, the pooling modules and Flatten are their array ops; MLP places activations and dropout', () => {
    const conv = new nn.Conv2d(2, 3, [3, 2], { stride: 2, padding: 1, seed: 4 });
    const x = randn([2, 2, 6, 5], { seed: 5 });
    assertAllClose(conv(x), functionalCall(conv, {}, [x]), { rtol: 0, atol: 0 });
    assert.deepEqual(conv(x).shape, [2, 3, 3, 3]);
    assert.deepEqual(new nn.MaxPool2d(2)(x).shape, [2, 2, 3, 2]);
    assert.deepEqual(new nn.AvgPool2d(3, { stride: 1, padding: 1 })(x).shape, [2, 2, 6, 5]);
    assert.deepEqual(new nn.Flatten()(x).shape, [2, 60]);
    const mlp = new nn.MLP([3, 4, 4, 1], { activation: 'gelu', dropout: 0.1 });
    assert.deepEqual(mlp.namedChildren().map(([, m]) => m.typeName), ['Linear', 'GELU', 'Dropout', 'Linear', 'GELU', 'Dropout', 'Linear']);
  });
});
