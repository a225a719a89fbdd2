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

/** Everything functs knows about one primitive, in one place. */
export interface PrimitiveRule {
  readonly op: string;
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
  /** Elementwise ops: a JavaScript expression computing the op from its argument expressions. */
  readonly js?: (...args: string[]) => string;
  /**
   * Opaque ops (kind 'opaque': factorizations, solves): writes the result into `out` from
   * contiguous row-major inputs. The scheduler never fuses such an op; it runs as a step of
   * its own that calls this function on its materialized inputs.
   */
  readonly compute?: (out: TypedArray, inputs: readonly TypedArray[], signature: CallSignature) => void;
}

const registry = new Map<string, PrimitiveRule>();

export function registerPrimitive<R extends PrimitiveRule>(rule: R): R {
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
