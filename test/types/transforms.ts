// What the transforms return, checked by the compiler: a strict user needs no casts.
// Type-checked by `npm run typecheck` and by test/types.test.ts; never executed.
import { grad, gradAndValue, hessian, jacfwd, jacrev, jit, jvp, linearize, vjp, vmap, type Tensor } from '../../src/index.js';
import type { Equal, Expect } from './helpers.js';

declare const x: Tensor;
declare const y: Tensor;
interface Params { w: Tensor; b: Tensor }
declare const params: Params;

const f = (t: Tensor) => t.sin().sum();
const loss = (p: Params, xs: Tensor, ys: Tensor) => xs.matmul(p.w).add(p.b).sub(ys).square().mean();
const three = (a: Tensor, b: Params, c: Tensor) => a.sum().add(b.w.sum()).add(c.sum());

// grad: the first parameter's type by default.
const g0 = grad(f)(x);
type _g0 = Expect<Equal<typeof g0, Tensor>>;
const gp = grad(loss)(params, x, y);
type _gp = Expect<Equal<typeof gp, { w: Tensor; b: Tensor }>>;
gp.w.add(gp.b);
// @ts-expect-error the gradient of a Params has no field `v`
gp.v;

// argnums as a number picks that parameter; negative counts from the end.
const g1 = grad(three, { argnums: 1 })(x, params, y);
type _g1 = Expect<Equal<typeof g1, { w: Tensor; b: Tensor }>>;
// @ts-expect-error argument 1 is Params, so its gradient is not a Tensor
g1.add(1);
const gLast = grad(three, { argnums: -2 })(x, params, y);
type _gLast = Expect<Equal<typeof gLast, { w: Tensor; b: Tensor }>>;

// argnums as a list: a tuple of the selected gradients.
const g02 = grad(three, { argnums: [0, 2] })(x, params, y);
type _g02 = Expect<Equal<typeof g02, [Tensor, Tensor]>>;
const g10 = grad(three, { argnums: [1, 0] })(x, params, y);
type _g10 = Expect<Equal<typeof g10, [{ w: Tensor; b: Tensor }, Tensor]>>;

// hasAux carries the aux type.
const [ga, aux] = grad((t: Tensor) => [t.square().sum(), { norm: t.abs().sum(), tag: 'step' as const }], { hasAux: true })(x);
type _ga = Expect<Equal<typeof ga, Tensor>>;
type _aux = Expect<Equal<typeof aux, { norm: Tensor; tag: 'step' }>>;

// grad of a function that is not scalar-valued by type, or whose hasAux does not match.
// @ts-expect-error grad needs a function returning one Tensor
grad((t: Tensor) => [t, t]);
// @ts-expect-error hasAux: true needs [value, aux]
grad((t: Tensor) => t.sum(), { hasAux: true });
// @ts-expect-error the gradient function takes f's arguments
grad(f)(x, y);

// Nested grads stay Tensors.
const gg = grad(grad((t: Tensor) => t.sin()))(x);
type _gg = Expect<Equal<typeof gg, Tensor>>;

// gradAndValue.
const [gv, v] = gradAndValue(loss)(params, x, y);
type _gv = Expect<Equal<[typeof gv, typeof v], [{ w: Tensor; b: Tensor }, Tensor]>>;
const [gva, [va, auxa]] = gradAndValue((t: Tensor) => [t.sum(), 3] as const, { hasAux: true, argnums: [0] })(x);
type _gva = Expect<Equal<[typeof gva, typeof va, typeof auxa], [[Tensor], Tensor, 3]>>;

// vjp: the output's type and one gradient per primal.
const [out, back] = vjp((a: Tensor, p: Params) => a.mul(p.w), [x, params]);
type _out = Expect<Equal<typeof out, Tensor>>;
const cts = back(x);
type _cts = Expect<Equal<typeof cts, [Tensor, { w: Tensor; b: Tensor }]>>;
const [, , vjpAux] = vjp((a: Tensor) => [a.exp(), 'label'] as const, [x], { hasAux: true });
type _vjpAux = Expect<Equal<typeof vjpAux, 'label'>>;

// jvp and linearize: output and tangent of the output's structure.
const [o2, t2] = jvp((a: Tensor, b: Tensor) => ({ prod: a.mul(b) }), [x, y], [x, y]);
type _jvp = Expect<Equal<[typeof o2, typeof t2], [{ prod: Tensor }, { prod: Tensor }]>>;
// @ts-expect-error one tangent per primal
jvp((a: Tensor, b: Tensor) => a.mul(b), [x, y], [x]);
const [o3, lin] = linearize((a: Tensor) => a.sin(), [x]);
const t3 = lin(y);
type _lin = Expect<Equal<[typeof o3, typeof t3], [Tensor, Tensor]>>;
// @ts-expect-error linearize's jvpFn takes one tangent per primal
lin(y, y);

// vmap keeps the signature.
const mapped = vmap((a: Tensor, p: Params) => ({ s: a.dot(p.w) }), { inDims: [0, null] });
type _vmap = Expect<Equal<typeof mapped, (a: Tensor, p: Params) => { s: Tensor }>>;
const perSample = vmap(grad(loss), { inDims: [null, 0, 0] })(params, x, y);
type _perSample = Expect<Equal<typeof perSample, { w: Tensor; b: Tensor }>>;

// Jacobians of Tensor -> Tensor functions are Tensors.
const J1 = jacrev((t: Tensor) => t.sin())(x);
const J2 = jacfwd((t: Tensor) => t.sin())(x);
const H = hessian(f)(x);
type _J = Expect<Equal<[typeof J1, typeof J2, typeof H], [Tensor, Tensor, Tensor]>>;
const batchedH = vmap(hessian(f))(x);
type _bH = Expect<Equal<typeof batchedH, Tensor>>;

// Pytree outputs and inputs: the output's structure, each leaf the input's structure.
const Jp = jacrev((p: Params) => ({ y: p.w.mul(2), n: p.b.sum() }))(params);
type _Jp = Expect<Equal<typeof Jp, { y: { w: Tensor; b: Tensor }; n: { w: Tensor; b: Tensor } }>>;
const Jl = jacfwd((a: Tensor, b: Tensor) => a.mul(b), { argnums: [0, 1] })(x, y);
type _Jl = Expect<Equal<typeof Jl, [Tensor, Tensor]>>;
const [Ja, jAux] = jacrev((a: Tensor) => [a.sin(), { c: a.cos() }] as const, { hasAux: true })(x);
type _Ja = Expect<Equal<[typeof Ja, typeof jAux], [Tensor, { readonly c: Tensor }]>>;
const Hp = hessian((p: Params) => p.w.square().sum().mul(p.b.sum()))(params);
type _Hp = Expect<Equal<typeof Hp, { w: { w: Tensor; b: Tensor }; b: { w: Tensor; b: Tensor } }>>;
const H01 = hessian((a: Tensor, b: Tensor) => a.mul(b).sum(), { argnums: [0, 1] })(x, y);
type _H01 = Expect<Equal<typeof H01, [[Tensor, Tensor], [Tensor, Tensor]]>>;
// The loop over both Jacobian modes type-checks: they share one signature.
for (const jac of [jacrev, jacfwd]) {
  const J = jac((t: Tensor) => t.exp(), { chunkSize: 4 })(x);
  type _loop = Expect<Equal<typeof J, Tensor>>;
}

// jit keeps the signature and adds its cache controls.
const jitted = jit((a: Tensor, p: Params) => ({ s: a.dot(p.w) }));
const js = jitted(x, params);
type _jit = Expect<Equal<typeof js, { s: Tensor }>>;
jitted.stats.hits;
// @ts-expect-error jit keeps the arity
jitted(x);

export {};
