import { allocate, type DType, type TypedArray } from '../dtype.js';
import { sizeOf, stridesOf, type Shape } from '../shape.js';

/** Calls `visit` with every multi-index of `shape` in row-major order (reference code only). */
export function forEachIndex(shape: Shape, visit: (index: number[], flat: number) => void): void {
  const total = sizeOf(shape);
  if (total === 0) return;
  const index = new Array<number>(shape.length).fill(0);
  for (let flat = 0; flat < total; flat++) {
    visit(index, flat);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
}

/** Builds an output by reading, for each output index, a source position (-1 reads `fill`). */
export function readThrough(outShape: Shape, dtype: DType, source: TypedArray, sourceOf: (index: number[]) => number, fill = 0): TypedArray {
  const out = allocate(dtype, sizeOf(outShape));
  forEachIndex(outShape, (index, flat) => {
    const at = sourceOf(index);
    out[flat] = at < 0 ? fill : source[at];
  });
  return out;
}

export function flatIndex(index: readonly number[], strides: readonly number[]): number {
  let at = 0;
  for (let d = 0; d < index.length; d++) at += index[d] * strides[d];
  return at;
}

export { stridesOf };
