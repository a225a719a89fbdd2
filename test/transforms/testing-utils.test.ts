// @functs/core/testing's checkGrads, finite differences and random programs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { concat, stack, stopGradient, sub, tensor, where, type Tensor } from '../../src/index.js';
import {
  AssertionError,
  arbitraryProgram,
  arbitraryProgramWithInputs,
  assertAllClose,
  checkGrads,
  decodeProgram,
  GradCheckError,
  numericalGrad,
  numericalJacobian,
  numericalJvp,
  numRuns,
  programOpNames,
  type Program,
} from '../../src/testing/index.js';

const f64 = (values: number[] | number, shape?: number[]) => tensor(values, { dtype: 'float64', shape });

/** Asserts that checkGrads fails with a GradCheckError for the given mode and order. */
function failsWith(body: () => void, mode: string, order: number): void {
  assert.throws(body, (e: unknown) => {
    assert.ok(e instanceof GradCheckError, `expected a GradCheckError, got ${String(e)}`);
    assert.ok(e instanceof AssertionError);
    assert.equal(e.mode, mode);
    assert.equal(e.order, order);
    assert.match(e.message, new RegExp(`${mode} \\(order ${order}\\)`));
    assert.match(e.message, /finite differences/);
    return true;
  });
}

describe('checkGrads', () => {
  test('passes on correct derivatives: pytrees, numbers, int leaves held fixed, order 3', () => {
    const x = tensor([0.5, -1.2, 2]);
    checkGrads((t: Tensor) => t.sin().mul(t), [x]);
    checkGrads((t: Tensor) => t.exp().sum(), [x], { order: 3, modes: ['fwd'] });
    const model = (p: { w: Tensor; b: Tensor }, input: Tensor, idx: Tensor) => input.matmul(p.w).add(p.b).tanh().gather(0, idx);
    checkGrads(model, [{ w: tensor([[1, -2], [0.5, 0.3], [0.1, 1]]), b: tensor([0.2, -0.1]) }, x, tensor([1, 0], { dtype: 'int32' })]);
    checkGrads((a: Tensor, s: Tensor) => a.mul(s), [x, 1.5], { modes: ['rev'] });
    checkGrads((t: Tensor) => [t.square(), { s: t.sum() }], [x], { modes: ['fwd'] });
  });

  test('a wrong first derivative fails in forward and reverse mode', () => {
    // Value cos(x), but the derivative of sin(x): stopGradient hides the correction.
    const wrong = (t: Tensor) => t.sin().add(stopGradient(t.cos().sub(t.sin())));
    const x = f64([0.3, 1.1]);
    failsWith(() => checkGrads(wrong, [x]), 'JVP', 1);
    failsWith(() => checkGrads(wrong, [x], { modes: ['rev'] }), 'VJP', 1);
  });

  test('a wrong second derivative fails only at order 2', () => {
    // x * sg(x) * 2 - sg(x^2) is x^2 with derivative 2x, but its second derivative is 0.
    const wrong = (t: Tensor) => t.mul(stopGradient(t)).mul(2).sub(stopGradient(t.square()));
    const x = f64([0.3, 1.1]);
    checkGrads(wrong, [x], { order: 1 });
    failsWith(() => checkGrads(wrong, [x], { order: 2 }), 'JVP of JVP', 2);
    failsWith(() => checkGrads(wrong, [x], { order: 2, modes: ['rev'] }), 'VJP of VJP', 2);
  });

  test('checks its options', () => {
    assert.throws(() => checkGrads((t: Tensor) => t, [tensor([1])], { order: 0 }), RangeError);
    assert.throws(() => checkGrads((t: Tensor) => t, [tensor([1])], { modes: ['sideways' as never] }), RangeError);
    assert.throws(() => checkGrads((t: Tensor) => t, [tensor([1], { dtype: 'int32' })]), /nothing to differentiate/);
  });
});

describe('finite differences', () => {
  const x = f64([0.2, -0.5, 1.3]);
  const expOf = (v: number[]) => v.map(Math.exp);

  test('numericalJvp, numericalGrad and numericalJacobian of exp', () => {
    assertAllClose(numericalJvp((t: Tensor) => t.exp(), [x], [f64([1, 2, -1])]), expOf([0.2, -0.5, 1.3]).map((v, i) => v * [1, 2, -1][i]), { rtol: 1e-10, atol: 1e-10 });
    assertAllClose(numericalGrad((t: Tensor) => t.exp().sum(), [x]), expOf([0.2, -0.5, 1.3]), { rtol: 1e-10, atol: 1e-10 });
    const jac = numericalJacobian((t: Tensor) => t.exp(), x);
    assertAllClose(jac, [0, 1, 2].map((i) => [0, 1, 2].map((j) => (i === j ? Math.exp([0.2, -0.5, 1.3][i]) : 0))), { rtol: 1e-10, atol: 1e-10 });
  });

  test('numericalGrad with argnums and pytrees', () => {
    const f = (a: Tensor, p: { b: Tensor }) => a.mul(p.b).sum();
    const g = numericalGrad(f, [f64([1, 2]), { b: f64([3, 4]) }], { argnums: 1 });
    assertAllClose(g.b, [1, 2], { rtol: 1e-10, atol: 1e-10 });
  });
});

describe('random programs', () => {
  /** Evaluates the printed TypeScript of a program (annotations removed) with the public ops. */
  function runPrinted(p: Program, inputs: Tensor[]): Tensor {
    const js = String(p).replace(/: Tensor \/\*[^*]*\*\//g, '');
    const build = new Function('tensor', 'where', 'concat', 'stack', 'sub', `return ${js};`) as (...ops: unknown[]) => (...xs: Tensor[]) => Tensor;
    return build(tensor, where, concat, stack, sub)(...inputs);
  }

  test('the printed program is TypeScript that computes the same values', () => {
    fc.assert(
      fc.property(arbitraryProgramWithInputs({ maxSteps: 8 }), ([p, xs]) => {
        assertAllClose(runPrinted(p, xs), p.fn(...xs), { rtol: 0, atol: 0, message: String(p) });
      }),
      { numRuns: numRuns(30) },
    );
  });

  test('decoding is deterministic, and every value stays finite and within the bound', () => {
    fc.assert(
      fc.property(arbitraryProgramWithInputs({ maxSteps: 8 }), ([p, xs]) => {
        for (const v of p.evaluate(xs)) for (const e of v.dataSync()) assert.ok(Number.isFinite(e) && Math.abs(e) <= 50, `${e} in\n${p}`);
      }),
      { numRuns: numRuns(30) },
    );
    const raw = [[3, 1, 4, 1, 5, 9, 2, 6], [5, 3, 5, 8, 9, 7, 9, 3]];
    assert.equal(String(decodeProgram([[2, 3]], raw)), String(decodeProgram([[2, 3]], raw)));
  });

  test('configuration: smooth programs have no kinks, op subsets, scalar outputs', () => {
    const kinked = programOpNames().filter((n) => !programOpNames({ smooth: true }).includes(n));
    assert.deepEqual(kinked.sort(), ['abs', 'clamp', 'max', 'maximum', 'min', 'minimum', 'relu', 'whereGt']);
    fc.assert(
      fc.property(arbitraryProgram({ smooth: true, scalarOutput: true }), arbitraryProgram({ ops: ['sin', 'add'] }), (smooth, subset) => {
        assert.equal(smooth.kinked, false);
        assert.equal(smooth.kinkMargin(smooth.inputShapes.map((s) => tensor(new Float64Array(s.reduce((a, b) => a * b, 1)), { shape: s }))), Infinity);
        assert.deepEqual([...smooth.steps[smooth.steps.length - 1].shape], []);
        assert.ok(subset.steps.every((s) => ['sin', 'add', 'addMean'].includes(s.op)), String(subset));
      }),
      { numRuns: numRuns(30) },
    );
  });

  test('kinkMargin measures the distance to the nearest kink', () => {
    const p = decodeProgram([[3]], [[0]], { ops: ['abs'] });
    assert.equal(p.steps[0].op, 'abs');
    assert.equal(p.kinkMargin([f64([0.5, -0.25, 2])]), 0.25);
    assert.equal(p.kinkMargin([f64([0.5, 0, 2])]), 0);
  });
});
