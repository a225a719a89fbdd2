// Nesting: each transform differentiates only through its own Params (the perturbation-
// confusion cases), and item() with data-dependent control flow under grad, vjp and jvp.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { grad, jacrev, jvp, tensor, TransformError, vjp, vmap, type Tensor } from '../../src/index.js';
import { assertAllClose, numericalGrad } from '../../src/testing/index.js';

const f64 = (v: number) => tensor(v, { dtype: 'float64' });
const d = (f: (x: Tensor) => Tensor) => grad(f);

describe('perturbation confusion', () => {
  test('d/dx [x * grad(y => x * y)(c)] = 2x: the inner grad is x, for any c', () => {
    // grad over y of x*y is x, so the function is x * x and its derivative 2x. An outer
    // transform that confused its perturbation with the inner one's would get x (or 3x).
    for (const [x, c] of [[2, 3], [-1.5, 0.25], [0.7, -4]]) {
      const f = (t: Tensor) => t.mul(d((y: Tensor) => t.mul(y))(f64(c)));
      assertAllClose(d(f)(f64(x)), 2 * x, { rtol: 1e-12, atol: 0 });
      assertAllClose(d(f)(f64(x)), numericalGrad(f, [f64(x)]), { rtol: 1e-8, atol: 1e-10 });
    }
  });

  test('d/dx [x * grad(y => x + y)(1)] = 1 at any x', () => {
    for (const x of [-3, 0, 0.5, 10]) {
      const f = (t: Tensor) => t.mul(d((y: Tensor) => t.add(y))(f64(1)));
      assertAllClose(d(f)(f64(x)), 1, { rtol: 0, atol: 0 });
    }
  });

  test('the same cases through jvp, vjp and jacrev as the outer or inner transform', () => {
    const x = 1.75;
    const inner = (t: Tensor) => d((y: Tensor) => t.mul(y))(f64(3));
    const f = (t: Tensor) => t.mul(inner(t));
    assertAllClose(jvp(f, [f64(x)], [f64(1)])[1], 2 * x, { rtol: 1e-12, atol: 0 });
    assertAllClose(vjp(f, [f64(x)])[1](f64(1))[0], 2 * x, { rtol: 1e-12, atol: 0 });
    // Inner jvp: d/dy (x * y) along 1 is x.
    const g = (t: Tensor) => t.mul(jvp((y: Tensor) => t.mul(y), [f64(3)], [f64(1)])[1]);
    assertAllClose(d(g)(f64(x)), 2 * x, { rtol: 1e-12, atol: 0 });
    // Inner jacrev on a vector: the Jacobian of x * y over y is x I; its trace is 3x.
    const h = (t: Tensor) => t.mul(jacrev((y: Tensor) => y.mul(t))(tensor([1, 2, 3], { dtype: 'float64' })).diagonal().sum());
    assertAllClose(d(h)(f64(x)), 6 * x, { rtol: 1e-12, atol: 0 });
  });

  test('an inner vmap closing over the outer variable', () => {
    // f(x) = sum_i sin(x * c_i), so f'(x) = sum_i c_i cos(x c_i).
    const c = [0.5, -1, 2];
    const f = (t: Tensor) => vmap((ci: Tensor) => t.mul(ci).sin())(tensor(c, { dtype: 'float64' })).sum();
    for (const x of [0.3, -1.2]) assertAllClose(d(f)(f64(x)), c.reduce((s, ci) => s + ci * Math.cos(x * ci), 0), { rtol: 1e-12, atol: 1e-14 });
  });

  test('grad of grad of a function that itself calls grad', () => {
    // u(x) = grad(y => x * y^2)(x) = 2 x^2, so f(x) = x * u(x) = 2 x^3; f'' = 12 x.
    const f = (t: Tensor) => t.mul(d((y: Tensor) => t.mul(y.square()))(t));
    for (const x of [0.5, -2]) assertAllClose(d(d(f))(f64(x)), 12 * x, { rtol: 1e-12, atol: 0 });
  });
});

describe('item() and data-dependent control flow', () => {
  const branchy = (t: Tensor) => (t.sum().item() > 0 ? t.sin().sum() : t.square().sum());

  test('under grad, each branch is differentiated where it is taken', () => {
    assertAllClose(grad(branchy)(tensor([0.5, 1], { dtype: 'float64' })), [Math.cos(0.5), Math.cos(1)], { rtol: 1e-12, atol: 0 });
    assertAllClose(grad(branchy)(tensor([-0.5, -1], { dtype: 'float64' })), [-1, -2], { rtol: 1e-12, atol: 0 });
  });

  test('a while loop on values: repeated squaring until the value exceeds 10', () => {
    const f = (t: Tensor) => {
      let y = t;
      while (y.item() < 10) y = y.mul(y);
      return y;
    };
    for (const x of [1.5, 2, 3.7, 11]) {
      // y = x^(2^k) for the k the loop takes; dy/dx = 2^k x^(2^k - 1).
      let k = 0;
      for (let v = x; v < 10; v *= v) k++;
      const p = 2 ** k;
      assertAllClose(grad(f)(f64(x)), p * x ** (p - 1), { rtol: 1e-12, atol: 0 });
      assertAllClose(jvp(f, [f64(x)], [f64(1)])[1], p * x ** (p - 1), { rtol: 1e-12, atol: 0 });
      assertAllClose(vjp(f, [f64(x)])[1](f64(1))[0], p * x ** (p - 1), { rtol: 1e-12, atol: 0 });
    }
  });

  test('under vjp and jvp, toArray and branching on values work too', () => {
    const f = (t: Tensor) => ((t.toArray() as number[])[0] > 0 ? t.exp() : t.neg());
    const x = tensor([0.5, 2], { dtype: 'float64' });
    assertAllClose(jvp(f, [x], [tensor([1, 1], { dtype: 'float64' })])[1], [Math.exp(0.5), Math.exp(2)], { rtol: 1e-12, atol: 0 });
    assertAllClose(vjp(f, [x.neg()])[1](tensor([1, 1], { dtype: 'float64' }))[0], [-1, -1], { rtol: 0, atol: 0 });
  });

  test('values read inside nested grads are the values at the current point', () => {
    const seen: number[] = [];
    const f = (t: Tensor) => {
      seen.push(t.item());
      return t.pow(3);
    };
    assertAllClose(d(d(f))(f64(2)), 12, { rtol: 1e-12, atol: 0 });
    assert.ok(seen.every((v) => v === 2), `item() saw ${seen}`);
  });

  test('under vmap a per-example value does not exist: a TransformError naming vmap', () => {
    const cases: [string, (t: Tensor) => unknown][] = [
      ['item', (t) => t.sum().item()],
      ['toArray', (t) => t.toArray()],
      ['dataSync', (t) => t.dataSync()],
      ['toString', (t) => t.toString()],
      ['control flow', branchy],
    ];
    for (const [what, body] of cases) {
      assert.throws(
        () => vmap((t: Tensor) => (body(t), t))(tensor([[1, 2], [3, 4]])),
        (e: unknown) => e instanceof TransformError && /vmap/.test(e.message) && /where\(\)/.test(e.message),
        what,
      );
    }
    // Also through grad inside vmap: the grad's Param is bound to vmap's unbound one.
    assert.throws(() => vmap(grad(branchy))(tensor([[1, 2], [3, 4]])), (e: unknown) => e instanceof TransformError && /vmap/.test(e.message));
  });

  test('values that do not depend on the mapped input can still be read under vmap', () => {
    const w = tensor([1, 2]);
    const out = vmap((t: Tensor) => (w.sum().item() > 2 ? t.mul(w) : t))(tensor([[1, 1], [2, 2]]));
    assertAllClose(out, [[1, 2], [2, 4]]);
  });
});
