/**
 * A loop of jitted calls on one thread, for --cpu-prof and for the per-call overhead: with a
 * small batch (N=8) the kernels take microseconds, so the time per call is the dispatch.
 *
 *   N=8 CALLS=100000 npx tsx bench/call-loop.ts
 *   npx esbuild bench/call-loop.ts --bundle --platform=node --format=esm --outfile=scratch/call-loop.mjs && node --cpu-prof scratch/call-loop.mjs
 */
import { headlineTensors } from "./functs.js";
import { makeWorkload } from "./workload.js";
import { hessian, jit, vmap, setThreads, type Tensor } from "../src/index.js";

setThreads(Number(process.env.THREADS ?? 1));
const w = makeWorkload({ name: "loop", D: 8, H: 32, N: Number(process.env.N ?? 4096) });
const { X, f } = headlineTensors(w);
const hessians = jit(vmap(hessian(f)));
const calls = Number(process.env.CALLS ?? 4000);
for (let i = 0; i < Math.min(calls, 2000); i++) (hessians(X) as Tensor).dispose();
const times: number[] = [];
for (let r = 0; r < 5; r++) {
  // CPU time of this thread (the machine is shared: wall time counts others' work too).
  const t0 = process.cpuUsage();
  for (let i = 0; i < calls; i++) (hessians(X) as Tensor).dispose();
  const used = process.cpuUsage(t0);
  times.push((used.user + used.system) / calls);
}
times.sort((a, b) => a - b);
console.log(`N=${w.size.N}: ${times[2].toFixed(2)} CPU-us per call (median of 5 loops of ${calls}; ${times[0].toFixed(2)}-${times[4].toFixed(2)})`);
