/**
 * The gpu.js backend's op table: how each elementwise primitive is spelled in gpu.js's
 * kernel dialect (a JavaScript subset that gpu.js translates to GLSL, WGSL, wasm or plain
 * JavaScript). Every value is a float32 number there: booleans are 0 and 1, and a GLSL
 * ternary needs a real condition, hence the explicit `!== 0`. `null` marks what has no grid
 * form (the kernel then runs on the CPU). `satisfies Record<ElementwiseOp, ...>`: a new
 * primitive is a type error here until it has a spelling (or null).
 */
import type { DType } from '../../lazy/dtype.js';
import type { ElementwiseOp } from '../../lazy/primitive.js';

export type Spelling = ((args: readonly string[], dtype: DType) => string) | null;

/** Round half to even (NumPy's rule): Math.round rounds halves up. */
function roundHalfEven(x: string): string {
  const r = `Math.floor(${x} + 0.5)`;
  return `(${r} - ((${r} - ${x} === 0.5 && ${r} - 2 * Math.floor(${r} * 0.5) !== 0) ? 1 : 0))`;
}

/**
 * pow on a negative base: GLSL's pow is undefined there, so the magnitude is raised and the
 * sign restored for odd integer exponents (a negative base with a fractional exponent is NaN
 * in JavaScript and unspecified on the GPU).
 */
function power(a: string, b: string): string {
  const odd = `(${a} < 0 && Math.floor(${b}) === ${b} && Math.floor(${b} * 0.5) * 2 !== ${b})`;
  return `(Math.pow(Math.abs(${a}), ${b}) * (${odd} ? -1 : 1))`;
}

export const GPUJS_OPS = {
  neg: ([a]) => `(-${a})`,
  recip: ([a]) => `(1 / ${a})`,
  sqrt: ([a]) => `Math.sqrt(${a})`,
  exp: ([a]) => `Math.exp(${a})`,
  log: ([a]) => `Math.log(${a})`,
  sin: ([a]) => `Math.sin(${a})`,
  cos: ([a]) => `Math.cos(${a})`,
  tanh: ([a]) => `Math.tanh(${a})`,
  log1p: ([a]) => `Math.log1p(${a})`,
  expm1: ([a]) => `Math.expm1(${a})`,
  abs: ([a]) => `Math.abs(${a})`,
  sign: ([a]) => `(${a} > 0 ? 1 : (${a} < 0 ? -1 : 0))`,
  floor: ([a]) => `Math.floor(${a})`,
  ceil: ([a]) => `Math.ceil(${a})`,
  round: ([a]) => roundHalfEven(a),
  stop_gradient: ([a]) => a,
  add: ([a, b]) => `(${a} + ${b})`,
  mul: ([a, b]) => `(${a} * ${b})`,
  div: ([a, b]) => `(${a} / ${b})`,
  pow: ([a, b]) => power(a, b),
  max: ([a, b]) => `Math.max(${a}, ${b})`,
  lt: ([a, b]) => `(${a} < ${b} ? 1 : 0)`,
  eq: ([a, b]) => `(${a} === ${b} ? 1 : 0)`,
  where: ([c, a, b]) => `(${c} !== 0 ? ${a} : ${b})`,
  // Operands are float32 or bool here (int32 kernels run on the CPU): only bool changes them.
  cast: ([a], dtype) => (dtype === 'bool' ? `(${a} !== 0 ? 1 : 0)` : a),
  logistic: ([a]) => `(1 / (1 + Math.exp(-${a})))`,
  // A counter hash in 32-bit integer arithmetic: no float32 form.
  random_bits: null,
} satisfies Record<ElementwiseOp, Spelling>;
