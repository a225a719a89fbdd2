// Symmetric outputs computed once per pair (fusion/symmetry.ts): the proof fires on the
// batched Hessian and on Gram matrices, never on a program that is not symmetric by
// construction (near-symmetric ones included), and split plans agree with the interpreter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hessian, jit, randn, vmap, withBackend, type Tensor } from '../src/index.js';
import { assertAllClose, numRuns } from '../src/testing/index.js';
import { clearCaches, withoutFactoring } from '../src/fusion/program.js';
import { symmetricAxes, symmetryStats, symmetrySwitch } from '../src/fusion/symmetry.js';
import { isInputLeaf } from '../src/fusion/schedule.js';
import { prim } from '../src/lazy/build.js';
import { FACTORS, closedUnderSwap, sumOfProduct } from './symmetric-products.js';

/** A random tensor left lazy: its reshapes keep their input (see `data` for realized ones). */
function lazy(shape: number[], seed: number): Tensor {
  return randn(shape, { seed });
}

function data(shape: number[], seed: number): Tensor {
  const t = randn(shape, { seed });
  t.dataSync();
  return t;
}

/** Runs `body` with the split on (it is off by default) for any number of terms, or `minTerms`; plans forgotten around it. */
function splitting<T>(body: () => T, minTerms = 1): T {
  const saved = { ...symmetrySwitch };
  clearCaches();
  symmetrySwitch.enabled = true;
  symmetrySwitch.minTermsPerOutput = minTerms;
  try {
    return body();
  } finally {
    Object.assign(symmetrySwitch, saved);
    clearCaches();
  }
}

/** The value on `backend` and how many sums the scheduler split while planning it. */
function planned(backend: 'wasm' | 'js', build: () => Tensor): { value: Float32Array; splits: number } {
  const before = symmetryStats.splits;
  const value = withBackend(backend, () => build().dataSync() as Float32Array);
  return { value, splits: symmetryStats.splits - before };
}

for (const D of [8, 9, 12]) {
  test(`the batched Hessian's update (D=${D}) is proved symmetric, split, and agrees with the interpreter`, () => {
    const [N, H] = [40, 16];
    const A = data([H, D], 1);
    const b = data([H], 2);
    const X = data([N, D], 3);
    const f = (x: Tensor) => A.matmul(x).add(b).tanh().sum();
    const expected = withBackend('interp', () => (vmap(hessian(f))(X) as Tensor).dataSync());
    splitting(() => {
      for (const backend of ['wasm', 'js'] as const) {
        const got = planned(backend, () => jit(vmap(hessian(f)))(X) as Tensor);
        assert.equal(got.splits, 1, `${backend}: one split`);
        // The backends' float32 tanh is within 1e-6 relative, w = -2t(1-t^2) triples that, and
        // each entry sums 16 such terms of size ~1: 1e-5 absolute.
        assertAllClose(Array.from(got.value), Array.from(expected), { rtol: 1e-5, atol: 1e-5 });
      }
    });
  });
}

test('a Gram matrix X^T X is split; X^T Y and A^T (A + tiny) are not', () => {
  const X = data([64, 16], 4);
  const Y = data([64, 16], 5);
  const nearlyX = X.add(data([64, 16], 6).mul(1e-6));
  splitting(() => {
    const gram = planned('wasm', () => X.transpose().matmul(X));
    assert.equal(gram.splits, 1);
    assertAllClose(Array.from(gram.value), Array.from(withBackend('interp', () => X.transpose().matmul(X).dataSync())), { rtol: 1e-5, atol: 1e-5 });
    assert.equal(planned('wasm', () => X.transpose().matmul(Y)).splits, 0);
    assert.equal(planned('wasm', () => X.transpose().matmul(nearlyX)).splits, 0);
    // Symmetric in value only where both axes have one extent: X [64, 16] x X[:, :8] is not square.
    assert.equal(planned('wasm', () => X.transpose().matmul(X.slice([null, [0, 8]]))).splits, 0);
  });
});

test('no split with factoring off (it reassociates products) or below the threshold of terms', () => {
  const X = data([64, 16], 7);
  splitting(() => assert.equal(withoutFactoring(() => planned('wasm', () => X.transpose().matmul(X))).splits, 0));
  // 64 terms per output: split at a threshold of 64, not at 65.
  splitting(() => assert.equal(planned('wasm', () => X.transpose().matmul(X)).splits, 0), 65);
  splitting(() => assert.equal(planned('wasm', () => X.mul(1).transpose().matmul(X.mul(1))).splits, 1), 64);
});

test('the split is off by default', () => {
  const X = data([64, 16], 8);
  clearCaches();
  assert.equal(planned('wasm', () => X.transpose().matmul(X)).splits, 0);
});

/** Random sums of products (symmetric-products.ts): symmetric exactly when closed under i <-> j. */
test('the split fires only on sums symmetric by construction, and split plans agree with the interpreter', () => {
  const [N, H, D] = [6, 5, 8];
  // Fresh leaves for every run: nodes are hash-consed, and a program realized by an earlier
  // run (fast-check replays a failing case while shrinking) would not be planned again.
  let seed = 100;
  const tensorsFor = () => {
    seed += 10;
    return { A: lazy([H, D], seed), B: lazy([H, D], seed + 1), s: lazy([N, H], seed + 2), c: lazy([D], seed + 3), M: lazy([D, D], seed + 4) };
  };
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...FACTORS), { minLength: 2, maxLength: 4 }), fc.double({ min: -3, max: 3, noNaN: true }), (factors, scale) => {
      const leaves = tensorsFor();
      const build = () => sumOfProduct(leaves, factors, scale, [N, H, D]);
      const closed = closedUnderSwap(factors);
      const expected = withBackend('interp', () => build().dataSync());
      splitting(() => {
        const got = planned('wasm', build);
        // Never a guess: a product that is not closed under the swap is never split; and
        // these closed ones (lazy leaves, every axis square) are all proved.
        assert.equal(got.splits, closed ? 1 : 0, `${factors.join('*')}: ${closed ? 'symmetric, not proved' : 'not symmetric, yet split'}`);
        assertAllClose(Array.from(got.value), Array.from(expected), { rtol: 1e-5, atol: 1e-6 });
      });
    }),
    { numRuns: numRuns(25) },
  );
});

test('the proof fires on the closed products a user writes plainly', () => {
  const [N, H, D] = [6, 5, 8];
  const A = lazy([H, D], 21);
  const s = lazy([N, H], 22);
  splitting(() => {
    const got = planned('wasm', () => s.reshape([N, H, 1, 1]).mul(A.reshape([1, H, D, 1])).mul(A.reshape([1, H, 1, D])).sum({ axis: 1 }));
    assert.equal(got.splits, 1);
  });
});

test('symmetricAxes: factors free of the swapped axes match themselves; one that reads a swapped axis is compared at the swap', () => {
  // N = D: the batch axis n has the extent of i and j, so the swaps (n, i) and (n, j) are tried
  // too, and s[n, h] (free of i and j, not of n) must be lowered at them, and refuted.
  const [N, H, D] = [8, 5, 8];
  const shape = [N, H, D, D];
  const [A, B, s, t] = [data([H, D], 31), data([H, D], 32), data([N, H], 33), data([N, H], 34)];
  const factor: Record<string, Tensor> = {
    Ai: A.reshape([1, H, D, 1]), Aj: A.reshape([1, H, 1, D]), Bj: B.reshape([1, H, 1, D]),
    s: s.reshape([N, H, 1, 1]), t: t.reshape([N, H, 1, 1]),
  };
  const pairsOf = (names: string[]) => {
    const factors = names.map((n) => factor[n].broadcastTo(shape).node);
    const body = factors.reduce((acc, f) => prim('mul', [acc, f]));
    const sum = prim('reduce_sum', [body], { shape: [N, 1, D, D] });
    return symmetricAxes(sum, { scale: 1, factors }, isInputLeaf);
  };
  assert.deepEqual(pairsOf(['s', 'Ai', 'Aj']), [[2, 3]]);
  assert.deepEqual(pairsOf(['s', 't', 'Ai', 'Aj', 's']), [[2, 3]]);
  assert.deepEqual(pairsOf(['s', 'Ai', 'Bj']), []);
  assert.deepEqual(pairsOf(['s', 't']), [[2, 3]]);
});
