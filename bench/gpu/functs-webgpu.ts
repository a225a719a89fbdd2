/**
 * functs' batched Hessians on the WebGPU backend: the program functs compiles for
 * vmap(hessian(f)), f(x) = sum(tanh(A x + b)), run on the device with its data resident
 * (kernel time: many calls, then one wait for the queue), and end to end (upload X, run,
 * read the Hessians back). Each size's result is checked against a float64 reference on a
 * sample of inputs. Prints one JSON line per size.
 * Usage: node functs-webgpu.mjs [dawn flags...]   (SIZES='[[8,32,4096]]' to choose sizes)
 */
import { tensor, vmap, hessian, jit, type Tensor } from '../../src/index.js';
import { WebGPUDevice } from '../../src/backends/webgpu/gpu.js';
import { startWebGPU } from '../../src/backends/webgpu/start.js';
import { registerBackend } from '../../src/lazy/realize.js';
import { fusingBackend } from '../../src/fusion/program.js';
import { hessianData, hessianError } from './hessian-data.js';

const flags = process.argv.slice(2);
const { device, adapter } = await startWebGPU(flags.length ? { dawnFlags: flags } : {});
console.log(JSON.stringify({ system: 'functs-webgpu', adapter, workgroupSize: device.workgroupSize }));
// The backend's own register tile, and fixed tiles beside it where TILES='[[4,2],[4,4]]' asks
// (each a backend of its own on the same GPUDevice).
const tiles: [number, number][] = process.env.TILES ? JSON.parse(process.env.TILES) : [];
const backends = [
  { tile: 'default', name: 'webgpu', gpu: device },
  ...tiles.map(([inner, outer]) => {
    const name = `webgpu-${inner}x${outer}`;
    const gpu = new WebGPUDevice(device.device, { name, registerTile: { inner, outer } });
    registerBackend(fusingBackend(gpu));
    return { tile: `${inner}x${outer}`, name, gpu };
  }),
];

async function run(D: number, H: number, N: number, tile: string, backend: string, gpu: WebGPUDevice): Promise<void> {
  const { A, b, X } = hessianData(D, H, N);
  const At = tensor(A, { shape: [H, D] });
  const bt = tensor(b, { shape: [H] });
  const Xt = tensor(X, { shape: [N, D] });
  const f = (x: Tensor) => At.matmul(x).add(bt).tanh().sum();
  const hessians = jit(vmap(hessian(f)), { backend });
  const t0 = performance.now();
  hessians(Xt).dispose(); // traces, plans, compiles; X, A and b are uploaded once and kept
  await gpu.finish();
  const first_ms = performance.now() - t0;
  // Kernel time, data resident: `reps` calls back to back (each result freed), one wait.
  const once = () => hessians(Xt).dispose();
  // Warm-up: at least 30 calls and 300 ms of them, so that the GPU's clocks have ramped up.
  const warmStart = performance.now();
  for (let i = 0; i < 30 || performance.now() - warmStart < 300; i++) {
    once();
    if (i % 50 === 49) await gpu.finish();
  }
  await gpu.finish();
  const reps = N >= 1 << 20 ? 50 : 200;
  const times: number[] = [];
  for (let k = 0; k < 5; k++) {
    const start = performance.now();
    for (let i = 0; i < reps; i++) once();
    await gpu.finish();
    times.push((performance.now() - start) / reps);
  }
  times.sort((x, y) => x - y);
  // End to end: a new host X uploaded, the call, the Hessians read back.
  const e2e: number[] = [];
  let got: Float32Array = new Float32Array(0);
  for (let k = 0; k < 3; k++) {
    const start = performance.now();
    const out = hessians(tensor(X, { shape: [N, D] }));
    got = (await out.data()) as Float32Array;
    out.dispose();
    e2e.push(performance.now() - start);
  }
  e2e.sort((x, y) => x - y);
  const { maxerr, scale } = hessianError(A, b, X, got, D, H, N);
  const kernels = hessians.plan(Xt).kernels;
  const kernel_ms = times[2];
  console.log(JSON.stringify({
    system: tile === 'default' ? 'functs-webgpu' : `functs-webgpu tile ${tile}`, D, H, N, kernels: kernels.length,
    kernel_ms: +kernel_ms.toFixed(4), kernel_spread_ms: [+times[0].toFixed(4), +times[4].toFixed(4)], hps_M: +(N / kernel_ms / 1e3).toFixed(1),
    e2e_ms: +e2e[1].toFixed(2), first_call_ms: +first_ms.toFixed(1), maxerr, scale, memory: gpu.memoryStats(),
  }));
  if (process.env.WGSL) for (const k of kernels) console.log(k.source);
  At.dispose();
  bt.dispose();
  Xt.dispose();
}

const sizes: [number, number, number][] = process.env.SIZES ? JSON.parse(process.env.SIZES) : [[8, 32, 4096], [8, 32, 65536], [8, 32, 1048576], [32, 64, 4096], [32, 64, 65536]];
for (const [D, H, N] of sizes) {
  for (const { tile, name, gpu } of backends) {
    try {
      await run(D, H, N, tile, name, gpu);
    } catch (e) {
      console.log(JSON.stringify({ system: `functs-webgpu tile ${tile}`, D, H, N, failed: String((e as Error)?.message ?? e) }));
    }
  }
}
process.exit(0);
