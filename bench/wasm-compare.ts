/**
 * functs on the js backend against functs on the wasm backend (and the hand-written wasm SIMD
 * kernel, bench/peers/hand-wasm.ts, as the ceiling) on the headline workload,
 * jit(vmap(hessian(f))), f(x) = sum(tanh(A x + b)), N = 4096, D=8/H=32 and D=32/H=64.
 * Samples are interleaved round-robin (the machine is a shared 2-core VM); each sample runs
 * back-to-back batches for SAMPLE_MS. Reports the median Hessians/s and the spread (min-max
 * of the samples), and one profile of where the wasm backend's time goes per kernel (copies
 * in and out of the wasm memory included).
 *
 *   npx tsx bench/wasm-compare.ts            # 12 samples of 300 ms each per entry and size
 *   NO_JS=1 npx tsx bench/wasm-compare.ts    # without the (slow) js and scalar wasm entries
 *   SAMPLES=20 SAMPLE_MS=200 npx tsx bench/wasm-compare.ts
 *   SIZE=small npx tsx bench/wasm-compare.ts   # D=8 only (SIZE=large: D=32 only)
 */
import { loopSample } from "./suite/sampler.js";
import { median } from "./suite/stats.js";
import { headlineTensors } from "./functs.js";
import { copiesInMemory, wasmProgramOf } from "./wasm-program.js";
import v8 from "node:v8";
import vm from "node:vm";
import { loadavg } from "node:os";
import { hessian, jit, setThreads, vmap, withBackend, type Tensor } from "../src/index.js";
import { compileWasm, wasmDevice, type WasmKernel } from "../src/backends/wasm/index.js";
import { cpuDevice } from "../src/backends/cpu.js";
import type { CompiledKernel } from "../src/fusion/program.js";
import { fusingBackend } from "../src/fusion/program.js";
import { registerBackend } from "../src/lazy/realize.js";

// The wasm backend with its f32x4 path turned off: what the lanes give, measured in the same run.
registerBackend(fusingBackend(cpuDevice("wasm-scalar", { maxBuffers: wasmDevice.caps.maxBuffers, compile: (ir) => compileWasm(ir, { simd: false }) })));
import { SIZES, check, makeWorkload, referenceHessians64, type Workload } from "./workload.js";
import { handWasmHessians, handWasmKernel } from "./peers/hand-wasm.js";
import { clearCaches } from "../src/fusion/program.js";
import { mirrorSwitch, symmetrySwitch } from "../src/fusion/symmetry.js";

const SAMPLES = Number(process.env.SAMPLES ?? 12);
const SAMPLE_MS = Number(process.env.SAMPLE_MS ?? 300);

v8.setFlagsFromString("--expose-gc");
const collectGarbage = vm.runInNewContext("gc") as () => void;

interface Entry {
  name: string;
  /** One batch; returns the Hessians where it reads them (entries that keep them on the device return nothing). */
  run: () => Float32Array | void;
  /** The Hessians, for the check, where `run` does not read them. */
  values?: () => Float32Array;
}

/**
 * functs on wasm planned with the symmetric split (fusion/symmetry.ts; off by default, and
 * only for sums of >= 256 terms per output, where the Hessian's have H): what it does here.
 */
function forcedSplitEntry(w: Workload): Entry {
  clearCaches();
  const saved = { ...symmetrySwitch };
  symmetrySwitch.enabled = true;
  symmetrySwitch.minTermsPerOutput = 1;
  try {
    const entry = functsEntry("wasm", w);
    entry.run(); // planned (and kept by jit) with the split
    return { name: "functs wasm, sym split", run: entry.run };
  } finally {
    Object.assign(symmetrySwitch, saved);
    clearCaches();
  }
}

/**
 * functs on wasm planned without the symmetric output's fact (fusion/symmetry.ts's
 * `mirrorSwitch` off): the GEMM computes every block, as before the mirrored tiles.
 */
function unmirroredEntry(w: Workload): Entry {
  clearCaches();
  mirrorSwitch.enabled = false;
  try {
    const entry = functsEntry("wasm", w);
    entry.run(); // planned (and kept by jit) without the fact
    return { name: "functs wasm, no mirror", run: entry.run };
  } finally {
    mirrorSwitch.enabled = true;
    clearCaches();
  }
}

/** An entry run with the wasm backend on one thread (switching costs nothing: threads.ts). */
function oneThread(entry: Entry): Entry {
  return {
    name: `${entry.name} 1 thread`,
    values: entry.values,
    run: () => {
      const previous = setThreads(1);
      try {
        return entry.run();
      } finally {
        setThreads(previous);
      }
    },
  };
}

function functsEntry(backend: "js" | "wasm" | "wasm-scalar", w: Workload): Entry {
  const { X, f } = headlineTensors(w);
  const hessians = jit(vmap(hessian(f)));
  return { name: `functs ${backend}`, run: () => withBackend(backend, () => (hessians(X) as Tensor).dataSync() as Float32Array) };
}

/**
 * functs wasm as a user who frees what they are done with: read and dispose (one copy out, as
 * "hand wasm simd"), or dispose unread (the Hessians computed and left in the memory until
 * freed, as "hand wasm, no copy"; JAX's and the GPU benches' kernel time).
 */
function disposingEntries(w: Workload): Entry[] {
  const { X, f } = headlineTensors(w);
  const hessians = jit(vmap(hessian(f)));
  const readAndDispose = () => {
    const out = hessians(X) as Tensor;
    const values = out.dataSync() as Float32Array;
    out.dispose();
    return values;
  };
  return [
    { name: "functs wasm, read + dispose", run: readAndDispose },
    { name: "functs wasm, no read", run: () => (hessians(X) as Tensor).dispose(), values: readAndDispose },
  ];
}



/** Per-kernel time of the wasm program (run inside withBackend('wasm')): where the time goes. */
function profile(w: Workload): string[] {
  const { A, b, X, f } = headlineTensors(w);
  X.dataSync();
  A.dataSync();
  b.dataSync();
  const lines: string[] = [];
  for (const { step, args } of wasmProgramOf(() => vmap(hessian(f))(X) as Tensor).steps) {
    const kernel = step.kernel as CompiledKernel;
    for (let i = 0; i < 5; i++) kernel.run(...args);
    const times: number[] = [];
    for (let i = 0; i < 15; i++) {
      const t0 = performance.now();
      kernel.run(...args);
      times.push(performance.now() - t0);
    }
    const lanes = /f32x4 lanes over loop (\w+)/.exec(step.kernel.source)?.[1];
    const vectorLoop = /f32x4 loop/.test(step.kernel.source);
    const kind = step.kernel.source.startsWith("// wasm module") ? `wasm${lanes ? `, lanes over ${lanes}` : vectorLoop ? ", innermost in lanes" : ""}` : "js";
    let kernelOnly = "";
    if ("runAt" in step.kernel) {
      // The kernel alone, its buffers already in the wasm memory: the rest is copying.
      const runAt = (step.kernel as WasmKernel).runAt;
      const bases = copiesInMemory(args);
      const alone: number[] = [];
      for (let i = 0; i < 15; i++) {
        const t0 = performance.now();
        runAt(...bases);
        alone.push(performance.now() - t0);
      }
      kernelOnly = ` (kernel alone ${median(alone).toFixed(3)} ms)`;
    }
    const flops = step.ir.operations / (median(times) / 1000) / 1e9;
    lines.push(`    ${step.name} (${kind}) ${step.summary}: ${median(times).toFixed(3)} ms${kernelOnly}, ~${(step.ir.operations / 1e6).toFixed(2)}M ops (${flops.toFixed(2)} G/s)`);
  }
  return lines;
}

for (const size of SIZES.filter((s) => !process.env.SIZE || s.name === process.env.SIZE)) {
  const w = makeWorkload(size);
  const reference = referenceHessians64(w, size.N);
  const kernel = handWasmKernel(size.N, size.D, size.H);
  const twoThreads = handWasmKernel(size.N, size.D, size.H, { threads: 2 });
  const entries = [
    ...(process.env.NO_JS ? [] : [functsEntry("js", w), functsEntry("wasm-scalar", w)]),
    forcedSplitEntry(w),
    functsEntry("wasm", w),
    oneThread(functsEntry("wasm", w)),
    ...disposingEntries(w).flatMap((e) => [e, oneThread(e)]),
    unmirroredEntry(w),
    oneThread(unmirroredEntry(w)),
    { name: "hand wasm simd", run: () => handWasmHessians(w) },
    // The same kernel without the copy of the result out of the wasm memory (the Hessians stay there).
    { name: "hand wasm, no copy", run: () => (kernel.runInPlace(w.A, w.b, w.X), kernel.outView()) },
    { name: "hand wasm 2 threads", run: () => twoThreads(w.A, w.b, w.X) },
    { name: "hand wasm 2 thr, no copy", run: () => (twoThreads.runInPlace(w.A, w.b, w.X), twoThreads.outView()) },
  ];
  for (const e of entries) {
    const result = check(e.name, e.values ? e.values() : (e.run() as Float32Array), reference);
    if (!result.ok) throw new Error(result.message);
  }
  for (const e of entries) for (let i = 0; i < 3; i++) e.run();
  const times = new Map<string, number[]>(entries.map((e) => [e.name, []]));
  const cpuTimes = new Map<string, number[]>(entries.map((e) => [e.name, []]));
  for (let s = 0; s < SAMPLES; s++) {
    for (const e of entries) {
      // Results a sample dropped without dispose are freed only by their finalizers, which
      // run once the event loop turns: without this, one entry's dropped results would push
      // the next entry's out of the wasm memory.
      collectGarbage();
      await new Promise((resolve) => setImmediate(resolve));
      const { wallMs, cpuMs } = loopSample(e.run, SAMPLE_MS);
      times.get(e.name)!.push(wallMs);
      cpuTimes.get(e.name)!.push(cpuMs);
    }
  }
  console.log(`D=${size.D} H=${size.H} N=${size.N} (${SAMPLES} samples of ${SAMPLE_MS} ms each, interleaved; load average ${loadavg()[0].toFixed(2)} at the end)`);
  for (const e of entries) {
    const ms = times.get(e.name)!;
    const rate = (t: number) => size.N / (t / 1000);
    const cpu = cpuTimes.get(e.name)!;
    console.log(`  ${e.name.padEnd(26)} ${(rate(median(ms)) / 1e6).toFixed(3)}M Hessians/s (median; samples ${(rate(Math.max(...ms)) / 1e6).toFixed(3)}-${(rate(Math.min(...ms)) / 1e6).toFixed(3)}M), ${median(ms).toFixed(3)} ms/batch; ${(rate(median(cpu)) / 1e6).toFixed(3)}M per CPU-second (${(rate(Math.max(...cpu)) / 1e6).toFixed(3)}-${(rate(Math.min(...cpu)) / 1e6).toFixed(3)})`);
  }
  console.log("  wasm program, per kernel (median of 15 runs, copies in and out included):");
  for (const line of profile(w)) console.log(line);
}
