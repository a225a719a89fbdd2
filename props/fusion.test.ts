// Every fusing backend (js, wasm) agrees with the reference interpreter: on random programs,
// on random movement-heavy DAGs with integer and bool arithmetic, and on transformed programs
// (grad, vmap, jacrev, hessian of random functions, and jit of them). Tolerances are by input
// dtype; wasm's float32 lanes and approximations stay far inside them.
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { grad, hessian, jacrev, jit, tensor, vmap, where, withBackend, type DType, type Tensor } from '../src/index.js';
import { arbitraryProgramWithInputs, assertAllClose, numRuns, type Program } from '../src/testing/index.js';
import { arbitraryDag, dagInputs, decodeDag } from './fusion-dags.js';

const runs = (quick: number): fc.Parameters<unknown> => ({ numRuns: numRuns(quick) });

/** Tolerances: kernels may add a reduction's terms in another order (float32 results then move by an ulp, which later ops can amplify). */
function tolerance(dtype: DType, expected: Tensor): { rtol: number; atol: number } {
  if (dtype === 'float64') return { rtol: 1e-9, atol: 1e-9 };
  const data = expected.dtype === 'bool' ? [] : Array.from(expected.dataSync()).filter(Number.isFinite);
  const scale = Math.max(1, ...data.map(Math.abs));
  return { rtol: 1e-4, atol: 1e-4 * scale };
}

/** Builds a value under the interpreter and under `backend` (fresh nodes each time), and compares. */
function agreeOn(backend: string, build: () => Tensor, dtype: DType, what: () => string): void {
  const [expected, actual] = ['interp', backend].map((name) =>
    withBackend(name, () => {
      const t = build();
      t.dataSync();
      return t;
    }),
  );
  assertAllClose(actual, expected, { ...tolerance(dtype, expected), message: what() });
}

for (const backend of ['js', 'wasm']) {
  describe(`the ${backend} backend`, () => {
    const agree = (build: () => Tensor, dtype: DType, what: () => string) => agreeOn(backend, build, dtype, what);

    test('random programs agree with the interpreter (float64 and float32)', () => {
      for (const dtype of ['float64', 'float32'] as const) {
        fc.assert(
          fc.property(arbitraryProgramWithInputs({ maxSteps: 8 }, { dtype }), ([p, xs]: [Program, Tensor[]]) => {
            agree(() => p.fn(...xs), dtype, () => `${dtype} program\n${p}`);
          }),
          runs(60),
        );
      }
    });

    test('random movement-heavy DAGs (pad, flip, reshape, permute, gather, scatter, int32, bool) agree with the interpreter', () => {
      for (const dtype of ['float64', 'float32', 'int32'] as const) {
        fc.assert(
          fc.property(
            arbitraryDag({ maxSteps: 10 }).chain((dag) => dagInputs(dag, dtype).map((xs) => [dag, xs] as const)),
            ([dag, xs]) => {
              const log: string[] = [];
              // The log keeps the steps of the first build (the same steps are built twice).
              agree(() => dag.build(xs, log.length ? [] : log), dtype, () => `${dag} on ${dtype} inputs ${JSON.stringify(xs.map((x) => Array.from(x.dataSync())))}: ${log.join(' -> ')}`);
            },
          ),
          runs(80),
        );
      }
    });

    test('a scatter whose target index and source share a reduction (found by the thorough run)', () => {
      // The reduction in the scatter's index was not registered with the kernel's reductions
      // and was emitted as an undefined operand.
      const dag = decodeDag([[1, 2]], [[0, 0, 0, 0, 0, 0, 0, 0], [24684, 0, 0, 0, 0, 0, 0, 0], [9593, 0, 2617, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0], [1933, 0, 2407, 0, 0, 0, 0, 0]]);
      for (const values of [[0, 0], [1.5, -2]]) {
        const x = tensor([values], { dtype: 'float64' });
        x.dataSync();
        agree(() => dag.build([x]), 'float64', () => String(dag));
      }
    });

    test('an equality of float32 values computed through reductions holds exactly where the reference says (found by the thorough run)', () => {
      // f == 1.5 f - f / 2 holds or not by the last bit of f; f came out of two normalizations
      // whose sums the kernel once computed from float64 intermediates.
      const dag = decodeDag([[3, 3, 4]], [[54835, 26782, 59722, 64223, 38651, 44892, 49910, 13153], [43469, 4338, 56658, 44287, 44148, 55048, 45890, 20479], [57522, 1732, 16708, 23492, 60860, 36253, 34519, 9239], [50367, 53741, 50727, 45797, 3981, 253, 54780, 20141], [50262, 54794, 14936, 5738, 52562, 1909, 10086, 6028], [7976, 11774, 51051, 21098, 1124, 15364, 8496, 59932], [44244, 28127, 4942, 32880, 38742, 42090, 3893, 63415], [55470, 54016, 38940, 21431, 3879, 30310, 33278, 55643], [15804, 12486, 31682, 835, 12568, 45801, 51016, 36527], [39895, 50642, 40906, 17092, 25664, 31674, 3752, 18784]]);
      const values = new Float32Array(36);
      values[14] = -9.63608613346878e-7;
      values[26] = 0.030630037188529968;
      const x = tensor(values, { shape: [3, 3, 4] });
      x.dataSync();
      agree(() => dag.build([x]), 'float32', () => String(dag));
    });

    test('transformed random programs agree: grad, vmap, jacrev, hessian (and jit of them)', () => {
      fc.assert(
        fc.property(arbitraryProgramWithInputs({ maxSteps: 6, maxSize: 16, smooth: true, scalarOutput: true }), ([p, xs]) => {
          const f = (x: Tensor) => p.fn(x, ...xs.slice(1));
          const x = xs[0];
          const what = (t: string) => () => `${t} of\n${p}`;
          agree(() => grad(f)(x), 'float64', what('grad'));
          agree(() => jacrev(f)(x), 'float64', what('jacrev'));
          agree(() => hessian(f)(x), 'float64', what('hessian'));
          // Three different examples: x scaled by 1, 0.8 and 1.2.
          const batch = x.unsqueeze(0).mul(tensor([1, 0.8, 1.2], { dtype: 'float64' }).reshape([3, ...x.shape.map(() => 1)]));
          agree(() => vmap(f)(batch), 'float64', what('vmap'));
          agree(() => vmap(grad(f))(batch), 'float64', what('vmap(grad)'));
          // jit runs on the active backend at each call: the interpreter evaluates the trace, the
          // backend runs its kernels (its first call plans the same DAG as an eager vmap(hessian)).
          const jitted = jit(vmap(hessian(f)));
          agree(() => jitted(batch), 'float64', what('jit(vmap(hessian))'));
        }),
        runs(25),
      );
    });

    test('vmap(hessian) of a product over an expanded axis: a kernel never runs before the kernel writing what it reads (found by the thorough run)', () => {
      // The product pads to an even length under a where on a constant mask, which folds into
      // its operand's expression; a draft that computed that where inline was not redrafted
      // when it was materialized, and merged with a sibling it read the buffer before it was
      // written: zeros on a first run, the previous run's values on the next (hence a rare
      // failure of jit(vmap(hessian)) against itself).
      const f = (x: Tensor) => x.expand([3]).rsqrt().prod();
      const thorough = (x0: Tensor) => x0.expand([3]).square().add(1).rsqrt().prod({ axis: 0, keepdims: true }).sin().sum({ keepdims: false });
      const batch = tensor([0.5, 1], { dtype: 'float64' });
      batch.dataSync();
      agree(() => vmap(hessian(f))(batch), 'float64', () => 'vmap(hessian) of x.expand([3]).rsqrt().prod()');
      assertAllClose(withBackend(backend, () => Array.from(vmap(hessian(f))(batch).dataSync())), [(15 / 4) * 0.5 ** -3.5, 15 / 4], { rtol: 1e-12, atol: 0 }); // (x^-3/2)'' = 15/4 x^-7/2
      const x = tensor(-3.0518e-5, { dtype: 'float64' });
      const scaled = x.unsqueeze(0).mul(tensor([1, 0.8, 1.2], { dtype: 'float64' }));
      const jitted = jit(vmap(hessian(thorough)));
      for (let run = 0; run < 2; run++) agree(() => jitted(scaled), 'float64', () => `jit(vmap(hessian)), run ${run + 1}`);
    });

    test('a float64 product that reaches an equality is not reassociated by broadcast factoring (found by the thorough run)', () => {
      // f = x * sum(x); where(f == 1.5 f - f / 2): factoring computed 1.5 f as x * (1.5 sum(x)),
      // a different last bit, and the mask flipped; it left only float32 operands as written.
      const dag = decodeDag([[3, 3]], [[0, 0, 0, 0, 0, 0, 0, 0], [12996, 4251, 0, 12621, 59057, 0, 0, 0], [32215, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0]]);
      const values = [0, 0, 0, 0, 0, -0.37446120473702826, 0, 0, 0];
      const x = tensor(values, { dtype: 'float64', shape: [3, 3] });
      x.dataSync();
      const [expected, actual] = ['interp', backend].map((name) => withBackend(name, () => Array.from(dag.build([x]).dataSync())));
      assertAllClose(actual, expected, { rtol: 0, atol: 0, message: String(dag) });
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

    test('a float32 sum that reaches an equality is the reference\'s bits when its lanes would round it to the other side of a tie (found by the thorough run)', () => {
      // Sequentially in float64, as the interpreter adds, -3.9e-10 is absorbed before the
      // two large terms meet on a float32 tie, which rounds to even: 2000061. Four partial
      // sums add it last and land just below the tie: 2000060.875.
      const mask = (f: Tensor) => where(f.eq(f.mul(1.5).sub(f.div(2))), f, f.neg());
      for (const rows of [1, 4]) {
        const values = new Float32Array(4 * rows);
        values.set([-3.8805109126016646e-10, 0, 999.8646240234375, 999.8659057617188], 4 * (rows - 1));
        const x = tensor(values, { shape: [rows, 4] });
        x.dataSync();
        const [expected, actual] = ['interp', backend].map((name) => withBackend(name, () => mask(x.mul(x.add(0.3)).sum({ axis: 1 })).dataSync()));
        assertAllClose(Array.from(actual), Array.from(expected), { rtol: 0, atol: 0, message: `${rows} rows` });
      }
    });

    test('transformed float32 programs agree within float32 tolerance', () => {
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
  });
}
