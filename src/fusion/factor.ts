/**
 * Broadcast factoring: a DAG rewrite the scheduler runs first. A product (through negation,
 * `x + x` and constant factors) of tensors broadcast the same way is computed at the small
 * shape and broadcast once:
 *
 *   expand(u) * expand(t) * expand(A) * -2   ->   expand(u * t) * expand(A * -2)
 *
 * where u and t are broadcast along one set of axes and A along another. Transforms build
 * such products (the Hessian of sum(tanh(A x + b)) multiplies -2 t (1 - t^2), an [N, H]
 * value, by A at [N, D, H]); computed at the large shape, the product is expensive work over
 * a large iteration space, which the scheduler then materializes (an [N, D, H] buffer, four
 * times the Hessians). Factored, the large product is two loads and a multiplication, which
 * inlines into the reduction that reads it, and the small product `u * t` (which the
 * reduction would read many times per element) is returned for materialization.
 */
import { filled, prim } from '../lazy/build.js';
import { isFloat } from '../lazy/dtype.js';
import { topoSort, type Node } from '../lazy/node.js';
import { sizeOf } from '../lazy/shape.js';

/** Work counter (factors and pattern entries visited), for tests that factoring stays linear. */
export const factoringWork = { steps: 0 };

/**
 * A node's value as `scale * product(factors)`, each factor of the node's shape. The factors
 * are a concatenation tree, flattened only where the product is regrouped, and `patterns`
 * summarizes them per broadcast pattern, so that deciding whether to regroup costs the
 * number of patterns, not of factors: a gradient through a long loop is a product whose
 * factors grow with every step, and copying or rescanning them at each step made factoring
 * quadratic (cubic with the per-factor regrouping) in the loop's length.
 */
interface Product {
  readonly scale: number;
  readonly factors: Factors;
  /** Per broadcast pattern (in order of first appearance), what regrouping needs to know. */
  readonly patterns: ReadonlyMap<string, PatternSummary>;
}

type Factors = Node | { readonly left: Factors; readonly right: Factors };

interface PatternSummary {
  readonly count: number;
  /** Some factor of the pattern is a broadcast of a value with work of its own. */
  readonly working: boolean;
  /** The size of the first factor's broadcast source (where a scale would go). */
  readonly firstSourceSize: number;
}

/** The factors in order (without recursion: a long loop's product is a deep tree). */
function flatten(factors: Factors): Node[] {
  const out: Node[] = [];
  const stack: Factors[] = [factors];
  while (stack.length) {
    const f = stack.pop()!;
    factoringWork.steps++;
    if ('left' in f) stack.push(f.right, f.left);
    else out.push(f);
  }
  return out;
}

function concatPatterns(a: ReadonlyMap<string, PatternSummary>, b: ReadonlyMap<string, PatternSummary>): Map<string, PatternSummary> {
  factoringWork.steps += a.size + b.size;
  const out = new Map(a);
  for (const [key, s] of b) {
    const known = out.get(key);
    out.set(key, known ? { count: known.count + s.count, working: known.working || s.working, firstSourceSize: known.firstSourceSize } : s);
  }
  return out;
}

/** For `expand(x)` at the same rank: x; otherwise undefined. */
function broadcastSource(n: Node): Node | undefined {
  if (n.op !== 'expand' || n.inputs.length !== 1) return undefined;
  const [x] = n.inputs;
  return x.shape.length === n.shape.length && sizeOf(x.shape) < sizeOf(n.shape) ? x : undefined;
}

/** The axes a factor is broadcast along ('' for a factor that is not a broadcast). */
function patternOf(n: Node): string {
  const source = broadcastSource(n);
  if (!source) return '';
  return n.shape.flatMap((d, axis) => (source.shape[axis] === 1 && d !== 1 ? [axis] : [])).join(',');
}

/** Does computing `n` take work (movement and constants are free, stored values are loads)? */
function computes(n: Node): boolean {
  let x = n;
  while (x.rule.kind === 'movement' && x.realized === null) x = x.inputs[0];
  return x.realized === null && (x.rule.kind === 'elementwise' || x.rule.kind === 'reduce');
}

/**
 * Factoring reassociates float32 products (a * b) * c as a * (b * c), which moves results by
 * an ulp or so (and can move an overflow or underflow); values that feed a comparison are
 * never factored. Tests of exact arithmetic turn it off (program.ts, withoutFactoring).
 */
export const factoringSwitch = { enabled: true };

/** The product of one factor. */
function single(n: Node): Product {
  const source = broadcastSource(n);
  const summary = { count: 1, working: source !== undefined && computes(source), firstSourceSize: source ? sizeOf(source.shape) : 0 };
  return { scale: 1, factors: n, patterns: new Map([[patternOf(n), summary]]) };
}

export interface Factoring {
  /** The roots, rewritten (a root that did not change is itself). */
  readonly roots: readonly Node[];
  /** Small products read through a broadcast: worth computing once and storing. */
  readonly store: ReadonlySet<Node>;
}

/**
 * Rewrites the DAG below `roots` (see the module comment); nodes in `keep` and below
 * `isLeaf` nodes are left alone. `order` is `topoSort(roots, isLeaf)` where the caller has it.
 */
export function factorBroadcasts(roots: readonly Node[], isLeaf: (n: Node) => boolean, keep: ReadonlySet<Node>, order: readonly Node[] = topoSort(roots, isLeaf)): Factoring {
  if (!factoringSwitch.enabled) return { roots, store: new Set() };
  const mapped = new Map<Node, Node>();
  const products = new Map<Node, Product>();
  const store = new Set<Node>();
  const productOf = (n: Node): Product => {
    let p = products.get(n);
    if (!p) products.set(n, (p = single(n)));
    return p;
  };
  for (const node of order) {
    if (isLeaf(node) || node.inputs.length === 0) continue;
    const inputs = node.inputs.map((i) => mapped.get(i) ?? i);
    let product: Product | undefined;
    if (isFloat(node.dtype) && !keep.has(node)) {
      const [a, b] = inputs;
      const sameShape = inputs.every((i) => i.shape.length === node.shape.length && sizeOf(i.shape) === sizeOf(node.shape));
      if (node.op === 'mul' && sameShape) {
        const [pa, pb] = [productOf(a), productOf(b)];
        product = { scale: pa.scale * pb.scale, factors: { left: pa.factors, right: pb.factors }, patterns: concatPatterns(pa.patterns, pb.patterns) };
      } else if (node.op === 'neg' && sameShape) {
        const p = productOf(a);
        product = { ...p, scale: -p.scale };
      } else if (node.op === 'add' && a === b) {
        const p = productOf(a);
        product = { ...p, scale: 2 * p.scale };
      }
    }
    const changed = inputs.some((x, i) => x !== node.inputs[i]);
    let rebuilt = changed ? prim(node.op, inputs, node.attrs) : node;
    if (product) {
      const grouped = groupFactors(product, node);
      if (grouped) {
        rebuilt = grouped.node;
        grouped.store.forEach((s) => store.add(s));
        products.set(rebuilt, grouped.factors.map(single).reduce((p, q) => ({ scale: 1, factors: { left: p.factors, right: q.factors }, patterns: concatPatterns(p.patterns, q.patterns) })));
      } else {
        products.set(rebuilt, product);
      }
    }
    if (rebuilt !== node) mapped.set(node, rebuilt);
  }
  return { roots: roots.map((r) => mapped.get(r) ?? r), store };
}

/** Only a broadcast factor with work of its own gains from regrouping (see groupFactors). */
function working(key: string, s: PatternSummary): boolean {
  return key !== '' && s.working;
}

/** A small product with work of its own, read once per element of its broadcast: stored. */
function stored(key: string, s: PatternSummary): boolean {
  return s.count > 1 && working(key, s);
}

/**
 * The product rebuilt with the factors of each broadcast pattern multiplied at their small
 * shape, or undefined when no two factors share a pattern (nothing to gain).
 */
function groupFactors(product: Product, like: Node): { node: Node; factors: Node[]; store: Node[] } | undefined {
  // Only a broadcast factor with work of its own gains from regrouping (its product or scale
  // is then computed once per small element); regrouping constants and loads would only
  // reassociate float32 arithmetic (and move overflows) for nothing. Hot (every product
  // node), and mostly answered no: one pass, no closures.
  let shared = false;
  let anyWorking = false;
  for (const [key, s] of product.patterns) {
    if (!working(key, s)) continue;
    anyWorking = true;
    if (s.count > 1) shared = true;
  }
  // A scale on a lone factor costs the same on either side of its broadcast: the kernel
  // evaluates an expression in the loops of its variables, which are the broadcast
  // source's. Rebuilding it (neg(expand(mean)) in a loop that centres x at every step)
  // would rebuild every node above it, the whole program, for nothing.
  const lone = product.patterns.size === 1 && product.patterns.values().next().value!.count === 1;
  const scaled = product.scale !== 1 && !lone && anyWorking;
  if (!shared && !scaled) return undefined;
  const patterns = [...product.patterns];
  // The scale goes where multiplying by it costs least: into a small product that will be
  // stored (computed once per element), else the smallest broadcast source.
  let scaleKey = '';
  let smallest = Infinity;
  for (const [key, s] of patterns) {
    const size = stored(key, s) ? 0 : key === '' ? sizeOf(like.shape) : s.firstSourceSize;
    if (size < smallest) [smallest, scaleKey] = [size, key];
  }
  const groups = new Map<string, Node[]>(patterns.map(([key]) => [key, []]));
  for (const f of flatten(product.factors)) groups.get(patternOf(f))!.push(f);
  const store: Node[] = [];
  const factors: Node[] = [];
  for (const [key, fs] of groups) {
    const parts = key === '' ? fs : fs.map((f) => broadcastSource(f)!);
    let value = parts.reduce((acc, p) => prim('mul', [acc, p]));
    if (key === scaleKey && product.scale !== 1) {
      value = product.scale === -1 ? prim('neg', [value]) : prim('mul', [value, filled(product.scale, value.shape, value.dtype)]);
    }
    if (key === '') {
      factors.push(value);
      continue;
    }
    // A small product with work of its own is read once per element of the broadcast: store it.
    if (stored(key, product.patterns.get(key)!)) store.push(value);
    factors.push(prim('expand', [value], { shape: [...like.shape] }));
  }
  return { node: factors.reduce((acc, f) => prim('mul', [acc, f])), factors, store };
}
