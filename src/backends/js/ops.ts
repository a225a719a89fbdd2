/**
 * The js backend's op table: each elementwise primitive as a JavaScript expression over its
 * argument expressions (float64 numbers; the code generator rounds where the IR converts or
 * stores). `satisfies Record<ElementwiseOp, ...>`: a new primitive is a type error here
 * until it has a spelling.
 */
import type { DType } from '../../lazy/dtype.js';
import type { ElementwiseOp } from '../../lazy/primitive.js';

/** The expression computing an op whose result has `dtype`, from its argument expressions. */
type JsRule = (args: readonly string[], dtype: DType) => string;

/** The JavaScript expression of a cast to `dtype`. */
export function castExpression(dtype: DType, x: string): string {
  switch (dtype) {
    case 'float32': return `Math.fround(${x})`;
    case 'float64': return x;
    case 'int32': return `(${x}|0)`;
    case 'bool': return `(${x}!==0?1:0)`;
    default: return dtype satisfies never;
  }
}

const call = (name: string): JsRule => ([x]) => `${name}(${x})`;

/** int32 arithmetic wraps around, as storing into an Int32Array does. */
const wrapped = (rule: JsRule): JsRule => (args, dtype) => (dtype === 'int32' ? `(${rule(args, dtype)} | 0)` : rule(args, dtype));

export const JS_OPS = {
  neg: wrapped(([x]) => `(-${x})`),
  recip: ([x]) => `(1/${x})`,
  sqrt: call('Math.sqrt'),
  exp: call('Math.exp'),
  log: call('Math.log'),
  sin: call('Math.sin'),
  cos: call('Math.cos'),
  tanh: call('Math.tanh'),
  logistic: call('logistic'),
  log1p: call('Math.log1p'),
  expm1: call('Math.expm1'),
  abs: wrapped(call('Math.abs')),
  sign: call('Math.sign'),
  floor: call('Math.floor'),
  ceil: call('Math.ceil'),
  round: call('roundHalfEven'),
  stop_gradient: ([x]) => x,
  add: wrapped(([a, b]) => `(${a}+${b})`),
  mul: ([a, b], dtype) => (dtype === 'int32' ? `Math.imul(${a}, ${b})` : `(${a}*${b})`),
  div: ([a, b]) => `(${a}/${b})`,
  pow: ([a, b]) => `Math.pow(${a},${b})`,
  max: ([a, b]) => `Math.max(${a},${b})`,
  lt: ([a, b]) => `(${a}<${b}?1:0)`,
  eq: ([a, b]) => `(${a}===${b}?1:0)`,
  where: ([c, a, b]) => `(${c}?${a}:${b})`,
  cast: ([x], dtype) => castExpression(dtype, x),
  random_bits: ([k0, k1, counter]) => `keyedBits(${k0},${k1},${counter})`,
} satisfies Record<ElementwiseOp, JsRule>;
