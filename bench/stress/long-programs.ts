/**
 * Stress: long programs (iterative algorithms written as loops) must schedule without
 * recursion on their depth and in time about linear in their length.
 *
 *   npx tsx bench/stress/long-programs.ts          # 100,000 steps
 *   STRESS_STEPS=20000 npx tsx bench/stress/long-programs.ts
 *
 * Each case is checked against a plain float64 JavaScript loop; a mismatch exits non-zero.
 */
import { grad, randn, type Tensor } from "../../src/index.js";
import { peakRss, report, round, MB } from "./harness.js";

const STEPS = Number(process.env.STRESS_STEPS ?? 100_000);
/**
 * The loop with a mean per step schedules about 2 kernels a step, in time linear in its
 * length (about 470 drafted expressions a step, bench/scheduling.ts), but some 40x the
 * forward loop's per step: 10,000 steps here (1,000 took 7.5 s and 10,000 did not finish in
 * 15 minutes before the scheduler's rounds were made linear); STRESS_MEAN_STEPS=100000 runs
 * the full length (minutes on an idle machine).
 */
const MEAN_STEPS = Number(process.env.STRESS_MEAN_STEPS ?? 10_000);
const step = (x: Tensor) => x.mul(0.999).add(0.001).sin();
const step64 = (x: number) => Math.sin(x * 0.999 + 0.001);
let failed = false;

function check(name: string, actual: ArrayLike<number>, expected: readonly number[], tol: number, ms: number): void {
  const err = Math.max(...expected.map((e, i) => Math.abs(actual[i] - e) / (tol + Math.abs(e))));
  const ok = err <= tol;
  failed ||= !ok;
  report("long-programs", { program: name, seconds: round(ms / 1000), "relative error": err.toExponential(1), "peak RSS MB": round(peakRss() / MB) }, ok, "the value of a float64 loop, without a stack overflow");
}

const x0 = randn([4], { seed: 0 });
const start = Array.from(x0.dataSync());

{
  const t0 = performance.now();
  let x = x0;
  for (let i = 0; i < STEPS; i++) x = step(x);
  const got = x.dataSync();
  check(`forward loop, ${STEPS} steps`, got, start.map((v) => { for (let i = 0; i < STEPS; i++) v = step64(v); return v; }), 1e-3, performance.now() - t0);
}
{
  const t0 = performance.now();
  let x = x0;
  for (let i = 0; i < MEAN_STEPS; i++) x = x.sub(x.mean()).mul(0.9).add(x.sin().mul(0.1));
  const got = x.dataSync();
  let v = start;
  for (let i = 0; i < MEAN_STEPS; i++) {
    const m = v.reduce((s, a) => s + a, 0) / v.length;
    v = v.map((a) => (a - m) * 0.9 + Math.sin(a) * 0.1);
  }
  check(`forward loop with a mean per step, ${MEAN_STEPS} steps`, got, v, 1e-3, performance.now() - t0);
}
{
  const t0 = performance.now();
  const g = grad((x: Tensor) => { for (let i = 0; i < STEPS; i++) x = step(x); return x.sum(); })(x0).dataSync();
  const expected = start.map((v) => {
    let d = 1;
    for (let i = 0; i < STEPS; i++) { d *= 0.999 * Math.cos(v * 0.999 + 0.001); v = step64(v); }
    return d;
  });
  check(`grad through a loop, ${STEPS} steps`, g, expected, 1e-3, performance.now() - t0);
}
process.exit(failed ? 1 : 0);
