// Transforms composed with each other, on random programs, checked against finite
// differences (float64) or against loops over examples.
import { test } from 'node:test';
import fc from 'fast-check';
import { grad, hessian, jacfwd, jacrev, jvp, stack, vjp, vmap, type Tensor } from '../../src/index.js';
import { arbitraryProgram, arbitraryProgramInputs, numericalGrad, numericalJacobian, shapeArb, tensorArb, type Program } from '../../src/testing/index.js';
import { close, example, runs, withAxis } from './support.js';

/** Programs of one input of at most `maxSize` elements, without kinks (for finite differences). */
const oneInput = (opts: { scalar?: boolean; maxSize?: number; smooth?: boolean } = {}) =>
  arbitraryProgram({ inputShapes: shapeArb({ maxRank: 2, maxDim: 3 }).map((s) => [s]), maxSteps: 5, smooth: opts.smooth ?? true, scalarOutput: opts.scalar, maxSize: opts.maxSize ?? 12 });

/** A program with a batch of inputs for it: B examples stacked on axis `dim`. */
function batched(program: fc.Arbitrary<Program>) {
  return program.chain((p) => {
    const shape = p.inputShapes[0];
    return fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: shape.length })).chain(([size, dim]) =>
      tensorArb(withAxis(shape, dim, size), { dtype: 'float64', min: -2, max: 2 }).map((X) => ({ p, X, dim, size })),
    );
  });
}

const single = (p: Program) => (x: Tensor) => p.fn(x);
const FD = { rtol: 1e-6, atol: 1e-6 };
const EXACT = { rtol: 1e-10, atol: 1e-10 };

test('vmap(grad(f)) equals grad(f) per example, and finite differences', () => {
  fc.assert(
    fc.property(batched(oneInput({ scalar: true, smooth: false })), ({ p, X, dim, size }) => {
      const f = single(p);
      const perExample = vmap(grad(f), { inDims: dim })(X);
      const loop = stack(Array.from({ length: size }, (_, i) => grad(f)(example(X, dim, i))));
      close(perExample, loop, `vmap(grad) of\n${p}`, EXACT);
      if (p.kinkMargin([example(X, dim, 0)]) > 1e-2) close(perExample.select(0, 0), numericalGrad(f, [example(X, dim, 0)]), `vmap(grad) vs finite differences of\n${p}`, FD);
    }),
    runs(25),
  );
});

test('grad(x => sum(vmap(f)(x))) equals finite differences', () => {
  fc.assert(
    fc.property(batched(oneInput()), ({ p, X, dim }) => {
      const g = (x: Tensor) => vmap(single(p), { inDims: dim })(x).sin().sum();
      close(grad(g)(X), numericalGrad(g, [X]), `grad(vmap) of\n${p}`, FD);
    }),
    runs(20),
  );
});

test('vmap(vmap(f)) equals a double loop', () => {
  fc.assert(
    fc.property(
      oneInput({ smooth: false, maxSize: 24 }).chain((p) => {
        const shape = p.inputShapes[0];
        return fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: shape.length }), fc.integer({ min: 0, max: shape.length + 1 })).chain(([n, m, inner, outer]) =>
          tensorArb(withAxis(withAxis(shape, inner, m), outer, n), { dtype: 'float64', min: -2, max: 2 }).map((X) => ({ p, X, inner, outer, n, m })),
        );
      }),
      ({ p, X, inner, outer, n, m }) => {
        const mapped = vmap(vmap(single(p), { inDims: inner }), { inDims: outer })(X);
        const rows = Array.from({ length: n }, (_, i) => stack(Array.from({ length: m }, (_, j) => p.fn(X.select(outer, i).select(inner, j)))));
        close(mapped, stack(rows), `vmap(vmap) with inDims ${inner} inside ${outer} of\n${p}`, EXACT);
      },
    ),
    runs(25),
  );
});

test('grad(grad(f)) and jvp(grad(f)) equal finite differences of grad', () => {
  fc.assert(
    fc.property(
      oneInput({ scalar: true }).chain((p) => fc.tuple(fc.constant(p), arbitraryProgramInputs(p), arbitraryProgramInputs(p))),
      ([p, [x], [v]]) => {
        const f = single(p);
        const w = v.cos();
        const gw = (y: Tensor) => grad(f)(y).mul(w).sum();
        close(grad(gw)(x), numericalGrad(gw, [x]), `grad(grad) of\n${p}`, FD);
        const [, hv] = jvp(grad(f), [x], [v]);
        const fdHv = numericalJacobian(grad(f), x).reshape([x.size, x.size]).matmul(v.reshape([x.size])).reshape([...x.shape]);
        close(hv, fdHv, `jvp(grad) of\n${p}`, FD);
      },
    ),
    runs(20),
  );
});

test('vmap(jacrev(f)) equals finite-difference Jacobians per example', () => {
  fc.assert(
    fc.property(batched(oneInput({ maxSize: 8 })), ({ p, X, dim, size }) => {
      const f = single(p);
      const jacs = vmap(jacrev(f), { inDims: dim })(X);
      for (let i = 0; i < size; i++) close(jacs.select(0, i), numericalJacobian(f, example(X, dim, i)), `vmap(jacrev) example ${i} of\n${p}`, FD);
    }),
    runs(15),
  );
});

test('jacrev(jacfwd(f)) equals finite differences of jacfwd, and of grad for scalar f', () => {
  fc.assert(
    fc.property(
      oneInput({ maxSize: 6 }).chain((p) => fc.tuple(fc.constant(p), arbitraryProgramInputs(p))),
      ([p, [x]]) => {
        const f = single(p);
        const second = jacrev(jacfwd(f))(x);
        close(second, numericalJacobian(jacfwd(f), x), `jacrev(jacfwd) of\n${p}`, FD);
        const s = (y: Tensor) => f(y).sin().sum();
        close(jacrev(jacfwd(s))(x), numericalJacobian(grad(s), x), `jacrev(jacfwd) of the scalar sum(sin(f)) for\n${p}`, FD);
      },
    ),
    runs(15),
  );
});

test('vmap(hessian(f)) equals finite differences of grad per example', () => {
  fc.assert(
    fc.property(batched(oneInput({ scalar: true, maxSize: 6 })), ({ p, X, dim, size }) => {
      const f = single(p);
      const hs = vmap(hessian(f), { inDims: dim })(X);
      for (let i = 0; i < size; i++) close(hs.select(0, i), numericalJacobian(grad(f), example(X, dim, i)), `vmap(hessian) example ${i} of\n${p}`, FD);
    }),
    runs(15),
  );
});

test('vjp of vmap(f) equals finite differences of <u, vmap(f)(X)>', () => {
  fc.assert(
    fc.property(
      batched(oneInput({ maxSize: 12 })).chain((b) => {
        const outShape = vmap(single(b.p), { inDims: b.dim })(b.X).shape;
        return tensorArb(outShape, { dtype: 'float64', min: -1, max: 1 }).map((u) => ({ ...b, u }));
      }),
      ({ p, X, dim, u }) => {
        const mapped = vmap(single(p), { inDims: dim });
        const [, back] = vjp(mapped, [X]);
        const [g] = back(u);
        close(g, numericalGrad((x: Tensor) => mapped(x).mul(u).sum(), [X]), `vjp(vmap) of\n${p}`, FD);
      },
    ),
    runs(20),
  );
});
