/**
 * The scheduler: partitions the DAG below the requested nodes into kernels.
 *
 * Every node is inlined into the kernels that read it (elementwise and movement ops cost
 * nothing to move into a consumer; a movement op is only an index expression), except the
 * nodes this module decides to materialize:
 *  - the requested roots, and gathers and scatters (their index checks and their
 *    accumulation need a kernel of their own);
 *  - a reduction whose consumer would evaluate it more than once per element (it is read
 *    through a broadcast that loop-invariant placement cannot hoist it out of);
 *  - expensive work (transcendentals, reductions, random numbers) that a kernel would
 *    recompute across a broadcast, or that several kernels would each compute.
 * The decisions come from building each kernel and measuring, with the same placement the
 * code generator uses, how often every inlined node would be evaluated. Of the nodes worth
 * materializing, the outermost ones that do not contain another such node go first; the
 * kernels are then rebuilt, until nothing changes (a round takes with it the rounds after it
 * that its kernels already decide, without rebuilding them: laterLayers).
 *
 * Finally, kernels over the same iteration space that read the same buffers merge into one
 * kernel with several outputs, within the backend's cap on buffers per kernel.
 *
 * Opaque primitives (factorizations, solves) are never fused: each becomes a 'call' step
 * that runs the primitive's own function on buffers, so the nodes it reads are materialized.
 */
import { bytesPerElement } from '../lazy/dtype.js';
import type { Node } from '../lazy/node.js';
import { topoSort } from '../lazy/node.js';
import { sameShape, sizeOf, stridesOf } from '../lazy/shape.js';
import { linearIndex, newVar, rangeOf, varIndex, ZERO, type Affine, type LoopVar } from './affine.js';
import { childrenOf, costOf, costsInOrder, ExprBuilder, ownCost, type Expr } from './expr.js';
import { placeKernel, printKernel, storeOrder, type BufferSpec, type KernelIR, type StoreSpec } from './kernel.js';
import { Lowerer } from './lower.js';
import { factorBroadcasts } from './factor.js';
import { hoistInvariantProducts } from './hoist.js';
import { mirrorSwitch, symmetricPairOf } from './symmetry.js';
import { chooseLoopOrder, collapseLoops, shareReductionLoops, tileForRegisters, type RegisterTiles } from './tiling.js';

/** Work below this cost (in additions per element) is recomputed rather than stored. */
const EXPENSIVE = 8;
/** A node evaluated at more distinct indices than this in one kernel is materialized. */
const MAX_INSTANCES = 16;
/** Rounds in which the scheduler materializes only the innermost of the outermost candidates. */
const CAREFUL_ROUNDS = 8;
/** Rounds of materialization decisions before the scheduler stops refining. */
const MAX_ROUNDS = 64;
/**
 * A program with more nodes than this (a long loop, a gradient through one) is refined in
 * few rounds: each round redrafts kernels that grow with the program, and a long chain of
 * candidates would otherwise take a round per link.
 */
const LARGE_PROGRAM = 2048;
/** For large programs: careful rounds, and the round from which every candidate is taken. */
const LARGE_CAREFUL_ROUNDS = 2;
const LARGE_ALL_FROM = 4;
/** A node needed at more distinct indices than this while drafting one kernel is read from a buffer instead (see Lowerer.limit). */
const LOWERING_INSTANCES = MAX_INSTANCES + 1;
/**
 * An expensive node (a reduction, or EXPENSIVE work) needed at more distinct indices than
 * this while drafting one kernel is read from a buffer instead, at once: the rounds would
 * materialize it anyway (it is computed redundantly), and a draft that kept inlining it
 * would inline the whole history of a loop up to LOWERING_INSTANCES levels deep (a loop
 * with a mean per step drafted ~130 expressions per kernel in its first round, and the
 * rounds then took one step of the loop each).
 */
const EXPENSIVE_INSTANCES = 2;
/** Long chains are cut into kernels this many levels deep (lowering recurses along them). */
const MAX_KERNEL_DEPTH = 256;
/** Levels below a cut of a long chain searched for a better place to cut it (see chainCut). */
const CUT_SEARCH = 8;

/**
 * Work counters of the scheduler since the process started (tests of scale read their
 * growth: counts, unlike clocks, do not depend on the machine's load).
 */
export const schedulerWork = {
  /** Calls of schedule(). */
  schedules: 0,
  /** Rounds of materialization decisions. */
  rounds: 0,
  /** Kernel drafts lowered (each a pass over the nodes it inlines). */
  drafts: 0,
  /** Expressions in the drafts analysed (the size of every draft, summed). */
  draftedExprs: 0,
  /** Expressions built while lowering drafts, those of drafts discarded when they overflowed included. */
  loweredExprs: 0,
  /** Pairs of sibling kernels examined for a merge, and kernels visited looking for a path between two. */
  mergeChecks: 0,
};

/**
 * Whether a careful round takes at once the careful rounds after it that the drafts already
 * decide (see laterLayers). Plans are the same either way (a test schedules random
 * programs both ways); off, every careful round redrafts what it changes.
 */
export const lookaheadSwitch = { enabled: true };

/** Leaves whose values exist before the program runs (buffers, realized nodes, jit Params). */
export function isInputLeaf(node: Node): boolean {
  return node.realized !== null || node.op === 'buffer' || node.op === 'param';
}

/** One kernel of a schedule. */
export interface ScheduledKernel {
  readonly ir: KernelIR;
  /** The nodes it computes (buffers 0..outputs.length-1 of the IR). */
  readonly outputs: readonly Node[];
  /** The nodes it reads (the IR's remaining buffers, in order). */
  readonly inputs: readonly Node[];
}

export interface Schedule {
  /** Kernels in execution order. */
  readonly kernels: readonly ScheduledKernel[];
  /**
   * Kernel outputs that are written in place into a root: each is the part of `root` from
   * element `offset` on (the pieces of a concatenation along its leading axis, such as the
   * chunks of vmap's chunkSize), and the root itself has no kernel.
   */
  readonly aliases: ReadonlyMap<Node, { readonly root: Node; readonly offset: number }>;
  /** Leaves the program reads, in canonical (topological) order. */
  readonly leaves: readonly Node[];
  readonly roots: readonly Node[];
}

export interface ScheduleOptions {
  /** The most buffers (inputs + outputs) one kernel may take. */
  readonly maxBuffers: number;
  /** How register tiles are shaped for the device (default: 4 x 2 unrolled; see DeviceCaps.registerTiles). */
  readonly registerTiles?: RegisterTiles;
  /** The most outputs one kernel may write (siblings merge up to it); unbounded by default. */
  readonly maxOutputs?: number;
  /**
   * 'grid' (gpu.js, WebGPU): every output element is a thread of its own, so kernels are
   * not register-tiled (a tile is several stores per iteration, which a thread cannot make).
   */
  readonly kernelForm?: 'loops' | 'grid';
  /**
   * Whether the pieces of a concatenated root may be written in place into it (views at
   * element offsets: host and linear memory; GPU buffers bind at aligned offsets only). Default true.
   */
  readonly piecesInPlace?: boolean;
  /**
   * Whether batch-invariant products are hoisted out of contractions (hoist.ts; default
   * true). A CPU's serial loops gain (the Hessian becomes S x P); on a GPU grid the stored
   * product [H, D, D] is too large for workgroup memory, and every thread streaming it from
   * device memory was 10x slower at D=32 on the H200 than recomputing the pairs.
   */
  readonly hoistProducts?: boolean;
}

/** A kernel under construction: its outputs, loops and the expressions they store. */
export interface Draft {
  readonly kind: KernelIR['kind'];
  readonly outputs: readonly Node[];
  readonly loops: readonly LoopVar[];
  readonly stores: readonly StoreSpec[];
  readonly builder: ExprBuilder;
  /** Nodes the draft reads from buffers because it needed them at too many indices: they must be materialized. */
  readonly overflowed?: ReadonlySet<Node>;
  /** Nodes the draft computes inline (Lowerer.computed): materializing one of them makes the draft stale. */
  readonly computed?: ReadonlyMap<Node, unknown>;
}

function outputLoops(shape: readonly number[]): { loops: LoopVar[]; index: Affine[] } {
  const loops: LoopVar[] = [];
  const index = shape.map((d) => {
    if (d === 1) return ZERO;
    const v = newVar(d, 'output');
    loops.push(v);
    return varIndex(v);
  });
  return { loops, index };
}

/** Lowers the outputs of one kernel, reading `isBoundary` nodes from buffers. */
function draftKernel(outputs: readonly Node[], isBoundary: (n: Node) => boolean, mayOverflow = true): Draft {
  const draft = lowerDraft(outputs, isBoundary, mayOverflow);
  schedulerWork.drafts++;
  schedulerWork.loweredExprs += draft.builder.size;
  return draft;
}

function lowerDraft(outputs: readonly Node[], isBoundary: (n: Node) => boolean, mayOverflow: boolean): Draft {
  const builder = new ExprBuilder();
  const own = new Set(outputs);
  const lowerer = new Lowerer(builder, (n) => !own.has(n) && isBoundary(n));
  if (mayOverflow) {
    const costs = new Map<number, number>();
    lowerer.limit = {
      instances: LOWERING_INSTANCES,
      expensiveInstances: EXPENSIVE_INSTANCES,
      canStore: (n) => !own.has(n) && canMaterialize(n),
      isExpensive: (n, first) => n.rule.kind === 'reduce' || costOf(first, costs) >= EXPENSIVE,
    };
  }
  const [first] = outputs;
  // Nothing to compute for an empty output (and nothing may be hoisted out of its empty loops).
  const domain = first.op === 'scatter_add' ? first.inputs[1].shape : first.shape;
  if (sizeOf(domain) === 0) return { kind: first.op === 'scatter_add' ? 'scatter' : 'map', outputs, loops: [], builder, stores: [] };
  if (first.op === 'scatter_add') {
    // Loops over the source; each element adds into the output at its checked index.
    const [idx, src] = first.inputs;
    const axis = first.attrs.axis as number;
    const size = first.attrs.size as number;
    const { loops, index } = outputLoops(src.shape);
    const at = lowerer.checkedIndex(lowerer.lower(idx, index), size, `scatter_add: output shape [${first.shape.join(', ')}]`);
    const target = linearIndex(index.map((a, d) => (d === axis ? at : a)), stridesOf(first.shape));
    const stores = [{ buffer: 0, index: target, value: lowerer.lower(src, index) }];
    return { kind: 'scatter', outputs, loops, builder, stores, overflowed: lowerer.overflowed, computed: lowerer.computed };
  }
  const { loops, index } = outputLoops(first.shape);
  const flat = linearIndex(index, stridesOf(first.shape));
  const stores = outputs.map((o, buffer) => ({ buffer, index: flat, value: lowerer.lowerDefinition(o, index) }));
  return { kind: 'map', outputs, loops, builder, stores, overflowed: lowerer.overflowed, computed: lowerer.computed };
}

/**
 * How often a draft evaluates each expression (by id), as the code generator places it
 * (placeKernel): in the innermost loop among those of its variables, so its count is the
 * trip count of that loop. A reduction's loops nest in the loop where the reduction itself
 * is placed. Computed from the variables alone, without emitting the kernel; `exprs` are
 * the draft's expressions, children first.
 */
function measure(draft: Draft, exprs: readonly Expr[], trips: Float64Array): void {
  const varTrips = new Map<number, number>();
  let outer = 1;
  for (const v of draft.loops) varTrips.set(v.id, (outer *= v.extent));
  // A reduction's variables belong to the reductions around it, which come after it in
  // children-first order: backwards, every enclosing loop is known before its body's.
  for (let i = exprs.length - 1; i >= 0; i--) {
    const e = exprs[i];
    if (e.kind !== 'reduce') continue;
    let t = tripsOf(e.vars, varTrips);
    for (const v of e.loops) varTrips.set(v.id, (t *= v.extent));
  }
  // A constant is evaluated never.
  for (const e of exprs) trips[e.id] = e.kind === 'const' ? 0 : tripsOf(e.vars, varTrips);
}

/** The trip count of the innermost loop among `vars` (1 outside every loop). */
function tripsOf(vars: readonly LoopVar[], varTrips: ReadonlyMap<number, number>): number {
  let most = 1;
  for (const v of vars) most = Math.max(most, varTrips.get(v.id)!);
  return most;
}

/**
 * Scratch arrays of the analysis, indexed by expression id (a draft's builder numbers its
 * expressions densely), reused from draft to draft: every id the analysis reads it has
 * written for the draft at hand first. Arrays per draft cost as much as the lowering.
 */
let scratchTrips = new Float64Array(1024);
let scratchCosts = new Float64Array(1024);
/** The most entries a shared scratch array of the scheduler grows to (1 MB of float64). */
const SCRATCH_LIMIT = 1 << 17;

function canMaterialize(node: Node): boolean {
  const kind = node.rule.kind;
  return kind === 'elementwise' || kind === 'reduce' || node.op === 'random';
}

/**
 * A number per node of one schedule() call (its slot), so that the per-node records of each
 * draft's analysis and of each round are arrays indexed by slot rather than maps keyed by
 * node: the analysis looks up one slot per expression, and nothing per node is allocated.
 */
class NodeSlots {
  private readonly slotOf = new Map<Node, number>();
  readonly nodes: Node[] = [];
  /** Per slot, the serial of the last analysis that met the node, and its contribution there (-1: none). */
  private readonly seenIn: number[] = [];
  private readonly local: number[] = [];
  private analyses = 0;
  /** Per slot, the round that last counted the node's usage (see nextMaterializations), and that usage. */
  readonly countedIn: number[] = [];
  readonly executions: number[] = [];
  readonly cost: number[] = [];
  readonly instances: number[] = [];
  /** The drafts computing the node inline: one, or several (each once). */
  readonly readers: (Draft | Draft[] | undefined)[] = [];
  rounds = 0;

  /** The node's slot, numbered when first asked for (only nodes some draft computes get one). */
  of(node: Node): number {
    let k = this.slotOf.get(node);
    if (k === undefined) {
      k = this.nodes.length;
      this.slotOf.set(node, k);
      this.nodes.push(node);
      this.seenIn.push(0);
      this.local.push(-1);
      this.countedIn.push(0);
      this.executions.push(0);
      this.cost.push(0);
      this.instances.push(0);
      this.readers.push(undefined);
    }
    return k;
  }

  /** The node's slot if it has one, else -1. */
  find(node: Node): number {
    return this.slotOf.get(node) ?? -1;
  }

  /** The analysis of one draft (see analysisOf). */
  analyse(draft: Draft): Analysis {
    const exprs = storeOrder(draft.stores);
    const size = draft.builder.size + 1;
    // A giant draft's arrays are its own (the shared ones would hold their memory for good).
    if (scratchTrips.length < size && size <= SCRATCH_LIMIT) {
      scratchTrips = new Float64Array(Math.min(2 * size, SCRATCH_LIMIT));
      scratchCosts = new Float64Array(Math.min(2 * size, SCRATCH_LIMIT));
    }
    const trips = size <= scratchTrips.length ? scratchTrips : new Float64Array(size);
    const costs = size <= scratchCosts.length ? scratchCosts : new Float64Array(size);
    measure(draft, exprs, trips);
    // The walk above costs every expression (exprs is children first).
    costsInOrder(exprs, costs);
    const serial = ++this.analyses;
    const origins: Node[] = [];
    const nodes: number[] = [];
    const executions: number[] = [];
    const cost: number[] = [];
    const instances: number[] = [];
    for (const e of exprs) {
      const node = e.origin;
      if (!node) continue;
      const k = this.of(node);
      if (this.seenIn[k] !== serial) {
        this.seenIn[k] = serial;
        origins.push(node);
        this.local[k] = canMaterialize(node) ? nodes.push(k) - 1 : -1;
        if (this.local[k] >= 0) {
          executions.push(0);
          cost.push(0);
          instances.push(0);
        }
      }
      const c = this.local[k];
      if (c < 0) continue;
      executions[c] += trips[e.id];
      cost[c] = Math.max(cost[c], costs[e.id]);
      instances[c]++;
    }
    schedulerWork.draftedExprs += exprs.length;
    return { exprs, origins, contributions: { nodes, executions, cost, instances } };
  }
}

/** What a draft does with the nodes it computes inline, per materializable one (in order of first appearance in its expressions): the scheduler's evidence for materializing them. */
interface Contributions {
  /** Their slots (NodeSlots). */
  readonly nodes: readonly number[];
  /** Evaluations of each node's expressions in the draft (their trips, summed). */
  readonly executions: readonly number[];
  /** The most one evaluation of them costs. */
  readonly cost: readonly number[];
  /** Distinct indices the draft computes each node at (one expression each). */
  readonly instances: readonly number[];
}

/** What the scheduler needs to know about a draft, computed once per draft. */
interface Analysis {
  readonly exprs: readonly Expr[];
  /** Nodes whose values the draft computes inline, in order of first appearance in `exprs`. */
  readonly origins: readonly Node[];
  readonly contributions: Contributions;
}

const analyses = new WeakMap<Draft, Analysis>();

function analysisOf(draft: Draft, slots: NodeSlots): Analysis {
  let a = analyses.get(draft);
  if (!a) analyses.set(draft, (a = slots.analyse(draft)));
  return a;
}

/**
 * The nodes to materialize next (see the module comment), or none when the drafts are final,
 * with the drafts that compute each of them inline (to be redrafted).
 * `careful` takes, of the outermost candidates, only those that contain no other one;
 * `outermost` takes all outermost candidates; `all` takes every candidate.
 */
function nextMaterializations(drafts: readonly Draft[], materialized: ReadonlySet<Node>, take: Take, slots: NodeSlots, ahead?: Lookahead): { next: Node[]; readers: (n: Node) => readonly Draft[]; rounds: number } {
  // Usage per node over every draft, in slots' arrays; `counted` in order of first count.
  const round = ++slots.rounds;
  const counted: number[] = [];
  for (const draft of drafts) {
    const c = analysisOf(draft, slots).contributions;
    for (let i = 0; i < c.nodes.length; i++) {
      const k = c.nodes[i];
      if (materialized.has(slots.nodes[k])) continue;
      if (slots.countedIn[k] !== round) {
        slots.countedIn[k] = round;
        counted.push(k);
        slots.executions[k] = c.executions[i];
        slots.cost[k] = c.cost[i];
        slots.instances[k] = c.instances[i];
        slots.readers[k] = draft;
        continue;
      }
      slots.executions[k] += c.executions[i];
      slots.cost[k] = Math.max(slots.cost[k], c.cost[i]);
      slots.instances[k] += c.instances[i];
      const known = slots.readers[k]!;
      if (Array.isArray(known)) known.push(draft);
      else slots.readers[k] = [known, draft];
    }
  }
  const readersOf = (k: number): readonly Draft[] => {
    const r = slots.readers[k]!;
    return Array.isArray(r) ? r : [r];
  };
  const readers = (n: Node) => readersOf(slots.of(n));
  const worth = new Set<Node>();
  for (const k of counted) {
    const node = slots.nodes[k];
    if (isWorth(node, k, slots.cost[k], slots)) worth.add(node);
  }
  if (worth.size === 0 || take === 'all') return { next: [...worth], readers, rounds: 1 };
  // Only the drafts that compute a candidate inline take part in what follows.
  const holding = new Set<Draft>();
  for (const n of worth) for (const d of readers(n)) holding.add(d);
  const relevant = drafts.filter((d) => holding.has(d));
  // Outermost first: those reachable without passing another candidate ("exposed")...
  const isCandidate = (x: Expr) => x.origin !== null && worth.has(x.origin);
  const exposed = new Map<Node, Expr[]>();
  for (const draft of relevant) {
    for (const e of outermost(draft, isCandidate)) {
      const list = exposed.get(e.origin!);
      if (list) list.push(e);
      else exposed.set(e.origin!, [e]);
    }
  }
  if (take === 'outermost') return nextWithLookahead(relevant, worth, exposed, [...exposed.keys()], readers, slots, ahead);
  // ...and of those, the ones that contain no other exposed candidate: one pass per draft
  // (expression ids are per draft), children first, records which exposed node lies below
  // each expression (one, or several).
  const containsOther = new Set<Node>();
  const exposedExprs = new Set<Expr>();
  for (const list of exposed.values()) for (const e of list) exposedExprs.add(e);
  for (const draft of relevant) {
    // By expression id; undefined where no exposed node lies below.
    const exposedBelow: (Node | 'several' | undefined)[] = new Array(draft.builder.size + 1);
    for (const e of analysisOf(draft, slots).exprs) {
      let below: Node | 'several' | undefined;
      for (const c of childrenOf(e)) {
        below = mergeBelow(below, exposedBelow[c.id]);
        if (c.origin && exposed.has(c.origin)) below = mergeBelow(below, c.origin);
      }
      if (below === undefined) continue;
      exposedBelow[e.id] = below;
      if (e.origin && below !== e.origin && exposedExprs.has(e)) containsOther.add(e.origin);
    }
  }
  const chosen = [...exposed.keys()].filter((n) => !containsOther.has(n));
  if (chosen.length === 0) return { next: [...exposed.keys()].slice(0, 1), readers, rounds: 1 };
  return nextWithLookahead(relevant, worth, exposed, chosen, readers, slots, ahead);
}

/** A round's choice `first`, and the layers of the rounds after it that look-ahead takes with it. */
function nextWithLookahead(relevant: readonly Draft[], worth: ReadonlySet<Node>, exposed: ReadonlyMap<Node, readonly Expr[]>, first: Node[], readers: (n: Node) => readonly Draft[], slots: NodeSlots, ahead: Lookahead | undefined): { next: Node[]; readers: (n: Node) => readonly Draft[]; rounds: number } {
  if (!ahead || ahead.takeAfter(1) === 'all') return { next: first, readers, rounds: 1 };
  const layers = laterLayers(relevant, worth, exposed, first, slots, ahead);
  return { next: layers.flat(), readers, rounds: layers.length };
}

type Take = 'careful' | 'outermost' | 'all';

/** What the rounds' look-ahead needs beyond the drafts (see laterLayers). */
interface Lookahead {
  /** What the round `k` rounds after this one takes (rounds that take 'all' are not looked ahead to: their order is not the walks'). */
  readonly takeAfter: (k: number) => Take;
  readonly isBoundary: (n: Node) => boolean;
  /** Distinct nodes reading each node of the program. */
  readonly readerCounts: ReadonlyMap<Node, number>;
}

/**
 * The rounds that would follow this one, taken now: layer 0 is this round's choice, and each
 * next layer is what the next round would choose (careful or outermost), where the drafts it
 * would redraft prove it without being redrafted. A gradient through a chain of 100 steps has a
 * candidate per step, each containing the one before: the careful rounds took one link each,
 * redrafting the two drafts that hold the whole chain (599 and 254 expressions) every time.
 *
 * After a layer is materialized, a round sees the same evidence as before, less what the
 * layer's subtrees contributed, when each layer node's own kernel computes only elementwise
 * nodes of its shape (at its index, once) and leaves that nothing else reads (computesAlone):
 * those are then computed by that kernel alone, once per element, and are no candidates
 * (some were, hidden below the layer node; no walk met them). Every other
 * node keeps its executions, instances and readers; only the costs of the nodes above a layer
 * drop (its subtree becomes one load), and a candidate whose cost would drop below the
 * threshold stops the look-ahead (the next round would see the nodes it hid).
 *
 * A redrafted draft is the old one with each layer node's subtree replaced by a load, and
 * with the same order of operands except where a leaf (a constant, a load) first met inside
 * such a subtree is now built later: commutative operands are ordered by expression id. A
 * leaf has nothing below it and is no candidate, so the walks that order the exposed
 * candidates visit the rest in the same order: the next layer's order is the old drafts'
 * order with the layers cut off.
 */
function laterLayers(relevant: readonly Draft[], worth: ReadonlySet<Node>, exposed: ReadonlyMap<Node, readonly Expr[]>, first: readonly Node[], slots: NodeSlots, ahead: Lookahead): Node[][] {
  // A reduction (most rounds of a loop with a mean per step) ends it before anything is built.
  if (!first.every((m) => m.rule.kind === 'elementwise')) return [[...first]];
  const layers: Node[][] = [[...first]];
  const taken = new Set<Node>(first);
  let current = exposed;
  // The nodes the taken layers' kernels compute: candidates now (hidden below a layer node) or not, none is one after.
  const inside = new Set<Node>();
  // Nodes whose kernels read what others read end it here, before the walks' arrays are built.
  if (!first.every((m) => computesAlone(m, exposed, taken, ahead, inside))) return layers;
  // What each layer's walks ask of an expression's node, by slot (every node a draft computes has one): flags, and the layer that last costed it.
  const flags = new Uint8Array(slots.nodes.length);
  for (const n of worth) flags[slots.of(n)] |= WORTH;
  for (const n of taken) flags[slots.of(n)] |= TAKEN;
  const costedIn = new Int32Array(slots.nodes.length).fill(-1);
  const cutCost = new Float64Array(slots.nodes.length);
  // Per draft, the slot of each expression's node by expression id (-1: none).
  const nodeSlots = relevant.map((draft) => {
    const bySlot = new Int32Array(draft.builder.size + 1).fill(-1);
    for (const e of analysisOf(draft, slots).exprs) if (e.origin !== null) bySlot[e.id] = slots.of(e.origin);
    return bySlot;
  });
  const largest = relevant.reduce((m, d) => Math.max(m, d.builder.size + 1), 0);
  const costs = new Float64Array(largest);
  const below = new Int32Array(largest);
  const atNext = new Uint8Array(largest);
  for (let take = ahead.takeAfter(1); take !== 'all'; take = ahead.takeAfter(layers.length)) {
    const exposedNow = current;
    if (layers.length > 1 && !layers[layers.length - 1].every((m) => computesAlone(m, exposedNow, taken, ahead, inside))) break;
    // (A node of a layer's kernel that no draft's expression names has no slot, and needs no flag.)
    for (const n of inside) if (slots.find(n) >= 0) flags[slots.find(n)] |= INSIDE;
    // The next round's exposed candidates, in its order (see above), and the expressions exposing them, per draft.
    const next = new Map<Node, Expr[]>();
    const found = relevant.map((draft, d) => {
      const bySlot = nodeSlots[d];
      const isTaken = (e: Expr) => bySlot[e.id] >= 0 && (flags[bySlot[e.id]] & TAKEN) !== 0;
      const isCandidate = (e: Expr) => bySlot[e.id] >= 0 && (flags[bySlot[e.id]] & (WORTH | TAKEN | INSIDE)) === WORTH;
      const exprs = outermost(draft, isCandidate, isTaken);
      for (const e of exprs) {
        const list = next.get(e.origin!);
        if (list) list.push(e);
        else next.set(e.origin!, [e]);
      }
      return exprs;
    });
    for (const n of next.keys()) flags[slots.of(n)] |= NEXT;
    const layerIndex = layers.length;
    const costed: number[] = [];
    const containsOther = new Set<number>();
    relevant.forEach((draft, d) => {
      const bySlot = nodeSlots[d];
      const exprs = analysisOf(draft, slots).exprs;
      for (const e of exprs) atNext[e.id] = 0;
      for (const e of found[d]) atNext[e.id] = 1;
      for (const e of exprs) {
        let total = 0;
        let under = NONE_BELOW;
        for (const c of childrenOf(e)) {
          const k = bySlot[c.id];
          // A taken node is a load in the redrafted kernel: one unit, and nothing below it.
          if (k >= 0 && (flags[k] & TAKEN) !== 0) {
            if (e.kind !== 'reduce') total += 1;
            continue;
          }
          if (e.kind !== 'reduce') total += costs[c.id];
          under = mergeSlots(under, below[c.id]);
          if (k >= 0 && (flags[k] & NEXT) !== 0) under = mergeSlots(under, k);
        }
        let body = 0;
        if (e.kind === 'reduce') {
          const k = bySlot[e.body.id];
          body = k >= 0 && (flags[k] & TAKEN) !== 0 ? 1 : costs[e.body.id];
        }
        const cost = (costs[e.id] = total + ownCost(e, body));
        below[e.id] = under;
        const k = bySlot[e.id];
        if (k < 0 || (flags[k] & (TAKEN | INSIDE)) !== 0) continue;
        if ((flags[k] & WORTH) !== 0) {
          if (costedIn[k] !== layerIndex) {
            costedIn[k] = layerIndex;
            cutCost[k] = cost;
            costed.push(k);
          } else if (cost > cutCost[k]) {
            cutCost[k] = cost;
          }
        }
        if (under !== NONE_BELOW && under !== k && atNext[e.id] === 1) containsOther.add(k);
      }
    });
    for (const n of next.keys()) flags[slots.of(n)] &= ~NEXT;
    // A candidate that the layers make cheap would leave the next round's candidates.
    if (!costed.every((k) => isWorth(slots.nodes[k], k, cutCost[k], slots))) break;
    const layer = take === 'outermost' ? [...next.keys()] : [...next.keys()].filter((n) => !containsOther.has(slots.of(n)));
    if (layer.length === 0) break;
    layers.push(layer);
    for (const n of layer) {
      taken.add(n);
      flags[slots.of(n)] |= TAKEN;
    }
    current = next;
  }
  return layers;
}

/** Flags of laterLayers' nodes. */
const WORTH = 1;
const TAKEN = 2;
const INSIDE = 4;
const NEXT = 8;
/** laterLayers' record of the exposed candidates below an expression: none, several, or the slot of the one. */
const NONE_BELOW = -1;
const SEVERAL_BELOW = -2;

/** mergeBelow, by slot. */
function mergeSlots(a: number, b: number): number {
  return a === NONE_BELOW || a === b ? b : b === NONE_BELOW ? a : SEVERAL_BELOW;
}

/**
 * Whether the kernel of `m`, drafted with `taken` materialized too, computes only nodes that
 * are elementwise (so of its shape, at its index) or leaves, that nothing else reads and that
 * are not exposed candidates (see laterLayers), constants and their broadcasts aside: no
 * movement or reduction below it. Adds them to `region`.
 */
function computesAlone(m: Node, exposed: ReadonlyMap<Node, unknown>, taken: ReadonlySet<Node>, ahead: Lookahead, region: Set<Node>): boolean {
  if (m.rule.kind !== 'elementwise') return false;
  const stack = [...m.inputs];
  while (stack.length) {
    const n = stack.pop()!;
    if (region.has(n) || taken.has(n) || ahead.isBoundary(n) || isConstantNode(n)) continue;
    if ((n.rule.kind !== 'elementwise' && n.rule.kind !== 'leaf') || exposed.has(n) || ahead.readerCounts.get(n) !== 1) return false;
    region.add(n);
    for (const input of n.inputs) stack.push(input);
  }
  return true;
}

/** A constant, or a broadcast of one: lowered to one constant expression, a leaf. */
function isConstantNode(n: Node): boolean {
  while ((n.op === 'expand' || n.op === 'reshape') && !isInputLeaf(n)) n = n.inputs[0];
  return n.op === 'const' && !isInputLeaf(n);
}

/** Whether a node is worth materializing, with the evidence of this round (slot k) and one evaluation costing `cost`. */
function isWorth(node: Node, k: number, cost: number, slots: NodeSlots): boolean {
  const size = sizeOf(node.shape);
  if (size === 0) return false;
  const redundant = slots.executions[k] > size * (1 + 1e-9);
  const expensive = cost >= EXPENSIVE || node.rule.kind === 'reduce';
  const several = Array.isArray(slots.readers[k]);
  return (redundant && expensive) || (several && cost >= EXPENSIVE) || slots.instances[k] > MAX_INSTANCES;
}

/** The exposed candidates below an expression, from those below two of its parts: one node, or several. */
function mergeBelow(a: Node | 'several' | undefined, b: Node | 'several' | undefined): Node | 'several' | undefined {
  return a === undefined || a === b ? b : b === undefined ? a : 'several';
}

/**
 * Whether every root factoring rebuilt is a computed node of its own: not an input leaf, not
 * another given root, not a root rebuilt earlier in the list. Sets, not includes/indexOf per
 * root: a realize() may have 16,000 roots.
 */
function rebuiltRootsAreNew(rebuilt: readonly Node[], roots: readonly Node[], isInputLeaf: (n: Node) => boolean): boolean {
  const given = new Set(roots);
  const earlier = new Set<Node>();
  return rebuilt.every((r, i) => {
    const ok = r === roots[i] || (!isInputLeaf(r) && !given.has(r) && !earlier.has(r));
    earlier.add(r);
    return ok;
  });
}

/** Seen marks of `outermost` by expression id, `outermostMarks[id] === outermostStamp` during one walk (shared: see exprOrder's). */
let outermostMarks = new Uint32Array(1024);
let outermostStamp = 0;

/** Expressions of `draft` satisfying `stop` that are reachable from its stores without passing another one (nor an expression that is `cut`). */
function outermost(draft: Draft, stop: (e: Expr) => boolean, cut?: (e: Expr) => boolean): Expr[] {
  const found: Expr[] = [];
  const size = draft.builder.size + 1;
  if (outermostMarks.length < size && size <= SCRATCH_LIMIT) outermostMarks = new Uint32Array(Math.min(2 * size, SCRATCH_LIMIT));
  if (outermostStamp === 0xffffffff) {
    outermostMarks.fill(0);
    outermostStamp = 0;
  }
  // A giant draft's marks are its own (see SCRATCH_LIMIT).
  const own = size > outermostMarks.length;
  const marks = own ? new Uint32Array(size) : outermostMarks;
  const stamp = own ? 1 : ++outermostStamp;
  const stack: Expr[] = [];
  for (const s of draft.stores) stack.push(s.value);
  while (stack.length) {
    const e = stack.pop()!;
    if (marks[e.id] === stamp) continue;
    marks[e.id] = stamp;
    if (stop(e)) {
      found.push(e);
      continue;
    }
    if (cut?.(e)) continue;
    for (const c of childrenOf(e)) stack.push(c);
  }
  return found;
}

interface Group {
  outputs: Node[];
  /** 'call': the step of one opaque node (never merged with another). */
  readonly kind: KernelIR['kind'];
  loads: Set<Node>;
  /** The nodes it computes inline (Analysis.origins, and those of the groups merged into it). */
  readonly origins: Set<Node>;
  /** Per loaded node, the hull [lo, hi] of the flat indices the group reads. */
  spans: Map<Node, [number, number]>;
}

/** Kernels a search for a path between two merge candidates visits before it gives up (see mergeSiblings). */
const REACH_BUDGET = 256;

/** Below this many output bytes a merge always pays (fewer, larger kernels for small work). */
const SMALL_MERGE_BYTES = 1 << 18;

/** A draft as a group: its loads, the nodes it computes, and per loaded node the hull of the flat indices it reads. */
function groupOf(d: Draft, slots: NodeSlots): Group {
  const { exprs, origins } = analysisOf(d, slots);
  const loads = new Set<Node>();
  const spans = new Map<Node, [number, number]>();
  for (const e of exprs) {
    if (e.kind !== 'load') continue;
    loads.add(e.source);
    const [lo, hi] = rangeOf(e.index);
    const known = spans.get(e.source);
    if (known) {
      known[0] = Math.min(known[0], lo);
      known[1] = Math.max(known[1], hi);
    } else {
      spans.set(e.source, [lo, hi]);
    }
  }
  return { outputs: [...d.outputs], kind: d.kind, loads, origins: new Set(origins), spans };
}

const outputBytes = (g: Group) => g.outputs.reduce((sum, o) => sum + sizeOf(o.shape) * bytesPerElement(o.dtype), 0);

/**
 * Whether merging two sibling kernels pays: they compute enough in common, or read enough of
 * the same data (the overlap of their reads, not merely the same buffer: the chunks of vmap's
 * chunkSize read disjoint slices of one input), for one pass over it to matter next to what
 * they write. Merging makes both outputs live from the same step, so a
 * merge that saves little must not raise the peak (chunks would all be live at once).
 */
function mergePays(a: Group, b: Group): boolean {
  const written = outputBytes(a) + outputBytes(b);
  if (written <= SMALL_MERGE_BYTES) return true;
  // A subexpression both compute counts at its size: computed once instead of twice.
  let shared = 0;
  for (const n of a.origins) if (n.rule.kind !== 'leaf' && b.origins.has(n)) shared += sizeOf(n.shape) * bytesPerElement(n.dtype);
  for (const [n, [lo, hi]] of a.spans) {
    const other = b.spans.get(n);
    if (other) shared += Math.max(0, Math.min(hi, other[1]) - Math.max(lo, other[0]) + 1) * bytesPerElement(n.dtype);
  }
  return shared * 16 >= Math.min(outputBytes(a), outputBytes(b));
}

/** The step computing an opaque node: a call of its primitive's function, no loops. */
function callKernel(node: Node): ScheduledKernel {
  const inputs = [...node.inputs];
  const buffers: BufferSpec[] = [
    { dtype: node.dtype, size: sizeOf(node.shape), role: 'output' },
    ...inputs.map((n) => ({ dtype: n.dtype, size: sizeOf(n.shape), role: 'input' as const })),
  ];
  const call = { op: node.op, shape: node.shape, dtype: node.dtype, attrs: node.attrs, inputs: inputs.map((n) => ({ shape: n.shape, dtype: n.dtype })) };
  const signature = (s: { shape: readonly number[]; dtype: string }) => `${s.dtype}[${s.shape.join(',')}]`;
  const text = `call ${node.op} ${JSON.stringify(node.attrs)} ${signature(node)} <- ${call.inputs.map(signature).join(', ')}`;
  // A rough count for explain: the cost of a dense factorization of the inputs.
  const operations = inputs.reduce((sum, n) => sum + sizeOf(n.shape) * (n.shape[n.shape.length - 1] ?? 1), 0);
  return { ir: { kind: 'call', call, buffers, body: [], text, operations }, outputs: [node], inputs };
}

/**
 * Merges sibling map kernels over one iteration space that share an input or a subexpression.
 * The call steps of opaque nodes take part only as links in the dependency graph (two
 * kernels on either side of a call are not siblings).
 */
function mergeSiblings(drafts: readonly Draft[], calls: readonly Node[], slots: NodeSlots, maxBuffers: number, maxOutputs = Infinity): Group[] {
  const groups: Group[] = drafts.map((d) => groupOf(d, slots));
  groups.push(...calls.map((c): Group => ({ outputs: [c], kind: 'call', loads: new Set(c.inputs), origins: new Set(), spans: new Map() })));
  const producer = new Map<Node, Group>();
  for (const g of groups) for (const o of g.outputs) producer.set(o, g);
  const dependsOn = (g: Group): Group[] => {
    const out: Group[] = [];
    for (const n of g.loads) {
      const p = producer.get(n);
      if (p && p !== g) out.push(p);
    }
    return out;
  };
  // A level per group with level(g) > level(d) for every group d that g reads: a path from
  // one group to another only descends, so two groups on one level never reach each other,
  // and a search for a path stops at the target's level.
  const level = new Map<Group, number>();
  for (const g of executionOrder(groups)) level.set(g, dependsOn(g).reduce((l, d) => Math.max(l, level.get(d)! + 1), 0));
  // A search that has not decided within REACH_BUDGET kernels answers yes (the merge is
  // skipped): two kernels that far apart (a gradient's backward step and the forward step
  // it recomputes, a band of levels apart) gain little from one pass, and searching every
  // such pair through the band between them would grow with the square of the program.
  const reaches = (from: Group, to: Group): boolean => {
    const floor = level.get(to)!;
    const seen = new Set<Group>();
    const stack = [from];
    while (stack.length) {
      const g = stack.pop()!;
      schedulerWork.mergeChecks++;
      if (g === to || seen.size >= REACH_BUDGET) return true;
      if (seen.has(g) || level.get(g)! <= floor) continue;
      seen.add(g);
      for (const d of dependsOn(g)) stack.push(d);
    }
    return false;
  };
  const readers = new Map<Node, Group[]>();
  for (const g of groups) {
    for (const n of g.loads) {
      const list = readers.get(n);
      if (list) list.push(g);
      else readers.set(n, [g]);
    }
  }
  /** Raises levels above `g` after a merge lifted it (readers of its outputs must stay above it). */
  const lift = (g: Group) => {
    const stack = [g];
    while (stack.length) {
      const x = stack.pop()!;
      for (const o of x.outputs) {
        for (const r of readers.get(o) ?? []) {
          const target = producer.get(r.outputs[0]) ?? r;
          if (target !== x && level.get(target)! <= level.get(x)!) {
            level.set(target, level.get(x)! + 1);
            stack.push(target);
          }
        }
      }
    }
  };
  const bufferCount = (a: Group, b: Group) => {
    let count = a.outputs.length + b.outputs.length;
    for (const n of a.loads) if (!a.outputs.includes(n) && !b.outputs.includes(n)) count++;
    for (const n of b.loads) if (!a.loads.has(n) && !a.outputs.includes(n) && !b.outputs.includes(n)) count++;
    return count;
  };
  // Groups that share something (a load, or a computed subexpression) are found through an
  // index from each shared node to the groups holding it, not by comparing every pair.
  const alive = new Set(groups);
  const holders = new Map<Node, Group[]>();
  const sharedBy = (g: Group) => {
    const out = [...g.loads];
    for (const n of g.origins) if (n.rule.kind !== 'leaf') out.push(n);
    return out;
  };
  for (const g of groups) {
    if (g.kind !== 'map') continue;
    for (const n of sharedBy(g)) {
      const list = holders.get(n);
      if (list) list.push(g);
      else holders.set(n, [g]);
    }
  }
  const full = (a: Group) => {
    if (a.outputs.length >= maxOutputs) return true;
    let buffers = a.loads.size + a.outputs.length + 1;
    for (const o of a.outputs) if (a.loads.has(o)) buffers--;
    return buffers > maxBuffers;
  };
  // Dead groups, and full ones (which take no sibling more), at the front of a list are
  // dropped for good: a list is scanned many times, and the groups merged first, full,
  // would otherwise be checked again by every later group (16,000 siblings of one input
  // made 516 full groups and 133,000 checks against them).
  const liveHolders = (n: Node): Group[] => {
    const list = holders.get(n) ?? [];
    let done = 0;
    while (done < list.length && (!alive.has(list[done]) || full(list[done]))) done++;
    if (done > 0) list.splice(0, done);
    return list;
  };
  for (const a of groups) {
    if (!alive.has(a) || a.kind !== 'map') continue;
    const seen = new Set<Group>([a]);
    const pending = sharedBy(a);
    for (let k = 0; k < pending.length && !full(a); k++) {
      for (const b of liveHolders(pending[k])) {
        if (seen.has(b) || !alive.has(b)) continue;
        seen.add(b);
        schedulerWork.mergeChecks++;
        if (!sameShape(a.outputs[0].shape, b.outputs[0].shape)) continue;
        if (bufferCount(a, b) > maxBuffers || a.outputs.length + b.outputs.length > maxOutputs || !mergePays(a, b)) continue;
        const [la, lb] = [level.get(a)!, level.get(b)!];
        if (la !== lb && (la > lb ? reaches(a, b) : reaches(b, a))) continue;
        a.outputs.push(...b.outputs);
        for (const n of sharedBy(b)) if (!a.loads.has(n) && !a.origins.has(n)) pending.push(n);
        b.loads.forEach((n) => a.loads.add(n));
        b.origins.forEach((n) => a.origins.add(n));
        for (const [n, [lo, hi]] of b.spans) {
          const known = a.spans.get(n);
          a.spans.set(n, known ? [Math.min(known[0], lo), Math.max(known[1], hi)] : [lo, hi]);
        }
        for (const o of b.outputs) producer.set(o, a);
        alive.delete(b);
        // The readers of b's outputs now read a: they must stay above it.
        if (la !== lb) {
          level.set(a, Math.max(la, lb));
          lift(a);
        }
        if (full(a)) break;
      }
    }
  }
  return groups.filter((g) => alive.has(g));
}

/** Groups in an order where every kernel runs after the kernels whose outputs it reads (without recursion: a long program has a long chain of kernels). */
function executionOrder(groups: readonly Group[]): Group[] {
  const producer = new Map<Node, Group>();
  for (const g of groups) for (const o of g.outputs) producer.set(o, g);
  const dependencies = (g: Group): Group[] => {
    const out: Group[] = [];
    for (const n of g.loads) {
      const p = producer.get(n);
      if (p && p !== g) out.push(p);
    }
    return out;
  };
  const order: Group[] = [];
  const state = new Map<Group, 'visiting' | 'done'>();
  // Depth first from the kernels nothing reads (the roots'): each one's inputs are computed
  // just before it, so intermediates die soon after they are made and the memory plan can
  // reuse their bytes (vmap's chunks one after another, not every chunk's first kernel first).
  const read = new Set(groups.flatMap(dependencies));
  for (const start of [...groups.filter((g) => !read.has(g)), ...groups]) {
    if (state.has(start)) continue;
    state.set(start, 'visiting');
    const stack: [Group, Group[], number][] = [[start, dependencies(start), 0]];
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [g, deps] = top;
      if (top[2] < deps.length) {
        const d = deps[top[2]++];
        const s = state.get(d);
        if (s === 'visiting') throw new Error('functs internal error: kernels depend on each other in a cycle');
        if (s === undefined) {
          state.set(d, 'visiting');
          stack.push([d, dependencies(d), 0]);
        }
      } else {
        stack.pop();
        state.set(g, 'done');
        order.push(g);
      }
    }
  }
  return order;
}

/**
 * Throws when a kernel reads a node no earlier kernel writes: it would read whatever its
 * buffer held (zeros, or a previous run's values), a wrong result that changes from run to
 * run instead of an error.
 */
function checkWrittenBeforeRead(kernels: readonly ScheduledKernel[]): void {
  const written = new Set<Node>();
  kernels.forEach((k, i) => {
    for (const n of k.inputs) {
      if (!written.has(n) && !isInputLeaf(n)) throw new Error(`functs internal error: kernel ${i} reads ${n.op} [${n.shape.join(', ')}] before any kernel writes it`);
    }
    k.outputs.forEach((o) => written.add(o));
  });
}

/**
 * Where to cut a long chain at `n`, a node MAX_KERNEL_DEPTH levels deep: the kernels on
 * both sides of the cut share the value stored there, so the nearest node a few levels
 * below `n`, along its deepest input, that something else reads too is stored instead (in
 * x = x sin(x) + cos(x), x rather than sin(x) and cos(x), which each read it: the kernel
 * after them would compute x again, the rounds would then store it too, and every draft of
 * the first round inlined a whole band of the loop twice); failing that, the one of fewest
 * elements (a mean rather than its broadcast). Nodes nothing else reads leave `n` itself.
 */
function chainCut(n: Node, readerCounts: ReadonlyMap<Node, number>): Node {
  let smallest = n;
  let x = n;
  for (let level = 0; level < CUT_SEARCH; level++) {
    let deepest: Node | undefined;
    for (const input of x.inputs) if (!isInputLeaf(input) && (!deepest || input.depth > deepest.depth)) deepest = input;
    if (!deepest) break;
    x = deepest;
    if (!canMaterialize(x)) continue;
    if ((readerCounts.get(x) ?? 0) > 1) return x;
    if (sizeOf(x.shape) < sizeOf(smallest.shape)) smallest = x;
  }
  return smallest;
}

/** Whether a draft computes inline a node that is now read from a buffer (other than its own outputs). */
function isStale(draft: Draft, materialized: ReadonlySet<Node>): boolean {
  for (const n of draft.computed?.keys() ?? []) if (materialized.has(n) && !draft.outputs.includes(n)) return true;
  return false;
}

/** Numbers buffers (outputs, then inputs in order of first use) and builds the IR. */
function finishKernel(draft: Draft, symmetricOutputs = false): ScheduledKernel {
  const inputs: Node[] = [];
  const numbers = new Map<Node, number>();
  const bufferOf = (n: Node) => {
    let k = numbers.get(n);
    if (k === undefined) {
      k = draft.outputs.length + inputs.length;
      numbers.set(n, k);
      inputs.push(n);
    }
    return k;
  };
  const placed = placeKernel(draft.kind, draft.loops, bufferOf, draft.stores);
  const buffers: BufferSpec[] = [
    ...draft.outputs.map((o): BufferSpec => {
      const spec = { dtype: o.dtype, size: sizeOf(o.shape), role: 'output' as const };
      // A sum proved symmetric (symmetry.ts) carries the fact to its kernel, in strides of its buffer.
      const pair = symmetricOutputs ? symmetricPairOf(o) : undefined;
      if (!pair) return spec;
      const strides = stridesOf(o.shape);
      return { ...spec, symmetric: { extent: o.shape[pair[0]], strides: [strides[pair[0]], strides[pair[1]]] } };
    }),
    ...inputs.map((n) => ({ dtype: n.dtype, size: sizeOf(n.shape), role: 'input' as const })),
  ];
  return { ir: kernelIR(draft.kind, buffers, placed.body, placed.operations), outputs: draft.outputs, inputs };
}

/**
 * A kernel's IR whose text is printed when first read (explain, a compile cache's key):
 * schedule() alone (plans measured or compared without compiling) does not pay for it. Built
 * apart from finishKernel so that the getter's closure holds only what the text needs, not
 * the draft and its nodes (a plan kept alive would keep the program's history alive).
 */
function kernelIR(kind: KernelIR['kind'], buffers: readonly BufferSpec[], body: KernelIR['body'], operations: number): KernelIR {
  let text: string | undefined;
  return {
    kind,
    buffers,
    body,
    operations,
    get text() {
      return (text ??= printKernel(kind, buffers, body));
    },
  };
}

/**
 * The computed float nodes whose values reach an equality test of two computed values
 * (through any ops, reductions and other kernels included). An equality of computed values
 * (x == 1.5x - x/2, x == max(x)) holds or not by the last bits, so broadcast factoring,
 * which reassociates products, leaves these nodes as written. `nodes` is in topological
 * order.
 */
function feedsEquality(nodes: readonly Node[]): Set<Node> {
  const reaches = new Set<Node>();
  const isConstant = (n: Node): boolean => n.op === 'const' || (!isInputLeaf(n) && n.rule.kind === 'movement' && isConstant(n.inputs[0]));
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    if (isInputLeaf(n)) continue;
    const comparesComputed = n.op === 'eq' && !n.inputs.some(isConstant);
    if (reaches.has(n) || comparesComputed) n.inputs.forEach((input) => reaches.add(input));
  }
  // float64 too: x (1.5 s) and 1.5 (x s) differ in the last bit in either precision.
  return new Set([...reaches].filter((n) => (n.dtype === 'float32' || n.dtype === 'float64') && !isInputLeaf(n)));
}

/**
 * The pieces of a concatenation (ops/movement.ts `concat`: a chain of `where(mask, pad(piece),
 * rest)`) along an axis with only size-1 axes before it, so each piece is one contiguous run
 * of the result: the pieces with their element offsets, or null when `root` is not one.
 */
function concatPieces(root: Node, isCall: (n: Node) => boolean): { node: Node; offset: number }[] | null {
  const pieces: { node: Node; offset: number }[] = [];
  const strides = stridesOf(root.shape);
  const placed = (pad: Node): boolean => {
    if (pad.op !== 'pad' || isInputLeaf(pad)) return false;
    const pads = pad.attrs.pads as readonly (readonly [number, number])[];
    const axis = pads.findIndex(([lo, hi]) => lo !== 0 || hi !== 0);
    if (axis < 0 || pads.some(([lo, hi], k) => k !== axis && (lo !== 0 || hi !== 0)) || root.shape.slice(0, axis).some((d) => d !== 1)) return false;
    const [piece] = pad.inputs;
    if (piece.dtype !== root.dtype || isInputLeaf(piece) || piece.rule.kind === 'leaf' || isCall(piece)) return false;
    pieces.push({ node: piece, offset: pads[axis][0] * strides[axis] });
    return true;
  };
  let n = root;
  while (n.op === 'where' && !isInputLeaf(n)) {
    const [mask, value, rest] = n.inputs;
    if (mask.op !== 'pad' || JSON.stringify(mask.attrs.pads) !== JSON.stringify(value.attrs.pads) || !placed(value)) return null;
    n = rest;
  }
  if (n === root || !placed(n)) return null;
  const covered = pieces.reduce((sum, p) => sum + sizeOf(p.node.shape), 0);
  return new Set(pieces.map((p) => p.node)).size === pieces.length && covered === sizeOf(root.shape) ? pieces : null;
}

/**
 * Partitions the DAG below `roots` into kernels.
 * @example
 * const plan = schedule([x.mul(2).add(1).exp().sum().node], { maxBuffers: 64 });
 * plan.kernels.length; // 1
 */
export function schedule(roots: readonly Node[], options: ScheduleOptions): Schedule {
  const original = topoSort(roots, isInputLeaf);
  const leaves = original.filter(isInputLeaf);
  // Kernels compute the factored DAG; a root that factoring rebuilt is reported as itself.
  const equalities = feedsEquality(original);
  const broadcasts = factorBroadcasts(roots, isInputLeaf, equalities, original);
  const hoisting = options.hoistProducts === false ? { roots: broadcasts.roots, store: new Set<Node>() } : hoistInvariantProducts(broadcasts.roots, isInputLeaf, equalities, broadcasts.store, broadcasts.roots.every((r, i) => r === roots[i]) ? original : undefined);
  const factoring = { roots: hoisting.roots, store: new Set([...broadcasts.store, ...hoisting.store]) };
  const unchanged = factoring.roots.every((r, i) => r === roots[i]);
  const factored = unchanged || rebuiltRootsAreNew(factoring.roots, roots, isInputLeaf);
  const work = factored ? factoring.roots : roots;
  const originalRoot = new Map(work.flatMap((r, i) => (r !== roots[i] ? [[r, roots[i]] as const] : [])));
  // Roots that factoring left as they were have the DAG below them that `original` sorted.
  const nodes = factored && !unchanged ? topoSort(work, isInputLeaf) : original;
  const isCall = (n: Node) => !isInputLeaf(n) && n.rule.kind === 'opaque';
  const calls = nodes.filter(isCall);
  const materialized = new Set<Node>(work.filter((r) => !isInputLeaf(r) && !isCall(r)));
  if (factored) {
    const present = new Set(nodes);
    for (const n of factoring.store) if (present.has(n) && !isInputLeaf(n) && !isCall(n)) materialized.add(n);
  }
  const readerCounts = new Map<Node, number>();
  for (const n of nodes) {
    if (isInputLeaf(n)) continue;
    n.inputs.forEach((input, i) => {
      if (n.inputs.indexOf(input) === i) readerCounts.set(input, (readerCounts.get(input) ?? 0) + 1);
    });
  }
  for (const n of nodes) {
    if (isInputLeaf(n) || n.rule.kind === 'leaf') continue;
    if (n.rule.kind === 'index') materialized.add(n);
    else if (n.depth % MAX_KERNEL_DEPTH === 0 && n.rule.kind !== 'movement' && !isCall(n)) materialized.add(chainCut(n, readerCounts));
  }
  // A root that concatenates computed pieces, read by nothing else, is not a kernel: its
  // pieces are written in place into it (vmap's chunks would otherwise each be held and then
  // copied, twice the output at the peak).
  const aliases = new Map<Node, { root: Node; offset: number }>();
  const rootSet = new Set(work);
  for (const r of options.piecesInPlace === false ? [] : work) {
    if (isInputLeaf(r) || readerCounts.has(r) || !materialized.has(r)) continue;
    const pieces = concatPieces(r, isCall);
    if (!pieces || pieces.some((p) => rootSet.has(p.node) || aliases.has(p.node))) continue;
    materialized.delete(r);
    for (const p of pieces) {
      materialized.add(p.node);
      aliases.set(p.node, { root: r, offset: p.offset });
    }
  }
  // A call reads whole contiguous buffers.
  for (const c of calls) for (const input of c.inputs) if (!isInputLeaf(input) && !isCall(input)) materialized.add(input);
  const isBoundary = (n: Node) => isInputLeaf(n) || materialized.has(n) || isCall(n);
  // Each round drafts the kernels it lacks, then redrafts only those that had inlined a
  // node that is now materialized.
  const draftOf = new Map<Node, Draft>();
  const slots = new NodeSlots();
  let drafts: Draft[] = [];
  const large = nodes.length > LARGE_PROGRAM;
  const careful = large ? LARGE_CAREFUL_ROUNDS : CAREFUL_ROUNDS;
  const allFrom = large ? LARGE_ALL_FROM : MAX_ROUNDS - 2;
  // A program whose candidates nest deeply (a chain of softmaxes under hessian) would take
  // a round per level; past the first rounds, every outermost candidate goes at once, and
  // a last round takes every candidate left rather than leave a giant kernel behind.
  const takeIn = (round: number): Take => (round < careful ? 'careful' : round < allFrom ? 'outermost' : 'all');
  schedulerWork.schedules++;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    schedulerWork.rounds++;
    // Drafting may overflow (Lowerer.limit): those nodes are materialized, and drafted, at
    // once, and the draft that overflowed is redrafted reading them from their buffers
    // everywhere (its first instances, computed inline before the limit was reached, would
    // count as a second kernel computing them and materialize their inputs too).
    for (let fresh = [...materialized].filter((o) => !draftOf.has(o)); fresh.length; ) {
      const next: Node[] = [];
      for (const o of fresh) {
        const draft = draftKernel([o], isBoundary);
        const overflowed = [...(draft.overflowed ?? [])].filter((n) => !materialized.has(n));
        if (overflowed.length === 0) {
          draftOf.set(o, draft);
          continue;
        }
        overflowed.forEach((n) => materialized.add(n));
        next.push(o, ...overflowed);
      }
      fresh = [...new Set(next)];
    }
    drafts = [...materialized].map((o) => draftOf.get(o)!);
    const take = takeIn(round);
    const { next, readers, rounds } = nextMaterializations(drafts, materialized, take, slots, lookaheadSwitch.enabled ? { takeAfter: (k) => takeIn(round + k), isBoundary, readerCounts } : undefined);
    if (next.length === 0) break;
    next.forEach((n) => materialized.add(n));
    for (const n of next) for (const d of readers(n)) draftOf.delete(d.outputs[0]);
    // Rounds taken at once count as the rounds they stand for.
    round += rounds - 1;
    if (round === MAX_ROUNDS - 1) drafts = [...materialized].map((o) => draftOf.get(o) ?? draftKernel([o], isBoundary, false));
  }
  // A draft that computes inline a node the rounds materialized for other drafts reads it
  // once redrafted: the round redrafts only the drafts whose expressions name the node, and
  // a where on a constant condition (a pad's mask) folds into its operand's expression. The
  // stale draft's loads would hide that dependency from merging and ordering: merged with a
  // sibling and redrafted, its kernel ran before the kernel writing what it read (vmap of
  // hessian of a prod over an expanded axis read an unwritten buffer). Redrafted here
  // without overflow (it computes less than before), nothing new is materialized.
  drafts = drafts.map((d) => (isStale(d, materialized) ? draftKernel(d.outputs, isBoundary, false) : d));
  const groups = executionOrder(mergeSiblings(drafts, calls, slots, options.maxBuffers, options.maxOutputs));
  const draftFor = new Map(drafts.map((d) => [d.outputs[0], d]));
  const asWritten = (n: Node) => originalRoot.get(n) ?? n;
  const kernels = groups.map((g) => {
    let kernel: ScheduledKernel;
    if (g.kind === 'call') {
      kernel = callKernel(g.outputs[0]);
    } else {
      const draft = g.outputs.length === 1 ? draftFor.get(g.outputs[0])! : draftKernel(g.outputs, isBoundary, false);
      const ordered = chooseLoopOrder(collapseLoops(draft));
      // A grid device that declares no tile makes one store per thread (gpu.js).
      kernel = finishKernel(shareReductionLoops(options.kernelForm === 'grid' && !options.registerTiles ? ordered : tileForRegisters(ordered, options.registerTiles)), options.kernelForm === 'loops' && mirrorSwitch.enabled);
    }
    // A root that factoring rebuilt is reported as itself, where it is written and where it is read.
    return originalRoot.size ? { ...kernel, outputs: kernel.outputs.map(asWritten), inputs: kernel.inputs.map(asWritten) } : kernel;
  });
  const aliasesOfRoots = new Map([...aliases].map(([piece, { root, offset }]) => [piece, { root: asWritten(root), offset }] as const));
  checkWrittenBeforeRead(kernels);
  return { kernels, leaves, roots, aliases: aliasesOfRoots };
}
