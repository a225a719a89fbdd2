// vmap(f)(X) equals stacking f over the examples, for every op of the table, with random
// inDims (numbers of either sign, or null) and outDims.
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { vmap, zeros } from '../../src/index.js';
import { inputsArb, OP_CASES, type OpInstance } from './op-cases.js';
import { close, loopOverExamples, normalize, runs, withAxis } from './support.js';

/** Random inDims (at least one mapped), a batch size, and the batched input shapes. */
function batching(inst: OpInstance) {
  const dims = fc.tuple(...inst.inputs.map((i) => fc.option(fc.integer({ min: -(i.shape.length + 1), max: i.shape.length }), { freq: 3 })));
  return fc
    .tuple(fc.integer({ min: 1, max: 3 }), dims)
    .filter(([, d]) => d.some((x) => x !== null))
    .map(([size, inDims]) => ({ size, inDims, shapes: inst.inputs.map((i, k) => (inDims[k] === null ? [...i.shape] : withAxis(i.shape, normalize(inDims[k]!, i.shape.length + 1), size))) }));
}

describe('vmap of every op equals a loop over examples', () => {
  for (const op of OP_CASES) {
    test(op.name, () => {
      fc.assert(
        fc.property(
          op.instance.chain((inst) =>
            batching(inst).chain((b) => {
              const outRank = inst.f(...inst.inputs.map((i) => zeros(i.shape, { dtype: 'float64' }))).rank;
              return fc.tuple(fc.constant(inst), fc.constant(b), inputsArb(inst, b.shapes), fc.integer({ min: -(outRank + 1), max: outRank }));
            }),
          ),
          ([inst, { inDims }, xs, outDim]) => {
            const mapped = vmap(inst.f, { inDims, outDims: outDim })(...xs);
            const expected = loopOverExamples(inst.f, xs, inDims, normalize(outDim, mapped.rank));
            close(mapped, expected, `vmap(${inst}) with inDims ${JSON.stringify(inDims)}, outDims ${outDim}`, { rtol: 1e-12, atol: 1e-12 });
          },
        ),
        runs(6),
      );
    });
  }
});
