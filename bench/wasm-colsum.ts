/**
 * Column sums (x.sum(0), float32 [rows, cols], 16 MB) of three shapes on the wasm backend, 1
 * and 2 threads, end to end with the result disposed unread: GB read per CPU-second of the
 * process (the steadier measure on a loaded machine) and per wall second, median (min-max)
 * of interleaved samples. bench/wasm-kernels.ts has [4096, 1024] beside the hand-written
 * yardstick; this one shows how the sweep (src/backends/wasm/colsweep.ts) holds up as rows
 * widen.
 *
 *   npx tsx bench/wasm-colsum.ts
 *   SAMPLES=9 SAMPLE_MS=300 SHAPES=2048x2048 npx tsx bench/wasm-colsum.ts
 */
import { jit, setThreads, tensor, withBackend, type Tensor } from '../src/index.js';
import { median } from './suite/stats.js';

const SAMPLES = Number(process.env.SAMPLES ?? 7);
const SAMPLE_MS = Number(process.env.SAMPLE_MS ?? 200);
const SHAPES = (process.env.SHAPES ?? '4096x1024,2048x2048,1024x4096').split(',').map((s) => s.split('x').map(Number) as [number, number]);

const columnSums = jit((a: Tensor) => a.sum({ axis: 0 }));
const entries = SHAPES.flatMap(([rows, cols]) => {
  const data = new Float32Array(rows * cols).map((_, i) => Math.sin(i));
  const x = tensor(data, { shape: [rows, cols] });
  // Checked against a float64 loop before timing.
  const got = withBackend('wasm', () => columnSums(x).dataSync());
  for (let j = 0; j < cols; j += 97) {
    let s = 0;
    for (let r = 0; r < rows; r++) s += data[r * cols + j];
    if (Math.abs(got[j] - s) > 1e-5 * Math.max(1, Math.abs(s))) throw new Error(`column ${j} of [${rows}, ${cols}]: ${got[j]}, expected ${s}`);
  }
  return [1, 2].map((threads) => ({ name: `[${rows}, ${cols}] ${threads}T`, bytes: rows * cols * 4, threads, x, cpu: [] as number[], wall: [] as number[] }));
});

withBackend('wasm', () => {
  for (let round = 0; round < SAMPLES; round++) {
    for (const e of entries) {
      setThreads(e.threads);
      for (let w = 0; w < 2; w++) columnSums(e.x).dispose();
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      let n = 0;
      while (performance.now() - t0 < SAMPLE_MS) {
        columnSums(e.x).dispose();
        n++;
      }
      const cpu = process.cpuUsage(c0);
      e.cpu.push(e.bytes / 1e9 / ((cpu.user + cpu.system) / 1e6 / n));
      e.wall.push(e.bytes / 1e9 / ((performance.now() - t0) / 1e3 / n));
    }
  }
});
console.log(`column sums, wasm, ${SAMPLES} interleaved samples of ${SAMPLE_MS} ms, GB read per CPU-second (per wall second)`);
for (const e of entries) {
  const f = (xs: number[]) => `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)})`;
  console.log(`  ${e.name.padEnd(20)} ${f(e.cpu)}   wall ${f(e.wall)}`);
}
process.exit(0);
