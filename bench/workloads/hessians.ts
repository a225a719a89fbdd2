/**
 * The headline: batched Hessians `jit(vmap(hessian(f)))` for
 *
 *   tanh:  f(x) = sum(tanh(A x + b)),                      A [H, D]
 *   mlp:   f(x) = w3 . tanh(W2 tanh(W1 x + b1) + b2),      W1 [H, D], W2 [H, H]
 *
 * swept over N (the batch), D (the input) and H (the hidden width). Expectations are float64
 * closed forms at evenly spread examples. Peers: the hand-written loops and wasm kernel of
 * the closed form, jax-js's jit(vmap(hessian)), and TensorFlow.js on wasm, which has no
 * forward mode: its Hessians are nested reverse-mode gradients (labelled), or the closed
 * form written in tf ops (labelled: no autodiff).
 */
import { hessian, vmap, type Tensor } from '../../src/index.js';
import { handHessians, tunedHandHessians } from '../peers/hand-loop.js';
import { handWasmKernel } from '../peers/hand-wasm.js';
import { makeWorkload, mulberry32, type Workload as TanhData } from '../workload.js';
import type { BackendVariant } from '../suite/backends.js';
import { jaxWasm, tfRead, tfWasm, type tf as TF } from '../suite/peers.js';
import { samplePositions } from '../suite/stats.js';
import { f32, functsSystem, peerSystem } from '../suite/systems.js';
import { NotRun, type Case, type Expected, type SystemEntry, type Workload } from '../suite/types.js';

interface Size {
  D: number;
  H: number;
  N: number;
}

/** Points of the sweeps, each with the sweeps it belongs to (a shared point is run once). */
function sweepPoints(sweeps: Record<string, Size[]>): { size: Size; sweeps: string[] }[] {
  const points = new Map<string, { size: Size; sweeps: string[] }>();
  for (const [param, sizes] of Object.entries(sweeps)) {
    for (const size of sizes) {
      const key = `${size.D},${size.H},${size.N}`;
      const p = points.get(key) ?? { size, sweeps: [] };
      p.sweeps.push(param);
      points.set(key, p);
    }
  }
  return [...points.values()];
}

const label = (s: Size) => `D=${s.D} H=${s.H} N=${s.N}`;

/** tfjs has no forward mode: row i of every example's Hessian is the gradient of the gradient against e_i, all rows and examples at once by tiling the batch D times. */
function tfNestedHessians(tf: typeof TF, F: (x: TF.Tensor) => TF.Scalar, X: TF.Tensor2D, N: number, D: number): { run: () => Float32Array; dispose: () => void } {
  // Past this the tiled batch's intermediates exhaust tfjs-wasm's heap, and an abort there
  // leaves its wasm module broken for every later tfjs entry in the process.
  if (D * N > TF_NESTED_MAX_ROWS) throw new NotRun(`the tiled batch of D*N = ${D * N} rows exceeds ${TF_NESTED_MAX_ROWS}, past which tfjs-wasm's heap runs out`);
  const gradF = tf.grad(F);
  const hessRows = tf.grad((x: TF.Tensor) => gradF(x));
  const E = tf.tidy(() => tf.oneHot(tf.range(0, D, 1, 'int32').reshape([D, 1]).tile([1, N]).reshape([D * N]) as TF.Tensor1D, D).toFloat());
  return {
    run: () => tfRead(() => hessRows(tf.tile(X, [D, 1]), E).reshape([D, N, D]).transpose([1, 0, 2])),
    dispose: () => E.dispose(),
  };
}

const TF_NESTED_MAX_ROWS = 1 << 17;

/** tanh(z) as sinh/cosh: tfjs's tanh gradient reuses its output, which its outer tape cannot differentiate (tensorflow/tfjs#3252). */
const tfTanh2 = (tf: typeof TF, z: TF.Tensor) => tf.div(tf.sinh(z), tf.cosh(z));

// ---- tanh --------------------------------------------------------------------------------

function tanhExpected(w: TanhData, rows: number): Expected {
  const { D, H, N } = w.size;
  const { rowIndices, positions } = samplePositions(N, D * D, rows);
  const values = new Float64Array(positions.length);
  const wt = new Float64Array(H);
  rowIndices.forEach((n, k) => {
    for (let h = 0; h < H; h++) {
      let z = w.b[h];
      for (let d = 0; d < D; d++) z += w.A[h * D + d] * w.X[n * D + d];
      const t = Math.tanh(z);
      wt[h] = -2 * t * (1 - t * t);
    }
    for (let i = 0; i < D; i++)
      for (let j = 0; j < D; j++) {
        let s = 0;
        for (let h = 0; h < H; h++) s += w.A[h * D + i] * wt[h] * w.A[h * D + j];
        values[k * D * D + i * D + j] = s;
      }
  });
  return { values, positions, outputLength: N * D * D, label: `float64 closed form A^T diag(-2t(1-t^2)) A, ${rowIndices.length} of ${N} examples` };
}

function tanhSystems(w: TanhData, backends: readonly BackendVariant[]): SystemEntry[] {
  const { D, H, N } = w.size;
  const systems: SystemEntry[] = backends.map((v) =>
    functsSystem(v, 'functs jit(vmap(hessian(f)))', () => {
      const A = f32(w.A, [H, D]);
      const b = f32(w.b, [H]);
      const f = (x: Tensor) => A.matmul(x).add(b).tanh().sum();
      return { f: vmap(hessian(f)), args: [f32(w.X, [N, D])] as [Tensor] };
    }),
  );
  systems.push(
    peerSystem('hand-loop', 'plain JS loops of the closed form A^T diag(-2t(1-t^2)) A (float64 inside, symmetric half)', async () => ({ run: () => handHessians(w.A, w.b, w.X, N, D, H) })),
    peerSystem('hand-loop tuned', 'JS loops of the closed form, A transposed to float64 once, the row scaling hoisted', async () => ({ run: () => tunedHandHessians(w.A, w.b, w.X, N, D, H) })),
  );
  if (N % 4 === 0 && D % 4 === 0 && H % 4 === 0) {
    systems.push(
      peerSystem('hand-wasm', 'hand-written wasm SIMD kernel of the closed form (bench/peers/hand-wasm.ts), one thread', async () => {
        const kernel = handWasmKernel(N, D, H);
        return { run: () => kernel(w.A, w.b, w.X) };
      }),
    );
  }
  systems.push(
    peerSystem(
      'jax-js',
      'jax-js jit(vmap(hessian(f))) on its wasm device (hessian = jacfwd(grad))',
      async () => {
        const jax = await jaxWasm();
        const np = jax.numpy;
        const A = np.array(w.A, { shape: [H, D], dtype: np.float32 });
        const b = np.array(w.b, { shape: [H], dtype: np.float32 });
        const X = np.array(w.X, { shape: [N, D], dtype: np.float32 });
        const hess = jax.jit(jax.vmap(jax.hessian((x: InstanceType<typeof jax.Array>) => np.sum(np.tanh(np.matmul(A.ref, x).add(b.ref))))));
        return {
          run: async () => (await hess(X.ref).data()) as Float32Array,
          dispose: () => (hess.dispose(), A.dispose(), b.dispose(), X.dispose()),
        };
      },
      jaxWasm,
    ),
    peerSystem(
      'tfjs-wasm nested grad',
      'TensorFlow.js on wasm: nested tf.grad (reverse over reverse; tanh as sinh/cosh), batch and rows vectorized by tiling',
      async () => {
        const tf = await tfWasm();
        const A = tf.tensor2d(w.A, [H, D]);
        const b = tf.tensor1d(w.b);
        const X = tf.tensor2d(w.X, [N, D]);
        const nested = tfNestedHessians(tf, (x) => tfTanh2(tf, tf.matMul(x, A, false, true).add(b)).sum(), X, N, D);
        return { run: nested.run, dispose: () => (nested.dispose(), tf.dispose([A, b, X])) };
      },
      tfWasm,
    ),
    peerSystem(
      'tfjs-wasm closed form',
      'TensorFlow.js on wasm: the closed form in tf ops (no autodiff): (-2T(1-T^2)) @ outer(A_h, A_h)',
      async () => {
        const tf = await tfWasm();
        const A = tf.tensor2d(w.A, [H, D]);
        const b = tf.tensor1d(w.b);
        const X = tf.tensor2d(w.X, [N, D]);
        const P = tf.tidy(() => tf.mul(A.expandDims(2), A.expandDims(1)).reshape([H, D * D]));
        const run = () =>
          tfRead(() => {
            const T = tf.tanh(tf.matMul(X, A, false, true).add(b));
            return tf.matMul(T.mul(-2).mul(tf.sub(1, T.square())), P);
          });
        return { run, dispose: () => tf.dispose([A, b, X, P]) };
      },
      tfWasm,
    ),
  );
  return systems;
}

// ---- 3-layer MLP -------------------------------------------------------------------------

interface MlpData {
  size: Size;
  W1: Float32Array<ArrayBuffer>;
  b1: Float32Array<ArrayBuffer>;
  W2: Float32Array<ArrayBuffer>;
  b2: Float32Array<ArrayBuffer>;
  w3: Float32Array<ArrayBuffer>;
  X: Float32Array<ArrayBuffer>;
}

export function makeMlpData(size: Size, seed = 0x31a9): MlpData {
  const { D, H, N } = size;
  const rand = mulberry32((seed ^ Math.imul(D, 0x9e3779b1) ^ Math.imul(H, 0x85ebca6b) ^ N) >>> 0);
  const fill = (n: number, scale: number) => Float32Array.from({ length: n }, () => (2 * rand() - 1) * scale);
  return { size, W1: fill(H * D, 1 / Math.sqrt(D)), b1: fill(H, 0.3), W2: fill(H * H, 1 / Math.sqrt(H)), b2: fill(H, 0.3), w3: fill(H, 1 / Math.sqrt(H)), X: fill(N * D, 1) };
}

/**
 * The MLP's Hessian at one example, in float64 (the closed form):
 * sum_k w3_k a2''_k g_k g_k^T + sum_j c_j a1''_j W1_j W1_j^T, with g_k = W2_k diag(a1') W1
 * and c = W2^T (w3 * a2'). `out` may be a Float32Array (the hand loop) or Float64Array.
 */
function mlpHessianAt(m: MlpData, n: number, out: Float32Array | Float64Array, at: number, scratch: { a1: Float64Array; d1: Float64Array; g: Float64Array; h: Float64Array }): void {
  const { D, H } = m.size;
  const { a1, d1, g, h: acc } = scratch;
  for (let j = 0; j < H; j++) {
    let z = m.b1[j];
    for (let d = 0; d < D; d++) z += m.W1[j * D + d] * m.X[n * D + d];
    a1[j] = Math.tanh(z);
    d1[j] = 1 - a1[j] * a1[j];
  }
  acc.fill(0);
  const c = new Float64Array(H);
  for (let k = 0; k < H; k++) {
    let z = m.b2[k];
    for (let j = 0; j < H; j++) z += m.W2[k * H + j] * a1[j];
    const a2 = Math.tanh(z);
    const d2 = 1 - a2 * a2;
    const dd2 = -2 * a2 * d2;
    for (let j = 0; j < H; j++) c[j] += m.w3[k] * d2 * m.W2[k * H + j];
    g.fill(0);
    for (let j = 0; j < H; j++) {
      const s = m.W2[k * H + j] * d1[j];
      for (let d = 0; d < D; d++) g[d] += s * m.W1[j * D + d];
    }
    const s = m.w3[k] * dd2;
    for (let i = 0; i < D; i++) for (let l = 0; l < D; l++) acc[i * D + l] += s * g[i] * g[l];
  }
  for (let j = 0; j < H; j++) {
    const s = c[j] * -2 * a1[j] * d1[j];
    for (let i = 0; i < D; i++) for (let l = 0; l < D; l++) acc[i * D + l] += s * m.W1[j * D + i] * m.W1[j * D + l];
  }
  for (let i = 0; i < D * D; i++) out[at + i] = acc[i];
}

function scratchFor(m: MlpData) {
  const { D, H } = m.size;
  return { a1: new Float64Array(H), d1: new Float64Array(H), g: new Float64Array(D), h: new Float64Array(D * D) };
}

function mlpExpected(m: MlpData, rows: number): Expected {
  const { D, N } = m.size;
  const { rowIndices, positions } = samplePositions(N, D * D, rows);
  const values = new Float64Array(positions.length);
  const scratch = scratchFor(m);
  rowIndices.forEach((n, k) => mlpHessianAt(m, n, values, k * D * D, scratch));
  return { values, positions, outputLength: N * D * D, label: `float64 closed form of the MLP's Hessian, ${rowIndices.length} of ${N} examples` };
}

function mlpSystems(m: MlpData, backends: readonly BackendVariant[]): SystemEntry[] {
  const { D, H, N } = m.size;
  const systems: SystemEntry[] = backends.map((v) =>
    functsSystem(v, 'functs jit(vmap(hessian(mlp)))', () => {
      const W1 = f32(m.W1, [H, D]);
      const b1 = f32(m.b1, [H]);
      const W2 = f32(m.W2, [H, H]);
      const b2 = f32(m.b2, [H]);
      const w3 = f32(m.w3, [H]);
      const f = (x: Tensor) => W2.matmul(W1.matmul(x).add(b1).tanh()).add(b2).tanh().mul(w3).sum();
      return { f: vmap(hessian(f)), args: [f32(m.X, [N, D])] as [Tensor] };
    }),
  );
  systems.push(
    peerSystem('hand-loop', 'plain JS loops of the MLP Hessian closed form, float64 inside', async () => {
      const scratch = scratchFor(m);
      return {
        run: () => {
          const out = new Float32Array(N * D * D);
          for (let n = 0; n < N; n++) mlpHessianAt(m, n, out, n * D * D, scratch);
          return out;
        },
      };
    }),
    peerSystem(
      'jax-js',
      'jax-js jit(vmap(hessian(mlp))) on its wasm device',
      async () => {
        const jax = await jaxWasm();
        const np = jax.numpy;
        const arr = (a: Float32Array<ArrayBuffer>, shape: number[]) => np.array(a, { shape, dtype: np.float32 });
        const [W1, b1, W2, b2, w3] = [arr(m.W1, [H, D]), arr(m.b1, [H]), arr(m.W2, [H, H]), arr(m.b2, [H]), arr(m.w3, [H])];
        const X = arr(m.X, [N, D]);
        const f = (x: InstanceType<typeof jax.Array>) => np.sum(np.tanh(np.matmul(W2.ref, np.tanh(np.matmul(W1.ref, x).add(b1.ref))).add(b2.ref)).mul(w3.ref));
        const hess = jax.jit(jax.vmap(jax.hessian(f)));
        return {
          run: async () => (await hess(X.ref).data()) as Float32Array,
          dispose: () => (hess.dispose(), [W1, b1, W2, b2, w3, X].forEach((a) => a.dispose())),
        };
      },
      jaxWasm,
    ),
    peerSystem(
      'tfjs-wasm nested grad',
      'TensorFlow.js on wasm: nested tf.grad (reverse over reverse; tanh as sinh/cosh), vectorized by tiling',
      async () => {
        const tf = await tfWasm();
        const W1 = tf.tensor2d(m.W1, [H, D]);
        const b1 = tf.tensor1d(m.b1);
        const W2 = tf.tensor2d(m.W2, [H, H]);
        const b2 = tf.tensor1d(m.b2);
        const w3 = tf.tensor1d(m.w3);
        const X = tf.tensor2d(m.X, [N, D]);
        const F = (x: TF.Tensor) => tfTanh2(tf, tf.matMul(tfTanh2(tf, tf.matMul(x, W1, false, true).add(b1)), W2, false, true).add(b2)).mul(w3).sum() as TF.Scalar;
        const nested = tfNestedHessians(tf, F, X, N, D);
        return { run: nested.run, dispose: () => (nested.dispose(), tf.dispose([W1, b1, W2, b2, w3, X])) };
      },
      tfWasm,
    ),
  );
  return systems;
}

export const hessianTanh: Workload = {
  id: 'hessian-tanh',
  title: 'batched Hessians of sum(tanh(A x + b))',
  cases({ quick, backends }) {
    const points = sweepPoints(
      quick
        ? { N: [256, 4096].map((N) => ({ D: 8, H: 32, N })), D: [4, 16].map((D) => ({ D, H: 32, N: 256 })) }
        : {
            N: [256, 1024, 4096, 16384, 65536].map((N) => ({ D: 8, H: 32, N })),
            D: [4, 8, 16, 32, 64].map((D) => ({ D, H: 64, N: 1024 })),
            H: [16, 32, 256].map((H) => ({ D: 8, H, N: 4096 })),
          },
    );
    return points.map(({ size, sweeps }) => {
        const w = makeWorkload({ name: label(size), ...size });
        return {
          workload: 'hessian-tanh',
          variant: label(size),
          params: { ...size },
          sweeps,
          unit: 'Hessians/s',
          perRun: size.N,
          relTol: 1e-4,
          expected: () => tanhExpected(w, quick ? 64 : 128),
          systems: tanhSystems(w, backends),
        };
    });
  },
};

export const hessianMlp: Workload = {
  id: 'hessian-mlp',
  title: "batched Hessians of a 3-layer MLP's output",
  cases({ quick, backends }) {
    const points = sweepPoints(
      quick
        ? { N: [256].map((N) => ({ D: 8, H: 32, N })) }
        : { N: [256, 4096, 65536].map((N) => ({ D: 8, H: 32, N })), D: [4, 16, 64].map((D) => ({ D, H: 32, N: 1024 })) },
    );
    return points.map(({ size, sweeps }) => {
        const m = makeMlpData(size);
        return {
          workload: 'hessian-mlp',
          variant: label(size),
          params: { ...size },
          sweeps,
          unit: 'Hessians/s',
          perRun: size.N,
          relTol: 1e-4,
          expected: () => mlpExpected(m, quick ? 64 : 128),
          systems: mlpSystems(m, backends),
        };
    });
  },
};
