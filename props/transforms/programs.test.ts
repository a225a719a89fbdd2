// Random programs (random DAGs over the op set) drive the transforms: adjointness of jvp and
// vjp, derivatives against finite differences, jacfwd == jacrev, Hessians, and vmap against
// a loop over examples.
import { test } from 'node:test';
import fc from 'fast-check';
import { grad, hessian, jacfwd, jacrev, jvp, vjp, vmap, type Tensor } from '../../src/index.js';
import { arbitraryProgram, arbitraryProgramInputs, arbitraryProgramWithInputs, checkGrads, numericalJacobian } from '../../src/testing/index.js';
import { batchedArgsArb, close, directionsArb, innerProduct, loopOverExamples, normalize, runs } from './support.js';

test('<u, J v> == <J^T u, v> for random programs', () => {
  fc.assert(
    fc.property(
      arbitraryProgramWithInputs({ maxSteps: 8 }).chain(([p, xs]) => {
        const out = p.fn(...xs);
        return fc.tuple(fc.constant(p), fc.constant(xs), directionsArb(p.inputShapes), directionsArb([out.shape]));
      }),
      ([p, xs, v, [u]]) => {
        const [, jv] = jvp(p.fn, xs, v);
        const [, back] = vjp(p.fn, xs);
        const jtu = back(u);
        close(innerProduct(jtu, v), innerProduct([u], [jv]), `adjointness of\n${p}`, { rtol: 1e-8, atol: 1e-8 });
      },
    ),
    runs(40),
  );
});

test('jvp and vjp of random programs agree with central finite differences (float64)', () => {
  fc.assert(
    fc.property(arbitraryProgramWithInputs({ maxSteps: 8 }), ([p, xs]) => {
      fc.pre(p.kinkMargin(xs) > 1e-2);
      checkGrads(p.fn, xs, { order: 1, atol: 1e-5, rtol: 1e-5 });
    }),
    runs(40),
  );
});

test('second-order derivatives of smooth random programs agree with finite differences', () => {
  fc.assert(
    fc.property(arbitraryProgramWithInputs({ maxSteps: 5, smooth: true, maxSize: 16 }), ([p, xs]) => {
      checkGrads(p.fn, xs, { order: 2 });
    }),
    runs(15),
  );
});

test('jacfwd == jacrev on random programs, for every argument', () => {
  fc.assert(
    fc.property(arbitraryProgramWithInputs({ maxSteps: 6, maxSize: 24 }), ([p, xs]) => {
      const argnums = xs.map((_, i) => i);
      const fwd = jacfwd(p.fn, { argnums })(...xs);
      const rev = jacrev(p.fn, { argnums })(...xs);
      fwd.forEach((j, i) => close(j, rev[i], `jacobian wrt argument ${i} of\n${p}`, { rtol: 1e-8, atol: 1e-8 }));
    }),
    runs(25),
  );
});

test('hessian is symmetric and equals finite differences of grad', () => {
  fc.assert(
    fc.property(arbitraryProgramWithInputs({ maxSteps: 5, scalarOutput: true, maxSize: 12 }), ([p, xs]) => {
      fc.pre(p.kinkMargin(xs) > 1e-2);
      const f = (x: Tensor) => p.fn(x, ...xs.slice(1));
      const [x] = xs;
      const h = hessian(f)(x);
      const n = x.size;
      const square = h.reshape([n, n]);
      close(square, square.transpose(), `symmetry of the hessian of\n${p}`, { rtol: 1e-8, atol: 1e-8 });
      const fd = numericalJacobian((y) => grad(f)(y), x);
      close(h, fd, `hessian vs finite differences of grad of\n${p}`, { rtol: 1e-5, atol: 1e-5 });
    }),
    runs(25),
  );
});

test('vmap(f)(X) equals stacking f over the examples, random inDims and outDims (null included)', () => {
  fc.assert(
    fc.property(
      arbitraryProgram({ maxSteps: 8 }).chain((p) => {
        const outRank = p.steps[p.steps.length - 1].shape.length;
        return fc.tuple(fc.constant(p), batchedArgsArb(p.inputShapes), fc.integer({ min: -(outRank + 1), max: outRank }), arbitraryProgramInputs(p));
      }),
      ([p, { inDims, args }, outDim, fixed]) => {
        // A second output that does not depend on the examples, so that outDims null applies.
        const f = (...xs: Tensor[]) => [p.fn(...xs), p.fn(...fixed)];
        const [mapped, unmapped] = vmap(f, { inDims, outDims: [outDim, null] })(...args);
        const expected = loopOverExamples(p.fn, args, inDims, normalize(outDim, mapped.rank));
        const what = `vmap with inDims ${JSON.stringify(inDims)}, outDims ${outDim} of\n${p}`;
        close(mapped, expected, what, { rtol: 1e-12, atol: 1e-12 });
        close(unmapped, p.fn(...fixed), what, { rtol: 0, atol: 0 });
      },
    ),
    runs(40),
  );
});
