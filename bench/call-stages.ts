/**
 * Where the D=8 headline's call goes, stage by stage, on one thread (THREADS=2 for two; it
 * replaces call-overhead.ts, whose entries it contains):
 * each kernel of the program alone (its wasm function on copies of its buffers in the memory,
 * `runAt`), then the hand-written kernel, the program run and the jit call, interleaved call by
 * call; each kernel beside a roofline: its f32x4 arithmetic at PEAK GFLOP/s per thread (the
 * measured wasm SIMD peak, 50: two multiplies and two adds of four lanes per cycle), counted
 * from the algebra, not from the IR (whose operation count is the scheduler's cost estimate):
 *   - tanh stage: z = A x + b (2 N H D flops), tanh (about 30 lane ops per value: tanhX4),
 *     w = t (1 - t^2) (4 ops per value);
 *   - GEMM: 2 N H x (the outputs it computes: blocks I <= J of the 4x4 blocks, a diagonal
 *     block as 12 values, an off-diagonal one as 16), the mirrors only stored.
 *
 *   npx tsx bench/call-stages.ts
 *   ROUNDS=300 BLOCK=10 THREADS=2 npx tsx bench/call-stages.ts
 *   CPU=1 ROUNDS=200 BLOCK=20 npx tsx bench/call-stages.ts   # CPU time per call (one thread, loaded machine)
 */
import { loadavg } from "node:os";
import { median } from "./suite/stats.js";
import { headlineTensors } from "./functs.js";
import { copiesInMemory } from "./wasm-program.js";
import { makeWorkload, SIZES } from "./workload.js";
import { handWasmKernel } from "./peers/hand-wasm.js";
import { hessian, jit, setThreads, vmap, withBackend, Tensor } from "../src/index.js";
import { paramNode } from "../src/lazy/build.js";
import { programFor, runProgram } from "../src/fusion/program.js";
import { wasmDevice, type WasmKernel } from "../src/backends/wasm/index.js";
import type { TypedArray } from "../src/lazy/dtype.js";

const threads = Number(process.env.THREADS ?? 1);
setThreads(threads);
const PEAK = Number(process.env.PEAK ?? 50);
const w = makeWorkload(SIZES[0]);
const { N, D, H } = w.size;
const { X, f } = headlineTensors(w);
const hessians = jit(vmap(hessian(f)));
const hand = handWasmKernel(N, D, H, { threads });

interface Stage { name: string; run: () => void; roof?: string }
const stages: Stage[] = withBackend("wasm", () => {
  (hessians(X) as Tensor).dispose();
  const own = headlineTensors(w);
  const param = paramNode(X.shape, X.dtype, null, "jit");
  const root = (vmap(hessian(own.f))(new Tensor(param)) as Tensor).node;
  const { program, leaves } = programFor([root], wasmDevice);
  const leafValues = leaves.map((l) => (l === param ? X.node.realized! : l.realized!));
  const slots = [...leafValues.map((s) => s.readSync()), ...program.buffers.map((b) => new (b.dtype === "float64" ? Float64Array : Float32Array)(b.size))];
  const blocks = D / 4;
  const gemmOutputs = blocks * 12 + (blocks * (blocks - 1)) / 2 * 16;
  const flopsOf = (summary: string): number | undefined =>
    /tanh/.test(summary) ? N * H * (2 * D + 30 + 4) : /reduce_sum/.test(summary) ? 2 * N * H * gemmOutputs : undefined;
  const kernelStages = program.steps.map((step): Stage => {
    const args = step.slots.map((s) => slots[s] as TypedArray);
    const bases = copiesInMemory(args);
    const runAt = (step.kernel as WasmKernel).runAt;
    const flops = flopsOf(step.summary);
    console.log(`  ${step.name}: ${step.summary}; ${step.kernel.source.split("\n")[0].slice(3, 160)}`);
    return { name: `${step.name} alone`, run: () => runAt(...bases), roof: flops === undefined ? undefined : `${(flops / 1e6).toFixed(2)} MFLOP: roofline ${(flops / PEAK / 1e6).toFixed(4)} ms` };
  });
  const allKernels = kernelStages.map((s) => s.run);
  return [
    { name: "hand wasm, no copy", run: () => hand.runInPlace(w.A, w.b, w.X) },
    ...kernelStages,
    { name: "kernels in sequence", run: () => { for (const k of allKernels) k(); } },
    { name: "runProgram + dispose", run: () => { for (const s of runProgram(program, leafValues)) s.dispose(); } },
    { name: "jit call + dispose", run: () => (hessians(X) as Tensor).dispose() },
  ];
});

for (const e of stages) for (let i = 0; i < 20; i++) withBackend("wasm", e.run);
const times = new Map<string, number[]>(stages.map((e) => [e.name, []]));
const rounds = Number(process.env.ROUNDS ?? 2000);
// BLOCK calls of one stage back to back per sample (1: interleaved call by call, each stage
// then finds the caches as the one before it left them; more: as a loop of calls finds them).
const block = Number(process.env.BLOCK ?? 1);
// CPU=1: the process's CPU time instead of wall time (one thread: the time others' work on the
// shared cores takes from this process is left out; their use of the caches is not).
const cpu = process.env.CPU === "1";
const clock = cpu ? () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; } : () => performance.now();
withBackend("wasm", () => {
  for (let r = 0; r < rounds; r++) {
    for (const e of stages) {
      const t0 = clock();
      for (let k = 0; k < block; k++) e.run();
      times.get(e.name)!.push((clock() - t0) / block);
    }
  }
});
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))];
console.log(`D=8 H=32 N=4096, ${threads} thread(s), ${rounds} samples of ${block} call(s) of each, interleaved, ${cpu ? "CPU" : "wall"} time; load average ${loadavg()[0].toFixed(2)}`);
for (const e of stages) {
  const xs = times.get(e.name)!;
  console.log(`  ${e.name.padEnd(22)} median ${median(xs).toFixed(4)} ms (p10 ${quantile(xs, 0.1).toFixed(4)}, p90 ${quantile(xs, 0.9).toFixed(4)})${e.roof ? `; ${e.roof}` : ""}`);
}
process.exit(0);
