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
import { constantIndex, floorDivIndex, modIndex, newVar, offsetIndex, scaleIndex, substituteIndex, varIndex, varsOf, type Affine, type LoopVar } from './affine.js';
import { exprOrder, replaceExprs, type Expr, type ReduceExpr } from './expr.js';
import { placeKernel, type StoreSpec } from './kernel.js';
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

function reductionsOf(draft: Draft): ReduceExpr[] {
  return exprOrder(draft.stores.map((s) => s.value)).filter((e): e is ReduceExpr => e.kind === 'reduce');
}

/** Replaces output loop `v` by `v'` of extent/factor and `factor` copies of every store (v = factor*v' + u). */
function unroll(draft: Draft, v: LoopVar, factor: number): Draft {
  const trips = v.extent / factor;
  // A loop left with one trip disappears: its copies index with constants.
  const outer = trips > 1 ? newVar(trips, 'output') : null;
  const stores: StoreSpec[] = [];
  for (let u = 0; u < factor; u++) {
    const at = outer ? offsetIndex(scaleIndex(varIndex(outer), factor), u) : constantIndex(u);
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

/** Unrolls the innermost output loops that a reduction depends on (see the module comment). */
export function tileForRegisters(draft: Draft, tile: RegisterTile = { inner: INNER_TILE, outer: OUTER_TILE }): Draft {
  if (draft.kind !== 'map' || draft.loops.length === 0) return draft;
  const reductions = reductionsOf(draft).filter((r) => r.loops.reduce((n, l) => n * l.extent, 1) >= MIN_REDUCTION_TRIPS);
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
