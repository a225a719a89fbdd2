/** vmap: maps a function over an axis of its inputs by rewriting its DAG with batching rules. */
import { bufferNode, paramNode } from '../lazy/build.js';
import { allocate, type DType, type TypedArray } from '../lazy/dtype.js';
import { ArgumentError, describeValue, IndexError, ShapeError } from '../lazy/errors.js';
import { topoSort, type Node } from '../lazy/node.js';
import { broadcastPrefix, treeFlatten, treeUnflatten, type TreeDef } from '../lazy/pytree.js';
import { realizeAll } from '../lazy/realize.js';
import { formatShape, sizeOf } from '../lazy/shape.js';
import { Tensor } from '../lazy/tensor.js';
import { withVmapFrame, type Randomness } from '../lazy/trace.js';
import { concat } from '../lazy/ops/movement.js';
import { flattenOutput } from './trace.js';
import { placeBatch, pushBatch, type Batched } from './walks.js';

/** Where the batch axis is, per argument or output: a number, null (not mapped), or a pytree of those. */
export type AxisSpec = number | null | readonly AxisSpec[] | { readonly [key: string]: AxisSpec };

export interface VmapOptions {
  /** Batch axis of each argument (default 0 for all). A single number or null applies to every argument. */
  inDims?: AxisSpec;
  /** Where the batch axis goes in each output (default 0). */
  outDims?: AxisSpec;
  /** Compute at most this many examples at once (bounds memory; results are the same). */
  chunkSize?: number;
  /** Random ops inside: 'error' (default) throws, 'different' draws per example, 'same' shares one draw. */
  randomness?: Randomness;
}

let nextFrameId = 1;

const isAxisLeaf = (x: unknown): x is number | null => x === null || typeof x === 'number';

function normalizeDim(dim: number, rank: number, what: string, shape: readonly number[]): number {
  if (!Number.isInteger(dim) || dim < -rank || dim >= rank) {
    throw new IndexError(`vmap: ${what} is ${dim}, which points past the rank of an argument of shape ${formatShape(shape)}; use an axis in [${-rank}, ${rank - 1}] or null`);
  }
  return dim < 0 ? dim + rank : dim;
}

function lastBatchingFrame(node: Node): number | undefined {
  const frames = node.attrs.batchedBy as number[] | undefined;
  return frames && frames.length ? frames[frames.length - 1] : undefined;
}

/**
 * Maps `f` over an axis of its inputs: `vmap(f)(X)` equals stacking `f(x)` for each slice x
 * of X, computed as one batched program.
 * @example
 * vmap((x: Tensor) => x.dot(x))(randn([8, 3], { seed: 0 })); // shape [8]
 * vmap(grad(loss), { inDims: [null, 0, 0] })(params, xs, ys); // per-sample gradients
 */
export function vmap<Args extends unknown[], Out>(f: (...args: Args) => Out, opts: VmapOptions = {}): (...args: Args) => Out {
  const randomness = opts.randomness ?? 'error';
  if (!['error', 'different', 'same'].includes(randomness)) throw new ArgumentError(`vmap: randomness must be 'error', 'different' or 'same', got ${describeValue(randomness)}`);
  if (opts.chunkSize !== undefined && (!Number.isInteger(opts.chunkSize) || opts.chunkSize <= 0)) {
    throw new ArgumentError(`vmap: chunkSize ${opts.chunkSize} must be a positive whole number`);
  }
  return (...args: Args): Out => {
    // null is a value here (not mapped), not a missing option: only undefined defaults.
    const inDims = opts.inDims === undefined ? 0 : opts.inDims;
    if (Array.isArray(inDims) && inDims.length !== args.length) {
      throw new ArgumentError(`vmap: inDims has ${inDims.length} entries but the function got ${args.length} arguments; give one entry (a number, null or a pytree) per argument`);
    }
    const perArg = isAxisLeaf(inDims) ? args.map(() => inDims) : inDims;
    const dims = broadcastPrefix(perArg, args, 'vmap inDims', isAxisLeaf);
    const [leaves, def] = treeFlatten(args);
    const axes = leaves.map((leaf, i) => {
      const d = dims[i];
      if (d === null) return null;
      if (!(leaf instanceof Tensor)) throw new ArgumentError(`vmap: argument leaf ${i} is ${typeof leaf}, not a tensor, but inDims maps it over axis ${d}; give null for it in inDims`);
      return normalizeDim(d, leaf.rank, `inDims entry ${d}`, leaf.shape);
    });
    const sizes = new Set<number>();
    axes.forEach((a, i) => a !== null && sizes.add((leaves[i] as Tensor).shape[a]));
    if (sizes.size === 0) throw new ArgumentError('vmap: no argument is mapped (every inDims entry is null); map at least one tensor');
    if (sizes.size > 1) {
      const described = axes.flatMap((a, i) => (a === null ? [] : [`${formatShape((leaves[i] as Tensor).shape)} over axis ${a}`])).join(', ');
      throw new ShapeError(`vmap: mapped axes have different sizes: ${described}; every mapped axis must have one size`);
    }
    const [size] = sizes;
    const outDims = opts.outDims === undefined ? 0 : opts.outDims;
    const run = (l: readonly unknown[], chunk: Chunk) => mapOnce(f as (...a: unknown[]) => unknown, l, def, axes, chunk, randomness, outDims);
    const whole = { start: 0, size, total: size };
    const mapped = opts.chunkSize !== undefined && size > opts.chunkSize ? mapInChunks(leaves, axes, size, opts.chunkSize, run) : run(leaves, whole);
    return treeUnflatten(mapped.def, mapped.outs) as Out;
  };
}

interface Mapped {
  outs: Tensor[];
  def: TreeDef;
  /** Where each output's batch axis ended up (null: not mapped, by outDims null). */
  axes: (number | null)[];
}

/** The examples one call of the mapped function computes: [start, start + size) of total. */
interface Chunk {
  readonly start: number;
  readonly size: number;
  readonly total: number;
}

/**
 * The batched value of a random leaf drawn per example: the draw for the whole batch,
 * sliced to the chunk, so that chunking never changes which sample an example gets.
 */
function drawPerExample(node: Node, chunk: Chunk): Batched {
  const rule = node.rule.batch;
  if (rule === 'leaf') throw new Error(`functs internal error: ${node.op} has no batching rule`);
  const [all, dim] = rule([], [], node, chunk.total);
  if (chunk.size === chunk.total) return { value: all, dim };
  return { value: all.slice(all.shape.map((_, d) => (d === dim ? [chunk.start, chunk.start + chunk.size] : null))), dim };
}

function mapOnce(f: (...args: unknown[]) => unknown, leaves: readonly unknown[], def: TreeDef, axes: readonly (number | null)[], chunk: Chunk, randomness: Randomness, outDims: AxisSpec): Mapped {
  const size = chunk.size;
  const frame = { id: nextFrameId++, randomness };
  const seeds = new Map<Node, Batched>();
  const callLeaves = leaves.map((leaf, i) => {
    const axis = axes[i];
    if (axis === null) return leaf;
    const t = leaf as Tensor;
    const param = paramNode(t.shape.filter((_, d) => d !== axis), t.dtype, null, 'vmap');
    seeds.set(param, { value: t, dim: axis });
    return new Tensor(param);
  });
  const callArgs = treeUnflatten(def, callLeaves) as unknown[];
  const out = withVmapFrame(frame, () => f(...callArgs));
  const { leaves: outLeaves, def: outDef } = flattenOutput(out, 'vmap');
  const outNodes = outLeaves.map((t) => t.node);
  for (const n of topoSort(outNodes)) {
    if (n.op === 'random' && lastBatchingFrame(n) === frame.id) seeds.set(n, drawPerExample(n, chunk));
  }
  const batched = pushBatch(outNodes, seeds, size);
  const outAxes = broadcastPrefix(outDims, out, 'vmap outDims', isAxisLeaf);
  const placedAxes: (number | null)[] = [];
  const outs = batched.map((b, i) => {
    const axis = outAxes[i];
    if (axis === null) {
      if (b.dim !== null) throw new ArgumentError(`vmap: outDims is null for output ${i}, but that output differs between examples; give it a batch axis`);
      placedAxes.push(null);
      return b.value;
    }
    const rank = b.value.rank + (b.dim === null ? 1 : 0);
    const at = normalizeDim(axis, rank, `outDims entry ${axis}`, b.value.shape);
    placedAxes.push(at);
    return placeBatch(b, at, size);
  });
  return { outs, def: outDef, axes: placedAxes };
}

/**
 * Runs the mapped function on slices of at most `chunk` examples. Each slice's results are
 * computed before the next slice is traced (when they can be: not under an outer
 * transform), so at most `chunk` examples are in flight, and are copied at once into the
 * output, which is allocated once: the peak holds the output and one chunk's results, not
 * every chunk's results and their concatenation. Results that cannot be computed yet (under
 * an outer transform) are concatenated lazily.
 */
function mapInChunks(leaves: readonly unknown[], axes: readonly (number | null)[], size: number, chunk: number, run: (leaves: unknown[], chunk: Chunk) => Mapped): Mapped {
  // Per output: its full shape and dtype, and either the output being filled or the lazy
  // pieces to concatenate (where a device cannot be read synchronously, chunks stay on it and
  // are concatenated there). Of the chunks' results only the unmapped ones (those of the first
  // chunk) are kept; the others are garbage once copied.
  let structure: { def: TreeDef; axes: (number | null)[]; unmapped: (Tensor | undefined)[] } | undefined;
  const outputs: { shape: number[]; dtype: DType; filled?: TypedArray; pieces: Tensor[] }[] = [];
  for (let start = 0; start < size; start += chunk) {
    const end = Math.min(size, start + chunk);
    const sliced = leaves.map((leaf, i) => {
      const axis = axes[i];
      if (axis === null) return leaf;
      const t = leaf as Tensor;
      return t.slice(t.shape.map((_, d) => (d === axis ? [start, end] : null)));
    });
    const mapped = run(sliced, { start, size: end - start, total: size });
    structure ??= { def: mapped.def, axes: mapped.axes, unmapped: mapped.outs.map((t, i) => (mapped.axes[i] === null ? t : undefined)) };
    const concrete = mapped.outs.filter((t) => !t.node.readsParam);
    if (concrete.length) realizeAll(concrete.map((t) => t.node));
    mapped.outs.forEach((t, i) => {
      const axis = mapped.axes[i];
      if (axis === null) return;
      if (start === 0) {
        const shape = t.shape.map((d, k) => (k === axis ? size : d));
        outputs[i] = { shape, dtype: t.dtype, pieces: [], ...(t.node.realized?.readableNow() ? { filled: allocate(t.dtype, sizeOf(shape)) } : {}) };
      }
      const { filled, pieces } = outputs[i];
      if (filled) copyChunk((t.node.realized ?? realizeAll([t.node])[0]).readSync('vmap'), t.shape, axis, filled, start, size);
      else pieces.push(t);
    });
  }
  const { def, axes: outAxes, unmapped } = structure!;
  const outs = unmapped.map((t, i) => {
    const axis = outAxes[i];
    if (axis === null) return t!;
    const { shape, dtype, filled, pieces } = outputs[i];
    return filled ? new Tensor(bufferNode(filled, shape, dtype)) : concat(pieces, axis);
  });
  return { outs, def, axes: outAxes };
}

/** Copies a chunk's values (`shape`, mapped along `axis`) to examples `start...` of `out`, which holds `total` examples. */
function copyChunk(data: TypedArray, shape: readonly number[], axis: number, out: TypedArray, start: number, total: number): void {
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const block = shape[axis] * inner;
  for (let p = 0; p < outer; p++) out.set(data.subarray(p * block, (p + 1) * block), (p * total + start) * inner);
}
