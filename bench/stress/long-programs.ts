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
 * The loop with a mean per step schedules one kernel a step, each from some 25 lowered
 * expressions (bench/scheduling.ts); STRESS_MEAN_STEPS shortens it.
 */
const MEAN_STEPS = Number(process.env.STRESS_MEAN_STEPS ?? STEPS);
const step = (x: Tensor) => x.mul(0.999).add(0.001).sin();
const step64 = (x: number) => Math.sin(x * 0.999 + 0.001);
let failed = false;

const relativeError = (actual: ArrayLike<number>, expected: readonly number[], tol: number) => Math.max(...expected.map((e, i) => Math.abs(actual[i] - e) / (tol + Math.abs(e))));

/**
 * `float32`, where given, is the same loop in plain float32 JavaScript: a loop that barely
 * contracts accumulates float32's roundings whoever computes it (the loop with a mean per
 * step: 2.6e-4 from float64 at 10,000 steps, 1.6e-3 at 100,000), so the tolerance is then
 * twice that loop's own error where that is larger.
 */
function check(name: string, actual: ArrayLike<number>, expected: readonly number[], tol: number, ms: number, float32?: readonly number[]): void {
  const err = relativeError(actual, expected, tol);
  const err32 = float32 ? relativeError(float32, expected, tol) : 0;
  const bound = Math.max(tol, 2 * err32);
  const ok = err <= bound;
  failed ||= !ok;
  const figures: Record<string, string | number> = { program: name, seconds: round(ms / 1000), "relative error": err.toExponential(1) };
  if (float32) figures["float32 JS loop's error"] = err32.toExponential(1);
  figures["peak RSS MB"] = round(peakRss() / MB);
  report("long-programs", figures, ok, float32 ? "the value of a float64 loop within twice a float32 loop's error, without a stack overflow" : "the value of a float64 loop, without a stack overflow");
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
  const ms = performance.now() - t0;
  const f32 = Math.fround;
  let v = start;
  let w = start.map(f32);
  for (let i = 0; i < MEAN_STEPS; i++) {
    const m = v.reduce((s, a) => s + a, 0) / v.length;
    v = v.map((a) => (a - m) * 0.9 + Math.sin(a) * 0.1);
    const m32 = f32(w.reduce((s, a) => f32(s + a), 0) / w.length);
    w = w.map((a) => f32(f32(f32(a - m32) * f32(0.9)) + f32(f32(Math.sin(a)) * f32(0.1))));
  }
  check(`forward loop with a mean per step, ${MEAN_STEPS} steps`, got, v, 1e-3, ms, w);
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
