/**
 * The wasm GEMM (src/backends/wasm/gemm.ts) alone on n x n matmuls, one thread, with register
 * tiles and cache blocks given as JSON (GemmTuning fields over the defaults), beside
 * tfjs-backend-wasm (XNNPACK, one thread) interleaved. Rates are per CPU-second of this process
 * (process.cpuUsage) as well as wall time: on the shared 2-core VM the wall clock measures the
 * other engineers' load as much as the kernel.
 *
 *   npx tsx bench/wasm-gemm.ts
 *   SIZES=512 TUNINGS='[{}, {"packAbove": 1e12}, {"mr": 6}]' npx tsx bench/wasm-gemm.ts
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { tensor, withBackend, type Tensor } from "../src/index.js";
import { programFor } from "../src/fusion/program.js";
import { wasmArena, wasmDevice, compileWasm, type WasmKernel } from "../src/backends/wasm/index.js";
import { DEFAULT_GEMM_TUNING } from "../src/backends/wasm/gemm.js";
import { setThreads } from "../src/backends/wasm/threads.js";
setThreads(1);
await tf.setBackend('wasm'); setThreadsCount(1); await tf.ready();
const SAMPLE_MS = Number(process.env.SAMPLE_MS ?? 120);
/** ms per call: of CPU time (this process) and of wall time. */
const measure = (fn: () => void): { cpu: number; wall: number } => {
  const t0 = performance.now();
  const u0 = process.cpuUsage();
  let it = 0;
  do {
    fn();
    it++;
  } while (performance.now() - t0 < SAMPLE_MS);
  const u = process.cpuUsage(u0);
  return { cpu: (u.user + u.system) / 1000 / it, wall: (performance.now() - t0) / it };
};
const tunings: object[] = JSON.parse(process.env.TUNINGS ?? '[{}]');
for (const n of (process.env.SIZES ?? '256,512,1024').split(',').map(Number)) {
  const a = Float32Array.from({ length: n * n }, (_, i) => Math.sin(i)), b = Float32Array.from({ length: n * n }, (_, i) => Math.cos(i));
  const fa = tensor(a, { shape: [n, n] }), fb = tensor(b, { shape: [n, n] });
  const root = withBackend('wasm', () => fa.matmul(fb).node);
  const { program, leaves } = programFor([root], wasmDevice);
  const step = program.steps[0];
  const slots = [...leaves.map((l) => l.realized!.readSync()), ...program.buffers.map((buf) => new Float32Array(buf.size))];
  const args = step.slots.map((s) => slots[s]);
  const bases = wasmArena.layout(args); args.forEach((x, i) => wasmArena.write(bases[i], x));
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
