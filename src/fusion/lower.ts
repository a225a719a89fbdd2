/**
 * Lowering: the value of a DAG node at a symbolic index, as a kernel expression. Elementwise
 * ops become expression nodes, movement ops only transform the index (so they cost nothing),
 * reductions become loops, and nodes on the kernel's boundary (inputs and the outputs of
 * other kernels) become loads.
 */
import { opOfKind } from '../lazy/primitive.js';
import type { Node } from '../lazy/node.js';
import { stridesOf } from '../lazy/shape.js';
import {
  dynamicIndex,
  floorDivIndex,
  linearIndex,
  modIndex,
  newVar,
  offsetIndex,
  scaleIndex,
  varIndex,
  ZERO,
  type Affine,
  type LoopVar,
} from './affine.js';
import type { Bound, CheckExpr, Expr, ExprBuilder } from './expr.js';

type Ranges = readonly (readonly [number, number])[];

/**
 * Bounds the work of lowering one kernel (Lowerer.limit): a node that `canStore` is loaded
 * instead of computed once it has been computed at `instances` distinct indices, or at
 * `expensiveInstances` when `isExpensive` (given the node and its first instance) says that
 * recomputing it costs more than storing it.
 */
export interface LoweringLimit {
  readonly instances: number;
  readonly expensiveInstances: number;
  readonly canStore: (node: Node) => boolean;
  readonly isExpensive: (node: Node, first: Expr) => boolean;
}

/** Lowers nodes of one kernel; `isBoundary` says which nodes are read from buffers. */
export class Lowerer {
  /** Per index (by its key), the value of each node computed at it. */
  private readonly memo = new Map<string, Map<Node, Expr>>();
  /**
   * The same maps by index identity: an elementwise op hands its own index to every input,
   * so most lookups find the very array, without building the index's key.
   */
  private readonly memoByIndex = new Map<readonly Affine[], Map<Node, Expr>>();

  constructor(
    readonly builder: ExprBuilder,
    private readonly isBoundary: (node: Node) => boolean,
  ) {}

  /**
   * Every node computed from its definition rather than loaded, whether or not an expression
   * names it (a where on a constant condition folds into its operand's expression): the
   * nodes whose materialization changes what this kernel reads (with the distinct indices
   * each is computed at).
   */
  get computed(): ReadonlyMap<Node, { readonly count: number }> {
    return this.instances;
  }

  /**
   * Per node computed so far, the distinct indices it has been computed at and its first
   * instance (what `limit.isExpensive` judges): one record, one lookup per node lowered.
   * The record is also the memo of that first instance (`at`: the memo of its index), so a
   * node computed at one index only (most) is entered in one map, not two.
   */
  private readonly instances = new Map<Node, { count: number; readonly first: Expr; readonly at: Map<Node, Expr> }>();
  /** Nodes read at more indices than `limit.instances` allows: loaded from here on; the caller must store them. */
  readonly overflowed = new Set<Node>();
  /**
   * Bounds the work of lowering one kernel: a node that `limit.canStore` and that is needed
   * at more distinct indices than `limit.instances` is loaded instead (a loop whose steps
   * each read the last value at a new index would otherwise grow the kernel quadratically).
   */
  limit: LoweringLimit | null = null;

  /** The value of `node` at `index` (one index expression per axis of its shape). */
  lower(node: Node, index: readonly Affine[]): Expr {
    // Hot: a node read again at the index it was computed at (by this very index array, as an
    // elementwise op hands its own to every input) is that value, unless it overflowed since.
    const byIndex = this.memoByIndex.get(index);
    const known = byIndex && this.memoized(node, byIndex);
    if (known !== undefined && (this.overflowed.size === 0 || !this.overflowed.has(node))) return known;
    if (this.isBoundary(node) || this.overflowed.has(node)) return this.builder.load(node, linearIndex(index, stridesOf(node.shape)));
    if (this.limit && this.overLimit(node) && this.memoized(node, this.memoAt(index)) === undefined) {
      this.overflowed.add(node);
      return this.builder.load(node, linearIndex(index, stridesOf(node.shape)));
    }
    return this.lowerDefinition(node, index);
  }

  /** Whether one more instance of `node` would pass `limit` (the caller has checked that a limit is set). */
  private overLimit(node: Node): boolean {
    const seen = this.instances.get(node);
    const count = seen?.count ?? 0;
    const limit = this.limit!;
    if (count < limit.expensiveInstances || !limit.canStore(node)) return false;
    return count >= limit.instances || limit.isExpensive(node, seen!.first);
  }

  /** The values computed at `index` so far, by node. */
  private memoAt(index: readonly Affine[]): Map<Node, Expr> {
    let byNode = this.memoByIndex.get(index);
    if (!byNode) {
      const key = index.map((a) => a.key).join(',');
      byNode = this.memo.get(key);
      if (!byNode) this.memo.set(key, (byNode = new Map()));
      this.memoByIndex.set(index, byNode);
    }
    return byNode;
  }

  /** The value of `node` computed at the index whose memo is `byNode`, if it was. */
  private memoized(node: Node, byNode: Map<Node, Expr>): Expr | undefined {
    const record = this.instances.get(node);
    if (record === undefined) return undefined;
    return record.at === byNode ? record.first : byNode.get(node);
  }

  /** The value of `node` computed from its inputs, even if it is materialized elsewhere. */
  lowerDefinition(node: Node, index: readonly Affine[]): Expr {
    const byNode = this.memoAt(index);
    // Computing a node lowers only nodes below it, never itself: its record stays as read here.
    const record = this.instances.get(node);
    if (record !== undefined) {
      const seen = record.at === byNode ? record.first : byNode.get(node);
      if (seen) return seen;
    }
    const value = this.compute(node, index);
    if (node.rule.kind !== 'movement') value.origin ??= node;
    if (record) {
      record.count++;
      byNode.set(node, value);
    } else {
      this.instances.set(node, { count: 1, first: value, at: byNode });
    }
    return value;
  }

  private compute(node: Node, index: readonly Affine[]): Expr {
    const b = this.builder;
    switch (node.rule.kind) {
      case 'leaf': return this.leaf(node, index);
      case 'elementwise': {
        const { inputs } = node;
        const args = new Array<Expr>(inputs.length);
        for (let k = 0; k < inputs.length; k++) args[k] = this.lower(inputs[k], index);
        return b.op(opOfKind(node, 'elementwise'), node.dtype, args);
      }
      case 'movement': return this.movement(node, index);
      case 'reduce': {
        const [input] = node.inputs;
        const loops: LoopVar[] = [];
        const inner = input.shape.map((d, axis) => {
          if (node.shape[axis] !== 1 || d === 1) return index[axis];
          const v = newVar(d, 'reduce');
          loops.push(v);
          return varIndex(v);
        });
        return b.reduce(node.op === 'reduce_max' ? 'max' : 'sum', loops, this.lower(input, inner), node.dtype);
      }
      case 'index': {
        if (node.op !== 'gather') throw new Error(`functs internal error: ${node.op} must be materialized by its own kernel`);
        const [x, idx] = node.inputs;
        const axis = node.attrs.axis as number;
        const at = this.checkedIndex(this.lower(idx, index), x.shape[axis], `gather: input shape [${x.shape.join(', ')}]`);
        return this.lower(x, index.map((a, d) => (d === axis ? at : a)));
      }
      case 'opaque': throw new Error(`functs internal error: ${node.op} must be computed by a call step of its own`);
      default: return node.rule.kind satisfies never;
    }
  }

  /** A data-dependent index, checked against `size` and wrapped when negative. */
  checkedIndex(value: Expr, size: number, what: string): Affine {
    const checked: CheckExpr = this.builder.check(value, size, what);
    return dynamicIndex(checked, 0, size - 1);
  }

  private leaf(node: Node, index: readonly Affine[]): Expr {
    const b = this.builder;
    const op = opOfKind(node, 'leaf');
    switch (op) {
      // A user's constant keeps IEEE arithmetic; a symbolic zero (build.ts) folds away.
      case 'const': return b.constant(Number(node.attrs.value), node.dtype, node.attrs.symbolic !== true);
      case 'iota': return b.indexValue(index[node.attrs.axis as number], node.dtype);
      case 'random': {
        const flat = linearIndex(index, stridesOf(node.shape));
        return b.random(node.attrs.seed as number, node.attrs.distribution === 'normal' ? 'normal' : 'uniform', flat, node.dtype);
      }
      case 'buffer':
      case 'param':
        // Always boundary nodes: the kernel reads them from a buffer.
        throw new Error(`functs internal error: leaf ${op} reached lowering without a buffer`);
      default:
        return op satisfies never;
    }
  }

  private movement(node: Node, index: readonly Affine[]): Expr {
    const [input] = node.inputs;
    const inShape = input.shape;
    const op = opOfKind(node, 'movement');
    switch (op) {
      case 'reshape': {
        const flat = linearIndex(index, stridesOf(node.shape));
        const strides = stridesOf(inShape);
        return this.lower(input, inShape.map((d, axis) => (d === 1 ? ZERO : modIndex(floorDivIndex(flat, strides[axis]), d))));
      }
      case 'permute': {
        const perm = node.attrs.perm as number[];
        const inner = new Array<Affine>(perm.length);
        perm.forEach((p, d) => (inner[p] = index[d]));
        return this.lower(input, inner);
      }
      case 'expand':
        return this.lower(input, inShape.map((d, axis) => (d === 1 ? ZERO : index[axis])));
      case 'shrink': {
        const ranges = node.attrs.ranges as Ranges;
        return this.lower(input, index.map((a, axis) => offsetIndex(a, ranges[axis][0])));
      }
      case 'flip': {
        const axes = node.attrs.axes as number[];
        return this.lower(input, index.map((a, axis) => (axes.includes(axis) ? offsetIndex(scaleIndex(a, -1), inShape[axis] - 1) : a)));
      }
      case 'pad': {
        const pads = node.attrs.pads as Ranges;
        const inner = index.map((a, axis) => offsetIndex(a, -pads[axis][0]));
        const bounds: Bound[] = inner.map((a, axis) => ({ index: a, lo: 0, hi: inShape[axis] - 1 }));
        return this.builder.guard(bounds, this.lower(input, inner));
      }
      default:
        return op satisfies never;
    }
  }
}
