/**
 * The D=8 headline's kernels (jit(vmap(hessian(f))), f = sum(tanh(A x + b)), N = 4096, H = 32)
 * compiled by this tree's wasm compiler and by another checkout's (BASE=), each run alone on one
 * thread on the same buffers in the memory, interleaved call by call: the before and after of
 * a change to the code generation, with the outputs compared (max relative difference).
 *
 *   BASE=/work/wt/base npx tsx bench/call-kernels-ab.ts             # kernel0 (tanh stage) and kernel2 (GEMM)
 *   STEPS=0 ROUNDS=3000 BASE=/work/wt/base npx tsx bench/call-kernels-ab.ts
 */
import { headlineTensors } from "./functs.js";
import { copiesInMemory } from "./wasm-program.js";
import { makeWorkload, SIZES } from "./workload.js";
import { hessian, vmap, withBackend, Tensor } from "../src/index.js";
import { programFor } from "../src/fusion/program.js";
import { wasmArena, wasmDevice } from "../src/backends/wasm/index.js";
import * as here from "../src/backends/wasm/compile.js";
import type { TypedArray } from "../src/lazy/dtype.js";

if (!process.env.BASE) throw new Error("call-kernels-ab: set BASE=<another checkout> to compare against");
const base = (await import(`${process.env.BASE}/src/backends/wasm/compile.ts`)) as typeof here;
const w = makeWorkload(SIZES[0]);
const { X, f } = headlineTensors(w);
const { program, leaves } = withBackend("wasm", () => programFor([(vmap(hessian(f))(X) as Tensor).node], wasmDevice));
const slots = [...leaves.map((l) => l.realized!.readSync()), ...program.buffers.map((b) => new Float32Array(b.size))] as TypedArray[];
const bases = copiesInMemory(slots);
const steps = (process.env.STEPS ?? "0,2").split(",").map(Number);
const outputs = new Map<string, Float32Array>();
const runs = new Map<string, () => void>();
for (const [name, compiler] of [["base", base], ["here", here]] as const) {
  for (const k of steps) {
    const step = program.steps[k];
    const m = compiler.emitKernelModule(step.ir, { sharedMemory: wasmArena.shared });
    if (m.gemm?.scratchBytes) wasmArena.needScratch(m.gemm.scratchBytes);
    const instantiate = (bytes: Uint8Array<ArrayBuffer>) => new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: wasmArena.memory } }).exports as Record<string, (...args: number[]) => void>;
    const exports = instantiate(m.bytes);
    // B's packing, once per call before the GEMM: an exported `prepare`, or (a tree where the
    // packing is a module of its own, split over threads) that module over all its units.
    const packing = (m.gemm as { packing?: { bytes: Uint8Array<ArrayBuffer>; units: number } | null } | null)?.packing;
    const pack = packing ? instantiate(packing.bytes).kernel : null;
    const args = step.slots.map((s) => bases[s]);
    const run = () => {
      exports.prepare?.(...args);
      if (pack && packing) pack(...args, 0, packing.units);
      if (m.parallel) exports.kernel(...args, 0, m.parallel.extent);
      else exports.kernel(...args);
    };
    run();
    runs.set(`${name} ${step.name}`, run);
    outputs.set(`${name} ${step.name}`, new Float32Array(wasmArena.buffer, args[0], step.ir.buffers[0].size).slice());
  }
}
for (const k of steps) {
  const name = program.steps[k].name;
  const [a, b] = [outputs.get(`base ${name}`)!, outputs.get(`here ${name}`)!];
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1e-3, Math.abs(a[i])));
  console.log(`${name} (${program.steps[k].summary}): max relative difference base vs here ${worst.toExponential(2)}`);
}
const times = new Map<string, number[]>([...runs.keys()].map((k) => [k, []]));
for (let r = 0; r < Number(process.env.ROUNDS ?? 1000); r++) {
  for (const [k, run] of runs) {
    const t0 = performance.now();
    run();
    times.get(k)!.push(performance.now() - t0);
  }
}
for (const [k, xs] of times) {
  xs.sort((a, b) => a - b);
  console.log(`${k.padEnd(14)} median ${xs[xs.length >> 1].toFixed(4)} ms, p10 ${xs[Math.floor(xs.length / 10)].toFixed(4)}, p90 ${xs[Math.floor(xs.length * 0.9)].toFixed(4)}`);
}
process.exit(0);
