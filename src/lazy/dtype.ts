import { describeValue, DTypeError, ShapeError } from './errors.js';

/**
 * The element types. Promotion follows the chain bool < int32 < float32 < float64: the result
 * of an op on two tensors has the larger of their dtypes. A plain JavaScript number is
 * "weakly typed" (as in JAX): it takes the dtype of the tensor it meets, except that a
 * non-integer number meeting a bool or int32 tensor gives float32.
 */
export type DType = 'float32' | 'float64' | 'int32' | 'bool';

export const DTYPES: readonly DType[] = ['bool', 'int32', 'float32', 'float64'];

export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array;

const RANK: Record<DType, number> = { bool: 0, int32: 1, float32: 2, float64: 3 };

export function promoteTypes(a: DType, b: DType): DType {
  return RANK[a] >= RANK[b] ? a : b;
}

export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64';
}

/** The dtype a JavaScript number takes when it meets a tensor of `other`. */
export function weakScalarType(value: number, other: DType): DType {
  if (isFloat(other)) return other;
  if (Number.isInteger(value)) return other === 'bool' ? 'int32' : other;
  return 'float32';
}

/** The most elements functs puts in one typed array (the engines' limits are at or above it). */
export const MAX_ELEMENTS = 2 ** 31 - 1;

/** Bytes in a unit people read: 8 GiB, 512 B. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toPrecision(3).replace(/\.?0+$/, '')} ${units[unit]}`;
}

/** A zeroed typed array of `size` elements; a size the engine cannot allocate throws a ShapeError. */
export function allocate(dtype: DType, size: number): TypedArray {
  try {
    return allocateArray(dtype, size);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw new ShapeError(`allocate: cannot allocate ${size} elements of ${dtype} (${formatBytes(size * bytesPerElement(dtype))}): ${error.message}`);
  }
}

function allocateArray(dtype: DType, size: number): TypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(size);
    case 'float64': return new Float64Array(size);
    case 'int32': return new Int32Array(size);
    case 'bool': return new Uint8Array(size);
    default: return dtype satisfies never;
  }
}

/** Bytes one element of `dtype` takes in its typed array. */
export function bytesPerElement(dtype: DType): number {
  return allocateArray(dtype, 0).BYTES_PER_ELEMENT;
}

/** Rounds a JavaScript number to what a `dtype` element stores. */
export function coerce(value: number, dtype: DType): number {
  switch (dtype) {
    case 'float32': return Math.fround(value);
    case 'float64': return value;
    case 'int32': return value | 0;
    case 'bool': return value !== 0 ? 1 : 0;
    default: return dtype satisfies never;
  }
}

export function assertDType(dtype: unknown, op: string): DType {
  if (typeof dtype === 'string' && (DTYPES as readonly string[]).includes(dtype)) return dtype as DType;
  throw new DTypeError(`${op}: unknown dtype ${describeValue(dtype)}; use one of ${DTYPES.join(', ')}`);
}

export function dtypeOfTypedArray(data: TypedArray): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int32Array) return 'int32';
  return 'bool';
}
