/**
 * Which loop of a kernel may be split between threads: the outermost loop, where its
 * iterations write disjoint parts of every output and read no output. Splitting it changes
 * no reduction order (every accumulator is declared inside an iteration), so a kernel
 * computes the same bits on any number of threads.
 */
import { operandsOf, type KernelIR, type Operand, type Stmt, type Value } from '../../fusion/kernel.js';

/** The loop a kernel's threads split, and the granularity of their chunks. */
export interface ParallelLoop {
  /** The loop's index name in the IR. */
  readonly index: string;
  readonly extent: number;
  /**
   * Chunks start and end at multiples of this many iterations (the f32x4 lanes run four
   * iterations of a loop at a time: a chunk must not cut a block of lanes).
   */
  readonly grain: number;
}

type Loop = Extract<Stmt, { kind: 'loop' }>;

/** The kernel's parallel loop, or null where its iterations are not independent. */
export function parallelLoop(ir: KernelIR): ParallelLoop | null {
  if (ir.kind !== 'map') return null;
  const loops = ir.body.filter((st): st is Loop => st.kind === 'loop');
  // Statements outside the loop run in every chunk: only pure values may sit there.
  if (loops.length !== 1 || ir.body.some((st) => st.kind !== 'loop' && st.kind !== 'let')) return null;
  const loop = loops[0];
  if (loop.extent < 2) return null;

  const valueOf = new Map<string, Value>();
  const ranges = new Map<string, readonly [number, number]>();
  const varying = new Set<string>([loop.index]);
  ranges.set(loop.index, [0, loop.extent - 1]);
  const rangeOf = (o: Operand): readonly [number, number] => (typeof o === 'string' ? ranges.get(o) ?? [-Infinity, Infinity] : [o.literal, o.literal]);
  const define = (name: string, v: Value): void => {
    valueOf.set(name, v);
    if (operandsOf(v).some((o) => typeof o === 'string' && varying.has(o))) varying.add(name);
    if (v.kind === 'affine') {
      let [lo, hi] = rangeOf(v.base);
      for (const t of v.terms) {
        const [a, b] = rangeOf(t.value);
        lo += Math.min(a * t.coef, b * t.coef);
        hi += Math.max(a * t.coef, b * t.coef);
      }
      ranges.set(name, [lo, hi]);
    } else if (v.kind === 'divmod') {
      const [a, b] = rangeOf(v.arg);
      ranges.set(name, v.op === 'div' ? [Math.floor(a / v.by), Math.floor(b / v.by)] : a >= 0 && b < v.by ? [a, b] : [0, v.by - 1]);
    }
  };
  for (const st of ir.body) if (st.kind === 'let') define(st.name, st.value);

  /** Per output buffer: the step of its stores per iteration and the span they cover within one. */
  const writes = new Map<number, { step: number; lo: number; hi: number }>();
  const declared = new Set<string>();
  const independent = (list: readonly Stmt[]): boolean => {
    for (const st of list) {
      switch (st.kind) {
        case 'let':
          if (st.value.kind === 'load' && ir.buffers[st.value.buffer].role === 'output') return false;
          define(st.name, st.value);
          break;
        case 'loop':
          ranges.set(st.index, [0, st.extent - 1]);
          if (!independent(st.body)) return false;
          break;
        case 'accumulator': declared.add(st.name); break;
        case 'accumulate': if (!declared.has(st.name)) return false; break;
        case 'store': {
          const span = storeSpan(st.index);
          if (!span) return false;
          const known = writes.get(st.buffer);
          if (known && known.step !== span.step) return false;
          writes.set(st.buffer, known ? { step: span.step, lo: Math.min(known.lo, span.lo), hi: Math.max(known.hi, span.hi) } : span);
          break;
        }
        case 'scatterAdd': return false;
        default: return st satisfies never;
      }
    }
    return true;
  };
  /** A store index as step * i + rest, with the interval of rest; null where it is not of that form. */
  const storeSpan = (index: Operand): { step: number; lo: number; hi: number } | null => {
    const { constant, terms } = linear(index, valueOf);
    let step = 0;
    let lo = constant;
    let hi = constant;
    for (const [name, coef] of terms) {
      if (name === loop.index) {
        step += coef;
        continue;
      }
      // Another index that moves with the iteration (a divmod of it, say): no simple span.
      if (varying.has(name)) return null;
      const [a, b] = ranges.get(name) ?? [-Infinity, Infinity];
      lo += Math.min(a * coef, b * coef);
      hi += Math.max(a * coef, b * coef);
    }
    return step !== 0 && Number.isFinite(lo) && Number.isFinite(hi) ? { step, lo, hi } : null;
  };
  if (!independent(loop.body)) return null;
  for (const { step, lo, hi } of writes.values()) if (hi - lo >= Math.abs(step)) return null;
  if (writes.size === 0) return null;
  const grain = loop.extent % 8 === 0 ? 8 : loop.extent % 4 === 0 ? 4 : 1;
  return { index: loop.index, extent: loop.extent, grain };
}

/** An index as a constant plus a sum of atoms (loop indices, divmod results, loads), through affine lets. */
function linear(o: Operand, valueOf: ReadonlyMap<string, Value>): { constant: number; terms: Map<string, number> } {
  if (typeof o !== 'string') return { constant: o.literal, terms: new Map() };
  const v = valueOf.get(o);
  if (v?.kind !== 'affine') return { constant: 0, terms: new Map([[o, 1]]) };
  const base = linear(v.base, valueOf);
  let constant = base.constant;
  const terms = new Map(base.terms);
  for (const t of v.terms) {
    const inner = linear(t.value, valueOf);
    constant += t.coef * inner.constant;
    for (const [name, coef] of inner.terms) terms.set(name, (terms.get(name) ?? 0) + t.coef * coef);
  }
  for (const [name, coef] of terms) if (coef === 0) terms.delete(name);
  return { constant, terms };
}

