/** Printing tensors the way users of PyTorch and NumPy expect. */
import type { DType, TypedArray } from './dtype.js';
import { formatShape, type Shape } from './shape.js';

const EDGE = 3;
const SUMMARIZE_ABOVE = 1000;

function formatNumber(v: number, dtype: DType, fixed: boolean): string {
  if (dtype === 'bool') return v ? 'true' : 'false';
  if (dtype === 'int32') return String(v);
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
  return fixed ? v.toFixed(4) : v.toExponential(4);
}

export function formatTensor(data: TypedArray, shape: Shape, dtype: DType): string {
  const summarize = data.length > SUMMARIZE_ABOVE;
  const finite = Array.from(data).filter(Number.isFinite).map(Math.abs);
  const largest = finite.length ? Math.max(...finite.slice(0, 100000)) : 0;
  const smallest = finite.filter((v) => v > 0).reduce((m, v) => Math.min(m, v), Infinity);
  const fixed = largest < 1e8 && (smallest === Infinity || smallest >= 1e-4);
  const cells = Array.from(data, (v) => formatNumber(v, dtype, fixed));
  const width = Math.max(0, ...cells.map((c) => c.length));
  const pad = (c: string) => c.padStart(width);
  const indent = 'tensor('.length;
  const render = (axis: number, offset: number, stride: number): string => {
    if (shape.length === 0) return cells[0];
    const n = shape[axis];
    const inner = stride / n;
    const shown = summarize && n > 2 * EDGE ? [...Array(EDGE).keys(), -1, ...Array.from({ length: EDGE }, (_, i) => n - EDGE + i)] : [...Array(n).keys()];
    if (axis === shape.length - 1) {
      return `[${shown.map((i) => (i < 0 ? '...' : pad(cells[offset + i]))).join(', ')}]`;
    }
    const sep = ',' + '\n'.repeat(shape.length - axis - 1) + ' '.repeat(indent + axis + 1);
    return `[${shown.map((i) => (i < 0 ? '...' : render(axis + 1, offset + i * inner, inner))).join(sep)}]`;
  };
  return `tensor(${render(0, 0, data.length)}, shape=${formatShape(shape)}, dtype=${dtype})`;
}
