/**
 * Index expressions of kernels: integer affine combinations of atoms — loop variables,
 * floor divisions and remainders of other index expressions, and data-dependent values
 * (gather indices). Movement ops lower to these, and the simplifier below is what makes a
 * transpose, a broadcast or a reshape cost no copy: `(a*k + b) / k` with `0 <= b < k` becomes
 * `a`, `k*(x/k) + x%k` becomes `x`, and terms over size-1 axes become constants.
 *
 * All divisions are floor divisions and all remainders are floor remainders (in [0, k)), so
 * the identities hold for negative partial sums too (a flip contributes `-i`).
 */

/** A loop of a kernel: an output axis or an axis being reduced. */
export interface LoopVar {
  readonly id: number;
  readonly extent: number;
  readonly role: 'output' | 'reduce';
}

/** A data-dependent index value: the expression computing it is opaque to the simplifier. */
export interface DynamicIndex {
  readonly id: number;
  readonly key: string;
  /** Loop variables the value depends on (for hoisting). */
  readonly vars: readonly LoopVar[];
}

export type Atom =
  | { readonly kind: 'var'; readonly v: LoopVar; readonly key: string }
  | { readonly kind: 'div'; readonly of: Affine; readonly by: number; readonly key: string }
  | { readonly kind: 'mod'; readonly of: Affine; readonly by: number; readonly key: string }
  | { readonly kind: 'dyn'; readonly value: DynamicIndex; readonly lo: number; readonly hi: number; readonly key: string };

export interface Term {
  readonly atom: Atom;
  readonly coef: number;
}

/** `constant + sum(coef * atom)`, terms sorted by atom key (a canonical form). */
export interface Affine {
  readonly terms: readonly Term[];
  readonly constant: number;
  readonly key: string;
}

let nextVarId = 1;

export function newVar(extent: number, role: LoopVar['role']): LoopVar {
  return { id: nextVarId++, extent, role };
}

export function constantIndex(c: number): Affine {
  return { terms: [], constant: c, key: String(c) };
}

export const ZERO = constantIndex(0);

export function varIndex(v: LoopVar): Affine {
  return normalize([{ atom: { kind: 'var', v, key: `v${v.id}` }, coef: 1 }], 0);
}

export function dynamicIndex(value: DynamicIndex, lo: number, hi: number): Affine {
  return normalize([{ atom: { kind: 'dyn', value, lo, hi, key: `d${value.id}` }, coef: 1 }], 0);
}

/** Inclusive bounds of an atom's values. */
function atomRange(atom: Atom): [number, number] {
  switch (atom.kind) {
    case 'var': return [0, atom.v.extent - 1];
    case 'div': {
      const [lo, hi] = rangeOf(atom.of);
      return [Math.floor(lo / atom.by), Math.floor(hi / atom.by)];
    }
    case 'mod': return [0, atom.by - 1];
    case 'dyn': return [atom.lo, atom.hi];
    default: return atom satisfies never;
  }
}

/** Inclusive bounds of the values an index expression takes over its loops. */
export function rangeOf(a: Affine): [number, number] {
  let lo = a.constant;
  let hi = a.constant;
  for (const { atom, coef } of a.terms) {
    const [l, h] = atomRange(atom);
    if (coef > 0) {
      lo += coef * l;
      hi += coef * h;
    } else {
      lo += coef * h;
      hi += coef * l;
    }
  }
  return [lo, hi];
}

function keyOf(terms: readonly Term[], constant: number): string {
  if (terms.length === 0) return String(constant);
  const parts = terms.map(({ atom, coef }) => (coef === 1 ? atom.key : `${coef}*${atom.key}`));
  if (constant !== 0) parts.push(String(constant));
  return parts.join('+');
}

/**
 * The canonical form: like terms combined, zero terms dropped, atoms with one possible
 * value turned into constants, and `c*k*(x/k) + c*(x%k)` recombined into `c*x`.
 */
function normalize(terms: readonly Term[], constant: number): Affine {
  // Hot (every index the scheduler builds): none or one term has nothing to combine or sort.
  if (terms.length === 0) return { terms: [], constant, key: String(constant) };
  if (terms.length === 1) {
    const { atom, coef } = terms[0];
    if (coef === 0) return { terms: [], constant, key: String(constant) };
    const [lo, hi] = atomRange(atom);
    if (lo === hi) {
      const c = constant + coef * lo;
      return { terms: [], constant: c, key: String(c) };
    }
    const single = [{ atom, coef }];
    return { terms: single, constant, key: keyOf(single, constant) };
  }
  const byKey = new Map<string, Term>();
  let c = constant;
  const pending = [...terms];
  while (pending.length) {
    const { atom, coef } = pending.pop()!;
    if (coef === 0) continue;
    const [lo, hi] = atomRange(atom);
    if (lo === hi) {
      c += coef * lo;
      continue;
    }
    const known = byKey.get(atom.key);
    byKey.set(atom.key, { atom, coef: (known?.coef ?? 0) + coef });
  }
  for (const [key, term] of byKey) if (term.coef === 0) byKey.delete(key);
  recombineDivMod(byKey, (extra, k) => {
    for (const t of extra.terms) {
      const known = byKey.get(t.atom.key);
      const coef = (known?.coef ?? 0) + t.coef * k;
      if (coef === 0) byKey.delete(t.atom.key);
      else byKey.set(t.atom.key, { atom: t.atom, coef });
    }
    c += extra.constant * k;
  });
  const sorted = [...byKey.values()].sort((x, y) => (x.atom.key < y.atom.key ? -1 : x.atom.key > y.atom.key ? 1 : 0));
  return { terms: sorted, constant: c, key: keyOf(sorted, c) };
}

/** Finds `c*k*(x/k)` next to `c*(x%k)` and replaces the pair by `c*x` (via `addScaled`). */
function recombineDivMod(byKey: Map<string, Term>, addScaled: (x: Affine, k: number) => void): void {
  let changed = true;
  while (changed) {
    changed = false;
    for (const [key, term] of byKey) {
      const atom = term.atom;
      if (atom.kind !== 'mod') continue;
      const divKey = `(${atom.of.key})/${atom.by}`;
      const partner = byKey.get(divKey);
      if (!partner || partner.coef !== term.coef * atom.by) continue;
      byKey.delete(key);
      byKey.delete(divKey);
      addScaled(atom.of, term.coef);
      changed = true;
      break;
    }
  }
}

export function addIndex(a: Affine, b: Affine): Affine {
  return normalize([...a.terms, ...b.terms], a.constant + b.constant);
}

export function scaleIndex(a: Affine, k: number): Affine {
  if (k === 1) return a;
  return normalize(a.terms.map((t) => ({ atom: t.atom, coef: t.coef * k })), a.constant * k);
}

export function offsetIndex(a: Affine, c: number): Affine {
  return c === 0 ? a : normalize(a.terms, a.constant + c);
}

/** `sum(index[d] * strides[d])`. */
export function linearIndex(index: readonly Affine[], strides: readonly number[]): Affine {
  const terms: Term[] = [];
  let constant = 0;
  index.forEach((a, d) => {
    const s = strides[d];
    if (s === 0) return;
    for (const t of a.terms) terms.push({ atom: t.atom, coef: t.coef * s });
    constant += a.constant * s;
  });
  return normalize(terms, constant);
}

/** Splits `a` into `k*q + r` where q gathers the terms (and constant part) divisible by k. */
function splitByDivisor(a: Affine, k: number): { quotient: Affine; rest: Affine } {
  const q: Term[] = [];
  const r: Term[] = [];
  for (const t of a.terms) {
    if (t.coef % k === 0) q.push({ atom: t.atom, coef: t.coef / k });
    else r.push(t);
  }
  const qc = Math.floor(a.constant / k);
  return { quotient: normalize(q, qc), rest: normalize(r, a.constant - qc * k) };
}

/** `floor(a / k)` for a positive integer k, simplified. */
export function floorDivIndex(a: Affine, k: number): Affine {
  if (k === 1) return a;
  const { quotient, rest } = splitByDivisor(a, k);
  const [lo, hi] = rangeOf(rest);
  if (lo >= 0 && hi < k) return quotient;
  const lowBlock = Math.floor(lo / k);
  if (lowBlock === Math.floor(hi / k)) return offsetIndex(quotient, lowBlock);
  // floor(floor(x / m) / k) = floor(x / (m k)).
  if (rest.constant === 0 && rest.terms.length === 1 && rest.terms[0].coef === 1 && rest.terms[0].atom.kind === 'div') {
    const inner = rest.terms[0].atom;
    return addIndex(quotient, floorDivIndex(inner.of, inner.by * k));
  }
  const atom: Atom = { kind: 'div', of: rest, by: k, key: `(${rest.key})/${k}` };
  return addIndex(quotient, normalize([{ atom, coef: 1 }], 0));
}

/** `a mod k` (in [0, k)) for a positive integer k, simplified. */
export function modIndex(a: Affine, k: number): Affine {
  if (k === 1) return ZERO;
  const { rest } = splitByDivisor(a, k);
  const [lo, hi] = rangeOf(rest);
  if (lo >= 0 && hi < k) return rest;
  const lowBlock = Math.floor(lo / k);
  if (lowBlock === Math.floor(hi / k)) return offsetIndex(rest, -lowBlock * k);
  // (x mod m) mod k = x mod k when k divides m.
  if (rest.constant === 0 && rest.terms.length === 1 && rest.terms[0].coef === 1 && rest.terms[0].atom.kind === 'mod' && rest.terms[0].atom.by % k === 0) {
    return modIndex(rest.terms[0].atom.of, k);
  }
  const atom: Atom = { kind: 'mod', of: rest, by: k, key: `(${rest.key})%${k}` };
  return normalize([{ atom, coef: 1 }], 0);
}

/** Every loop variable an index expression mentions (dynamic values included). */
export function varsOf(a: Affine, into: Map<number, LoopVar> = new Map()): Map<number, LoopVar> {
  for (const { atom } of a.terms) {
    switch (atom.kind) {
      case 'var': into.set(atom.v.id, atom.v); break;
      case 'div':
      case 'mod': varsOf(atom.of, into); break;
      case 'dyn': for (const v of atom.value.vars) into.set(v.id, v); break;
      default: atom satisfies never;
    }
  }
  return into;
}

/** The coefficient of `v` where it appears as a plain term (0 if absent or only inside div/mod). */
export function coefficientOf(a: Affine, v: LoopVar): number {
  return a.terms.find((t) => t.atom.kind === 'var' && t.atom.v === v)?.coef ?? 0;
}

/** `a` without its plain term in `v`. */
export function withoutVar(a: Affine, v: LoopVar): Affine {
  return normalize(a.terms.filter((t) => !(t.atom.kind === 'var' && t.atom.v === v)), a.constant);
}

/** True when `v` occurs inside a div/mod/dynamic atom of `a` (so `a` is not affine in v). */
export function mentionsNonlinearly(a: Affine, v: LoopVar): boolean {
  return a.terms.some((t) => t.atom.kind !== 'var' && varsOf({ terms: [t], constant: 0, key: '' }).has(v.id));
}

/**
 * Replaces loop variables by index expressions; `mapDynamic` rebuilds data-dependent
 * atoms (whose value expressions may mention the variables too).
 */
export function substituteIndex(a: Affine, map: ReadonlyMap<number, Affine>, mapDynamic: (atom: Extract<Atom, { kind: 'dyn' }>) => Affine): Affine {
  let out = constantIndex(a.constant);
  for (const { atom, coef } of a.terms) {
    let replaced: Affine;
    switch (atom.kind) {
      case 'var': replaced = map.get(atom.v.id) ?? normalize([{ atom, coef: 1 }], 0); break;
      case 'div': replaced = floorDivIndex(substituteIndex(atom.of, map, mapDynamic), atom.by); break;
      case 'mod': replaced = modIndex(substituteIndex(atom.of, map, mapDynamic), atom.by); break;
      case 'dyn': replaced = mapDynamic(atom); break;
      default: return atom satisfies never;
    }
    out = addIndex(out, scaleIndex(replaced, coef));
  }
  return out;
}
