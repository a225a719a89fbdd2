/**
 * gpu.js in its WebGPU mode through Dawn (the `webgpu` package), on the batched-Hessian
 * workload of bench/workload.ts at D=8, H=32: functs' gpu.js backend plans
 * vmap(hessian(f)) once (grid kernels), and the program runs on gpu.js's WebGPU kernels.
 *
 * Prints Hessians/s two ways, each the median of REPS runs after a warm-up:
 *  - kernel time: inputs already on the GPU (uploaded once), the program's kernels launched
 *    and waited for (`queue.onSubmittedWorkDone`), nothing read back;
 *  - end to end: upload of X, the kernels, and the readback of every Hessian.
 * Results are checked against float64 Hessians (bench/workload.ts) on the first CHECK_N
 * points (every point when N <= CHECK_N); a mismatch exits with status 1.
 *
 * The backend's index arithmetic is float32 (exact below 2^24 elements per buffer), so a
 * batch is computed in chunks of CHUNK = 131,072 points ([CHUNK, 8, 8] = 8.4M elements).
 *
 * Run (H200, Vulkan):
 *   npx esbuild bench/gpu/gpujs-hessians.ts --bundle --platform=node --format=esm --packages=external --outfile=.gpu/gpujs-hessians.mjs && node .gpu/gpujs-hessians.mjs
 * Dawn's flags come from GPUJS_DAWN (comma-separated, default backend=vulkan,adapter=NVIDIA);
 * sizes from GPUJS_N (comma-separated, default 65536,1048576); REPS from GPUJS_REPS (default 10);
 * the chunk from GPUJS_CHUNK (below 2^24 / 64 = 262,144).
 * Here, on Dawn's GLES path (no GPU):
 *   EGL_PLATFORM=surfaceless GPUJS_DAWN=backend=opengles GPUJS_FEATURE_LEVEL=compatibility GPUJS_N=4096 GPUJS_REPS=3 node .gpu/gpujs-hessians.mjs
 */
import { create, globals } from 'webgpu';
import gpujs from 'gpu.js';
// A static import, so a bundle (the H200 run carries no node_modules/gpu.js) holds the same
// context instance as gpu.js itself; gpu.js ships no types for its internals.
// @ts-expect-error no declaration file
import * as webGpuContextModule from 'gpu.js/src/backend/web-gpu/context.js';
import { hessian, registerGpuJs, tensor, vmap, type GpuJsClass, type Tensor } from '../../src/index.js';
import { gpujsDevice, type GpuJsBuffer } from '../../src/backends/gpujs/index.js';
import { Storage } from '../../src/backends/device.js';
import { runProgram } from '../../src/fusion/program.js';
import { check, makeWorkload, referenceHessians64, type Size } from '../workload.js';

const D = 8;
const H = 32;
const CHUNK = Number(process.env.GPUJS_CHUNK ?? 131_072);
const CHECK_N = 65_536;
const sizes = (process.env.GPUJS_N ?? '65536,1048576').split(',').map(Number);
const reps = Number(process.env.GPUJS_REPS ?? 10);
const dawnFlags = (process.env.GPUJS_DAWN ?? 'backend=vulkan,adapter=NVIDIA').split(',');
const featureLevel = process.env.GPUJS_FEATURE_LEVEL;

// gpu.js finds WebGPU at navigator.gpu; Node has none, so Dawn's GPU object goes there.
Object.assign(globalThis, globals);
const dawn = create(dawnFlags);
const gpuObject = {
  requestAdapter: (options?: Record<string, unknown>) => dawn.requestAdapter({ ...(featureLevel ? { featureLevel } : {}), ...(options ?? {}) } as never),
  getPreferredCanvasFormat: () => 'rgba8unorm',
  wgslLanguageFeatures: dawn.wgslLanguageFeatures,
};
Object.defineProperty(globalThis, 'navigator', { value: { gpu: gpuObject }, configurable: true });

const adapter = await gpuObject.requestAdapter();
if (!adapter) throw new Error(`no WebGPU adapter for Dawn flags ${dawnFlags.join(',')}`);
const info = (adapter as unknown as { info?: { description?: string; vendor?: string; architecture?: string } }).info;
console.log(`Dawn adapter: ${info?.description || info?.vendor || 'unknown'} ${info?.architecture ?? ''} (flags ${dawnFlags.join(',')}${featureLevel ? `, featureLevel ${featureLevel}` : ''})`);

const GPU = gpujs.GPU as unknown as GpuJsClass;
console.log(`functs gpu.js backend mode: ${registerGpuJs(GPU, { mode: 'webgpu' })}`);

// gpu.js shares one device among its instances; the bench waits on its queue.
const { WebGPUContext } = webGpuContextModule as { WebGPUContext: { acquire(): Promise<{ device: { queue: { onSubmittedWorkDone(): Promise<void> } } }> } };
const { device } = await WebGPUContext.acquire();

const { device: gpujsDev, backend } = gpujsDevice()!;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spread = (xs: number[]) => `${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}`;
let failed = false;

for (const N of sizes) {
  const size: Size = { name: `N=${N}`, D, H, N };
  const w = makeWorkload(size);
  const chunk = Math.min(N, CHUNK);
  const chunks = Math.ceil(N / chunk);
  if (N % chunk !== 0) throw new Error(`N=${N} must be a multiple of ${chunk}`);
  // One program for every chunk: the DAG's structure is the same, only X's values differ.
  const A = tensor(w.A, { shape: [H, D] }).realize();
  const b = tensor(w.b).realize();
  const energy = (x: Tensor) => A.matmul(x).add(b).tanh().sum();
  const Xchunk = tensor(w.X.subarray(0, chunk * D), { shape: [chunk, D] }).realize();
  const { program, leaves } = backend.program([vmap(hessian(energy))(Xchunk).node]);
  const xSlot = leaves.findIndex((l) => l === Xchunk.node);
  const leafStorages = leaves.map((l) => l.realized!);
  const xsOf = (c: number) => w.X.subarray(c * chunk * D, (c + 1) * chunk * D);

  // End to end: upload of X (a host leaf), the kernels, readback of every Hessian.
  const out = new Float32Array(N * D * D);
  const endToEnd = async () => {
    for (let c = 0; c < chunks; c++) {
      const storages = leafStorages.slice();
      storages[xSlot] = Storage.fromHost(xsOf(c), 'float32');
      const [hessians] = runProgram(program, storages);
      out.set(await hessians.read(), c * chunk * D * D);
      hessians.dispose();
    }
  };
  await endToEnd();
  const count = Math.min(N, CHECK_N);
  const verdict = check(`gpu.js webgpu N=${N} (first ${count})`, out.subarray(0, count * D * D), referenceHessians64(w, count));
  console.log(verdict.message);
  failed ||= !verdict.ok;

  // Kernel time: every leaf on the GPU already (copied there once by a kernel).
  const resident = (values: Float32Array) => Storage.onDevice(gpujsDev, gpujsDev.resident(values), 'float32', values.length);
  const onDevice = leafStorages.map((s) => resident(s.readSync() as Float32Array));
  const xsOnDevice = Array.from({ length: chunks }, (_, c) => resident(xsOf(c)));
  const kernelsOnly = async () => {
    const roots: Storage[] = [];
    for (let c = 0; c < chunks; c++) {
      const storages = onDevice.slice();
      storages[xSlot] = xsOnDevice[c];
      roots.push(...runProgram(program, storages));
    }
    for (const r of roots) await gpujsDev.settled(r.buffer as GpuJsBuffer);
    await device.queue.onSubmittedWorkDone();
    for (const r of roots) r.dispose();
  };
  await kernelsOnly();

  const kernelMs: number[] = [];
  const e2eMs: number[] = [];
  for (let r = 0; r < reps; r++) {
    let t0 = performance.now();
    await kernelsOnly();
    kernelMs.push(performance.now() - t0);
    t0 = performance.now();
    await endToEnd();
    e2eMs.push(performance.now() - t0);
  }
  const rate = (ms: number) => (N / (ms / 1000) / 1e6).toFixed(2);
  console.log(
    `gpu.js webgpu D=${D} H=${H} N=${N} (${chunks} chunk${chunks > 1 ? 's' : ''} of ${chunk}, ${program.steps.length} kernels each): ` +
      `kernel time ${median(kernelMs).toFixed(2)} ms (${spread(kernelMs)}) = ${rate(median(kernelMs))}M Hessians/s; ` +
      `end to end ${median(e2eMs).toFixed(2)} ms (${spread(e2eMs)}) = ${rate(median(e2eMs))}M Hessians/s; medians of ${reps}`,
  );
  for (const d of [...onDevice, ...xsOnDevice]) d.dispose();
}

process.exit(failed ? 1 : 0);
