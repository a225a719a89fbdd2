/**
 * TensorFlow.js 4.22 (plain @tensorflow/tfjs, "cpu" backend, pure JS kernels;
 * no tfjs-node, no tfjs-backend-wasm). tf has no vmap/hessian, so two
 * clearly-labeled variants:
 *
 *  - tfjs-nested-grad: real second-order AD with nested tf.grad. Batching
 *    by hand: because examples are independent, grad of F(X) = sum_n f(X_n)
 *    w.r.t. X gives all per-example gradients G [N, D] at once; the Hessian
 *    row i of every example is then grad of sum(G * e_i) w.r.t. X. The D rows
 *    are computed in ONE outer grad call by tiling X D times ([D*N, D]) with
 *    a block one-hot cotangent (a hand-written vmap over the D directions).
 *    Caveat: tfjs cannot differentiate tf.tanh twice (its gradient reuses the
 *    saved output, which is not on the outer tape: tensorflow/tfjs#3252,
 *    "Cannot compute gradient of y=f(x) with respect to x"), so tanh is
 *    written as sinh(z)/cosh(z) for this variant.
 *
 *  - tfjs-closed-form: NOT autodiff; the hand-derived closed form with tf ops:
 *    W = -2T(1-T^2), T = tanh(X A^T + b)  [N, H];
 *    P[h, i*D+j] = A[h,i] A[h,j]          [H, D*D] (precomputed once, untimed);
 *    Hs = W @ P                            [N, D*D].
 */
import * as tf from "@tensorflow/tfjs";
import type { Implementation, Prepared } from "../types.js";
import type { Workload } from "../workload.js";

let ready: Promise<void> | null = null;
function ensureCpu(): Promise<void> {
  if (!ready) {
    ready = (async () => {
      // Silence the "install tfjs-node" banner? It's printed by tfjs on
      // import in Node; harmless, left as is.
      await tf.setBackend("cpu");
      await tf.ready();
      if (tf.getBackend() !== "cpu") throw new Error(`tfjs backend is ${tf.getBackend()}, expected cpu`);
    })();
  }
  return ready;
}

function finish(
  run: () => Float32Array,
  keep: tf.Tensor[],
  t0: number,
): Prepared {
  const firstOutput = run();
  const firstCallMs = performance.now() - t0;
  return {
    run,
    firstCallMs,
    firstOutput,
    dispose() {
      for (const t of keep) t.dispose();
    },
  };
}

/** Run `compute` in a tidy, read the result synchronously, free everything. */
function readTidy(compute: () => tf.Tensor): Float32Array {
  const out = tf.tidy(compute);
  const data = out.dataSync() as Float32Array;
  out.dispose();
  return data;
}

export const tfjsNestedGrad: Implementation = {
  name: "tfjs-nested-grad",
  method:
    "tfjs 4.22 cpu: nested tf.grad (tanh as sinh/cosh, tfjs#3252), batch + D rows vectorized by hand (tile X D times)",
  async setup(wl: Workload) {
    await ensureCpu();
    const { N, D, H } = wl.size;
    const A = tf.tensor2d(wl.A, [H, D], "float32");
    const b = tf.tensor1d(wl.b, "float32");
    const X = tf.tensor2d(wl.X, [N, D], "float32");
    const t0 = performance.now();
    // Built per setup and counted in first-call (tfjs has no compile step).
    const tanhTwiceDifferentiable = (z: tf.Tensor) => tf.div(tf.sinh(z), tf.cosh(z));
    const F = (x: tf.Tensor) => tanhTwiceDifferentiable(tf.matMul(x, A, false, true).add(b)).sum();
    const gradF = tf.grad(F); // x [M, D] -> per-row gradients [M, D]
    const hessRows = tf.grad((x: tf.Tensor) => gradF(x)); // (x, dy) -> [M, D]
    // Block one-hot cotangent: rows [i*N, (i+1)*N) carry e_i. Built once.
    const E = tf.tidy(() =>
      tf.oneHot(tf.range(0, D, 1, "int32").reshape([D, 1]).tile([1, N]).reshape([D * N]), D).toFloat(),
    );
    const run = () =>
      readTidy(() => {
        const Xt = tf.tile(X, [D, 1]); // [D*N, D]
        const R = hessRows(Xt, E); // R[i*N + n, j] = H_n[i, j]
        return R.reshape([D, N, D]).transpose([1, 0, 2]); // [N, D(i), D(j)]
      });
    return finish(run, [A, b, X, E], t0);
  },
};

export const tfjsClosedForm: Implementation = {
  name: "tfjs-closed-form",
  method: "tfjs 4.22 cpu: hand-derived closed form with tf ops (NOT autodiff): (-2T(1-T^2)) @ outer(A,A)",
  async setup(wl: Workload) {
    await ensureCpu();
    const { N, D, H } = wl.size;
    const A = tf.tensor2d(wl.A, [H, D], "float32");
    const b = tf.tensor1d(wl.b, "float32");
    const X = tf.tensor2d(wl.X, [N, D], "float32");
    // Input-independent precomputation (like uploading A): untimed.
    const P = tf.tidy(() => tf.mul(A.expandDims(2), A.expandDims(1)).reshape([H, D * D]));
    const t0 = performance.now();
    const run = () =>
      readTidy(() => {
        const T = tf.tanh(tf.matMul(X, A, false, true).add(b)); // [N, H]
        const W = T.mul(-2).mul(tf.sub(1, T.square())); // [N, H]
        return tf.matMul(W, P); // [N, D*D]
      });
    return finish(run, [A, b, X, P], t0);
  },
};
