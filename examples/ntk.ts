/**
 * The empirical neural tangent kernel of an MLP, Θ(x1, x2) = J(x1) J(x2)ᵀ with J the
 * Jacobian of the network's outputs with respect to its parameters, computed two ways as in
 * functorch's tutorial: by contracting per-example Jacobians from vmap(jacrev), and by
 * NTK-vector products (a vjp followed by a jvp, vmapped over a basis of outputs), which
 * never builds a Jacobian. The two agree.
 * Run: npm run example -- ntk   (FUNCTS_QUICK=1 for the small test size)
 */
import { einsum, eye, jacrev, jit, jvp, makeFunctional, nn, randn, realize, vjp, vmap, type Tensor } from '../src/index.js';
import { assertAllClose } from '../src/testing/index.js';

const QUICK = process.env.FUNCTS_QUICK === '1';
const [N1, N2] = QUICK ? [3, 4] : [20, 30];
const [FEATURES, HIDDEN, OUTPUTS] = [4, QUICK ? 16 : 64, 3];

const model = new nn.MLP([FEATURES, HIDDEN, HIDDEN, OUTPUTS], { activation: 'tanh', seed: 0 });
const [fmodel, params] = makeFunctional(model);
type Params = typeof params;

/** The network on one example: [FEATURES] -> [OUTPUTS]. */
const single = (p: Params, x: Tensor) => fmodel(p, x.unsqueeze(0)).squeeze(0);

const x1 = randn([N1, FEATURES], { seed: 1 });
const x2 = randn([N2, FEATURES], { seed: 2 });

/** Method 1: per-example Jacobians [N, OUTPUTS, ...param shape], contracted over the parameters. */
function ntkByJacobians(p: Params, a: Tensor, b: Tensor): Tensor {
  const jacobians = vmap(jacrev(single), { inDims: [null, 0] });
  const j1 = jacobians(p, a);
  const j2 = jacobians(p, b);
  return Object.keys(p)
    .map((k) => einsum('naf,mbf->nmab', j1[k].flatten(2), j2[k].flatten(2)))
    .reduce((acc, t) => acc.add(t));
}

/** Method 2: Θ(a, b) e_i = J(b) J(a)ᵀ e_i, one vjp and one jvp per basis vector e_i. */
function ntkByProducts(p: Params, a: Tensor, b: Tensor): Tensor {
  const forPair = (xa: Tensor, xb: Tensor) => {
    const [, pullback] = vjp((q: Params) => single(q, xa), [p]);
    const slice = (e: Tensor) => {
      const [cotangent] = pullback(e);
      return jvp((q: Params) => single(q, xb), [p], [cotangent])[1];
    };
    return vmap(slice)(eye(OUTPUTS));
  };
  return vmap(vmap(forPair, { inDims: [null, 0] }), { inDims: [0, null] })(a, b);
}

let started = performance.now();
const byJacobians = realize(jit(ntkByJacobians)(params, x1, x2));
const jacMs = performance.now() - started;
started = performance.now();
const byProducts = realize(jit(ntkByProducts)(params, x1, x2));
const productMs = performance.now() - started;
console.log(`NTK [${byJacobians.shape.join(', ')}] of an MLP with ${model.parameters().reduce((n, t) => n + t.size, 0)} parameters: Jacobian contraction ${jacMs.toFixed(0)} ms, NTK-vector products ${productMs.toFixed(0)} ms (first calls: trace, compile, run)`);

assertAllClose(byJacobians, byProducts, { rtol: 1e-4, atol: 1e-5 });
// A kernel is symmetric: Θ(x, x) equals its transpose (swapping both the examples and the outputs).
const self = ntkByJacobians(params, x1, x1);
assertAllClose(self, self.permute([1, 0, 3, 2]), { rtol: 1e-5, atol: 1e-6 });
console.log('ok: the empirical NTK by Jacobian contraction equals the one by NTK-vector products');
