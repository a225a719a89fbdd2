/**
 * The hand-written wasm Hessian kernel's variants against each other (bench/peers/hand-wasm.ts,
 * HAND-WASM.md): each checked against the float64 loop, then timed in interleaved samples.
 * "kernel" is the run with inputs written into the wasm memory and the Hessians left there;
 * "+copy out" adds the copy of the result into a fresh Float32Array (what the bench's peer returns).
 *
 *   npx tsx bench/peers/hand-wasm-variants.ts
 *   SAMPLES=15 SAMPLE_MS=200 VARIANTS=s2,s3 npx tsx bench/peers/hand-wasm-variants.ts
 */
import { loopSample } from "../suite/sampler.js";
import { median } from "../suite/stats.js";
import { SIZES, check, makeWorkload, referenceHessians64 } from "../workload.js";
import { handWasmKernel, type HandWasmOptions } from "./hand-wasm.js";

const SAMPLES = Number(process.env.SAMPLES ?? 9);
const SAMPLE_MS = Number(process.env.SAMPLE_MS ?? 200);

const VARIANTS: Record<string, HandWasmOptions> = {
  s2: { samples: 2 },
  s1: { samples: 1 },
  t2: { samples: 2, tile: 2 },
  t8: { samples: 2, tile: 8 },
  t16: { samples: 2, tile: 16 },
  t32: { samples: 2, tile: 32 },
  s4: { samples: 4 },
  full: { samples: 2, symmetric: false },
  z4: { samples: 2, zChunks: 4 },
  w: { samples: 2, only: "w" },
  exp: { samples: 2, tanh: "exp" },
  wexp: { samples: 2, tanh: "exp", only: "w" },
  u2: { samples: 2, hUnroll: 2 },
  z2: { samples: 2, zSamples: 2 },
  z1: { samples: 2, zSamples: 1 },
  nopack: { samples: 2, packDiagonal: false },
  thr2: { samples: 2, threads: 2 },
  z2w: { samples: 2, zSamples: 2, only: "w" },
  u4: { samples: 2, hUnroll: 4 },
  blocks: { samples: 2, only: "blocks" },
};
const chosen = (process.env.VARIANTS ?? "s2,s1,s4,full").split(",");




for (const size of SIZES.filter((s) => !process.env.D || s.D === Number(process.env.D))) {
  const w = makeWorkload(size);
  const { N, D, H } = size;
  const reference = referenceHessians64(w, N);
  const entries: { name: string; run: () => unknown }[] = [];
  for (const name of chosen) {
    const k = handWasmKernel(N, D, H, VARIANTS[name]);
    const result = check(name, k(w.A, w.b, w.X), reference);
    if (!result.ok && !VARIANTS[name].only) throw new Error(result.message);
    console.log(`  ${result.message}`);
    entries.push({ name: `${name} kernel`, run: () => k.runInPlace(w.A, w.b, w.X) });
    if (name === chosen[0]) entries.push({ name: `${name} +copy out`, run: () => k(w.A, w.b, w.X) });
  }
  for (const e of entries) for (let i = 0; i < 5; i++) e.run();
  const times = new Map<string, number[]>(entries.map((e) => [e.name, []]));
  const cpuTimes = new Map<string, number[]>(entries.map((e) => [e.name, []]));
  for (let s = 0; s < SAMPLES; s++) {
    for (const e of entries) {
      const { wallMs, cpuMs } = loopSample(e.run, SAMPLE_MS);
      times.get(e.name)!.push(wallMs);
      cpuTimes.get(e.name)!.push(cpuMs);
    }
  }
  console.log(`D=${D} H=${H} N=${N} (${SAMPLES} samples of ${SAMPLE_MS} ms, interleaved; load ${(await import("node:os")).loadavg()[0].toFixed(2)})`);
  for (const e of entries) {
    const ms = times.get(e.name)!;
    const rate = (t: number) => N / (t / 1000);
    const cpu = cpuTimes.get(e.name)!;
    console.log(`  ${e.name.padEnd(18)} ${(rate(median(ms)) / 1e6).toFixed(3)}M/s (${(rate(Math.max(...ms)) / 1e6).toFixed(3)}-${(rate(Math.min(...ms)) / 1e6).toFixed(3)}); per CPU-second ${(rate(median(cpu)) / 1e6).toFixed(3)}M`);
  }
}
