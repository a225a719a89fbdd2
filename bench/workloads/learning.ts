/**
 * Workloads of a training loop: per-sample gradients of a small MLP and a small CNN
 * (`vmap(grad(loss))`), an ensemble of MLPs evaluated by vmap over stacked weights against
 * a loop over the models, and one training step (gradients and an Adam update) of an MLP.
 * Expectations are float64 hand-written backprop (and Adam) loops.
 */
import { conv2d, grad, jit, optim, vmap, type Tensor } from '../../src/index.js';
import type { BackendVariant } from '../suite/backends.js';
import { jaxWasm, tfRead, tfWasm } from '../suite/peers.js';
import { samplePositions } from '../suite/stats.js';
import { concatF32, f32, functsSystem, peerSystem } from '../suite/systems.js';
import type { Case, Expected, SystemEntry, Workload } from '../suite/types.js';
import { mulberry32 } from '../workload.js';
import type * as TF from '@tensorflow/tfjs';

function uniform(n: number, seed: number, scale = 1): Float32Array<ArrayBuffer> {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (2 * r() - 1) * scale);
}

type JaxArray = InstanceType<Awaited<ReturnType<typeof jaxWasm>>['Array']>;

// ---- float64 backprop of a two-layer tanh MLP (the train step's and mlp-fwd-bwd's reference) ----

/**
 * Gradients of L = sum((tanh(X W1^T + b1) W2^T + b2 - Y)^2) / B with respect to W1 [H, D],
 * b1 [H], W2 [O, H] and b2 [O], in float64; an absent b2 or Y stands for zeros.
 */
export function tanhMlpGrads64(
  m: { X: ArrayLike<number>; W1: ArrayLike<number>; b1: ArrayLike<number>; W2: ArrayLike<number>; b2?: ArrayLike<number>; Y?: ArrayLike<number> },
  B: number, D: number, H: number, O: number,
): [gW1: Float64Array, gb1: Float64Array, gW2: Float64Array, gb2: Float64Array] {
  const { X, W1, b1, W2, b2, Y } = m;
  const g: [Float64Array, Float64Array, Float64Array, Float64Array] = [new Float64Array(H * D), new Float64Array(H), new Float64Array(O * H), new Float64Array(O)];
  const a = new Float64Array(H);
  const da = new Float64Array(H);
  for (let n = 0; n < B; n++) {
    for (let h = 0; h < H; h++) {
      let z = b1[h];
      for (let d = 0; d < D; d++) z += W1[h * D + d] * X[n * D + d];
      a[h] = Math.tanh(z);
    }
    da.fill(0);
    for (let o = 0; o < O; o++) {
      let y = b2 ? b2[o] : 0;
      for (let h = 0; h < H; h++) y += W2[o * H + h] * a[h];
      const dy = (2 * (y - (Y ? Y[n * O + o] : 0))) / B;
      g[3][o] += dy;
      for (let h = 0; h < H; h++) {
        g[2][o * H + h] += dy * a[h];
        da[h] += dy * W2[o * H + h];
      }
    }
    for (let h = 0; h < H; h++) {
      const dz = da[h] * (1 - a[h] * a[h]);
      g[1][h] += dz;
      for (let d = 0; d < D; d++) g[0][h * D + d] += dz * X[n * D + d];
    }
  }
  return g;
}

// ---- per-sample gradients of an MLP -------------------------------------------------------
// loss(x, y) = (w2 . tanh(W1 x + b1) + b2 - y)^2; gradients of W1 [H, D], b1 [H], w2 [H].

function mlpSampleGrads64(p: { W1: Float32Array; b1: Float32Array; w2: Float32Array; b2: number }, x: ArrayLike<number>, y: number, D: number, H: number, gW1: Float64Array | Float32Array, gb1: Float64Array | Float32Array, gw2: Float64Array | Float32Array, a: Float64Array): void {
  let out = p.b2;
  for (let h = 0; h < H; h++) {
    let z = p.b1[h];
    for (let d = 0; d < D; d++) z += p.W1[h * D + d] * x[d];
    a[h] = Math.tanh(z);
    out += p.w2[h] * a[h];
  }
  const r2 = 2 * (out - y);
  for (let h = 0; h < H; h++) {
    gw2[h] = r2 * a[h];
    const dz = r2 * p.w2[h] * (1 - a[h] * a[h]);
    gb1[h] = dz;
    for (let d = 0; d < D; d++) gW1[h * D + d] = dz * x[d];
  }
}

function perSampleMlpCase(N: number, backends: readonly BackendVariant[]): Case {
  const D = 16;
  const H = 32;
  const W1 = uniform(H * D, 81, 1 / Math.sqrt(D));
  const b1 = uniform(H, 82, 0.3);
  const w2 = uniform(H, 83, 1 / Math.sqrt(H));
  const b2 = 0.1;
  const X = uniform(N * D, 84 + N);
  const Y = uniform(N, 85 + N);
  const p = { W1, b1, w2, b2 };
  // Output layout: all gW1 [N, H, D], then gb1 [N, H], then gw2 [N, H].
  const expectedFor = (rows: number[]): Float64Array => {
    const values = new Float64Array(rows.length * (H * D + 2 * H));
    const a = new Float64Array(H);
    rows.forEach((n, k) => {
      const gW1 = new Float64Array(H * D);
      const gb1 = new Float64Array(H);
      const gw2 = new Float64Array(H);
      mlpSampleGrads64(p, X.subarray(n * D, n * D + D), Y[n], D, H, gW1, gb1, gw2, a);
      values.set(gW1, k * H * D);
      values.set(gb1, rows.length * H * D + k * H);
      values.set(gw2, rows.length * (H * D + H) + k * H);
    });
    return values;
  };
  const loss = (W1t: Tensor, b1t: Tensor, w2t: Tensor, b2t: Tensor, x: Tensor, y: Tensor) => W1t.matmul(x).add(b1t).tanh().mul(w2t).sum().add(b2t).sub(y).square();
  const systems: SystemEntry[] = backends.map((v) =>
    functsSystem(v, 'functs jit(vmap(grad(loss, {argnums: [0, 1, 2]}), {inDims: [null, null, null, null, 0, 0]}))', () => ({
      f: (W1t: Tensor, b1t: Tensor, w2t: Tensor, b2t: Tensor, Xt: Tensor, Yt: Tensor) => vmap(grad(loss, { argnums: [0, 1, 2] }), { inDims: [null, null, null, null, 0, 0] })(W1t, b1t, w2t, b2t, Xt, Yt) as Tensor[],
      args: [f32(W1, [H, D]), f32(b1, [H]), f32(w2, [H]), f32([b2], []), f32(X, [N, D]), f32(Y, [N])] as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor],
    })),
  );
  systems.push(
    peerSystem('hand-loop', 'JS loops: hand-written backprop per example, float64 inside', async () => ({
      run: () => {
        const out = new Float32Array(N * (H * D + 2 * H));
        const a = new Float64Array(H);
        for (let n = 0; n < N; n++) {
          mlpSampleGrads64(p, X.subarray(n * D, n * D + D), Y[n], D, H, out.subarray(n * H * D, (n + 1) * H * D), out.subarray(N * H * D + n * H, N * H * D + (n + 1) * H), out.subarray(N * (H * D + H) + n * H, N * (H * D + H) + (n + 1) * H), a);
        }
        return out;
      },
    })),
    peerSystem(
      'jax-js',
      'jax-js jit(vmap(grad(loss, argnums [0, 1, 2]), [null, null, null, null, 0, 0])) on its wasm device',
      async () => {
        const jax = await jaxWasm();
        const np = jax.numpy;
        const arr = (a: Float32Array<ArrayBuffer>, shape: number[]) => np.array(a, { shape, dtype: np.float32 });
        const args = [arr(W1, [H, D]), arr(b1, [H]), arr(w2, [H]), arr(Float32Array.of(b2), []), arr(X, [N, D]), arr(Y, [N])];
        const lossJ = (W: JaxArray, bb: JaxArray, w: JaxArray, c: JaxArray, x: JaxArray, y: JaxArray) => np.square(np.sum(np.tanh(np.matmul(W, x).add(bb)).mul(w)).add(c).sub(y));
        const g = jax.jit(jax.vmap(jax.grad(lossJ, { argnums: [0, 1, 2] }), [null, null, null, null, 0, 0]));
        const run = async () => {
          const outs = g(...(args.map((a) => a.ref) as [JaxArray, JaxArray, JaxArray, JaxArray, JaxArray, JaxArray])) as unknown as JaxArray[];
          const parts: Float32Array[] = [];
          for (const o of outs) parts.push((await o.data()) as Float32Array);
          return concatF32(parts);
        };
        return { run, dispose: () => (g.dispose(), args.forEach((a) => a.dispose())) };
      },
      jaxWasm,
    ),
    peerSystem(
      'tfjs-wasm loop',
      'TensorFlow.js on wasm (no vmap): tf.grads per example in a loop',
      async () => {
        const tf = await tfWasm();
        const [tW1, tb1, tw2] = [tf.tensor2d(W1, [H, D]), tf.tensor1d(b1), tf.tensor1d(w2)];
        const xs = Array.from({ length: N }, (_, n) => tf.tensor2d(X.subarray(n * D, n * D + D), [1, D]));
        const g = tf.grads((W: TF.Tensor, bb: TF.Tensor, w: TF.Tensor, x: TF.Tensor, y: TF.Tensor) => tf.tanh(tf.matMul(x, W, false, true).add(bb)).mul(w).sum().add(b2).sub(y).square());
        const ys = Array.from({ length: N }, (_, n) => tf.scalar(Y[n]));
        const run = () => {
          const out = new Float32Array(N * (H * D + 2 * H));
          for (let n = 0; n < N; n++) {
            const all = g([tW1, tb1, tw2, xs[n], ys[n]]);
            const [dW, db, dw] = all;
            out.set(dW.dataSync(), n * H * D);
            out.set(db.dataSync(), N * H * D + n * H);
            out.set(dw.dataSync(), N * (H * D + H) + n * H);
            tf.dispose(all);
          }
          return out;
        };
        return { run, dispose: () => tf.dispose([tW1, tb1, tw2, ...xs, ...ys]) };
      },
      tfWasm,
    ),
  );
  return {
    workload: 'per-sample-grad-mlp',
    variant: `D=${D} H=${H} N=${N}`,
    params: { D, H, N },
    sweeps: ['N'],
    unit: 'samples/s',
    perRun: N,
    relTol: 1e-4,
    expected(): Expected {
      const { rowIndices } = samplePositions(N, 1, 64);
      const values = expectedFor(rowIndices);
      const k = rowIndices.length;
      const positions = new Int32Array(values.length);
      rowIndices.forEach((n, j) => {
        for (let i = 0; i < H * D; i++) positions[j * H * D + i] = n * H * D + i;
        for (let i = 0; i < H; i++) {
          positions[k * H * D + j * H + i] = N * H * D + n * H + i;
          positions[k * (H * D + H) + j * H + i] = N * (H * D + H) + n * H + i;
        }
      });
      return { values, positions, outputLength: N * (H * D + 2 * H), label: `float64 hand backprop, ${k} of ${N} examples` };
    },
    systems,
  };
}

// ---- per-sample gradients of a CNN --------------------------------------------------------
// x [1, S, S] -> conv 3x3, C channels (valid) -> tanh -> w . flatten + b; squared error.
// Gradients of the kernel K [C, 1, 3, 3] and of w [C * (S-2)^2].

function cnnCase(N: number, backends: readonly BackendVariant[]): Case {
  const S = 8;
  const C = 4;
  const P = S - 2;
  const F = C * P * P;
  const K = uniform(C * 9, 91, 1 / 3);
  const kb = uniform(C, 92, 0.1);
  const w = uniform(F, 93, 1 / Math.sqrt(F));
  const b = 0.05;
  const X = uniform(N * S * S, 94 + N);
  const Y = uniform(N, 95 + N);
  const per = C * 9 + F;
  const grads64 = (n: number, gK: Float64Array | Float32Array, gw: Float64Array | Float32Array) => {
    const x = X.subarray(n * S * S, (n + 1) * S * S);
    const a = new Float64Array(F);
    let out = b;
    for (let c = 0; c < C; c++)
      for (let i = 0; i < P; i++)
        for (let j = 0; j < P; j++) {
          let z = kb[c];
          for (let di = 0; di < 3; di++) for (let dj = 0; dj < 3; dj++) z += K[c * 9 + di * 3 + dj] * x[(i + di) * S + j + dj];
          const f = c * P * P + i * P + j;
          a[f] = Math.tanh(z);
          out += w[f] * a[f];
        }
    const r2 = 2 * (out - Y[n]);
    gK.fill(0);
    for (let c = 0; c < C; c++)
      for (let i = 0; i < P; i++)
        for (let j = 0; j < P; j++) {
          const f = c * P * P + i * P + j;
          gw[f] = r2 * a[f];
          const dz = r2 * w[f] * (1 - a[f] * a[f]);
          for (let di = 0; di < 3; di++) for (let dj = 0; dj < 3; dj++) gK[c * 9 + di * 3 + dj] += dz * x[(i + di) * S + j + dj];
        }
  };
  // Output layout: gK [N, C, 1, 3, 3], then gw [N, F].
  const loss = (Kt: Tensor, kbt: Tensor, wt: Tensor, x: Tensor, y: Tensor) => conv2d(x, Kt, kbt).tanh().reshape([F]).mul(wt).sum().add(b).sub(y).square();
  const systems: SystemEntry[] = backends.map((v) =>
    functsSystem(v, 'functs jit(vmap(grad(loss, {argnums: [0, 2]}))) with conv2d', () => ({
      f: (Kt: Tensor, kbt: Tensor, wt: Tensor, Xt: Tensor, Yt: Tensor) => vmap(grad(loss, { argnums: [0, 2] }), { inDims: [null, null, null, 0, 0] })(Kt, kbt, wt, Xt, Yt) as Tensor[],
      args: [f32(K, [C, 1, 3, 3]), f32(kb, [C]), f32(w, [F]), f32(X, [N, 1, S, S]), f32(Y, [N])] as [Tensor, Tensor, Tensor, Tensor, Tensor],
    })),
  );
  systems.push(
    peerSystem('hand-loop', 'JS loops: direct convolution and its hand-written backprop per example', async () => ({
      run: () => {
        const out = new Float32Array(N * per);
        for (let n = 0; n < N; n++) grads64(n, out.subarray(n * C * 9, (n + 1) * C * 9), out.subarray(N * C * 9 + n * F, N * C * 9 + (n + 1) * F));
        return out;
      },
    })),
    peerSystem(
      'tfjs-wasm loop',
      'TensorFlow.js on wasm (no vmap): tf.grads of a tf.conv2d model per example in a loop',
      async () => {
        const tf = await tfWasm();
        // tfjs kernels are [KH, KW, in, out]; K is [C, 1, 3, 3].
        const K4 = tf.tidy(() => tf.tensor4d(K, [C, 1, 3, 3]).transpose([2, 3, 1, 0]));
        const tkb = tf.tensor1d(kb);
        // w in functs' order [C, P, P]; tfjs's conv output is [P, P, C].
        const tw = tf.tensor3d(w, [C, P, P]);
        const xs = Array.from({ length: N }, (_, n) => tf.tensor4d(X.subarray(n * S * S, (n + 1) * S * S), [1, S, S, 1]));
        const ys = Array.from({ length: N }, (_, n) => tf.scalar(Y[n]));
        const g = tf.grads((k: TF.Tensor, ww: TF.Tensor, x: TF.Tensor, y: TF.Tensor) => tf.tanh(tf.conv2d(x as TF.Tensor4D, k as TF.Tensor4D, 1, 'valid').add(tkb)).reshape([P, P, C]).transpose([2, 0, 1]).mul(ww).sum().add(b).sub(y).square());
        const run = () => {
          const out = new Float32Array(N * per);
          for (let n = 0; n < N; n++) {
            const all = g([K4, tw, xs[n], ys[n]]);
            const [dK, dw] = all;
            const dKc = tf.transpose(dK, [3, 2, 0, 1]);
            out.set(dKc.dataSync(), n * C * 9);
            out.set(dw.dataSync(), N * C * 9 + n * F);
            tf.dispose([...all, dKc]);
          }
          return out;
        };
        return { run, dispose: () => tf.dispose([K4, tkb, tw, ...xs, ...ys]) };
      },
      tfWasm,
    ),
  );
  return {
    workload: 'per-sample-grad-cnn',
    variant: `${S}x${S} conv3x3 C=${C} N=${N}`,
    params: { S, C, N },
    sweeps: ['N'],
    unit: 'samples/s',
    perRun: N,
    relTol: 1e-4,
    expected(): Expected {
      const { rowIndices } = samplePositions(N, 1, 64);
      const k = rowIndices.length;
      const values = new Float64Array(k * per);
      const positions = new Int32Array(k * per);
      rowIndices.forEach((n, j) => {
        grads64(n, values.subarray(j * C * 9, (j + 1) * C * 9), values.subarray(k * C * 9 + j * F, k * C * 9 + (j + 1) * F));
        for (let i = 0; i < C * 9; i++) positions[j * C * 9 + i] = n * C * 9 + i;
        for (let i = 0; i < F; i++) positions[k * C * 9 + j * F + i] = N * C * 9 + n * F + i;
      });
      return { values, positions, outputLength: N * per, label: `float64 hand backprop of the convolution, ${k} of ${N} examples` };
    },
    systems,
  };
}

// ---- ensembles ---------------------------------------------------------------------------
// M MLPs (D -> H tanh -> 1) on one batch X [B, D]: out [M, B].

function ensembleCase(M: number, backends: readonly BackendVariant[]): Case {
  const D = 16;
  const H = 64;
  const B = 256;
  const W1 = uniform(M * H * D, 101 + M, 1 / Math.sqrt(D));
  const b1 = uniform(M * H, 102 + M, 0.3);
  const w2 = uniform(M * H, 103 + M, 1 / Math.sqrt(H));
  const X = uniform(B * D, 104);
  const forward64 = (m: number, out: Float64Array | Float32Array) => {
    for (let n = 0; n < B; n++) {
      let y = 0;
      for (let h = 0; h < H; h++) {
        let z = b1[m * H + h];
        for (let d = 0; d < D; d++) z += W1[(m * H + h) * D + d] * X[n * D + d];
        y += w2[m * H + h] * Math.tanh(z);
      }
      out[m * B + n] = y;
    }
  };
  const model = (W: Tensor, bb: Tensor, w: Tensor, x: Tensor) => x.matmul(W.transpose()).add(bb).tanh().matmul(w);
  const systems: SystemEntry[] = [];
  for (const v of backends) {
    systems.push(
      functsSystem(
        v,
        'functs jit(vmap(model, {inDims: [0, 0, 0, null]})) over stacked weights',
        () => ({ f: vmap(model, { inDims: [0, 0, 0, null] }), args: [f32(W1, [M, H, D]), f32(b1, [M, H]), f32(w2, [M, H]), f32(X, [B, D])] as [Tensor, Tensor, Tensor, Tensor] }),
        ' vmap',
      ),
      functsSystem(
        v,
        'functs: a loop over the models, each a call of one jitted model',
        () => {
          const one = jit(model);
          const Ws = Array.from({ length: M }, (_, m) => f32(W1.subarray(m * H * D, (m + 1) * H * D), [H, D]));
          const bs = Array.from({ length: M }, (_, m) => f32(b1.subarray(m * H, (m + 1) * H), [H]));
          const ws = Array.from({ length: M }, (_, m) => f32(w2.subarray(m * H, (m + 1) * H), [H]));
          const Xt = f32(X, [B, D]);
          return { f: () => Ws.map((W, m) => one(W, bs[m], ws[m], Xt)), args: [] as [], jitted: false };
        },
        ' loop',
      ),
    );
  }
  systems.push(
    peerSystem('hand-loop', 'JS loops per model and example, float64 inside', async () => ({
      run: () => {
        const out = new Float32Array(M * B);
        for (let m = 0; m < M; m++) forward64(m, out);
        return out;
      },
    })),
    peerSystem(
      'jax-js vmap',
      'jax-js jit(vmap(model, [0, 0, 0, null])) on its wasm device',
      async () => {
        const jax = await jaxWasm();
        const np = jax.numpy;
        const arr = (a: Float32Array<ArrayBuffer>, shape: number[]) => np.array(a, { shape, dtype: np.float32 });
        const args = [arr(W1, [M, H, D]), arr(b1, [M, H]), arr(w2, [M, H]), arr(X, [B, D])];
        const f = jax.jit(jax.vmap((W: JaxArray, bb: JaxArray, w: JaxArray, x: JaxArray) => np.matmul(np.tanh(np.matmul(x, W.transpose()).add(bb)), w), [0, 0, 0, null]));
        return { run: async () => (await f(...(args.map((a) => a.ref) as [JaxArray, JaxArray, JaxArray, JaxArray])).data()) as Float32Array, dispose: () => (f.dispose(), args.forEach((a) => a.dispose())) };
      },
      jaxWasm,
    ),
    peerSystem(
      'tfjs-wasm batched',
      'TensorFlow.js on wasm: batched tf.matMul over the stacked weights (no vmap needed for this model)',
      async () => {
        const tf = await tfWasm();
        const [tW, tb, tw, tX] = [tf.tensor3d(W1, [M, H, D]), tf.tensor3d(b1, [M, 1, H]), tf.tensor3d(w2, [M, H, 1]), tf.tensor2d(X, [B, D])];
        const run = () => tfRead(() => tf.matMul(tf.tanh(tf.matMul(tf.broadcastTo(tX, [M, B, D]), tW, false, true).add(tb)), tw).reshape([M, B]));
        return { run, dispose: () => tf.dispose([tW, tb, tw, tX]) };
      },
      tfWasm,
    ),
  );
  return {
    workload: 'ensemble',
    variant: `M=${M} D=${D} H=${H} B=${B}`,
    params: { M, D, H, B },
    sweeps: ['M'],
    unit: 'model-batches/s',
    perRun: M,
    relTol: 1e-5,
    expected() {
      const values = new Float64Array(M * B);
      for (let m = 0; m < M; m++) forward64(m, values);
      return { values, positions: null, outputLength: M * B, label: 'float64 forward loops' };
    },
    systems,
  };
}

// ---- a training step: gradients and Adam ---------------------------------------------------
// MLP D -> H tanh -> O, loss = sum((pred - Y)^2) / B; Adam from a given state (count 3).

const ADAM = { lr: 1e-3, b1: 0.9, b2: 0.999, eps: 1e-8 };

function trainingCase(B: number, backends: readonly BackendVariant[]): Case {
  const D = 32;
  const H = 64;
  const O = 8;
  const sizes = [H * D, H, O * H, O];
  const shapes = [[H, D], [H], [O, H], [O]];
  const params = sizes.map((n, i) => uniform(n, 111 + i, i % 2 ? 0.2 : 1 / Math.sqrt(i ? H : D)));
  const mu = sizes.map((n, i) => uniform(n, 121 + i, 0.01));
  const nu = sizes.map((n, i) => Float32Array.from(uniform(n, 131 + i, 1e-4), (v) => Math.abs(v) + 1e-5));
  const count = 3;
  const X = uniform(B * D, 141 + B);
  const Y = uniform(B * O, 142 + B);
  const total = sizes.reduce((s, n) => s + n, 0);
  /** New params, then new mu, then new nu, each in parameter order. */
  const step64 = (out: Float64Array | Float32Array) => {
    const [W1, b1, W2, b2] = params;
    const g = tanhMlpGrads64({ X, Y, W1, b1, W2, b2 }, B, D, H, O);
    const c1 = 1 - ADAM.b1 ** (count + 1);
    const c2 = 1 - ADAM.b2 ** (count + 1);
    let at = 0;
    const news: number[][] = [[], [], []];
    sizes.forEach((n, i) => {
      for (let j = 0; j < n; j++) {
        const m = ADAM.b1 * mu[i][j] + (1 - ADAM.b1) * g[i][j];
        const v = ADAM.b2 * nu[i][j] + (1 - ADAM.b2) * g[i][j] ** 2;
        news[0].push(params[i][j] - (ADAM.lr * (m / c1)) / (Math.sqrt(v / c2) + ADAM.eps));
        news[1].push(m);
        news[2].push(v);
      }
    });
    for (const part of news) for (const value of part) out[at++] = value;
  };
  const loss = (p: Tensor[], x: Tensor, y: Tensor) => x.matmul(p[0].transpose()).add(p[1]).tanh().matmul(p[2].transpose()).add(p[3]).sub(y).square().sum().div(B);
  const systems: SystemEntry[] = backends.map((v) =>
    functsSystem(v, 'functs jit of grad(loss) + optim.adam step (new params and state)', () => {
      const opt = optim.adam({ lr: ADAM.lr, betas: [ADAM.b1, ADAM.b2], eps: ADAM.eps });
      return {
        f: (p0: Tensor, p1: Tensor, p2: Tensor, p3: Tensor, m0: Tensor, m1: Tensor, m2: Tensor, m3: Tensor, v0: Tensor, v1: Tensor, v2: Tensor, v3: Tensor, c: Tensor, x: Tensor, y: Tensor) => {
          const p = [p0, p1, p2, p3];
          const g = grad(loss)(p, x, y);
          const [np, state] = opt.step(p, g, { count: c, mu: [m0, m1, m2, m3], nu: [v0, v1, v2, v3] });
          return [...np, ...state.mu, ...state.nu];
        },
        args: [...params.map((a, i) => f32(a, shapes[i])), ...mu.map((a, i) => f32(a, shapes[i])), ...nu.map((a, i) => f32(a, shapes[i])), f32([count], []), f32(X, [B, D]), f32(Y, [B, O])] as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor],
      };
    }),
  );
  systems.push(
    peerSystem('hand-loop', 'JS loops: hand-written backprop and Adam, float64 inside', async () => ({
      run: () => {
        const out = new Float32Array(3 * total);
        step64(out);
        return out;
      },
    })),
    peerSystem(
      'tfjs-wasm',
      'TensorFlow.js on wasm: tf.grads and the Adam update in tf ops (tf.train.adam keeps hidden state, so a pure step is written out)',
      async () => {
        const tf = await tfWasm();
        const tp = params.map((a, i) => tf.tensor(a, shapes[i]));
        const tm = mu.map((a, i) => tf.tensor(a, shapes[i]));
        const tv = nu.map((a, i) => tf.tensor(a, shapes[i]));
        const [tX, tY] = [tf.tensor2d(X, [B, D]), tf.tensor2d(Y, [B, O])];
        const g = tf.grads((W1: TF.Tensor, b1: TF.Tensor, W2: TF.Tensor, b2: TF.Tensor) => tf.matMul(tf.tanh(tf.matMul(tX, W1, false, true).add(b1)), W2, false, true).add(b2).sub(tY).square().sum().div(B));
        const c1 = 1 - ADAM.b1 ** (count + 1);
        const c2 = 1 - ADAM.b2 ** (count + 1);
        const run = () =>
          tf.tidy(() => {
            const gs = g(tp);
            const ms = gs.map((gi, i) => tm[i].mul(ADAM.b1).add(gi.mul(1 - ADAM.b1)));
            const vs = gs.map((gi, i) => tv[i].mul(ADAM.b2).add(gi.square().mul(1 - ADAM.b2)));
            const ps = tp.map((p, i) => p.sub(ms[i].div(c1).div(vs[i].div(c2).sqrt().add(ADAM.eps)).mul(ADAM.lr)));
            return concatF32([...ps, ...ms, ...vs].map((t) => t.dataSync()));
          });
        return { run, dispose: () => tf.dispose([...tp, ...tm, ...tv, tX, tY]) };
      },
      tfWasm,
    ),
  );
  return {
    workload: 'train-step',
    variant: `D=${D} H=${H} O=${O} B=${B}`,
    params: { D, H, O, B },
    sweeps: ['B'],
    unit: 'steps/s',
    perRun: 1,
    relTol: 1e-4,
    expected() {
      const values = new Float64Array(3 * total);
      step64(values);
      return { values, positions: null, outputLength: 3 * total, label: 'float64 hand backprop and Adam' };
    },
    systems,
  };
}


export const perSampleGrads: Workload = {
  id: 'per-sample-grad',
  title: 'per-sample gradients of a small MLP and a small CNN',
  cases({ quick, backends }) {
    const Ns = quick ? [64] : [256, 4096];
    return [...Ns.map((N) => perSampleMlpCase(N, backends)), ...(quick ? [64] : [64, 1024]).map((N) => cnnCase(N, backends))];
  },
};

export const ensembles: Workload = {
  id: 'ensemble',
  title: 'an ensemble of MLPs by vmap against a loop',
  cases({ quick, backends }) {
    return (quick ? [4] : [4, 16, 64]).map((M) => ensembleCase(M, backends));
  },
};

export const trainStep: Workload = {
  id: 'train-step',
  title: 'one training step of an MLP: gradients and Adam',
  cases({ quick, backends }) {
    return (quick ? [64] : [64, 1024]).map((B) => trainingCase(B, backends));
  },
};
