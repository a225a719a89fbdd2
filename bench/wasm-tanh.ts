/**
 * The float32 tanh approximation alone: jit(x => x.tanh()) over 2^16 float32 values on the
 * wasm backend (one f32x4 loop), one thread, every call timed; BASE=<checkout>[,...] loads
 * other checkouts' src/ into the same process and interleaves their calls with this tree's.
 * Reports nanoseconds per element (median, 10th percentile) and per CPU-second.
 *   BASE=/work/wt/base npx tsx bench/wasm-tanh.ts
 */
import * as here from '../src/index.js';
import type { Tensor } from '../src/index.js';
import { quantile, timedCallBlocks, type TimedEntry } from './suite/sampler.js';

type Lib = typeof here;
const libs: [string, Lib][] = [['this tree', here]];
for (const base of (process.env.BASE ?? '').split(',').filter(Boolean)) libs.push([base, (await import(`${base}/src/index.ts`)) as Lib]);
const N = 1 << 16;
const data = Float32Array.from({ length: N }, (_, i) => 10 * Math.sin(i));
const entries = libs.map(([name, lib]) => {
  lib.setThreads(1);
  const x = lib.tensor(data);
  const f = lib.jit((v: Tensor) => v.tanh());
  return { name, run: () => (f(x as never) as Tensor).dispose(), ms: [], cpuMs: 0 } satisfies TimedEntry;
});
for (const e of entries) for (let i = 0; i < 50; i++) e.run();
timedCallBlocks(entries, Number(process.env.ROUNDS ?? 40), Number(process.env.CALLS ?? 20));
for (const e of entries) {
  const ns = (ms: number) => ((ms * 1e6) / N).toFixed(3);
  console.log(`tanh of ${N} float32 ${e.name.padEnd(16)}: median ${ns(quantile(e.ms, 0.5))} ns/element, p10 ${ns(quantile(e.ms, 0.1))}, per CPU-second ${ns(e.cpuMs / e.ms.length)}`);
}
process.exit(0);
