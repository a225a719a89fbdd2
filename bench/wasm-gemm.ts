/**
 * The wasm GEMM (src/backends/wasm/gemm.ts) alone on n x n matmuls, one thread, with register
 * tiles and cache blocks given as JSON (GemmTuning fields over the defaults), beside
 * tfjs-backend-wasm (XNNPACK, one thread) interleaved. Rates are per CPU-second of this process
 * (process.cpuUsage) as well as wall time: on the shared 2-core VM the wall clock measures the
 * other engineers' load as much as the kernel.
 *
 * HESSIAN=1: instead, the batched Hessians' program (jit(vmap(hessian(f))), f = sum(tanh(A x +
 * b)), N = 4096, D=8/H=32 and D=32/H=64), its kernels alone on buffers already in the wasm
 * memory on one thread, per kernel, beside the hand-written kernel of bench/peers/hand-wasm.ts
 * (whichever version this tree has), interleaved.
 *
 *   npx tsx bench/wasm-gemm.ts
 *   SIZES=512 TUNINGS='[{}, {"packAbove": 1e12}, {"mr": 6}]' npx tsx bench/wasm-gemm.ts
 *   HESSIAN=1 npx tsx bench/wasm-gemm.ts
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { tensor, type Tensor } from "../src/index.js";
import { compileWasm, type WasmKernel } from "../src/backends/wasm/index.js";
import { DEFAULT_GEMM_TUNING } from "../src/backends/wasm/gemm.js";
import { setThreads } from "../src/backends/wasm/threads.js";
import { hessian, vmap } from "../src/index.js";
import { SIZES as HESSIAN_SIZES, makeWorkload } from "./workload.js";
import { headlineTensors } from "./functs.js";
import { loopSample } from "./suite/sampler.js";
import { copiesInMemory, wasmProgramOf } from "./wasm-program.js";
import { handWasmHessians } from "./peers/hand-wasm.js";
setThreads(1);
await tf.setBackend('wasm'); setThreadsCount(1); await tf.ready();
const SAMPLE_MS = Number(process.env.SAMPLE_MS ?? 120);
/** ms per call: of CPU time (this process) and of wall time. */
const measure = (fn: () => void): { cpu: number; wall: number } => {
  const { cpuMs, wallMs } = loopSample(fn, SAMPLE_MS);
  return { cpu: cpuMs, wall: wallMs };
};
const tunings: object[] = JSON.parse(process.env.TUNINGS ?? '[{}]');
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
if (process.env.HESSIAN) {
  for (const size of HESSIAN_SIZES) {
    const w = makeWorkload(size);
    const { N, D, H } = size;
    const { X, f } = headlineTensors(w);
    const steps = wasmProgramOf(() => vmap(hessian(f))(X) as Tensor).steps.map(({ step, args }) => ({ step, kernel: step.kernel as WasmKernel, bases: copiesInMemory(args), source: step.kernel.source.split('\n')[0] }));
    const calls = steps.map((st) => () => st.kernel.runAt(...st.bases));
    // The mirrored GEMM (a symmetric output's blocks I <= J) beside the same kernel computing every block.
    const mirrored = steps.findIndex((st) => st.source.includes('mirrored'));
    const unmirrored = mirrored < 0 ? [] : [(() => {
      const k = compileWasm(steps[mirrored].step.ir, { gemmTuning: { ...DEFAULT_GEMM_TUNING, mirror: false }, parallel: false }) as WasmKernel;
      return () => k.runAt(...steps[mirrored].bases);
    })()];
    const entries = [...calls, () => void handWasmHessians(w), ...unmirrored];
    for (const e of entries) for (let i = 0; i < 3; i++) e();
    const cpu = entries.map(() => [] as number[]);
    const wall = entries.map(() => [] as number[]);
    for (let r = 0; r < Number(process.env.SAMPLES ?? 9); r++) {
      entries.forEach((e, i) => {
        const m = measure(e);
        cpu[i].push(m.cpu);
        wall[i].push(m.wall);
      });
    }
    const total = (ts: number[][]) => ts.slice(0, calls.length).reduce((sum, t) => sum + median(t), 0);
    const rate = (ms: number) => `${(N / ms / 1e3).toFixed(2)}M/s`;
    console.log(`D=${D} H=${H} N=${N}: functs kernels alone ${rate(total(cpu))} per CPU-second (${total(cpu).toFixed(3)} ms), wall ${rate(total(wall))}; hand-written kernel (copies in and out included) ${rate(median(cpu[calls.length]))} per CPU-second, wall ${rate(median(wall[calls.length]))}`);
    steps.forEach((st, i) => console.log(`  ${median(cpu[i]).toFixed(3)} ms CPU, ${median(wall[i]).toFixed(3)} ms wall: ${st.source}`));
    if (unmirrored.length) console.log(`  ${median(cpu[calls.length + 1]).toFixed(3)} ms CPU, ${median(wall[calls.length + 1]).toFixed(3)} ms wall: the same GEMM with every block computed (mirror: false)`);
  }
  process.exit(0);
}

for (const n of (process.env.SIZES ?? '256,512,1024').split(',').map(Number)) {
  const a = Float32Array.from({ length: n * n }, (_, i) => Math.sin(i)), b = Float32Array.from({ length: n * n }, (_, i) => Math.cos(i));
  const fa = tensor(a, { shape: [n, n] }), fb = tensor(b, { shape: [n, n] });
  const { step, args } = wasmProgramOf(() => fa.matmul(fb)).steps[0];
  const bases = copiesInMemory(args);
  const fns = tunings.map((t) => { const k = compileWasm(step.ir, { gemmTuning: { ...DEFAULT_GEMM_TUNING, ...t }, parallel: false }) as WasmKernel; return () => k.runAt(...bases); });
  const [ta, tb] = [tf.tensor2d(a, [n, n]), tf.tensor2d(b, [n, n])];
  fns.push(() => { tf.tidy(() => tf.matMul(ta, tb)).dataSync(); });
  for (const f of fns) for (let i = 0; i < 2; i++) f();
  const cpuTimes = fns.map(() => [] as number[]);
  const wallTimes = fns.map(() => [] as number[]);
  for (let s = 0; s < Number(process.env.SAMPLES ?? 7); s++) {
    fns.forEach((f, i) => {
      const { cpu, wall } = measure(f);
      cpuTimes[i].push(cpu);
      wallTimes[i].push(wall);
    });
  }
  const names = [...tunings.map((t: object) => `functs GEMM ${JSON.stringify(t)}`), 'tfjs-backend-wasm'];
  const rate = (ms: number) => (2 * n ** 3 / ms / 1e6).toFixed(1);
  const summary = (xs: number[]) => {
    const ts = [...xs].sort((x, y) => x - y);
    return `${rate(ts[ts.length >> 1])} (${rate(ts[ts.length - 1])}-${rate(ts[0])})`;
  };
  names.forEach((nm, i) => console.log(`matmul ${n}: ${nm.padEnd(44)} GFLOP/s per CPU-second ${summary(cpuTimes[i])}, wall ${summary(wallTimes[i])}`));
}
