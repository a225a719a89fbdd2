/**
 * functs' batched Hessians on the WebGPU backend: the program functs compiles for
 * vmap(hessian(f)), f(x) = sum(tanh(A x + b)), run on the device with its data resident
 * (kernel time: many calls, then one wait for the queue), and end to end (upload X, run,
 * read the Hessians back). Each size's result is checked against a float64 reference on a
 * sample of inputs. Prints one JSON line per size.
 * Usage: node functs-webgpu.mjs [dawn flags...]   (SIZES='[[8,32,4096]]' to choose sizes)
 */
import { tensor, vmap, hessian, type Tensor } from '../../src/index.js';
import { initWebGPU, runOnDevice, webgpuCompiler } from '../../src/backends/webgpu/index.js';
import { programFor } from '../../src/fusion/program.js';

const flags = process.argv.slice(2);
const { device, adapter } = await initWebGPU(flags.length ? { dawnFlags: flags } : {});
console.log(JSON.stringify({ system: 'functs-webgpu', adapter, workgroupSize: device.workgroupSize }));
// The backend's own register tile, and fixed tiles beside it where TILES='[[4,2],[4,4]]' asks.
const tiles: [number, number][] = process.env.TILES ? JSON.parse(process.env.TILES) : [];
const compilers = [
  { tile: 'default', compiler: webgpuCompiler(device) },
  ...tiles.map(([inner, outer]) => ({ tile: `${inner}x${outer}`, compiler: webgpuCompiler(device, { registerTile: { inner, outer }, name: `webgpu-${inner}x${outer}` }) })),
];

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296 - 0.5;
  };
}

async function run(D: number, H: number, N: number, tile: string, compiler: ReturnType<typeof webgpuCompiler>): Promise<void> {
  const r = rng(7);
  const A = Float32Array.from({ length: H * D }, () => (r() * 2) / Math.sqrt(D));
  const b = Float32Array.from({ length: H }, () => r());
  const X = Float32Array.from({ length: N * D }, () => r() * 2);
  const At = tensor(A, { shape: [H, D] });
  const bt = tensor(b, { shape: [H] });
  const Xt = tensor(X, { shape: [N, D] });
  const f = (x: Tensor) => At.matmul(x).add(bt).tanh().sum();
  const t0 = performance.now();
  const out = vmap(hessian(f))(Xt);
  const { program, leaves } = programFor([out.node], compiler);
  const plan_ms = performance.now() - t0;
  const xSlot = leaves.findIndex((l) => l.shape.length === 2 && l.shape[0] === N && l.shape[1] === D && l.realized === Xt.node.realized);
  const leafBuffers = leaves.map((l) => device.upload(l.realized as Float32Array));
  await device.finish();
  // Kernel time, data resident: `reps` calls encoded back to back, one wait.
  const once = () => device.release(runOnDevice(program, device, leafBuffers)[0]);
  for (let i = 0; i < 3; i++) once();
  await device.finish();
  const reps = N >= 1 << 20 ? 50 : 200;
  const times: number[] = [];
  for (let k = 0; k < 5; k++) {
    const start = performance.now();
    for (let i = 0; i < reps; i++) once();
    await device.finish();
    times.push((performance.now() - start) / reps);
  }
  times.sort((x, y) => x - y);
  // End to end: upload X, run, read back.
  const e2e: number[] = [];
  let got: Float32Array = new Float32Array(0);
  for (let k = 0; k < 3; k++) {
    const start = performance.now();
    const buffers = [...leafBuffers];
    buffers[xSlot] = device.upload(X);
    const [result] = runOnDevice(program, device, buffers);
    got = (await device.read(result)) as Float32Array;
    device.release(result);
    device.release(buffers[xSlot]);
    e2e.push(performance.now() - start);
  }
  e2e.sort((x, y) => x - y);
  let maxerr = 0;
  let scale = 0;
  for (let n = 0; n < N; n += Math.max(1, Math.floor(N / 997))) {
    const s = new Float64Array(H);
    for (let h = 0; h < H; h++) {
      let z = b[h];
      for (let d = 0; d < D; d++) z += A[h * D + d] * X[n * D + d];
      const t = Math.tanh(z);
      s[h] = -2 * t * (1 - t * t);
    }
    for (let i = 0; i < D; i++) {
      for (let j = 0; j < D; j++) {
        let acc = 0;
        for (let h = 0; h < H; h++) acc += A[h * D + i] * s[h] * A[h * D + j];
        maxerr = Math.max(maxerr, Math.abs(acc - got[n * D * D + i * D + j]));
        scale = Math.max(scale, Math.abs(acc));
      }
    }
  }
  for (const buffer of leafBuffers) device.release(buffer);
  const kernel_ms = times[2];
  console.log(JSON.stringify({
    system: tile === 'default' ? 'functs-webgpu' : `functs-webgpu tile ${tile}`, D, H, N, kernels: program.steps.length,
    kernel_ms: +kernel_ms.toFixed(4), kernel_spread_ms: [+times[0].toFixed(4), +times[4].toFixed(4)], hps_M: +(N / kernel_ms / 1e3).toFixed(1),
    e2e_ms: +e2e[1].toFixed(2), plan_ms: +plan_ms.toFixed(1), maxerr, scale, memory: device.memoryStats(),
  }));
  if (process.env.WGSL) for (const step of program.steps) console.log(step.kernel.source);
}

const sizes: [number, number, number][] = process.env.SIZES ? JSON.parse(process.env.SIZES) : [[8, 32, 4096], [8, 32, 65536], [8, 32, 1048576], [32, 64, 4096], [32, 64, 65536]];
for (const [D, H, N] of sizes) {
  for (const { tile, compiler } of compilers) {
    try {
      await run(D, H, N, tile, compiler);
    } catch (e) {
      console.log(JSON.stringify({ system: `functs-webgpu tile ${tile}`, D, H, N, failed: String((e as Error)?.message ?? e) }));
    }
  }
}
process.exit(0);
