/**
 * Jacobians of y = tanh(A x + b) at N points, by jacrev (one reverse pass per output row)
 * and jacfwd (one forward pass per input column), on a tall function (16 inputs, 256
 * outputs: jacfwd's case) and a wide one (256 inputs, 16 outputs: jacrev's case). Peers:
 * jax-js's jacrev/jacfwd under vmap; TensorFlow.js, reverse mode only, one tf.grad per
 * output row (all points at once); the closed form diag(1 - t^2) A in a JS loop.
 */
import { jacfwd, jacrev, vmap, type Tensor } from '../../src/index.js';
import { jaxWasm, tfRead, tfWasm } from '../suite/peers.js';
import { samplePositions } from '../suite/stats.js';
import { f32, functsSystem, peerSystem } from '../suite/systems.js';
import type { Case, SystemEntry, Workload } from '../suite/types.js';
import { mulberry32 } from '../workload.js';

function uniform(n: number, seed: number, scale = 1): Float32Array<ArrayBuffer> {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (2 * r() - 1) * scale);
}

type JaxArray = InstanceType<Awaited<ReturnType<typeof jaxWasm>>['Array']>;

function jacobianCase(shape: 'tall' | 'wide', I: number, O: number, N: number, backends: Parameters<Workload['cases']>[0]['backends']): Case {
  const A = uniform(O * I, 71 + I * 3 + O, 1 / Math.sqrt(I));
  const b = uniform(O, 72, 0.3);
  const X = uniform(N * I, 73 + N, 1);
  const jac64 = (n: number, out: Float64Array, at: number) => {
    for (let o = 0; o < O; o++) {
      let z = b[o];
      for (let i = 0; i < I; i++) z += A[o * I + i] * X[n * I + i];
      const t = Math.tanh(z);
      for (let i = 0; i < I; i++) out[at + o * I + i] = (1 - t * t) * A[o * I + i];
    }
  };
  const functsF = (At: Tensor, bt: Tensor) => (x: Tensor) => At.matmul(x).add(bt).tanh();
  const systems: SystemEntry[] = [];
  for (const [mode, transform] of [['jacrev', jacrev], ['jacfwd', jacfwd]] as const) {
    for (const v of backends) {
      systems.push(
        functsSystem(
          v,
          `functs jit(vmap(${mode}(f)))`,
          () => {
            const f = functsF(f32(A, [O, I]), f32(b, [O]));
            return { f: vmap(transform(f)), args: [f32(X, [N, I])] as [Tensor] };
          },
          ` ${mode}`,
        ),
      );
    }
  }
  systems.push(
    peerSystem('hand-loop', 'JS loop of the closed form diag(1 - t^2) A', async () => ({
      run: () => {
        const out = new Float64Array(N * O * I);
        for (let n = 0; n < N; n++) jac64(n, out, n * O * I);
        return Float32Array.from(out);
      },
    })),
  );
  for (const mode of ['jacrev', 'jacfwd'] as const) {
    systems.push(
      peerSystem(
        `jax-js ${mode}`,
        // jax-js 0.1.25's jacfwd puts the input axis first ([in, out], JAX's is [out, in]): transposed back inside the jit.
        `jax-js jit(vmap(${mode}(f))) on its wasm device${mode === 'jacfwd' ? " (its [in, out] result transposed to JAX's [out, in])" : ''}`,
        async () => {
          const jax = await jaxWasm();
          const np = jax.numpy;
          const [jA, jb, jX] = [np.array(A, { shape: [O, I], dtype: np.float32 }), np.array(b, { shape: [O], dtype: np.float32 }), np.array(X, { shape: [N, I], dtype: np.float32 })];
          const f = (x: JaxArray) => np.tanh(np.matmul(jA.ref, x).add(jb.ref));
          const J = jax.jit(jax.vmap(mode === 'jacfwd' ? (x: JaxArray) => jax.jacfwd(f)(x).transpose() : jax.jacrev(f)));
          return { run: async () => (await J(jX.ref).data()) as Float32Array, dispose: () => (J.dispose(), [jA, jb, jX].forEach((a) => a.dispose())) };
        },
        jaxWasm,
      ),
    );
  }
  systems.push(
    peerSystem(
      'tfjs-wasm per-row grads',
      'TensorFlow.js on wasm (reverse mode only): one tf.grad per output row, all points at once',
      async () => {
        const tf = await tfWasm();
        const [tA, tb, tX] = [tf.tensor2d(A, [O, I]), tf.tensor1d(b), tf.tensor2d(X, [N, I])];
        const rows = Array.from({ length: O }, (_, o) => tf.grad((x: import('@tensorflow/tfjs').Tensor) => tf.tanh(tf.matMul(x, tA, false, true).add(tb)).slice([0, o], [N, 1]).sum()));
        const run = () =>
          tfRead(() => tf.stack(rows.map((g) => g(tX)), 1)); // [N, O, I]
        return { run, dispose: () => tf.dispose([tA, tb, tX]) };
      },
      tfWasm,
    ),
  );
  return {
    workload: 'jacobian',
    variant: `${shape} ${I}->${O} N=${N}`,
    params: { I, O, N },
    sweeps: [],
    unit: 'Jacobians/s',
    perRun: N,
    relTol: 1e-5,
    expected() {
      const { rowIndices, positions } = samplePositions(N, O * I, 32);
      const values = new Float64Array(positions.length);
      rowIndices.forEach((n, k) => jac64(n, values, k * O * I));
      return { values, positions, outputLength: N * O * I, label: `float64 closed form diag(1 - t^2) A, ${rowIndices.length} of ${N} points` };
    },
    systems,
  };
}

export const jacobians: Workload = {
  id: 'jacobian',
  title: 'jacrev and jacfwd of tanh(A x + b), tall and wide',
  cases({ quick, backends }) {
    const Ns = quick ? [32] : [64, 512];
    return Ns.flatMap((N) => [jacobianCase('tall', 16, 256, N, backends), jacobianCase('wide', 256, 16, N, backends)]);
  },
};
