/**
 * Module: a container of named parameters, buffers and child modules, in PyTorch's shape.
 * A module is callable: `new nn.Linear(3, 2)` returns a function object whose prototype is
 * Linear's, so `model(x)` runs `model.forward(x)` and `model instanceof nn.Linear` holds.
 * Parameters and buffers live in maps and are read through accessors; the functional
 * utilities swap the maps' entries for the duration of one call, which is how one module
 * definition serves both `model(x)` and `fmodel(params, x)`.
 */
import { ArgumentError, DTypeError, ShapeError } from '../lazy/errors.js';
import { formatShape } from '../lazy/shape.js';
import { Tensor } from '../lazy/tensor.js';
import { tensor } from '../lazy/ops/index.js';
import type { DType } from '../lazy/dtype.js';

/** Tensors keyed by their dotted names (`'layers.0.weight'`): a module's parameters, buffers or state. */
export type NamedTensors = Record<string, Tensor>;

/** One tensor of a saved state, in a form JSON can hold. */
export interface SerializedTensor {
  shape: number[];
  dtype: DType;
  data: number[];
}

/** A state as `toJSON()` writes it. */
export type SerializedState = Record<string, SerializedTensor>;

const DTYPES: readonly DType[] = ['float32', 'float64', 'int32', 'bool'];

function isSerializedTensor(x: unknown): x is SerializedTensor {
  if (typeof x !== 'object' || x === null || x instanceof Tensor) return false;
  const o = x as Record<string, unknown>;
  return Array.isArray(o.shape) && Array.isArray(o.data) && typeof o.dtype === 'string';
}

function deserialize(where: string, value: SerializedTensor): Tensor {
  if (!DTYPES.includes(value.dtype)) throw new DTypeError(`${where}: saved dtype ${JSON.stringify(value.dtype)} is not one of ${DTYPES.join(', ')}`);
  return tensor(value.data, { shape: value.shape, dtype: value.dtype });
}

function serialize(t: Tensor): SerializedTensor {
  return { shape: [...t.shape], dtype: t.dtype, data: Array.from(t.dataSync(), Number) };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * The base class of every module. Subclasses register their parameters, buffers and child
 * modules in the constructor and implement `forward`; an instance is callable.
 * @example
 * class Affine extends Module {
 *   declare readonly scale: Tensor;
 *   constructor() {
 *     super();
 *     this.registerParameter('scale', ones([3]));
 *   }
 *   forward(x: Tensor): Tensor { return x.mul(this.scale); }
 * }
 * const m = new Affine();
 * m(tensor([1, 2, 3]));       // same as m.forward(...)
 * m.namedParameters();        // [['scale', Tensor]]
 */
export abstract class Module {
  /** Whether the module is in training mode (`train()`) or evaluation mode (`eval()`). */
  declare training: boolean;
  // Declared, not initialized: a base class's field initializers would run on the object
  // the constructor discards, so the constructor sets them on the callable it returns.
  private declare readonly parameterMap: Map<string, Tensor>;
  private declare readonly bufferMap: Map<string, Tensor>;
  private declare readonly moduleMap: Map<string, Module>;

  constructor() {
    // Returning a function from the base constructor makes it `this` for every subclass
    // constructor, so fields and registrations land on the callable object.
    const callable = function (this: unknown, ...inputs: Tensor[]): Tensor {
      return (callable as unknown as Module).forward(...inputs);
    };
    // A function's own `name` and `length` are read-only; a module may want those names.
    delete (callable as { name?: string }).name;
    delete (callable as { length?: number }).length;
    Object.setPrototypeOf(callable, new.target.prototype);
    const self = callable as unknown as { training: boolean; parameterMap: Map<string, Tensor>; bufferMap: Map<string, Tensor>; moduleMap: Map<string, Module> };
    self.training = true;
    self.parameterMap = new Map();
    self.bufferMap = new Map();
    self.moduleMap = new Map();
    return callable as unknown as Module;
  }

  /** Runs the module; calling the module itself does the same. */
  abstract forward(...inputs: Tensor[]): Tensor;

  /** The name used in messages: the class name. */
  get typeName(): string {
    return this.constructor.name || 'Module';
  }

  /**
   * Adds a trainable tensor, readable afterwards as `this[name]` (declare the field with
   * `declare readonly name: Tensor` in TypeScript).
   * @example
   * this.registerParameter('weight', zeros([3, 3]));
   */
  registerParameter(name: string, value: Tensor): void {
    this.checkNewName(name, value);
    this.parameterMap.set(name, value);
    this.defineAccessor(name, this.parameterMap);
  }

  /**
   * Adds a tensor that is state but not trained (BatchNorm's running statistics), readable
   * as `this[name]`; a module may replace it with `this[name] = newValue`.
   * @example
   * this.registerBuffer('runningMean', zeros([8]));
   */
  registerBuffer(name: string, value: Tensor): void {
    this.checkNewName(name, value);
    this.bufferMap.set(name, value);
    this.defineAccessor(name, this.bufferMap);
  }

  /**
   * Adds a child module, readable as `this[name]`; its parameters appear as `name.param`.
   * @example
   * this.registerModule('encoder', new Linear(4, 2));
   */
  registerModule<M extends Module>(name: string, module: M): M {
    if (!(module instanceof Module)) throw new ArgumentError(`${this.typeName}.registerModule: '${name}' is not a Module`);
    this.checkName(name);
    this.moduleMap.set(name, module);
    Object.defineProperty(this, name, { get: () => this.moduleMap.get(name), enumerable: true, configurable: true });
    return module;
  }

  private checkName(name: string): void {
    if (!/^[A-Za-z0-9_]+$/.test(name)) throw new ArgumentError(`${this.typeName}: name ${JSON.stringify(name)} must be letters, digits or underscores (dots separate the levels of a path)`);
    if (this.parameterMap.has(name) || this.bufferMap.has(name) || this.moduleMap.has(name)) {
      throw new ArgumentError(`${this.typeName}: '${name}' is already registered; pick another name`);
    }
  }

  private checkNewName(name: string, value: Tensor): void {
    this.checkName(name);
    if (!(value instanceof Tensor)) throw new ArgumentError(`${this.typeName}: '${name}' must be a Tensor`);
  }

  private defineAccessor(name: string, map: Map<string, Tensor>): void {
    Object.defineProperty(this, name, {
      get: () => map.get(name),
      set: (value: Tensor) => {
        if (!(value instanceof Tensor)) throw new ArgumentError(`${this.typeName}: '${name}' must be set to a Tensor`);
        map.set(name, value);
      },
      enumerable: true,
      configurable: true,
    });
  }

  /** The child modules with their names, in registration order. */
  namedChildren(): [string, Module][] {
    return [...this.moduleMap];
  }

  /** This module and every descendant, with dotted names (this one is `''`). */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this.moduleMap) out.push(...child.namedModules(prefix ? `${prefix}.${name}` : name));
    return out;
  }

  /**
   * Every parameter with its dotted name, children's after this module's own.
   * @example
   * new Sequential(new Linear(2, 3), new ReLU(), new Linear(3, 1)).namedParameters().map(([n]) => n);
   * // ['0.weight', '0.bias', '2.weight', '2.bias']
   */
  namedParameters(): [string, Tensor][] {
    return this.collect((m) => m.parameterMap);
  }

  /** Every buffer with its dotted name. */
  namedBuffers(): [string, Tensor][] {
    return this.collect((m) => m.bufferMap);
  }

  /** The parameters, in the order of `namedParameters()`. */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** The buffers, in the order of `namedBuffers()`. */
  buffers(): Tensor[] {
    return this.namedBuffers().map(([, t]) => t);
  }

  private collect(pick: (m: Module) => Map<string, Tensor>): [string, Tensor][] {
    return this.namedModules().flatMap(([path, m]) => [...pick(m)].map(([name, t]) => [path ? `${path}.${name}` : name, t] as [string, Tensor]));
  }

  /**
   * Parameters and buffers as one object keyed by dotted names.
   * @example
   * const state = model.stateDict(); // { '0.weight': Tensor, '0.bias': Tensor, ... }
   */
  stateDict(): NamedTensors {
    return Object.fromEntries([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /**
   * Replaces parameters and buffers by the entries of `state` (tensors, or the serialized
   * form `toJSON()` writes). Every entry must name a parameter or buffer of the module and
   * keep its shape; with `strict` (the default) every parameter and buffer must be given.
   * @example
   * other.loadStateDict(model.stateDict());
   * other.loadStateDict(JSON.parse(JSON.stringify(model)));
   */
  loadStateDict(state: Record<string, Tensor | SerializedTensor>, opts: { strict?: boolean } = {}): this {
    const slots = this.slots();
    const incoming = new Map<string, Tensor>();
    for (const [path, value] of Object.entries(state)) {
      if (!slots.has(path)) throw new ArgumentError(`${this.typeName}.loadStateDict: '${path}' is not a parameter or buffer of this ${this.typeName}; it has ${[...slots.keys()].join(', ') || 'none'}`);
      const t = value instanceof Tensor ? value : isSerializedTensor(value) ? deserialize(`${this.typeName}.loadStateDict: '${path}'`, value) : undefined;
      if (!t) throw new ArgumentError(`${this.typeName}.loadStateDict: '${path}' is neither a Tensor nor {shape, dtype, data}`);
      const current = slots.get(path)!.current();
      if (!sameShape(t.shape, current.shape)) {
        throw new ShapeError(`${this.typeName}.loadStateDict: '${path}' has shape ${formatShape(t.shape)} but the module's is ${formatShape(current.shape)}`);
      }
      incoming.set(path, t.dtype === current.dtype ? t : t.cast(current.dtype));
    }
    if (opts.strict ?? true) {
      const missing = [...slots.keys()].filter((p) => !incoming.has(p));
      if (missing.length) throw new ArgumentError(`${this.typeName}.loadStateDict: missing ${missing.map((p) => `'${p}'`).join(', ')}; pass {strict: false} to load part of a state`);
    }
    for (const [path, t] of incoming) slots.get(path)!.set(t);
    return this;
  }

  /** The state in a form `JSON.stringify` writes (`JSON.stringify(model)` uses it); computes every tensor. */
  toJSON(): SerializedState {
    return Object.fromEntries(Object.entries(this.stateDict()).map(([path, t]) => [path, serialize(t)]));
  }

  /**
   * Every parameter and buffer slot by dotted path, with a getter and setter on the owning
   * module's map (the functional utilities swap values through these).
   * @internal
   */
  slots(): Map<string, { kind: 'parameter' | 'buffer'; owner: Module; current(): Tensor; set(t: Tensor): void }> {
    const out = new Map<string, { kind: 'parameter' | 'buffer'; owner: Module; current(): Tensor; set(t: Tensor): void }>();
    for (const [prefix, m] of this.namedModules()) {
      for (const [kind, map] of [['parameter', m.parameterMap], ['buffer', m.bufferMap]] as const) {
        for (const name of map.keys()) {
          out.set(prefix ? `${prefix}.${name}` : name, { kind, owner: m, current: () => map.get(name)!, set: (t) => map.set(name, t) });
        }
      }
    }
    return out;
  }

  /**
   * Sets training mode (dropout active, batch statistics used and tracked) on this module
   * and its descendants.
   * @example
   * model.train(); model.eval();
   */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  /** Sets evaluation mode (`train(false)`). */
  eval(): this {
    return this.train(false);
  }

  /** A one-line summary per module, indented by depth. */
  toString(): string {
    const lines: string[] = [];
    for (const [path, m] of this.namedModules()) {
      const depth = path ? path.split('.').length : 0;
      lines.push(`${'  '.repeat(depth)}${path ? `(${path.split('.').pop()}): ` : ''}${m.typeName}(${m.describe()})`);
    }
    return lines.join('\n');
  }

  /** What console.log shows (a module is a function object, which would print as `[Function]`). */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  /** The constructor arguments shown by `toString()`. */
  protected describe(): string {
    return '';
  }
}

/** A module is callable: `model(x)` runs `model.forward(x)`. */
export interface Module {
  (...inputs: Tensor[]): Tensor;
}
