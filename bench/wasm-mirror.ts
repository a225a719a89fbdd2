/**
 * The batched Hessians end to end (jit(vmap(hessian(f))), N = 4096, D=8/H=32 or D=32/H=64,
 * result read back), planned with or without the symmetric output's fact (fusion/symmetry.ts's
 * `mirrorSwitch`): CPU milliseconds per call, 7 samples of 10 calls. One configuration per
 * process: within one process the program planned last ran 1.5x faster than one planned
 * before it, whichever it was (measured 2026-11-30), so two jitted programs in one process do
 * not compare. Run the two alternately:
 *
 *   for r in 1 2 3; do for m in on off; do MIRROR=$m S=1 npx tsx bench/wasm-mirror.ts; done; done
 *   (S=0: D=8 H=32; S=1: D=32 H=64; T: threads, default 1)
 */
import { hessian, jit, tensor, vmap, withBackend, setThreads, type Tensor } from "../src/index.js";
import { mirrorSwitch } from "../src/fusion/symmetry.js";
import { makeWorkload, SIZES } from "./workload.js";
import { headlineTensors } from "./functs.js";
setThreads(Number(process.env.T ?? 1));
mirrorSwitch.enabled = (process.env.MIRROR ?? "on") === "on";
const w = makeWorkload(SIZES[Number(process.env.S ?? 1)]);
const { N, D, H } = w.size;
const { X, f } = headlineTensors(w);
const hessians = jit(vmap(hessian(f)));
const run = () => withBackend("wasm", () => (hessians(X) as Tensor).dataSync());
run();
const gemm = withBackend("wasm", () => hessians.plan(X)).kernels.map((k) => /GEMM[^\n]*/.exec(k.source)?.[0]).find(Boolean) ?? "no GEMM";
const samples: number[] = [];
for (let r = 0; r < 7; r++) {
  const c0 = process.cpuUsage();
  for (let i = 0; i < 10; i++) run();
  const c = process.cpuUsage(c0);
  samples.push((c.user + c.system) / 1e4);
}
samples.sort((x, y) => x - y);
console.log(`D=${D} H=${H} N=${N} mirror ${mirrorSwitch.enabled ? "on " : "off"}: ${samples[3].toFixed(2)} CPU ms per call (median; ${samples[0].toFixed(2)}-${samples[6].toFixed(2)}); ${gemm}`);
