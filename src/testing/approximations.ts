/**
 * Agreement tests of a backend against the reference interpreter, when the backend
 * approximates some ops (a float32 tanh within 2 ulps, say) where the reference rounds the
 * exact value. A tolerance relative to the largest output cannot cover that: the program
 * may amplify one op's error thousands of times (1 - tanh(x)^2 near x = 5 turns half an ulp
 * of tanh into 1e-3 of the result) while leaving every other op's rounding alone. So the
 * allowance is computed per program and per element: each approximated op's stated bound,
 * plus the reference's own rounding there, carried to the result through the program's
 * sensitivity to that op's output (`approximationErrorBound`). `evaluatePerturbed` gives the
 * values a backend whose op is off by a chosen amount would compute, to show that the check
 * still catches an approximation outside its bound.
 */
import { evaluateNodes } from '../backends/interp/index.js';
import type { TypedArray } from '../lazy/dtype.js';
import { topoSort, type Node } from '../lazy/node.js';
import { scalarFunction } from '../lazy/primitive.js';
import { bindParams } from '../lazy/rewrite.js';
import { ArgumentError, withBackend, type Tensor } from '../index.js';
import { ulp, type OpErrorBound } from '../backends/wasm/accuracy.js';

export { ulp, type OpErrorBound };

/** Stated error bounds of a backend's approximated ops, by dtype and op name (`tanh`, `exp`, ...). */
export interface ErrorBounds {
  readonly float32?: Readonly<Record<string, OpErrorBound>>;
  readonly float64?: Readonly<Record<string, OpErrorBound>>;
}

/** The program `build()` returns, as the DAG a backend would be handed (a computed value: a leaf). */
function programOf(build: () => Tensor): Node {
  const { node } = withBackend('interp', build);
  return node.readsParam ? bindParams(node) : node;
}

const isFloat = (node: Node): node is Node & { dtype: 'float32' | 'float64' } => node.dtype === 'float32' || node.dtype === 'float64';

/** The node with a float64 result: reference implementations then compute in float64. */
const in64 = (node: Node): Node => Object.create(node, { dtype: { value: 'float64' } }) as Node;

/**
 * For each element of the value `build()` returns, a bound on how far a backend can lie from
 * the reference interpreter's value when each op named in `bounds` is within its bound of
 * the exact value (and every other op computes what the reference computes). Each such op
 * contributes its bound plus the reference's own error there (half an ulp of rounding the
 * float64 Math result, whose error counts too); the errors are carried through the program
 * op by op: an elementwise op's error is the most its result moves when one operand moves
 * by that operand's error (either way, in float64, summed over operands: first order, and
 * exact across a jump such as a comparison flipping), or when all move together, if that is
 * more (x * x at x = 0); sums, movement, gathers and scatters
 * carry the errors as they carry values (their coefficients are 0 or 1); a max takes the
 * largest error. Every op that rounds (not a negation, selection or comparison) and whose
 * operands moved adds an ulp of its result: its rounding may then land on the neighbouring
 * float, which the ops after it amplify as they do any error. Add it to the tolerance for
 * the rounding of the other ops. The program is
 * built with the interpreter active; ops computed before `build()` returns count as exact.
 * @example
 * const x = tensor([5.2], { dtype: 'float32' });
 * const bound = approximationErrorBound(() => grad((v: Tensor) => v.tanh().sum())(x), { float32: { tanh: (t) => 2 * ulp(t) } });
 * // 1 - tanh(5.2)^2 = 1.2e-4 moves by 2 tanh(5.2) * 2.5 ulps = 3e-7, 2.5e-3 of itself
 */
export function approximationErrorBound(build: () => Tensor, bounds: ErrorBounds): Float64Array {
  const root = programOf(build);
  const values = evaluateNodes([root]);
  const errors = new Map<Node, Float64Array>();
  for (const [node, value] of values) {
    if (node.realized || node.inputs.length === 0) continue;
    const inputErrors = node.inputs.map((n) => errors.get(n));
    const stated = isFloat(node) ? bounds[node.dtype]?.[node.op] : undefined;
    if (!stated && inputErrors.every((e) => e === undefined)) continue;
    const inputValues = node.inputs.map((n) => values.get(n)!);
    let error: Float64Array;
    switch (node.rule.kind) {
      case 'elementwise':
        error = elementwiseError(node, value, inputValues, inputErrors, stated);
        break;
      case 'reduce':
      case 'movement':
      case 'index':
        // Linear in their float operands with coefficients 0 and 1 (a max selects): applied
        // to the operands' errors, and to integer operands' values (indices), they carry them.
        error = node.rule.evaluate(node.inputs.map((n, k) => (isFloat(n) ? inputErrors[k] ?? new Float64Array(inputValues[k].length) : inputValues[k])), in64(node), node.inputs) as Float64Array;
        // A sum of moved operands may round to the neighbouring float (a max selects, movement copies).
        if (node.op === 'reduce_sum') error.forEach((e, i) => e > 0 && (error[i] = e + roundingFlip(value[i], node.dtype)));
        break;
      default:
        throw new ArgumentError(`approximationErrorBound: ${node.op} (a ${node.rule.kind} op) of an approximated value is not supported; compute its operand before build() returns`);
    }
    errors.set(node, error);
  }
  return errors.get(root) ?? new Float64Array(values.get(root)!.length);
}

function elementwiseError(node: Node, value: TypedArray, inputs: readonly TypedArray[], inputErrors: readonly (Float64Array | undefined)[], stated: OpErrorBound | undefined): Float64Array {
  const f = scalarFunction(node.rule, node.dtype === 'float32' ? 'float64' : node.dtype);
  const error = new Float64Array(value.length);
  const args: number[] = new Array<number>(inputs.length);
  for (let i = 0; i < value.length; i++) {
    for (let k = 0; k < inputs.length; k++) args[k] = inputs[k][i];
    let total = 0;
    const base = f(...args);
    if (Number.isFinite(base)) {
      let moving = 0;
      inputErrors.forEach((e, k) => {
        if (!e || e[i] === 0) return;
        moving++;
        total += moved(f, args, base, (a, j) => (j === k ? a + e[i] : a), (a, j) => (j === k ? a - e[i] : a));
      });
      // Operands that move together (x * x) can move the result where each alone does not:
      // at x = 0, only the second-order e^2.
      if (moving > 1) total = Math.max(total, moved(f, args, base, (a, j) => a + (inputErrors[j]?.[i] ?? 0), (a, j) => a - (inputErrors[j]?.[i] ?? 0)));
      // Once an operand has moved, this op's own rounding may land on the neighbouring float.
      if (moving > 0 && !EXACT_OPS.has(node.op)) total += roundingFlip(value[i], node.dtype);
    }
    if (stated) {
      const v = value[i];
      total += stated(v, args) + 0.5 * ulp(v, node.dtype === 'float32' ? 'float32' : 'float64') + 2 ** -52 * Math.abs(v);
    }
    error[i] = total;
  }
  return error;
}

/** Elementwise ops whose result is one of the representable values they are given: no rounding. */
const EXACT_OPS: ReadonlySet<string> = new Set(['neg', 'abs', 'sign', 'floor', 'ceil', 'round', 'stop_gradient', 'max', 'lt', 'eq', 'where']);

/**
 * How far an op's result can move when its operands moved by any amount, however small: its
 * rounding to `dtype` may then land on the neighbouring value (one ulp), and everything after
 * it carries that too. Without it a program that amplifies a rounded intermediate (the square
 * of a logsumexp, 5 times) moved beyond its allowance by a whole ulp of that intermediate.
 */
function roundingFlip(v: number, dtype: string): number {
  return Number.isFinite(v) ? ulp(v, dtype === 'float32' ? 'float32' : 'float64') : 0;
}

/** The most f(args) moves from `base` when its operands go up, or down, as `up` and `down` say. */
function moved(f: (...xs: number[]) => number, args: readonly number[], base: number, up: (a: number, j: number) => number, down: (a: number, j: number) => number): number {
  const most = Math.max(Math.abs(f(...args.map(up)) - base), Math.abs(f(...args.map(down)) - base));
  return Number.isNaN(most) ? Infinity : most;
}

/**
 * The value `build()` returns as the reference interpreter computes it, except that each
 * result of an op named in `perturb` (elementwise float ops: `tanh`, `exp`, ...) goes through
 * the given function first (then is rounded to the op's dtype): the values of a backend whose
 * approximation has that error. Tests use it to show that an agreement check still fails for
 * an approximation outside its stated bound.
 * @example
 * // a tanh 20 ulps too large
 * evaluatePerturbed(() => x.tanh().mul(2), { tanh: (t) => t + 20 * ulp(t) });
 */
export function evaluatePerturbed(build: () => Tensor, perturb: Readonly<Record<string, (value: number, inputs: readonly number[]) => number>>): Float64Array {
  const root = programOf(build);
  const values = new Map<Node, TypedArray>();
  for (const node of topoSort([root], (n) => n.realized !== null)) {
    if (node.realized) {
      values.set(node, node.realized.readSync('interp'));
      continue;
    }
    const inputs = node.inputs.map((n) => values.get(n)!);
    const value = node.rule.evaluate(inputs, node, node.inputs);
    const change = node.rule.kind === 'elementwise' && isFloat(node) ? perturb[node.op] : undefined;
    if (change) for (let i = 0; i < value.length; i++) value[i] = change(value[i], inputs.map((a) => a[i]));
    values.set(node, value);
  }
  return Float64Array.from(values.get(root)!);
}
