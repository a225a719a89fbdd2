import type { DType, TypedArray } from './dtype.js';
import type { Attrs, Node } from './node.js';
import type { Shape } from './shape.js';
import type { Tensor } from './tensor.js';

/** How the scheduler and the transforms treat a primitive. */
export type PrimitiveKind = 'leaf' | 'elementwise' | 'reduce' | 'movement' | 'index' | 'opaque';

/**
 * What the hand-written function of an opaque primitive sees: its output's shape, dtype and
 * attributes and its inputs' shapes and dtypes, but no DAG (a Node is one; a compiled
 * program keeps only this, so it does not hold on to the DAG it was built from).
 */
export interface CallSignature {
  readonly op: string;
  readonly shape: Shape;
  readonly dtype: DType;
  readonly attrs: Attrs;
  readonly inputs: readonly { readonly shape: Shape; readonly dtype: DType }[];
}

/** Forward-mode rule: the tangent of the output from the tangents of the inputs (null = zero). */
export type JvpRule = (primals: Tensor[], tangents: (Tensor | null)[], out: Tensor, attrs: Attrs) => Tensor | null;

/** Reverse-mode (transpose) rule: the cotangent of each input (null = zero or not differentiable). */
export type VjpRule = (cotangent: Tensor, primals: Tensor[], out: Tensor, attrs: Attrs) => (Tensor | null)[];

/**
 * Batching rule: the op applied to inputs that carry a batch axis at `dims[i]` (null: not
 * batched); returns the result and its batch axis.
 */
export type BatchRule = (args: Tensor[], dims: (number | null)[], node: Node, batchSize: number) => [Tensor, number | null];

/**
 * The elementwise primitives' names. Each backend renders them from a table of its own
 * (`satisfies Record<ElementwiseOp, ...>`, so an op added here is a type error in every
 * backend until it has a rule).
 */
export const ELEMENTWISE_OPS = [
  'neg', 'recip', 'sqrt', 'exp', 'log', 'sin', 'cos', 'tanh', 'log1p', 'expm1', 'abs', 'sign',
  'floor', 'ceil', 'round', 'stop_gradient', 'add', 'mul', 'div', 'pow', 'max', 'lt', 'eq', 'where', 'cast',
  'logistic', 'random_bits',
] as const;
export type ElementwiseOp = (typeof ELEMENTWISE_OPS)[number];

/** Every primitive's name, by kind; a switch over OpName is checked exhaustive (`satisfies never`). */
export const OPS_BY_KIND = {
  leaf: ['const', 'buffer', 'param', 'iota', 'random'],
  elementwise: ELEMENTWISE_OPS,
  reduce: ['reduce_sum', 'reduce_max'],
  movement: ['reshape', 'permute', 'expand', 'pad', 'shrink', 'flip'],
  index: ['gather', 'scatter_add'],
  opaque: ['solve', 'triangular_solve', 'cholesky', 'slogdet', 'eigh'],
} as const satisfies Record<PrimitiveKind, readonly string[]>;
export type OpName = (typeof OPS_BY_KIND)[PrimitiveKind][number];
/** The names of one kind's primitives ('movement': reshape, permute, ...). */
export type OpOfKind<K extends PrimitiveKind> = (typeof OPS_BY_KIND)[K][number];

/**
 * A node's op narrowed to its kind's names, for a switch checked exhaustive: registration
 * (registerPrimitive) holds every rule's name to its kind's list, so the cast is sound.
 */
export function opOfKind<K extends PrimitiveKind>(node: { readonly op: OpName; readonly rule: { readonly kind: PrimitiveKind } }, kind: K): OpOfKind<K> {
  if (node.rule.kind !== kind) throw new Error(`functs internal error: ${node.op} is a ${node.rule.kind} op, not ${kind}`);
  return node.op as OpOfKind<K>;
}

export function isElementwiseOp(op: string): op is ElementwiseOp {
  return (ELEMENTWISE_OPS as readonly string[]).includes(op);
}

/** Everything functs knows about one primitive, in one place. */
export interface PrimitiveRule {
  readonly op: OpName;
  readonly kind: PrimitiveKind;
  readonly arity: number;
  /** Shape and dtype of the result; throws one of the error classes on bad input. */
  infer(inputs: readonly Node[], attrs: Attrs): { shape: Shape; dtype: DType };
  /** The reference implementation: computes the value from the input values. */
  evaluate(inputs: readonly TypedArray[], node: Node, inputNodes: readonly Node[]): TypedArray;
  /** Leaves have no derivative or batching rules: they are constants or Params. */
  readonly jvp: JvpRule | 'leaf';
  readonly vjp: VjpRule | 'leaf';
  readonly batch: BatchRule | 'leaf';
  /** Elementwise ops: the scalar function (reference and constant folding). */
  readonly scalar?: (...xs: number[]) => number;
  /** Elementwise ops whose scalar function depends on the result dtype (int32 mul, cast). */
  readonly scalarFor?: (dtype: DType) => (...xs: number[]) => number;
  /**
   * Opaque ops (kind 'opaque': factorizations, solves): writes the result into `out` from
   * contiguous row-major inputs. The scheduler never fuses such an op; it runs as a step of
   * its own that calls this function on its materialized inputs.
   */
  readonly compute?: (out: TypedArray, inputs: readonly TypedArray[], signature: CallSignature) => void;
}

const registry = new Map<string, PrimitiveRule>();

export function registerPrimitive<R extends PrimitiveRule>(rule: R): R {
  if (!(OPS_BY_KIND[rule.kind] as readonly string[]).includes(rule.op)) throw new Error(`primitive ${rule.op} is not listed as a ${rule.kind} op in OPS_BY_KIND`);
  if (registry.has(rule.op)) throw new Error(`primitive ${rule.op} registered twice`);
  registry.set(rule.op, rule);
  return rule;
}

export function primitiveRule(op: string): PrimitiveRule {
  const rule = registry.get(op);
  if (!rule) throw new Error(`functs internal error: unknown primitive ${op}`);
  return rule;
}

/** The scalar function of an elementwise primitive computing in `dtype`. */
export function scalarFunction(rule: PrimitiveRule, dtype: DType): (...xs: number[]) => number {
  const f = rule.scalarFor ? rule.scalarFor(dtype) : rule.scalar;
  if (!f) throw new Error(`functs internal error: ${rule.op} has no scalar function`);
  return f;
}

export function allPrimitives(): PrimitiveRule[] {
  return [...registry.values()];
}
