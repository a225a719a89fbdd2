// functorch's functional-module utilities: round trips against the module, ensembles and
// per-sample gradients against loops, MAML's meta-gradient against finite differences, and
// errors that name the module and the parameter path.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError, ShapeError, withBackend, combineStateForEnsemble, crossEntropy, functionalCall, grad, makeFunctional, makeFunctionalWithBuffers, mseLoss, nn, randn, stack, stackModuleState, tensor, vmap, zeros, type Tensor } from '../../src/index.js';
import { assertAllClose, checkGrads } from '../../src/testing/index.js';

type Params = Record<string, Tensor>;

function smallCnn(seed: number): nn.Sequential {
  return new nn.Sequential(
    new nn.Conv2d(1, 3, 3, { padding: 1, seed }), new nn.BatchNorm(3), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Flatten(), new nn.Dropout(0.3), new nn.Linear(3 * 3 * 3, 8, { seed: seed + 1 }), new nn.LayerNorm(8), new nn.GELU(), new nn.Linear(8, 3, { seed: seed + 2 }),
  );
}

describe('makeFunctional and makeFunctionalWithBuffers', () => {
  test('the functional model equals the module, with its parameters and buffers', () => {
    const model = smallCnn(0);
    model(randn([4, 1, 6, 6], { seed: 9 })); // training step: running statistics move
    model.eval();
    const x = randn([2, 1, 6, 6], { seed: 1 });
    const [fmodel, params] = makeFunctional(model);
    assert.deepEqual(Object.keys(params), model.namedParameters().map(([n]) => n));
    assertAllClose(fmodel(params, x), model(x), { rtol: 0, atol: 0 });
    const [fmodelB, paramsB, buffers] = makeFunctionalWithBuffers(model);
    assert.deepEqual(Object.keys(buffers), ['1.runningMean', '1.runningVar']);
    assertAllClose(fmodelB(paramsB, buffers, x), model(x), { rtol: 0, atol: 0 });
    // Other parameters and buffers give the output of a module that holds them.
    const other = smallCnn(5).eval();
    const [, otherParams, otherBuffers] = makeFunctionalWithBuffers(other);
    assertAllClose(fmodelB(otherParams, otherBuffers, x), other(x), { rtol: 0, atol: 0 });
    assertAllClose(functionalCall(model, [otherParams, otherBuffers], [x]), other(x), { rtol: 0, atol: 0 });
    // ... and the module keeps its own.
    assertAllClose(model(x), fmodel(params, x), { rtol: 0, atol: 0 });
  });

  test('gradients with respect to the parameter object agree with finite differences', () => {
    const model = new nn.MLP([3, 5, 2], { activation: 'tanh', seed: 2 });
    const [fmodel, params] = makeFunctional(model);
    const x = randn([4, 3], { seed: 3 });
    const g = grad((p: Params) => fmodel(p, x).square().sum())(params) as Params;
    assert.deepEqual(Object.keys(g).sort(), Object.keys(params).sort());
    checkGrads((p: Params) => fmodel(p, x).square().sum(), [params], { order: 1 });
  });

  test('the module is restored when forward throws', () => {
    const model = new nn.Linear(3, 2, { seed: 0 });
    const before = model.weight;
    assert.throws(() => functionalCall(model, { weight: zeros([2, 3]) }, [zeros([4, 5])]), ShapeError);
    assert.equal(model.weight, before);
  });
});

describe('wrong parameter structures', () => {
  const model = new nn.Sequential(new nn.Linear(3, 4, { seed: 0 }), new nn.ReLU(), new nn.Linear(4, 1, { seed: 1 }));
  const [fmodel, params] = makeFunctional(model);
  const x = zeros([2, 3]);

  test('name the module and the parameter path', () => {
    const { ['2.bias']: _dropped, ...missing } = params;
    assert.throws(() => fmodel(missing, x), (e: Error) => e instanceof ArgumentError && /makeFunctional\(Sequential\): params lacks '2\.bias'/.test(e.message));
    assert.throws(() => fmodel({ ...params, '1.weight': zeros([1]) }, x), (e: Error) => e instanceof ArgumentError && /has unknown '1\.weight'/.test(e.message));
    assert.throws(() => fmodel({ ...params, '0.weight': zeros([4, 2]) }, x), (e: Error) => e instanceof ShapeError && /'0\.weight' \(parameter of Linear\) has shape \[4, 2\] but the module expects \[4, 3\]/.test(e.message));
    assert.throws(() => fmodel({ ...params, '0.bias': [1, 2] as unknown as Tensor }, x), (e: Error) => e instanceof ArgumentError && /'0\.bias' must be a Tensor/.test(e.message));
    assert.throws(() => functionalCall(model, { '3.weight': zeros([1]) }, [x]), (e: Error) => e instanceof ArgumentError && /functionalCall\(Sequential\): '3\.weight' is not a parameter or buffer/.test(e.message));
    const [fb, p, b] = makeFunctionalWithBuffers(new nn.BatchNorm(2));
    assert.throws(() => fb(p, {}, zeros([3, 2])), (e: Error) => e instanceof ArgumentError && /makeFunctionalWithBuffers\(BatchNorm\): buffers lacks 'runningMean', 'runningVar'/.test(e.message));
    assert.ok(b.runningMean);
  });

  test('stacking models of different structures names the model and the path', () => {
    assert.throws(() => stackModuleState([new nn.Linear(3, 2), new nn.Linear(3, 2, { bias: false })]), (e: Error) => e instanceof ArgumentError && /models\[1\] \(Linear\) has no parameter 'bias'/.test(e.message));
    assert.throws(() => stackModuleState([new nn.Linear(3, 2), new nn.Linear(4, 2)]), (e: Error) => e instanceof ShapeError && /parameter 'weight' of models\[1\] \(Linear\) has shape \[2, 4\] but models\[0\]'s has \[2, 3\]/.test(e.message));
    assert.throws(() => combineStateForEnsemble([new nn.Linear(3, 2), new nn.MLP([3, 2])]), (e: Error) => e instanceof ArgumentError && /models\[1\] is a MLP but models\[0\] is a Linear/.test(e.message));
    assert.throws(() => combineStateForEnsemble([new nn.Linear(3, 2), new nn.Linear(3, 2).eval()]), (e: Error) => e instanceof ArgumentError && /eval mode/.test(e.message));
    assert.throws(() => combineStateForEnsemble([]), ArgumentError);
  });
});

describe('ensembles and per-sample gradients', () => {
  test('combineStateForEnsemble + vmap equals a loop over the models, on shared and on separate inputs', () => {
    const models = [0, 1, 2, 3, 4].map((seed) => new nn.Sequential(new nn.Linear(3, 6, { seed: 10 * seed }), new nn.BatchNorm(6), new nn.Tanh(), new nn.Linear(6, 2, { seed: 10 * seed + 1 })));
    models.forEach((m, i) => m(randn([8, 3], { seed: 100 + i })));
    models.forEach((m) => m.eval());
    const [fmodel, params, buffers] = combineStateForEnsemble(models);
    assert.deepEqual(params['0.weight'].shape, [5, 6, 3]);
    assert.deepEqual(buffers['1.runningVar'].shape, [5, 6]);
    const x = randn([7, 3], { seed: 1 });
    assertAllClose(vmap(fmodel, { inDims: [0, 0, null] })(params, buffers, x), stack(models.map((m) => m(x))), { rtol: 1e-5, atol: 1e-6 });
    const xs = randn([5, 7, 3], { seed: 2 });
    assertAllClose(vmap(fmodel)(params, buffers, xs), stack(models.map((m, i) => m(xs.select(0, i)))), { rtol: 1e-5, atol: 1e-6 });
    const [stackedParams, stackedBuffers] = stackModuleState(models);
    assertAllClose(stackedParams['3.bias'], stack(models.map((m) => m.stateDict()['3.bias'])), { rtol: 0, atol: 0 });
    assertAllClose(stackedBuffers['1.runningMean'], buffers['1.runningMean'], { rtol: 0, atol: 0 });
  });

  // On the reference interpreter: the js backend's scheduler takes many seconds over these
  // second-order DAGs today (reported); the semantics under test are the transforms'.
  test('vmap(grad(loss), {inDims: [null, 0, 0]}) over a CNN equals a loop of grad over the examples', () => withBackend('interp', () => {
    const model = smallCnn(3).eval();
    const [fmodel, params] = makeFunctional(model);
    const loss = (p: Params, image: Tensor, label: Tensor) => crossEntropy(fmodel(p, image.unsqueeze(0)).squeeze(0), label);
    const images = randn([4, 1, 6, 6], { seed: 4 });
    const labels = tensor([0, 2, 1, 2], { dtype: 'int32' });
    const perSample = vmap(grad(loss), { inDims: [null, 0, 0] })(params, images, labels) as Params;
    const looped = [0, 1, 2, 3].map((i) => grad(loss)(params, images.select(0, i), labels.select(0, i)) as Params);
    for (const name of Object.keys(params)) {
      assert.deepEqual(perSample[name].shape, [4, ...params[name].shape]);
      assertAllClose(perSample[name], stack(looped.map((g) => g[name])), { rtol: 1e-4, atol: 1e-6 });
    }
  }));
});

describe('MAML', () => {
  test('the meta-gradient through inner SGD steps agrees with finite differences', () => withBackend('interp', () => {
    const model = new nn.MLP([1, 6, 1], { activation: 'tanh', seed: 7 });
    const [fmodel, params] = makeFunctional(model);
    const support = randn([5, 1], { seed: 8 });
    const query = randn([5, 1], { seed: 9 });
    const target = (x: Tensor) => x.mul(2).add(0.5).sin();
    const taskLoss = (p: Params, x: Tensor) => mseLoss(fmodel(p, x), target(x));
    const adapt = (p: Params): Params => {
      let fast = p;
      for (let step = 0; step < 2; step++) {
        const g = grad(taskLoss)(fast, support) as Params;
        fast = Object.fromEntries(Object.entries(fast).map(([k, v]) => [k, v.sub(g[k].mul(0.3))]));
      }
      return fast;
    };
    const metaLoss = (p: Params) => taskLoss(adapt(p), query);
    checkGrads(metaLoss, [params], { order: 1, modes: ['rev'], tol: 1e-4 });
    // The meta-gradient differs from the gradient that ignores the inner steps' dependence on p.
    const meta = grad(metaLoss)(params) as Params;
    const firstOrder = grad((p: Params) => taskLoss(p, query))(params) as Params;
    assert.ok(Object.keys(params).some((k) => meta[k].sub(firstOrder[k]).abs().max().item() > 1e-4));
  }));
});
