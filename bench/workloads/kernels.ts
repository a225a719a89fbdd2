/**
 * Kernel throughput: matmul in GFLOP/s across sizes (64 to 1024), an elementwise chain and a
 * row reduction in GB/s (the bytes a perfect kernel must read and write, so systems are
 * counted alike). Expectations: float64 loops (matmul at evenly spread rows).
 */
import { tanh, type Tensor } from '../../src/index.js';
import { jaxWasm, tfRead, tfWasm } from '../suite/peers.js';
import { samplePositions } from '../suite/stats.js';
import { f32, functsSystem, peerSystem } from '../suite/systems.js';
import type { Case, Workload } from '../suite/types.js';
import { mulberry32 } from '../workload.js';

function uniform(n: number, seed: number, scale = 1): Float32Array<ArrayBuffer> {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (2 * r() - 1) * scale);
}

export const matmul: Workload = {
  id: 'matmul',
  title: 'square float32 matmul',
  cases({ quick, backends }) {
    return (quick ? [64, 256] : [64, 128, 256, 512, 1024]).map((n): Case => {
      const a = uniform(n * n, 11 + n);
      const b = uniform(n * n, 12 + n);
      return {
        workload: 'matmul',
        variant: `n=${n}`,
        params: { n },
        sweeps: ['n'],
        unit: 'GFLOP/s',
        perRun: (2 * n * n * n) / 1e9,
        relTol: 1e-5 * Math.sqrt(n),
        expected() {
          const { rowIndices, positions } = samplePositions(n, n, 16);
          const values = new Float64Array(positions.length);
          rowIndices.forEach((i, k) => {
            for (let j = 0; j < n; j++) {
              let s = 0;
              for (let l = 0; l < n; l++) s += a[i * n + l] * b[l * n + j];
              values[k * n + j] = s;
            }
          });
          return { values, positions, outputLength: n * n, label: `float64 dot products, ${rowIndices.length} of ${n} rows` };
        },
        systems: [
          ...backends.map((v) => functsSystem(v, 'functs jit(a.matmul(b))', () => ({ f: (x: Tensor, y: Tensor) => x.matmul(y), args: [f32(a, [n, n]), f32(b, [n, n])] as [Tensor, Tensor] }))),
          peerSystem('hand-loop', 'JS i-k-j loop over Float32Arrays (row of b contiguous), float64 accumulation in the output row', async () => ({
            run: () => {
              const c = new Float64Array(n * n);
              for (let i = 0; i < n; i++)
                for (let k = 0; k < n; k++) {
                  const aik = a[i * n + k];
                  const bo = k * n;
                  const co = i * n;
                  for (let j = 0; j < n; j++) c[co + j] += aik * b[bo + j];
                }
              return Float32Array.from(c);
            },
          })),
          peerSystem(
            'tfjs-wasm',
            'TensorFlow.js on wasm (XNNPACK): tf.matMul',
            async () => {
              const tf = await tfWasm();
              const [ta, tb] = [tf.tensor2d(a, [n, n]), tf.tensor2d(b, [n, n])];
              return { run: () => tfRead(() => tf.matMul(ta, tb)), dispose: () => tf.dispose([ta, tb]) };
            },
            tfWasm,
          ),
          peerSystem(
            'jax-js',
            'jax-js jit(matmul) on its wasm device',
            async () => {
              const jax = await jaxWasm();
              const np = jax.numpy;
              const [ja, jb] = [np.array(a, { shape: [n, n], dtype: np.float32 }), np.array(b, { shape: [n, n], dtype: np.float32 })];
              const mm = jax.jit((x: InstanceType<typeof jax.Array>, y: InstanceType<typeof jax.Array>) => np.matmul(x, y));
              return { run: async () => (await mm(ja.ref, jb.ref).data()) as Float32Array, dispose: () => (mm.dispose(), ja.dispose(), jb.dispose()) };
            },
            jaxWasm,
          ),
        ],
      };
    });
  },
};

/** y = tanh(2x + 1) * x - x^2 / 4: five elementwise ops and a transcendental, read once, written once. */
const chain64 = (x: number) => Math.tanh(2 * x + 1) * x - (x * x) / 4;

export const elementwise: Workload = {
  id: 'elementwise',
  title: 'an elementwise chain (tanh(2x + 1) x - x^2/4)',
  cases({ quick, backends }) {
    return (quick ? [1 << 18] : [1 << 14, 1 << 18, 1 << 22]).map((n): Case => {
      const x = uniform(n, 21 + n, 2);
      return {
        workload: 'elementwise',
        variant: `n=${n}`,
        params: { n },
        sweeps: ['n'],
        unit: 'GB/s',
        perRun: (8 * n) / 1e9,
        relTol: 1e-5,
        expected: () => ({ values: Float64Array.from(x, chain64), positions: null, outputLength: n, label: 'float64 elementwise loop' }),
        systems: [
          ...backends.map((v) => functsSystem(v, 'functs jit of the chain (one fused kernel)', () => ({ f: (t: Tensor) => tanh(t.mul(2).add(1)).mul(t).sub(t.square().div(4)), args: [f32(x, [n])] as [Tensor] }))),
          peerSystem('hand-loop', 'one JS loop over a Float32Array', async () => ({
            run: () => {
              const y = new Float32Array(n);
              for (let i = 0; i < n; i++) {
                const v = x[i];
                y[i] = Math.tanh(2 * v + 1) * v - (v * v) / 4;
              }
              return y;
            },
          })),
          peerSystem(
            'tfjs-wasm',
            'TensorFlow.js on wasm: the chain in tf ops (one kernel per op)',
            async () => {
              const tf = await tfWasm();
              const tx = tf.tensor1d(x);
              return { run: () => tfRead(() => tf.tanh(tx.mul(2).add(1)).mul(tx).sub(tx.square().div(4))), dispose: () => tx.dispose() };
            },
            tfWasm,
          ),
          peerSystem(
            'jax-js',
            'jax-js jit of the chain on its wasm device',
            async () => {
              const jax = await jaxWasm();
              const np = jax.numpy;
              const jx = np.array(x, { shape: [n], dtype: np.float32 });
              const f = jax.jit((t: InstanceType<typeof jax.Array>) => np.tanh(t.ref.mul(2).add(1)).mul(t.ref).sub(np.square(t).div(4)));
              return { run: async () => (await f(jx.ref).data()) as Float32Array, dispose: () => (f.dispose(), jx.dispose()) };
            },
            jaxWasm,
          ),
        ],
      };
    });
  },
};

export const reduction: Workload = {
  id: 'reduction',
  title: 'row sums of a [R, 1024] matrix',
  cases({ quick, backends }) {
    const C = 1024;
    return (quick ? [1024] : [16, 256, 4096]).map((R): Case => {
      const x = uniform(R * C, 31 + R);
      return {
        workload: 'reduction',
        variant: `R=${R} C=${C}`,
        params: { R, C },
        sweeps: ['R'],
        unit: 'GB/s',
        perRun: (4 * R * C + 4 * R) / 1e9,
        relTol: 1e-5,
        expected() {
          const values = new Float64Array(R);
          for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) values[r] += x[r * C + c];
          return { values, positions: null, outputLength: R, label: 'float64 row sums' };
        },
        systems: [
          ...backends.map((v) => functsSystem(v, 'functs jit(x.sum(1))', () => ({ f: (t: Tensor) => t.sum(1), args: [f32(x, [R, C])] as [Tensor] }))),
          peerSystem('hand-loop', 'JS loop per row, float64 accumulator', async () => ({
            run: () => {
              const y = new Float32Array(R);
              for (let r = 0; r < R; r++) {
                let s = 0;
                for (let c = 0; c < C; c++) s += x[r * C + c];
                y[r] = s;
              }
              return y;
            },
          })),
          peerSystem(
            'tfjs-wasm',
            'TensorFlow.js on wasm: tf.sum(x, 1)',
            async () => {
              const tf = await tfWasm();
              const tx = tf.tensor2d(x, [R, C]);
              return { run: () => tfRead(() => tf.sum(tx, 1)), dispose: () => tx.dispose() };
            },
            tfWasm,
          ),
          peerSystem(
            'jax-js',
            'jax-js jit(np.sum(x, 1)) on its wasm device',
            async () => {
              const jax = await jaxWasm();
              const np = jax.numpy;
              const jx = np.array(x, { shape: [R, C], dtype: np.float32 });
              const f = jax.jit((t: InstanceType<typeof jax.Array>) => np.sum(t, 1));
              return { run: async () => (await f(jx.ref).data()) as Float32Array, dispose: () => (f.dispose(), jx.dispose()) };
            },
            jaxWasm,
          ),
        ],
      };
    });
  },
};
