/**
 * Random sums of products for the symmetry tests (fusion-symmetry, wasm-mirror):
 * out[n,i,j] = scale * sum_h of a product of factors A[h,i], A[h,j], B[h,i], B[h,j],
 * s[n,h], c[i], c[j], M[i,j], M[j,i]. Each factor has a swap partner (i <-> j); the sum is
 * symmetric by construction exactly when the multiset of factors is closed under that map.
 */
import type { Tensor } from '../src/index.js';

export const FACTORS = ['Ai', 'Aj', 'Bi', 'Bj', 's', 'ci', 'cj', 'M', 'Mt'] as const;
export type Factor = (typeof FACTORS)[number];
const PARTNER: Record<Factor, Factor> = { Ai: 'Aj', Aj: 'Ai', Bi: 'Bj', Bj: 'Bi', s: 's', ci: 'cj', cj: 'ci', M: 'Mt', Mt: 'M' };

/** Whether swapping i and j maps the factors one-to-one onto themselves. */
export function closedUnderSwap(factors: readonly Factor[]): boolean {
  return factors.map((f) => PARTNER[f]).sort().join() === [...factors].sort().join();
}

/** The leaves: A, B [H, D], s [N, H], c [D], M [D, D]. */
export interface ProductLeaves {
  A: Tensor;
  B: Tensor;
  s: Tensor;
  c: Tensor;
  M: Tensor;
}

function factorOf({ A, B, s, c, M }: ProductLeaves, f: Factor, N: number, H: number, D: number): Tensor {
  switch (f) {
    case 'Ai': return A.reshape([1, H, D, 1]);
    case 'Aj': return A.reshape([1, H, 1, D]);
    case 'Bi': return B.reshape([1, H, D, 1]);
    case 'Bj': return B.reshape([1, H, 1, D]);
    case 's': return s.reshape([N, H, 1, 1]);
    case 'ci': return c.reshape([1, 1, D, 1]);
    case 'cj': return c.reshape([1, 1, 1, D]);
    case 'M': return M.reshape([1, 1, D, D]);
    case 'Mt': return M.transpose().reshape([1, 1, D, D]);
  }
}

/** scale * sum over h of the product of `factors`: an [N, D, D] lazy tensor. */
export function sumOfProduct(leaves: ProductLeaves, factors: readonly Factor[], scale: number, [N, H, D]: readonly [number, number, number]): Tensor {
  return factors.map((f) => factorOf(leaves, f, N, H, D)).reduce((acc, t) => acc.mul(t)).mul(scale).broadcastTo([N, H, D, D]).sum({ axis: 1 });
}
