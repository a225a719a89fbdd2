/**
 * Probe (one thread): the D=8 headline's tanh stage (kernel0) and its GEMM (kernel2) run whole,
 * one after the other, against the same two kernels interleaved chunk by chunk (kernel0 on
 * CHUNK of its iterations, then kernel2 on the rows they wrote, W still in L1/L2): what
 * running them as one job would save.
 *   CHUNK=8 npx tsx bench/call-fusion-probe.ts
 */
import { median } from "./suite/stats.js";
import { headlineTensors } from "./functs.js";
import { copiesInMemory } from "./wasm-program.js";
import { makeWorkload, SIZES } from "./workload.js";
import { hessian, vmap, withBackend, Tensor } from "../src/index.js";
import { programFor } from "../src/fusion/program.js";
import { wasmArena, wasmDevice, instantiateKernel } from "../src/backends/wasm/index.js";
import { emitKernelModule } from "../src/backends/wasm/compile.js";
import type { TypedArray } from "../src/lazy/dtype.js";

const w = makeWorkload(SIZES[0]);
const { X, f } = headlineTensors(w);
const { program, leaves } = withBackend("wasm", () => programFor([(vmap(hessian(f))(X) as Tensor).node], wasmDevice));
const slots = [...leaves.map((l) => l.realized!.readSync()), ...program.buffers.map((b) => new Float32Array(b.size))] as TypedArray[];
// One address per slot, so kernel2 reads the W kernel0 writes.
const bases = copiesInMemory(slots);
const [k0, k1, k2] = program.steps.map((step) => {
  const m = emitKernelModule(step.ir, { sharedMemory: wasmArena.shared });
  return { fn: instantiateKernel(new WebAssembly.Module(m.bytes)), args: step.slots.map((s) => bases[s]), extent: m.parallel?.extent ?? 0 };
});
const ratio = k2.extent / k0.extent;
const CHUNK = Number(process.env.CHUNK ?? 8);
k1.fn(...k1.args, 0, k1.extent);
const whole = () => { k0.fn(...k0.args, 0, k0.extent); k2.fn(...k2.args, 0, k2.extent); };
const chunked = () => {
  for (let s = 0; s < k0.extent; s += CHUNK) {
    const e = Math.min(k0.extent, s + CHUNK);
    k0.fn(...k0.args, s, e);
    k2.fn(...k2.args, s * ratio, e * ratio);
  }
};
const entries = { whole, chunked };
const times: Record<string, number[]> = { whole: [], chunked: [] };
for (let r = 0; r < 2000; r++) for (const [name, run] of Object.entries(entries)) { const t0 = performance.now(); run(); times[name].push(performance.now() - t0); }
for (const [name, xs] of Object.entries(times)) { xs.sort((a, b) => a - b); console.log(`${name.padEnd(8)} median ${median(xs).toFixed(4)} ms p10 ${xs[Math.floor(xs.length / 10)].toFixed(4)}`); }
console.log(`extents ${k0.extent} ${k2.extent}, chunk ${CHUNK}`);
