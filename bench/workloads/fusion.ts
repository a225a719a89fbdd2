/**
 * Fusion microbenchmarks: softmax and layer norm over rows, and an MLP's forward and
 * backward pass. Figures are GB/s of the bytes a perfect kernel must move (input and output
 * once) for softmax and layer norm, and steps/s for the MLP; every functs row also records
 * the kernels its plan launches and the bytes they read and write (`explain`).
 */
import { grad, type Tensor } from '../../src/index.js';
import { jaxWasm, tfRead, tfWasm } from '../suite/peers.js';
import { f32, functsSystem, peerSystem } from '../suite/systems.js';
import type { Case, Workload } from '../suite/types.js';
import { mulberry32 } from '../workload.js';
import { tanhMlpGrads64 } from './learning.js';

function uniform(n: number, seed: number, scale = 1): Float32Array<ArrayBuffer> {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (2 * r() - 1) * scale);
}

type JaxArray = InstanceType<Awaited<ReturnType<typeof jaxWasm>>['Array']>;

export const softmax: Workload = {
  id: 'softmax',
  title: 'softmax over the rows of [R, C]',
  cases({ quick, backends }) {
    const C = 256;
    return (quick ? [1024] : [64, 1024, 16384]).map((R): Case => {
      const x = uniform(R * C, 41 + R, 4);
      return {
        workload: 'softmax',
        variant: `R=${R} C=${C}`,
        params: { R, C },
        sweeps: ['R'],
        unit: 'GB/s',
        perRun: (2 * 4 * R * C) / 1e9,
        relTol: 1e-5,
        expected() {
          const values = new Float64Array(R * C);
          for (let r = 0; r < R; r++) {
            let m = -Infinity;
            for (let c = 0; c < C; c++) m = Math.max(m, x[r * C + c]);
            let s = 0;
            for (let c = 0; c < C; c++) s += values[r * C + c] = Math.exp(x[r * C + c] - m);
            for (let c = 0; c < C; c++) values[r * C + c] /= s;
          }
          return { values, positions: null, outputLength: R * C, label: 'float64 softmax loop' };
        },
        systems: [
          ...backends.map((v) => functsSystem(v, 'functs jit(x.softmax(-1))', () => ({ f: (t: Tensor) => t.softmax(-1), args: [f32(x, [R, C])] as [Tensor] }))),
          peerSystem('hand-loop', 'JS loops per row: max, exp and sum, scale', async () => ({
            run: () => {
              const y = new Float32Array(R * C);
              for (let r = 0; r < R; r++) {
                const o = r * C;
                let m = -Infinity;
                for (let c = 0; c < C; c++) m = Math.max(m, x[o + c]);
                let s = 0;
                for (let c = 0; c < C; c++) {
                  const e = Math.exp(x[o + c] - m);
                  y[o + c] = e;
                  s += e;
                }
                const inv = 1 / s;
                for (let c = 0; c < C; c++) y[o + c] *= inv;
              }
              return y;
            },
          })),
          peerSystem('tfjs-wasm', 'TensorFlow.js on wasm: tf.softmax', async () => {
            const tf = await tfWasm();
            const tx = tf.tensor2d(x, [R, C]);
            return { run: () => tfRead(() => tf.softmax(tx)), dispose: () => tx.dispose() };
          }, tfWasm),
          peerSystem('jax-js', 'jax-js jit(nn.softmax(x, -1)) on its wasm device', async () => {
            const jax = await jaxWasm();
            const jx = jax.numpy.array(x, { shape: [R, C], dtype: jax.numpy.float32 });
            const f = jax.jit((t: JaxArray) => jax.nn.softmax(t, -1));
            return { run: async () => (await f(jx.ref).data()) as Float32Array, dispose: () => (f.dispose(), jx.dispose()) };
          }, jaxWasm),
        ],
      };
    });
  },
};

export const layerNorm: Workload = {
  id: 'layernorm',
  title: 'layer norm over the rows of [R, C] with scale and shift',
  cases({ quick, backends }) {
    const C = 256;
    const eps = 1e-5;
    return (quick ? [1024] : [64, 1024, 16384]).map((R): Case => {
      const x = uniform(R * C, 51 + R, 3);
      const g = uniform(C, 52, 1);
      const b = uniform(C, 53, 1);
      return {
        workload: 'layernorm',
        variant: `R=${R} C=${C}`,
        params: { R, C },
        sweeps: ['R'],
        unit: 'GB/s',
        perRun: (2 * 4 * R * C) / 1e9,
        relTol: 1e-4,
        expected() {
          const values = new Float64Array(R * C);
          for (let r = 0; r < R; r++) {
            let m = 0;
            for (let c = 0; c < C; c++) m += x[r * C + c];
            m /= C;
            let v = 0;
            for (let c = 0; c < C; c++) v += (x[r * C + c] - m) ** 2;
            const inv = 1 / Math.sqrt(v / C + eps);
            for (let c = 0; c < C; c++) values[r * C + c] = (x[r * C + c] - m) * inv * g[c] + b[c];
          }
          return { values, positions: null, outputLength: R * C, label: 'float64 layer norm loop' };
        },
        systems: [
          ...backends.map((v) =>
            functsSystem(v, 'functs jit of (x - mean) * rsqrt(var + eps) * g + b', () => ({
              f: (t: Tensor, gt: Tensor, bt: Tensor) => {
                const centered = t.sub(t.mean({ axis: -1, keepdims: true }));
                return centered.mul(centered.square().mean({ axis: -1, keepdims: true }).add(eps).rsqrt()).mul(gt).add(bt);
              },
              args: [f32(x, [R, C]), f32(g, [C]), f32(b, [C])] as [Tensor, Tensor, Tensor],
            })),
          ),
          peerSystem('hand-loop', 'JS loops per row: mean, variance, normalize', async () => ({
            run: () => {
              const y = new Float32Array(R * C);
              for (let r = 0; r < R; r++) {
                const o = r * C;
                let m = 0;
                for (let c = 0; c < C; c++) m += x[o + c];
                m /= C;
                let v = 0;
                for (let c = 0; c < C; c++) v += (x[o + c] - m) ** 2;
                const inv = 1 / Math.sqrt(v / C + eps);
                for (let c = 0; c < C; c++) y[o + c] = (x[o + c] - m) * inv * g[c] + b[c];
              }
              return y;
            },
          })),
          peerSystem('tfjs-wasm', 'TensorFlow.js on wasm: tf.moments and tf ops', async () => {
            const tf = await tfWasm();
            const [tx, tg, tb] = [tf.tensor2d(x, [R, C]), tf.tensor1d(g), tf.tensor1d(b)];
            const run = () =>
              tfRead(() => {
                const { mean, variance } = tf.moments(tx, -1, true);
                return tx.sub(mean).mul(tf.rsqrt(variance.add(eps))).mul(tg).add(tb);
              });
            return { run, dispose: () => tf.dispose([tx, tg, tb]) };
          }, tfWasm),
          peerSystem('jax-js', 'jax-js jit of the same expression on its wasm device', async () => {
            const jax = await jaxWasm();
            const np = jax.numpy;
            const arr = (a: Float32Array<ArrayBuffer>, shape: number[]) => np.array(a, { shape, dtype: np.float32 });
            const [jx, jg, jb] = [arr(x, [R, C]), arr(g, [C]), arr(b, [C])];
            const f = jax.jit((t: JaxArray, gt: JaxArray, bt: JaxArray) => {
              const centered = t.ref.sub(np.mean(t, -1, { keepdims: true }));
              const inv = np.reciprocal(np.sqrt(np.mean(np.square(centered.ref), -1, { keepdims: true }).add(eps)));
              return centered.mul(inv).mul(gt).add(bt);
            });
            return { run: async () => (await f(jx.ref, jg.ref, jb.ref).data()) as Float32Array, dispose: () => (f.dispose(), [jx, jg, jb].forEach((a) => a.dispose())) };
          }, jaxWasm),
        ],
      };
    });
  },
};

/** Gradients of L = sum((tanh(X W1^T + b1) W2^T)^2) / B with respect to W1 and W2, in float64, into `out`. */
function mlpGrads64(X: Float32Array, W1: Float32Array, b1: Float32Array, W2: Float32Array, B: number, D: number, H: number, O: number, out: Float32Array | Float64Array): void {
  const [gW1, , gW2] = tanhMlpGrads64({ X, W1, b1, W2 }, B, D, H, O);
  out.set(gW1, 0);
  out.set(gW2, H * D);
}

export const mlpForwardBackward: Workload = {
  id: 'mlp-fwd-bwd',
  title: "an MLP's forward and backward pass (gradients of both weight matrices)",
  cases({ quick, backends }) {
    const D = 64;
    const H = 128;
    const O = 16;
    return (quick ? [64] : [64, 1024]).map((B): Case => {
      const X = uniform(B * D, 61 + B);
      const W1 = uniform(H * D, 62, 1 / Math.sqrt(D));
      const b1 = uniform(H, 63, 0.2);
      const W2 = uniform(O * H, 64, 1 / Math.sqrt(H));
      const grads = (W1t: Tensor, W2t: Tensor, b1t: Tensor, Xt: Tensor) => Xt.matmul(W1t.transpose()).add(b1t).tanh().matmul(W2t.transpose()).square().sum().div(B);
      return {
        workload: 'mlp-fwd-bwd',
        variant: `B=${B} D=${D} H=${H} O=${O}`,
        params: { B, D, H, O },
        sweeps: ['B'],
        unit: 'steps/s',
        perRun: 1,
        relTol: 1e-4,
        expected() {
          const values = new Float64Array(H * D + O * H);
          mlpGrads64(X, W1, b1, W2, B, D, H, O, values);
          return { values, positions: null, outputLength: values.length, label: 'float64 hand backprop' };
        },
        systems: [
          ...backends.map((v) =>
            functsSystem(v, 'functs jit(grad(loss, {argnums: [0, 1]})): forward and backward in one program', () => ({
              f: (W1t: Tensor, W2t: Tensor, b1t: Tensor, Xt: Tensor) => grad(grads, { argnums: [0, 1] })(W1t, W2t, b1t, Xt) as Tensor[],
              args: [f32(W1, [H, D]), f32(W2, [O, H]), f32(b1, [H]), f32(X, [B, D])] as [Tensor, Tensor, Tensor, Tensor],
            })),
          ),
          peerSystem('hand-loop', 'JS loops: forward and hand-written backprop per example, float64 accumulators', async () => ({
            run: () => {
              const out = new Float32Array(H * D + O * H);
              mlpGrads64(X, W1, b1, W2, B, D, H, O, out);
              return out;
            },
          })),
          peerSystem('tfjs-wasm', 'TensorFlow.js on wasm: tf.grads of the loss', async () => {
            const tf = await tfWasm();
            const [tW1, tW2, tb1, tX] = [tf.tensor2d(W1, [H, D]), tf.tensor2d(W2, [O, H]), tf.tensor1d(b1), tf.tensor2d(X, [B, D])];
            const g = tf.grads((w1: import('@tensorflow/tfjs').Tensor, w2: import('@tensorflow/tfjs').Tensor) => tf.matMul(tf.tanh(tf.matMul(tX, w1, false, true).add(tb1)), w2, false, true).square().sum().div(B));
            const run = () => {
              const [d1, d2] = g([tW1, tW2]);
              const out = new Float32Array(H * D + O * H);
              out.set(d1.dataSync(), 0);
              out.set(d2.dataSync(), H * D);
              tf.dispose([d1, d2]);
              return out;
            };
            return { run, dispose: () => tf.dispose([tW1, tW2, tb1, tX]) };
          }, tfWasm),
          peerSystem('jax-js', 'jax-js jit(grad(loss, argnums [0, 1])) on its wasm device', async () => {
            const jax = await jaxWasm();
            const np = jax.numpy;
            const arr = (a: Float32Array<ArrayBuffer>, shape: number[]) => np.array(a, { shape, dtype: np.float32 });
            const [jW1, jW2, jb1, jX] = [arr(W1, [H, D]), arr(W2, [O, H]), arr(b1, [H]), arr(X, [B, D])];
            const loss = (w1: JaxArray, w2: JaxArray, bb: JaxArray, xx: JaxArray) => np.sum(np.square(np.matmul(np.tanh(np.matmul(xx, w1.transpose()).add(bb)), w2.transpose()))).div(B);
            const g = jax.jit(jax.grad(loss, { argnums: [0, 1] }));
            const run = async () => {
              const [d1, d2] = g(jW1.ref, jW2.ref, jb1.ref, jX.ref) as unknown as [JaxArray, JaxArray];
              const out = new Float32Array(H * D + O * H);
              out.set((await d1.data()) as Float32Array, 0);
              out.set((await d2.data()) as Float32Array, H * D);
              return out;
            };
            return { run, dispose: () => (g.dispose(), [jW1, jW2, jb1, jX].forEach((a) => a.dispose())) };
          }, jaxWasm),
        ],
      };
    });
  },
};
