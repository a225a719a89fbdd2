// The wasm backend agrees with the reference interpreter on the properties the JS backend is
// held to (props/fusion.test.ts): random programs in every dtype, movement-heavy DAGs with
// integer and bool arithmetic, and transformed programs (grad, vmap, jacrev, hessian, jit).
// Tolerances are the JS backend's (by input dtype): float32 lanes and approximations stay
// far inside them.
import { test } from 'node:test';
import fc from 'fast-check';
import { grad, hessian, jacrev, jit, tensor, vmap, where, withBackend, type DType, type Tensor } from '../src/index.js';
import { arbitraryProgramWithInputs, assertAllClose, numRuns, type Program } from '../src/testing/index.js';
import { arbitraryDag, dagInputs, decodeDag } from './fusion-dags.js';

const runs = (quick: number): fc.Parameters<unknown> => ({ numRuns: numRuns(quick) });

function tolerance(dtype: DType, expected: Tensor): { rtol: number; atol: number } {
  if (dtype === 'float64') return { rtol: 1e-9, atol: 1e-9 };
  const data = expected.dtype === 'bool' ? [] : Array.from(expected.dataSync()).filter(Number.isFinite);
  const scale = Math.max(1, ...data.map(Math.abs));
  return { rtol: 1e-4, atol: 1e-4 * scale };
}

/** Builds a value under the interpreter and under wasm (fresh nodes each time), and compares. */
function agree(build: () => Tensor, dtype: DType, what: () => string): void {
  const expected = withBackend('interp', () => {
    const t = build();
    t.dataSync();
    return t;
  });
  const actual = withBackend('wasm', () => {
    const t = build();
    t.dataSync();
    return t;
  });
  assertAllClose(actual, expected, { ...tolerance(dtype, expected), message: what() });
}

test('random programs: the wasm backend agrees with the interpreter (float64 and float32)', () => {
  for (const dtype of ['float64', 'float32'] as const) {
    fc.assert(
      fc.property(arbitraryProgramWithInputs({ maxSteps: 8 }, { dtype }), ([p, xs]: [Program, Tensor[]]) => {
        agree(() => p.fn(...xs), dtype, () => `${dtype} program\n${p}`);
      }),
      runs(60),
    );
  }
});

test('random movement-heavy DAGs (pad, flip, reshape, permute, gather, scatter, int32, bool) agree under wasm', () => {
  for (const dtype of ['float64', 'float32', 'int32'] as const) {
    fc.assert(
      fc.property(
        arbitraryDag({ maxSteps: 10 }).chain((dag) => dagInputs(dag, dtype).map((xs) => [dag, xs] as const)),
        ([dag, xs]) => {
          const log: string[] = [];
          agree(() => dag.build(xs, log.length ? [] : log), dtype, () => `${dag} on ${dtype} inputs: ${log.join(' -> ')}`);
        },
      ),
      runs(80),
    );
  }
});

test('a padded load computed outside its buffer and discarded by its guard reads inside the memory (found by the property above)', () => {
  const dag = decodeDag([[], [1, 1, 1]], [[28368, 37491, 18337, 10097, 0, 0, 0, 13132], [36713, 0, 11217, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0]]);
  const xs = [tensor(0.5, { dtype: 'float64' }), tensor([[[1.5]]], { dtype: 'float64' })];
  xs.forEach((x) => x.dataSync());
  agree(() => dag.build(xs), 'float64', () => String(dag));
});

test('equalities of float32 values computed on f32x4 lanes (sums, products, tanh) hold exactly where the reference says', () => {
  // f == 1.5 f - f / 2 holds or not by the last bit of f: f must be the interpreter's bits.
  const mask = (f: Tensor) => where(f.eq(f.mul(1.5).sub(f.div(2))), f, f.neg());
  const row = fc.float({ min: -1e3, max: 1e3, noNaN: true }).map(Math.fround);
  fc.assert(
    fc.property(fc.array(row, { minLength: 64, maxLength: 64 }), (values) => {
      const x = tensor(Float32Array.from(values), { shape: [4, 16] });
      x.dataSync();
      agree(() => mask(x.mul(x.add(0.3)).sum({ axis: 1 })), 'float32', () => 'sum');
      agree(() => mask(x.mul(0.01).tanh().mul(x)), 'float32', () => 'tanh');
      agree(() => mask(x.mul(0.01).exp().add(x)), 'float32', () => 'exp');
    }),
    runs(40),
  );
});

test('transformed random programs agree under wasm: grad, vmap, jacrev, hessian (and jit of them)', () => {
  fc.assert(
    fc.property(arbitraryProgramWithInputs({ maxSteps: 6, maxSize: 16, smooth: true, scalarOutput: true }), ([p, xs]) => {
      const f = (x: Tensor) => p.fn(x, ...xs.slice(1));
      const x = xs[0];
      const what = (t: string) => () => `${t} of\n${p}`;
      agree(() => grad(f)(x) as Tensor, 'float64', what('grad'));
      agree(() => jacrev(f)(x) as Tensor, 'float64', what('jacrev'));
      agree(() => hessian(f)(x) as Tensor, 'float64', what('hessian'));
      const batch = x.unsqueeze(0).mul(tensor([1, 0.8, 1.2], { dtype: 'float64' }).reshape([3, ...x.shape.map(() => 1)]));
      agree(() => vmap(f)(batch), 'float64', what('vmap'));
      agree(() => vmap(grad(f))(batch) as Tensor, 'float64', what('vmap(grad)'));
      const jitted = jit(vmap(hessian(f)));
      agree(() => withBackend('wasm', () => jitted(batch)) as Tensor, 'float64', what('jit(vmap(hessian))'));
    }),
    runs(25),
  );
});

test('transformed float32 programs agree under wasm within float32 tolerance', () => {
  fc.assert(
    fc.property(arbitraryProgramWithInputs({ maxSteps: 6, maxSize: 16, smooth: true, scalarOutput: true }, { dtype: 'float32' }), ([p, xs]) => {
      const f = (x: Tensor) => p.fn(x, ...xs.slice(1));
      const x = xs[0];
      const batch = x.unsqueeze(0).mul(tensor([1, 0.8, 1.2]).reshape([3, ...x.shape.map(() => 1)]));
      agree(() => vmap(hessian(f))(batch) as Tensor, 'float32', () => `vmap(hessian) of\n${p}`);
    }),
    runs(25),
  );
});
