/**
 * Loop transformations of a kernel draft, before placement:
 *  - collapsing adjacent output loops that every index uses as one (contiguous data);
 *  - register tiling: the innermost output loops around a reduction are unrolled, so that
 *    several independent accumulators run in one reduction loop (a single accumulator makes
 *    every iteration wait for the previous addition) and loads that do not depend on the
 *    unrolled loop are shared;
 *  - sharing one loop nest among independent reductions over the same extents at the same
 *    place (the unrolled copies above, or sum(x) and sum(x*x) side by side).
 */
import { addIndex, coefficientOf, constantIndex, floorDivIndex, modIndex, newVar, offsetIndex, scaleIndex, substituteIndex, varIndex, varsOf, type Affine, type LoopVar } from './affine.js';
import { exprOrder, replaceExprs, type Expr, type ReduceExpr } from './expr.js';
import { placeKernel, storeExprs, storeOrder, type StoreSpec } from './kernel.js';
import type { Node } from '../lazy/node.js';
import type { Draft } from './schedule.js';

/** Loop orders are searched for kernels with at most this many output loops. */
const MAX_ORDERED_LOOPS = 4;
/** What a strided load or store costs, relative to an addition, in the loop-order search. */
const STRIDE_PENALTY = 2;

/** Unroll factor of the innermost output loop around a reduction. */
const INNER_TILE = 4;
/** Unroll factor of the next output loop out, when the reduction depends on it too. */
const OUTER_TILE = 2;
/** Reductions shorter than this are not worth tiling. */
const MIN_REDUCTION_TRIPS = 4;

function noDynamicStores(): Affine {
  throw new Error('functs internal error: dynamic store index in a map kernel');
}

function substituteStores(draft: Draft, map: ReadonlyMap<number, Affine>): StoreSpec[] {
  return draft.stores.map((s) => ({ buffer: s.buffer, index: substituteIndex(s.index, map, noDynamicStores), value: draft.builder.substitute(s.value, map) }));
}
/** True when `m` (a merged loop) appears inside a division or remainder of any index. */
function splitsLoop(exprs: readonly Expr[], extraIndices: readonly Affine[], m: LoopVar): boolean {
  const splits = (a: Affine): boolean =>
    a.terms.some(({ atom }) => (atom.kind === 'div' || atom.kind === 'mod' ? varsOf(atom.of).has(m.id) || splits(atom.of) : false));
  const indicesOf = (e: Expr): Affine[] => {
    switch (e.kind) {
      case 'load':
      case 'index':
      case 'random': return [e.index];
      case 'guard': return e.bounds.map((b) => b.index);
      default: return [];
    }
  };
  return extraIndices.some(splits) || exprs.some((e) => indicesOf(e).some(splits));
}

/**
 * Collapses adjacent output loops where every index uses them as one (row-major, contiguous):
 * a kernel over [N, D] contiguous data then runs one loop of N*D.
 */
export function collapseLoops(draft: Draft): Draft {
  if (draft.kind !== 'map' || draft.loops.length < 2) return draft;
  let current = draft;
  for (let d = current.loops.length - 2; d >= 0; d--) {
    const outer = current.loops[d];
    const inner = current.loops[d + 1];
    const merged = newVar(outer.extent * inner.extent, 'output');
    const m = varIndex(merged);
    const map = new Map<number, Affine>([
      [outer.id, floorDivIndex(m, inner.extent)],
      [inner.id, modIndex(m, inner.extent)],
    ]);
    const stores = substituteStores(current, map);
    const exprs = exprOrder(stores.map((s) => s.value));
    if (splitsLoop(exprs, stores.map((s) => s.index), merged)) continue;
    const loops = [...current.loops];
    loops.splice(d, 2, merged);
    current = { ...current, loops, stores };
  }
  return current;
}

const reductionsByStores = new WeakMap<readonly StoreSpec[], readonly ReduceExpr[]>();

/** The reductions of a draft's store values, children first; walked once per stores array (tiling, then sharing loops, mostly see the same one). */
function reductionsOf(draft: Draft): readonly ReduceExpr[] {
  let found = reductionsByStores.get(draft.stores);
  if (!found) {
    // Without data-dependent store indices (map kernels), storeOrder walks the same roots (usually cached by the scheduler's analysis).
    const values = draft.stores.map((s) => s.value);
    const order = storeExprs(draft.stores).length === values.length ? storeOrder(draft.stores) : exprOrder(values);
    reductionsByStores.set(draft.stores, (found = order.filter((e): e is ReduceExpr => e.kind === 'reduce')));
  }
  return found;
}

/**
 * Replaces output loop `v` by `v'` of extent/factor and `factor` copies of every store
 * (v = factor*v' + u; `spread`: v = u*extent/factor + v', so consecutive v' stay consecutive
 * elements, for a compiler that runs them in vector lanes).
 */
function unroll(draft: Draft, v: LoopVar, factor: number, spread = false): Draft {
  const trips = v.extent / factor;
  // A loop left with one trip disappears: its copies index with constants.
  const outer = trips > 1 ? newVar(trips, 'output') : null;
  const stores: StoreSpec[] = [];
  for (let u = 0; u < factor; u++) {
    const at = outer ? (spread ? offsetIndex(varIndex(outer), u * trips) : offsetIndex(scaleIndex(varIndex(outer), factor), u)) : constantIndex(u);
    stores.push(...substituteStores(draft, new Map([[v.id, at]])));
  }
  const loops = draft.loops.flatMap((l) => (l !== v ? [l] : outer ? [outer] : []));
  return { ...draft, loops, stores };
}

function tileFactor(extent: number, preferred: number): number {
  for (let f = preferred; f > 1; f--) if (extent % f === 0) return f;
  return 1;
}

/** Unroll factors of the innermost output loop and the next one out (a target hook: GPUs take more). */
export interface RegisterTile {
  readonly inner: number;
  readonly outer: number;
  /** A larger outer factor for outer loops of at least `minExtent` iterations. */
  readonly longOuter?: { readonly minExtent: number; readonly factor: number };
}

/**
 * How register tiles are shaped for a device: unroll factors of the innermost output loops
 * (scalar code; the CPU default is 4 x 2, GPUs take more outputs per thread), or 'lanes' (a
 * compiler that runs four iterations of a loop in vector lanes: 4x4 tiles chosen for load
 * reuse, keeping a loop contiguous for the lanes; tileForLanes).
 */
export type RegisterTiles = RegisterTile | 'lanes';

const CPU_TILE: RegisterTile = { inner: INNER_TILE, outer: OUTER_TILE };

/** Unrolls the innermost output loops that a reduction depends on (see the module comment). */
export function tileForRegisters(draft: Draft, tiles: RegisterTiles = CPU_TILE): Draft {
  if (draft.kind !== 'map' || draft.loops.length === 0) return draft;
  const reductions = reductionsOf(draft).filter((r) => r.loops.reduce((n, l) => n * l.extent, 1) >= MIN_REDUCTION_TRIPS);
  // A short reduction (a matvec over 8 inputs, say) is mostly its epilogue: a 4x4 tile would
  // copy that 16 times for little reuse, so it keeps the scalar tile.
  const longest = Math.max(0, ...reductions.map((r) => r.loops.reduce((n, l) => n * l.extent, 1)));
  if (tiles === 'lanes' && longest >= MIN_LANES_REDUCTION) return isGemmDraft(draft) ? draft : tileForLanes(draft, reductions);
  const tile = tiles === 'lanes' ? CPU_TILE : tiles;
  const dependsOn = (v: LoopVar) => reductions.some((r) => r.vars.includes(v));
  const inner = draft.loops[draft.loops.length - 1];
  if (!dependsOn(inner)) return draft;
  let tiled = draft;
  const innerFactor = tileFactor(inner.extent, tile.inner);
  if (innerFactor > 1) tiled = unroll(tiled, inner, innerFactor);
  const next = draft.loops[draft.loops.length - 2];
  if (next && dependsOn(next)) {
    const outerFactor = tileFactor(next.extent, tile.longOuter && next.extent >= tile.longOuter.minExtent ? tile.longOuter.factor : tile.outer);
    if (outerFactor > 1) tiled = unroll(tiled, next, outerFactor);
  }
  return tiled;
}

/** Output loops a GEMM's rows and columns need at least (smaller ones are left to lane nests). */
const MIN_GEMM_EXTENT = 4;

/**
 * Whether a lanes device compiles this draft as a GEMM (the wasm backend's gemm.ts, which
 * recognizes the untiled loop nest and brings its own register tile): one store of a float32
 * value over one float32 sum, over one loop k, of the product of two loads A and B indexed
 * by loop variables only, with exactly one output loop (m) only A depends on and one or more
 * (n, and inner column loops) only B does, B contiguous along one of them or, with one, A
 * contiguous along m. Such a draft stays untiled.
 */
export function isGemmDraft(draft: Draft): boolean {
  if (draft.kind !== 'map' || draft.stores.length !== 1) return false;
  const store = draft.stores[0];
  if (store.value.dtype !== 'float32') return false;
  const plainIndex = (a: Affine) => a.terms.every(({ atom, coef }) => atom.kind === 'var' && coef >= 0) && a.constant >= 0;
  if (!plainIndex(store.index)) return false;
  const reductions = reductionsOf(draft);
  if (reductions.length !== 1) return false;
  const r = reductions[0];
  if (r.op !== 'sum' || r.dtype !== 'float32' || r.loops.length !== 1 || r.loops[0].extent < MIN_LANES_REDUCTION) return false;
  const body = r.body;
  if (body.kind !== 'op' || body.op !== 'mul' || body.dtype !== 'float32' || body.args.length !== 2) return false;
  const [a, b] = body.args;
  if (a.kind !== 'load' || b.kind !== 'load' || a === b || a.dtype !== 'float32' || b.dtype !== 'float32') return false;
  if (!plainIndex(a.index) || !plainIndex(b.index)) return false;
  const k = r.loops[0];
  if (coefficientOf(a.index, k) === 0 || coefficientOf(b.index, k) === 0) return false;
  // Either factor may be A: hash-consing orders a product's operands by which node was made
  // first, so a second trace of one function may swap them (gemm.ts's matcher tries both too).
  return gemmFactors(draft, a.index, b.index) || gemmFactors(draft, b.index, a.index);
}

/** Whether A[m, k] (index `a`) times B[k, n...] (index `b`) has GEMM-sized m and n loops. */
function gemmFactors(draft: Draft, a: Affine, b: Affine): boolean {
  const uses = (index: Affine, v: LoopVar) => coefficientOf(index, v) !== 0;
  const m = draft.loops.filter((v) => uses(a, v) && !uses(b, v));
  const n = draft.loops.filter((v) => uses(b, v) && !uses(a, v));
  if (m.length !== 1 || n.length < 1 || m[0].extent < MIN_GEMM_EXTENT) return false;
  const unit = n.find((v) => coefficientOf(b, v) === 1);
  if (unit) return unit.extent >= MIN_GEMM_EXTENT;
  return n.length === 1 && n[0].extent >= MIN_GEMM_EXTENT && coefficientOf(a, m[0]) === 1;
}

/** Reductions shorter than this keep the scalar tile under 'lanes' (see tileForRegisters). */
const MIN_LANES_REDUCTION = 16;
/** Tile factor per loop of a lanes tile (4 x 4 f32x4 accumulators, as a hand-written kernel has). */
const LANES_TILE = 4;

/**
 * Register tiles for a compiler that vectorizes across a loop (the wasm backend's lane
 * nests): of the output loops the reductions depend on, unroll the two whose copies share the
 * most loads (a contraction C[m, n] = sum_k A[m, k] B[k, n]: m and n, four rows of A times
 * four columns of B, 8 loads for 16 products; the Hessian's S[n, h] P[h, c, r]: n and c),
 * preferring to leave untouched a loop along which a load is contiguous (the lanes' loop:
 * r above). A loop with a contiguous load is split into blocks of four f32x4 (unrollInLaneBlocks)
 * where its extent is a multiple of 16, else unrolled `spread` (its copies extent/4 apart), so
 * its remaining loop still walks contiguous elements that lanes can take four at a time.
 * (Measured at 512 and 1024: blocks 1.3-1.8x spread, whose copies each touch their own cache
 * line per step and whose row loop streams all of B per row block.)
 */
function tileForLanes(draft: Draft, reductions: readonly ReduceExpr[]): Draft {
  const loads = new Map<number, Affine>();
  for (const r of reductions) for (const e of exprOrder([r.body])) if (e.kind === 'load') loads.set(e.id, e.index);
  const candidates = draft.loops.filter((v) => v.extent % LANES_TILE === 0 && reductions.some((r) => r.vars.includes(v)));
  if (candidates.length === 0 || loads.size === 0) return draft;
  const depends = (index: Affine, v: LoopVar) => varsOf(index).has(v.id);
  const contiguous = (v: LoopVar) => [...loads.values()].some((index) => coefficientOf(index, v) === 1);
  let best: { loops: LoopVar[]; score: number } | undefined;
  const consider = (loops: LoopVar[]) => {
    // Loads per product of the tile, less a bonus for leaving a contiguous loop to the lanes.
    let perStep = 0;
    for (const index of loads.values()) perStep += loops.reduce((n, v) => n * (depends(index, v) ? LANES_TILE : 1), 1);
    const products = LANES_TILE ** loops.length;
    const lanesLeft = draft.loops.some((v) => !loops.includes(v) && v.extent % 4 === 0 && contiguous(v) && reductions.some((r) => r.vars.includes(v)));
    const score = perStep / products - (lanesLeft ? 0.01 : 0);
    if (!best || score < best.score - 1e-9) best = { loops, score };
  };
  for (let i = candidates.length - 1; i >= 0; i--) {
    for (let j = i - 1; j >= 0; j--) consider([candidates[j], candidates[i]]);
  }
  if (!best) consider([candidates[candidates.length - 1]]);
  let tiled = draft;
  for (const v of best!.loops) {
    if (contiguous(v) && v.extent % (LANES_TILE * 4) === 0) tiled = unrollInLaneBlocks(tiled, v);
    else tiled = unroll(tiled, v, LANES_TILE, contiguous(v) && v.extent / LANES_TILE >= 4);
  }
  return tiled;
}

/**
 * Splits a contiguous loop v as v = 16 q + 4 u + l: four copies (u) of a loop of four (l, the
 * lanes: one f32x4 of contiguous elements each), so a tile's four vectors are adjacent (one
 * 64-byte line per step of the reduction) and q, the block of 16, goes outermost: the block of
 * the contiguous operand stays in cache while the other operand streams past it.
 */
function unrollInLaneBlocks(draft: Draft, v: LoopVar): Draft {
  const q = newVar(v.extent / (LANES_TILE * 4), 'output');
  const l = newVar(4, 'output');
  const stores: StoreSpec[] = [];
  for (let u = 0; u < LANES_TILE; u++) {
    const index = offsetIndex(addIndex(scaleIndex(varIndex(q), LANES_TILE * 4), varIndex(l)), 4 * u);
    stores.push(...substituteStores(draft, new Map([[v.id, index]])));
  }
  const loops = q.extent > 1 ? [q, ...draft.loops.flatMap((x) => (x !== v ? [x] : [l]))] : draft.loops.flatMap((x) => (x !== v ? [x] : [l]));
  return { ...draft, loops, stores };
}

/**
 * Gives independent reductions over equal extents, placed in the same output loop, one
 * shared set of loop variables; the placement then emits them as one loop nest.
 */
export function shareReductionLoops(draft: Draft): Draft {
  const position = new Map(draft.loops.map((l, i) => [l.id, i]));
  const reductions = reductionsOf(draft).filter((r) => r.vars.every((v) => position.has(v.id)));
  const groups = new Map<string, ReduceExpr[][]>();
  for (const r of reductions) {
    const home = Math.max(-1, ...r.vars.map((v) => position.get(v.id)!));
    const key = `${home}|${r.loops.map((l) => l.extent).join(',')}`;
    const inside = new Set(exprOrder([r.body]).map((e) => e.id));
    const list = groups.get(key) ?? [];
    const group = list.find((g) => g.every((m) => !inside.has(m.id)));
    if (group) group.push(r);
    else list.push([r]);
    groups.set(key, list);
  }
  const replacements = new Map<number, Expr>();
  const b = draft.builder;
  for (const list of groups.values()) {
    for (const [first, ...rest] of list) {
      for (const r of rest) {
        const map = new Map(r.loops.map((l, k) => [l.id, varIndex(first.loops[k])]));
        const shared = b.reduce(r.op, first.loops, b.substitute(r.body, map), r.dtype);
        const keepsLoops = shared.kind === 'reduce' && shared.loops.length === first.loops.length && shared.loops.every((l, k) => l === first.loops[k]);
        if (keepsLoops) replacements.set(r.id, shared);
      }
    }
  }
  if (replacements.size === 0) return draft;
  const memo = new Map<number, Expr>();
  return { ...draft, stores: draft.stores.map((s) => ({ ...s, value: replaceExprs(b, s.value, replacements, memo) })) };
}

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

/** Estimated cost of a draft with its loops in the given order (placement does the hoisting). */
function orderCost(draft: Draft, loops: readonly LoopVar[]): number {
  const numbers = new Map<Node, number>();
  const bufferOf = (n: Node) => {
    if (!numbers.has(n)) numbers.set(n, numbers.size + draft.outputs.length);
    return numbers.get(n)!;
  };
  const placed = placeKernel(draft.kind, loops, bufferOf, draft.stores);
  return placed.operations + STRIDE_PENALTY * placed.stridedAccesses;
}

/**
 * Orders the output loops so that work depending on few of them is hoisted out of the
 * others (e.g. per-(n, h) work of an [n, j, h] kernel runs once per (n, h) when j is the
 * inner loop). Stores are independent, so any order computes the same values; the row-major
 * order stays unless another is clearly cheaper.
 */
export function chooseLoopOrder(draft: Draft): Draft {
  if (draft.kind !== 'map' || draft.loops.length < 2 || draft.loops.length > MAX_ORDERED_LOOPS) return draft;
  let best = draft.loops;
  let bestCost = orderCost(draft, best) * 0.9;
  for (const order of permutations(draft.loops).slice(1)) {
    const cost = orderCost(draft, order);
    if (cost < bestCost) {
      best = order;
      bestCost = cost;
    }
  }
  return best === draft.loops ? draft : { ...draft, loops: best };
}
