// Every differentiable primitive and composite op: jvp and vjp (to second order) and grad
// against central finite differences in float64, on random shapes, attributes and values.
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { grad, tensor, type Tensor } from '../../src/index.js';
import { checkGrads, numericalGrad } from '../../src/testing/index.js';
import { inputsArb, OP_CASES } from './op-cases.js';
import { close, runs } from './support.js';

/** Fixed weights for reducing an output to a scalar (so every output element matters). */
function weights(shape: readonly number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(Float64Array.from({ length: n }, (_, i) => Math.cos(1 + 0.7 * i)), { shape, dtype: 'float64' });
}

describe('derivatives of every op against finite differences', () => {
  for (const op of OP_CASES) {
    test(op.name, () => {
      fc.assert(
        fc.property(
          op.instance.chain((inst) => inputsArb(inst).map((xs) => [inst, xs] as const)),
          ([inst, xs]) => {
            checkGrads(inst.f, xs, { order: 2, atol: 1e-5, rtol: 1e-5 });
            // The whole gradient, coordinate by coordinate, through grad with argnums.
            const w = weights(inst.f(...xs).shape);
            const scalar = (...ys: Tensor[]) => inst.f(...ys).mul(w).sum();
            const grads = grad(scalar, { argnums: xs.map((_, i) => i) })(...xs);
            grads.forEach((g, i) => close(g, numericalGrad(scalar, xs, { argnums: i }), `grad of ${inst} wrt input ${i}`, { rtol: 1e-6, atol: 1e-6 }));
          },
        ),
        runs(4),
      );
    });
  }
});
