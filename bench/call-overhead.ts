/**
 * Where a jitted call's time goes outside its kernels, on one thread: the D=8 headline
 * (jit(vmap(hessian(f))), f(x) = sum(tanh(A x + b)), N = 4096, H = 32) timed three ways,
 * beside the hand-written wasm kernel (its whole run, result left in its memory), interleaved
 * call by call:
 *   - kernels alone: each step's wasm function on copies of its buffers already in the
 *     memory (`runAt`, blocks of their own), one after another: the floor;
 *   - runProgram: the program run on its leaves' Storages, results disposed (roots'
 *     allocation, scratch block, slots, launches, Storage objects);
 *   - jit call: `hessians(X).dispose()` as a user writes it (argument flattening, signature,
 *     trace lookup, argument realization, output Tensors on top of runProgram).
 * The differences are the per-call overhead of each layer.
 *
 * Medians of ROUNDS calls of each (and p10/p90: the machine is shared). For the overhead
 * alone, without kernels worth timing, see bench/call-loop.ts (N=8).
 *
 *   npx tsx bench/call-overhead.ts                  # 3000 calls of each, one thread
 *   ROUNDS=5000 THREADS=2 npx tsx bench/call-overhead.ts
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

setThreads(Number(process.env.THREADS ?? 1));

const w = makeWorkload(SIZES[0]);
const { X, f } = headlineTensors(w);
const hessians = jit(vmap(hessian(f)));

const hand = handWasmKernel(w.size.N, w.size.D, w.size.H);
const entries = withBackend("wasm", () => {
  (hessians(X) as Tensor).dispose();
  // The trace jit makes (a Param for X), on tensors of its own: captured tensors shared with
  // jit's trace would intern some of its nodes and may plan another program.
  const own = headlineTensors(w);
  const param = paramNode(X.shape, X.dtype, null, "jit");
  const root = (vmap(hessian(own.f))(new Tensor(param)) as Tensor).node;
  const { program, leaves } = programFor([root], wasmDevice);
  const leafValues = leaves.map((l) => (l === param ? X.node.realized! : l.realized!));
  const slots = [...leafValues.map((s) => s.readSync()), ...program.buffers.map((b) => new (b.dtype === "float64" ? Float64Array : Float32Array)(b.size))];
  const kernels = program.steps.map((step) => {
    const bases = copiesInMemory(step.slots.map((s) => slots[s] as TypedArray));
    const runAt = (step.kernel as WasmKernel).runAt;
    return () => runAt(...bases);
  });
  for (const step of program.steps) console.log(`  ${step.name}: ${step.summary}; ${step.kernel.source.split("\n")[0].slice(3, 90)}`);
  return [
    { name: "hand wasm, no copy", run: () => hand.runInPlace(w.A, w.b, w.X) },
    { name: "kernels alone", run: () => { for (const k of kernels) k(); } },
    { name: "runProgram + dispose", run: () => { for (const s of runProgram(program, leafValues)) s.dispose(); } },
    { name: "jit call + dispose", run: () => (hessians(X) as Tensor).dispose() },
  ];
});

for (const e of entries) for (let i = 0; i < 20; i++) withBackend("wasm", e.run);
// Interleaved call by call (not in blocks of samples): the drift of a loaded machine falls on
// every entry alike, and the median of thousands of calls is steady to a few microseconds.
const times = new Map<string, number[]>(entries.map((e) => [e.name, []]));
const rounds = Number(process.env.ROUNDS ?? 3000);
withBackend("wasm", () => {
  for (let r = 0; r < rounds; r++) {
    for (const e of entries) {
      const t0 = performance.now();
      e.run();
      times.get(e.name)!.push(performance.now() - t0);
    }
  }
});
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))];
console.log(`D=8 H=32 N=4096, ${process.env.THREADS ?? 1} thread(s), ${rounds} calls of each, interleaved call by call; load average ${loadavg()[0].toFixed(2)}`);
for (const e of entries) {
  const xs = times.get(e.name)!;
  console.log(`  ${e.name.padEnd(22)} median ${median(xs).toFixed(4)} ms (p10 ${quantile(xs, 0.1).toFixed(4)}, p90 ${quantile(xs, 0.9).toFixed(4)})`);
}
const m = (name: string) => median(times.get(name)!);
console.log(`  program run overhead ${(m("runProgram + dispose") - m("kernels alone")).toFixed(4)} ms, jit layer ${(m("jit call + dispose") - m("runProgram + dispose")).toFixed(4)} ms per call`);
