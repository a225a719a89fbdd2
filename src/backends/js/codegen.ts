/**
 * JavaScript code generation: one specialized function per kernel IR, built with
 * `new Function`. Shapes are baked in as constants, buffers are typed-array parameters,
 * index arithmetic arrives already hoisted into the outermost loop it can live in, and
 * reductions accumulate in a local (float64) variable.
 */
import type { DType } from '../../lazy/dtype.js';
import { IndexError } from '../../lazy/errors.js';
import { logistic, roundHalfEven } from '../../lazy/primitives/elementwise.js';
import { JS_OPS } from './ops.js';
import { keyedBits, normalAt, uniformAt } from '../../lazy/random.js';
import type { KernelIR, Operand, Stmt, Value } from '../../fusion/kernel.js';
import type { CompiledKernel } from '../../fusion/program.js';

/** Checks a gather/scatter index as the reference does, and wraps negative indices. */
function checkIndex(value: number, size: number, what: string): number {
  if (!(value >= -size && value < size)) {
    throw new IndexError(`${what.split(':')[0]}: index ${value} is out of range for an axis of size ${size} (${what.split(': ')[1] ?? ''}); indices must lie in [${-size}, ${size - 1}]`);
  }
  return value < 0 ? value + size : value;
}

/** What generated code may call. */
const HELPERS = { roundHalfEven, logistic, uniformAt, normalAt, keyedBits, checkIndex };

function literal(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '(-Infinity)';
  if (Object.is(v, -0)) return '(-0)';
  return v < 0 ? `(${v})` : String(v);
}

function operand(o: Operand): string {
  return typeof o === 'string' ? o : literal(o.literal);
}

function convert(dtype: DType, x: string): string {
  switch (dtype) {
    case 'float32': return `Math.fround(${x})`;
    case 'float64': return x;
    case 'int32': return `(${x} | 0)`;
    // A Uint8Array store: ToInt32 then the low byte (-Infinity, the empty maximum, becomes 0).
    case 'bool': return `(${x} & 255)`;
    default: return dtype satisfies never;
  }
}

function value(v: Value, strings: string[]): string {
  switch (v.kind) {
    case 'load': return `b${v.buffer}[${operand(v.index)}]`;
    case 'prim': {
      return JS_OPS[v.op](v.args.map(operand), v.dtype);
    }
    case 'affine': {
      const parts = v.terms.map((t) => (t.coef === 1 ? operand(t.value) : `${operand(t.value)} * ${literal(t.coef)}`));
      if (typeof v.base === 'string' || v.base.literal !== 0) parts.unshift(operand(v.base));
      return parts.join(' + ');
    }
    case 'divmod': {
      const x = operand(v.arg);
      if (v.op === 'div') return v.nonNegative ? `((${x} / ${v.by}) | 0)` : `Math.floor(${x} / ${v.by})`;
      return v.nonNegative ? `(${x} % ${v.by})` : `(((${x} % ${v.by}) + ${v.by}) % ${v.by})`;
    }
    case 'random': return `${v.distribution === 'normal' ? 'normalAt' : 'uniformAt'}(${v.seed}, ${operand(v.index)})`;
    case 'convert': return convert(v.dtype, operand(v.arg));
    case 'select': {
      const test = v.bounds.map((b) => `${operand(b.index)} >= ${b.lo} && ${operand(b.index)} <= ${b.hi}`).join(' && ');
      return `(${test} ? ${operand(v.then)} : 0)`;
    }
    case 'check': {
      strings.push(v.what);
      return `checkIndex(${operand(v.arg)}, ${v.size}, s${strings.length - 1})`;
    }
    default: return v satisfies never;
  }
}

function statements(stmts: readonly Stmt[], indent: string, out: string[], strings: string[], scatter: boolean): void {
  for (const s of stmts) {
    switch (s.kind) {
      case 'let': out.push(`${indent}const ${s.name} = ${value(s.value, strings)};`); break;
      case 'loop':
        out.push(`${indent}for (let ${s.index} = 0; ${s.index} < ${s.extent}; ${s.index}++) {`);
        statements(s.body, indent + '  ', out, strings, scatter);
        out.push(`${indent}}`);
        break;
      case 'accumulator': out.push(`${indent}let ${s.name} = ${s.op === 'sum' ? '0' : '-Infinity'};`); break;
      case 'accumulate': {
        const v = operand(s.value);
        // max: NaN wins and stays (v !== v catches a NaN operand; a NaN accumulator never loses).
        if (s.op === 'max') out.push(`${indent}if (${v} > ${s.name} || ${v} !== ${v}) ${s.name} = ${v};`);
        else out.push(s.wrapsInt32 ? `${indent}${s.name} = (${s.name} + ${v}) | 0;` : `${indent}${s.name} += ${v};`);
        break;
      }
      case 'store': out.push(`${indent}b${s.buffer}[${operand(s.index)}] = ${operand(s.value)};`); break;
      case 'scatterAdd': out.push(`${indent}acc${s.buffer}[${operand(s.index)}] += ${operand(s.value)};`); break;
      default: s satisfies never;
    }
  }
}

/** The JavaScript source of a kernel: a function of its buffers. */
export function generateSource(ir: KernelIR): { source: string; strings: string[] } {
  const params = ir.buffers.map((_, i) => `b${i}`);
  const out: string[] = [`function kernel(${params.join(', ')}) {`];
  const strings: string[] = [];
  const scatter = ir.kind === 'scatter';
  const outputs = ir.buffers.flatMap((b, i) => (b.role === 'output' ? [i] : []));
  // Scatter kernels add into a float64 copy (as the reference does), then store once.
  if (scatter) for (const i of outputs) out.push(`  const acc${i} = new Float64Array(${ir.buffers[i].size});`);
  statements(ir.body, '  ', out, strings, scatter);
  if (scatter) for (const i of outputs) out.push(`  b${i}.set(acc${i});`);
  out.push('}');
  return { source: out.join('\n'), strings };
}

/** Compiles a kernel IR into a callable function. */
export function compileJs(ir: KernelIR): CompiledKernel {
  const { source, strings } = generateSource(ir);
  const names = [...Object.keys(HELPERS), ...strings.map((_, i) => `s${i}`)];
  const values = [...Object.values(HELPERS), ...strings];
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const factory = new Function(...names, `'use strict';\nreturn ${source};`) as (...helpers: unknown[]) => CompiledKernel['run'];
  return { run: factory(...values), source };
}
