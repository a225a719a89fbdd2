/**
 * The D=8 headline's tanh stage (kernel0: z = A x + b, t = tanh z, w = t (1 - t^2), N = 4096,
 * H = 32) beside hand-written versions of that stage alone, on the same buffers in the memory,
 * one thread, interleaved call by call: the yardstick for the stage's code generation. Every
 * hand variant computes the same float32 operations in the same order (products summed over d
 * from 0, then b + the sum, simd-math.ts's tanhX4, then t (1 - t^2)), so its output must be
 * bit-identical to functs' kernel0: checked before timing.
 *
 * Variants (h in the lanes, A^T contiguous, X splatted, two examples x four h-vectors of
 * accumulators over a d loop, as bench/peers/hand-wasm.ts's z):
 *   - fused: the tanh chains of the eight accumulators straight after the d loop (TurboFan
 *     interleaves them: the form functs' lane nest has, with lanes over the batch);
 *   - zloopU: z stored, then a loop over the two rows applying tanh and w in place, U vectors
 *     per iteration (U = 1, 2, 4);
 *   - zonly: z alone (profiling: what the matvec costs; not checked).
 *
 *   npx tsx bench/call-tanh-stage.ts
 *   ROUNDS=3000 VARIANTS=fused,zloop2 npx tsx bench/call-tanh-stage.ts
 */
import { loadavg } from "node:os";
import { headlineTensors } from "./functs.js";
import { copiesInMemory } from "./wasm-program.js";
import { makeWorkload, SIZES } from "./workload.js";
import { hessian, setThreads, vmap, withBackend, Tensor } from "../src/index.js";
import { programFor } from "../src/fusion/program.js";
import { wasmArena, wasmDevice, type WasmKernel } from "../src/backends/wasm/index.js";
import { Code, ModuleBuilder, Op, Simd, type ValType } from "../src/backends/wasm/encoder.js";
import { f32x4Const, tanhX4 } from "../src/backends/wasm/simd-math.js";
import type { TypedArray } from "../src/lazy/dtype.js";

setThreads(1);
const w = makeWorkload(SIZES[0]);
const { N, D, H } = w.size;
if (D !== 8 || H !== 32) throw new Error("call-tanh-stage: the D=8 H=32 headline only");
const { X, f } = headlineTensors(w);
const { program, leaves } = withBackend("wasm", () => programFor([(vmap(hessian(f))(X) as Tensor).node], wasmDevice));
const step = program.steps[0];
if (!/tanh/.test(step.summary)) throw new Error(`call-tanh-stage: kernel0 is ${step.summary}, not the tanh stage`);
const slots = [...leaves.map((l) => l.realized!.readSync()), ...program.buffers.map((b) => new Float32Array(b.size))] as TypedArray[];
const args = step.slots.map((s) => slots[s]);
// kernel0's buffers: out [N, 1, H], b [H], X [N, D], A [H, D] (checked by their sizes).
const sizes = step.ir.buffers.map((b) => b.size);
if (sizes.join() !== [N * H, H, N * D, H * D].join()) throw new Error(`call-tanh-stage: kernel0's buffers are ${sizes}`);
const [outAt, bAt, xAt, aAt] = copiesInMemory(args);
const A = args[3] as Float32Array;
const AT = new Float32Array(D * H);
for (let h = 0; h < H; h++) for (let d = 0; d < D; d++) AT[d * H + h] = A[h * D + d];
const [atAt] = copiesInMemory([AT]);

/** zonly: z alone, no tanh (profiling: its output is z, not w, so it is not checked). */
type Variant = { kind: "fused" } | { kind: "zloop"; unroll: number } | { kind: "zonly" };

/** stage(out, b, X, AT): the whole batch, two examples at a time. */
function handStage(v: Variant): () => void {
  const builder = new ModuleBuilder({ module: "env", name: "memory", shared: wasmArena.shared });
  const fn = builder.declare({ params: ["i32", "i32", "i32", "i32"], results: [] }, "stage");
  const [out, b, x, at] = [0, 1, 2, 3];
  const locals: ValType[] = [];
  const local = (t: ValType): number => (locals.push(t), 4 + locals.length - 1);
  const c = new Code();
  const [n, xo, oo, d, dp, p, pEnd] = Array.from({ length: 7 }, () => local("i32"));
  const acc = Array.from({ length: 8 }, () => local("v128"));
  const xs = [local("v128"), local("v128")];
  const av = local("v128");
  const temps: number[] = [];
  let next = 0;
  const tmp = (): number => {
    if (next === temps.length) temps.push(local("v128"));
    return temps[next++];
  };
  /** Pushes w = t (1 - t^2), t = tanh(local z), as the IR computes it (1 + -(t t) is 1 - t t). */
  const wOf = (z: number): void => {
    tanhX4(c, z, tmp);
    const t = tmp();
    c.set(t);
    c.get(t);
    f32x4Const(c, 1);
    c.get(t).get(t).simd(Simd.f32x4_mul).simd(Simd.f32x4_sub).simd(Simd.f32x4_mul);
  };
  c.i32Const(0).set(n);
  c.open(Op.loop);
  c.get(n).i32Const(D * 4).op(Op.i32_mul).get(x).op(Op.i32_add).set(xo);
  c.get(n).i32Const(H * 4).op(Op.i32_mul).get(out).op(Op.i32_add).set(oo);
  for (let c0 = 0; c0 < H / 4; c0 += 4) {
    for (const a of acc) {
      f32x4Const(c, 0);
      c.set(a);
    }
    c.i32Const(0).set(d);
    c.get(at).i32Const(c0 * 16).op(Op.i32_add).set(dp);
    c.open(Op.loop);
    for (let e = 0; e < 2; e++) c.get(xo).get(d).i32Const(4).op(Op.i32_mul).op(Op.i32_add).simdMem(Simd.v128_load32_splat, 2, e * D * 4).set(xs[e]);
    for (let k = 0; k < 4; k++) {
      c.get(dp).simdMem(Simd.v128_load, 4, k * 16).set(av);
      for (let e = 0; e < 2; e++) c.get(acc[e * 4 + k]).get(xs[e]).get(av).simd(Simd.f32x4_mul).simd(Simd.f32x4_add).set(acc[e * 4 + k]);
    }
    c.get(dp).i32Const(H * 4).op(Op.i32_add).set(dp);
    c.get(d).i32Const(1).op(Op.i32_add).tee(d).i32Const(D).op(Op.i32_lt_s).op(Op.br_if).u32(0).op(Op.end);
    for (let e = 0; e < 2; e++) {
      for (let k = 0; k < 4; k++) {
        const a = acc[e * 4 + k];
        c.get(b).simdMem(Simd.v128_load, 2, (c0 + k) * 16).get(a).simd(Simd.f32x4_add).set(a);
        c.get(oo);
        if (v.kind === "fused") {
          next = 0;
          wOf(a);
        } else c.get(a);
        c.simdMem(Simd.v128_store, 2, (e * H + (c0 + k) * 4) * 4);
      }
    }
  }
  if (v.kind === "zloop") {
    // The two rows just written: tanh and w in place, `unroll` vectors per iteration.
    c.get(oo).set(p);
    c.get(oo).i32Const(2 * H * 4).op(Op.i32_add).set(pEnd);
    const zs = Array.from({ length: v.unroll }, () => local("v128"));
    c.open(Op.loop);
    for (let u = 0; u < v.unroll; u++) c.get(p).simdMem(Simd.v128_load, 2, u * 16).set(zs[u]);
    for (let u = 0; u < v.unroll; u++) {
      next = 0;
      c.get(p);
      wOf(zs[u]);
      c.simdMem(Simd.v128_store, 2, u * 16);
    }
    c.get(p).i32Const(16 * v.unroll).op(Op.i32_add).tee(p).get(pEnd).op(Op.i32_lt_s).op(Op.br_if).u32(0).op(Op.end);
  }
  c.get(n).i32Const(2).op(Op.i32_add).tee(n).i32Const(N).op(Op.i32_lt_s).op(Op.br_if).u32(0).op(Op.end);
  fn.define(locals, c);
  const instance = new WebAssembly.Instance(new WebAssembly.Module(builder.encode()), { env: { memory: wasmArena.memory } });
  const stage = instance.exports.stage as (...a: number[]) => void;
  return () => stage(outAt, bAt, xAt, atAt);
}

const kernel0 = step.kernel as WasmKernel;
const runAt = kernel0.runAt;
const functsRun = () => runAt(outAt, bAt, xAt, aAt);
const outView = () => new Float32Array(wasmArena.buffer, outAt, N * H).slice();
functsRun();
const reference = outView();
const chosen = (process.env.VARIANTS ?? "fused,zloop1,zloop2,zloop4").split(",");
const entries: { name: string; run: () => void }[] = [{ name: "functs kernel0", run: functsRun }];
for (const name of chosen) {
  const variant: Variant = name === "fused" ? { kind: "fused" } : name === "zonly" ? { kind: "zonly" } : { kind: "zloop", unroll: Number(name.replace("zloop", "")) };
  const run = handStage(variant);
  new Float32Array(wasmArena.buffer, outAt, N * H).fill(NaN);
  run();
  const got = outView();
  let differ = 0;
  for (let i = 0; i < got.length; i++) if (!Object.is(got[i], reference[i])) differ++;
  if (differ && variant.kind !== "zonly") throw new Error(`call-tanh-stage: ${name} differs from kernel0 in ${differ} of ${got.length} values`);
  entries.push({ name: `hand ${name}`, run });
}
console.log(`kernel0: ${step.kernel.source.split("\n")[0].slice(3, 200)}; every hand variant bit-identical to it`);
for (const e of entries) for (let i = 0; i < 50; i++) e.run();
const rounds = Number(process.env.ROUNDS ?? 2000);
const times = new Map<string, number[]>(entries.map((e) => [e.name, []]));
for (let r = 0; r < rounds; r++) {
  for (const e of r % 2 ? entries : [...entries].reverse()) {
    const t0 = performance.now();
    e.run();
    times.get(e.name)!.push(performance.now() - t0);
  }
}
const q = (xs: number[], p: number) => xs[Math.floor(p * (xs.length - 1))];
console.log(`D=8 H=32 N=4096, one thread, ${rounds} runs of each interleaved (order alternating); load average ${loadavg()[0].toFixed(2)}`);
for (const e of entries) {
  const xs = times.get(e.name)!.sort((a, b) => a - b);
  console.log(`  ${e.name.padEnd(16)} median ${q(xs, 0.5).toFixed(4)} ms (p10 ${q(xs, 0.1).toFixed(4)}, p90 ${q(xs, 0.9).toFixed(4)})`);
}
process.exit(0);
