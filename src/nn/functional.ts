/**
 * functorch's functional module API: a module's parameters and buffers become explicit
 * arguments of a pure function, so that grad, vmap, jacrev and jit can treat them as data.
 * A call swaps the given tensors into the module's slots, runs `forward` and puts the
 * module's own state back (updates a forward makes, such as BatchNorm's running statistics,
 * are dropped).
 */
import { ArgumentError, ShapeError } from '../lazy/errors.js';
import { realizeTree } from '../lazy/pytree.js';
import { formatShape } from '../lazy/shape.js';
import { Tensor } from '../lazy/tensor.js';
import { stack } from '../lazy/ops/index.js';
import { Module, type NamedTensors } from './module.js';

/** `fmodel(params, ...inputs)`: the module as a pure function of its parameters. */
export type FunctionalModule = (params: NamedTensors, ...inputs: Tensor[]) => Tensor;
/** `fmodel(params, buffers, ...inputs)`: the module as a pure function of its parameters and buffers. */
export type FunctionalModuleWithBuffers = (params: NamedTensors, buffers: NamedTensors, ...inputs: Tensor[]) => Tensor;

function checkModule(op: string, model: unknown): asserts model is Module {
  if (!(model instanceof Module)) throw new ArgumentError(`${op}: expected an nn.Module, got ${model === null ? 'null' : typeof model}`);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Runs `model.forward(...inputs)` with `state`'s tensors in place of the module's own. */
function callWith(op: string, model: Module, state: NamedTensors, inputs: readonly Tensor[]): Tensor {
  if (typeof state !== 'object' || state === null || state instanceof Tensor) {
    throw new ArgumentError(`${op}(${model.typeName}): parameters and buffers must be a plain object keyed by dotted names, e.g. {'0.weight': Tensor}`);
  }
  const slots = model.slots();
  for (const [path, value] of Object.entries(state)) {
    const slot = slots.get(path);
    if (!slot) throw new ArgumentError(`${op}(${model.typeName}): '${path}' is not a parameter or buffer of the model; it has ${[...slots.keys()].join(', ') || 'none'}`);
    if (!(value instanceof Tensor)) throw new ArgumentError(`${op}(${model.typeName}): '${path}' must be a Tensor, got ${value === null ? 'null' : typeof value}`);
    const own = slot.current();
    if (!sameShape(value.shape, own.shape)) {
      throw new ShapeError(`${op}(${model.typeName}): '${path}' (${slot.kind} of ${slot.owner.typeName}) has shape ${formatShape(value.shape)} but the module expects ${formatShape(own.shape)}`);
    }
  }
  const saved = [...slots.values()].map((slot) => [slot, slot.current()] as const);
  try {
    for (const [path, value] of Object.entries(state)) slots.get(path)!.set(value);
    return model.forward(...inputs);
  } finally {
    for (const [slot, value] of saved) slot.set(value);
  }
}

/**
 * Calls `model` with some or all of its parameters and buffers replaced by the tensors of
 * `state` (one object, or a list of objects that are merged), as torch.func.functional_call.
 * The module is left as it was.
 * @example
 * const model = new nn.Linear(3, 1, { seed: 0 });
 * const zeroed = { weight: zeros([1, 3]), bias: zeros([1]) };
 * functionalCall(model, zeroed, [ones([2, 3])]).toArray(); // [[0], [0]]
 */
export function functionalCall(model: Module, state: NamedTensors | readonly NamedTensors[], args: Tensor | readonly Tensor[]): Tensor {
  checkModule('functionalCall', model);
  const merged: NamedTensors = Array.isArray(state) ? Object.assign({}, ...(state as NamedTensors[])) : (state as NamedTensors);
  return callWith('functionalCall', model, merged, args instanceof Tensor ? [args] : args);
}

/** Checks that `given` has exactly the keys of `expected`, naming what is missing or extra. */
function checkKeys(op: string, model: Module, what: string, given: NamedTensors, expected: readonly string[]): void {
  if (typeof given !== 'object' || given === null || given instanceof Tensor) {
    throw new ArgumentError(`${op}(${model.typeName}): ${what} must be a plain object keyed by dotted names, got ${given === null ? 'null' : typeof given}`);
  }
  const missing = expected.filter((k) => !(k in given));
  const extra = Object.keys(given).filter((k) => !expected.includes(k));
  if (missing.length || extra.length) {
    const parts = [missing.length ? `lacks ${missing.map((k) => `'${k}'`).join(', ')}` : '', extra.length ? `has unknown ${extra.map((k) => `'${k}'`).join(', ')}` : ''].filter(Boolean);
    throw new ArgumentError(`${op}(${model.typeName}): ${what} ${parts.join(' and ')}; expected exactly ${expected.map((k) => `'${k}'`).join(', ') || 'no entries'}`);
  }
}

/**
 * Splits a module into a pure function and its parameters, as functorch's make_functional:
 * `fmodel(params, ...inputs)` equals `model(...inputs)` when `params` are the module's own.
 * Buffers are read from the module.
 * @example
 * const model = new nn.MLP([2, 8, 1], { seed: 0 });
 * const [fmodel, params] = makeFunctional(model);
 * const x = randn([4, 2], { seed: 1 });
 * const grads = grad((p: typeof params) => fmodel(p, x).square().mean())(params); // keyed like params
 */
export function makeFunctional(model: Module): [FunctionalModule, NamedTensors] {
  checkModule('makeFunctional', model);
  const params = Object.fromEntries(model.namedParameters());
  const names = Object.keys(params);
  const fmodel: FunctionalModule = (p, ...inputs) => {
    checkKeys('makeFunctional', model, 'params', p, names);
    return callWith('makeFunctional', model, p, inputs);
  };
  return [fmodel, params];
}

/**
 * As `makeFunctional`, with the buffers as a second explicit argument:
 * `fmodel(params, buffers, ...inputs)`.
 * @example
 * const model = new nn.Sequential(new nn.Linear(3, 4), new nn.BatchNorm(4)).eval();
 * const [fmodel, params, buffers] = makeFunctionalWithBuffers(model);
 * fmodel(params, buffers, randn([2, 3], { seed: 0 })).shape; // [2, 4]
 */
export function makeFunctionalWithBuffers(model: Module): [FunctionalModuleWithBuffers, NamedTensors, NamedTensors] {
  checkModule('makeFunctionalWithBuffers', model);
  const params = Object.fromEntries(model.namedParameters());
  const buffers = Object.fromEntries(model.namedBuffers());
  const paramNames = Object.keys(params);
  const bufferNames = Object.keys(buffers);
  const fmodel: FunctionalModuleWithBuffers = (p, b, ...inputs) => {
    checkKeys('makeFunctionalWithBuffers', model, 'params', p, paramNames);
    checkKeys('makeFunctionalWithBuffers', model, 'buffers', b, bufferNames);
    return callWith('makeFunctionalWithBuffers', model, { ...p, ...b }, inputs);
  };
  return [fmodel, params, buffers];
}

function stackNamed(op: string, models: readonly Module[], pick: (m: Module) => [string, Tensor][], what: string): NamedTensors {
  const first = pick(models[0]);
  const names = first.map(([n]) => n);
  const columns = first.map(([, t]) => [t]);
  models.slice(1).forEach((m, k) => {
    const i = k + 1;
    const entries = new Map(pick(m));
    const missing = names.filter((n) => !entries.has(n));
    const extra = [...entries.keys()].filter((n) => !names.includes(n));
    if (missing.length || extra.length) {
      throw new ArgumentError(`${op}: models[${i}] (${m.typeName}) ${missing.length ? `has no ${what} ${missing.map((n) => `'${n}'`).join(', ')}` : `has extra ${what} ${extra.map((n) => `'${n}'`).join(', ')}`} that models[0] (${models[0].typeName}) ${missing.length ? 'has' : 'lacks'}; the models must share one structure`);
    }
    names.forEach((n, j) => {
      const t = entries.get(n)!;
      const ref = columns[j][0];
      if (!sameShape(t.shape, ref.shape)) throw new ShapeError(`${op}: ${what} '${n}' of models[${i}] (${m.typeName}) has shape ${formatShape(t.shape)} but models[0]'s has ${formatShape(ref.shape)}`);
      columns[j].push(t);
    });
  });
  return realizeTree(Object.fromEntries(names.map((n, j) => [n, stack(columns[j])])));
}

function checkModels(op: string, models: readonly Module[]): void {
  if (!Array.isArray(models) || models.length === 0) throw new ArgumentError(`${op}: expects a non-empty array of modules`);
  models.forEach((m, i) => {
    if (!(m instanceof Module)) throw new ArgumentError(`${op}: models[${i}] is not an nn.Module`);
  });
}

/**
 * Stacks the parameters and the buffers of models of one structure along a new leading
 * axis, as torch.func.stack_module_state: `[params, buffers]`, each keyed by dotted name
 * with leaves of shape `[models.length, ...]`.
 * @example
 * const models = [0, 1, 2].map((seed) => new nn.Linear(3, 2, { seed }));
 * const [params] = stackModuleState(models);
 * params.weight.shape; // [3, 2, 3]
 */
export function stackModuleState(models: readonly Module[]): [NamedTensors, NamedTensors] {
  checkModels('stackModuleState', models);
  return [stackNamed('stackModuleState', models, (m) => m.namedParameters(), 'parameter'), stackNamed('stackModuleState', models, (m) => m.namedBuffers(), 'buffer')];
}

/**
 * Prepares an ensemble of models of one structure for vmap, as functorch's
 * combine_state_for_ensemble: `[fmodel, params, buffers]` with the parameters and buffers
 * stacked along a new leading axis. `vmap(fmodel, {inDims: [0, 0, null]})(params, buffers, x)`
 * runs every model on the same `x`; `inDims: [0, 0, 0]` gives each model its own input.
 * @example
 * const models = [0, 1, 2, 3].map((seed) => new nn.MLP([3, 16, 1], { seed }));
 * const [fmodel, params, buffers] = combineStateForEnsemble(models);
 * vmap(fmodel, { inDims: [0, 0, null] })(params, buffers, randn([5, 3], { seed: 9 })).shape; // [4, 5, 1]
 */
export function combineStateForEnsemble(models: readonly Module[]): [FunctionalModuleWithBuffers, NamedTensors, NamedTensors] {
  checkModels('combineStateForEnsemble', models);
  models.forEach((m, i) => {
    if (m.constructor !== models[0].constructor) throw new ArgumentError(`combineStateForEnsemble: models[${i}] is a ${m.typeName} but models[0] is a ${models[0].typeName}; an ensemble needs one kind of model`);
    if (m.training !== models[0].training) throw new ArgumentError(`combineStateForEnsemble: models[${i}] is in ${m.training ? 'training' : 'eval'} mode but models[0] is not; call train() or eval() on all of them`);
  });
  const [params, buffers] = stackModuleState(models);
  const [fmodel] = makeFunctionalWithBuffers(models[0]);
  return [fmodel, params, buffers];
}
