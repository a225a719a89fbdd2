/**
 * The error classes of functs. Every error thrown on bad input is one of these, and its
 * message names the op, the shapes involved and how to fix the call.
 */

/** Base class of every error functs throws on purpose. */
export class FunctsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Shapes that do not fit together: broadcasting, matmul, reshape sizes, concat, ... */
export class ShapeError extends FunctsError {}

/** A dtype the op cannot take, e.g. a gradient with respect to an int32 tensor. */
export class DTypeError extends FunctsError {}

/** An axis or an index outside the valid range. */
export class IndexError extends FunctsError {}

/** An argument that is malformed: ragged nested arrays, non-finite sizes, bad options. */
export class ArgumentError extends FunctsError {}

/**
 * What a device cannot do: reading synchronously from a device that reads back
 * asynchronously only (await `data()`), a dtype or kernel the device does not support.
 */
export class DeviceError extends FunctsError {}

/** A transform used in a way it cannot support (e.g. reading a per-example value under vmap). */
export class TransformError extends FunctsError {}

const DESCRIBE_LIMIT = 100;

/**
 * A short description of any value for an error message, at most about 100 characters:
 * small data reads as JSON (`[1,-1]`, `"float16"`), a tensor as `Tensor float32[3, 4]`, an
 * object by its keys, and long arrays are cut. It never serializes a graph, so a message
 * stays short whatever the user passed.
 */
export function describeValue(value: unknown): string {
  const text = describe(value, 3);
  return text.length <= DESCRIBE_LIMIT ? text : `${text.slice(0, DESCRIBE_LIMIT - 3)}...`;
}

function describe(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string': return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
    case 'number': return Object.is(value, -0) ? '-0' : String(value);
    case 'bigint': return `${value}n`;
    case 'boolean':
    case 'undefined': return String(value);
    case 'symbol': return value.toString();
    case 'function': return `function ${value.name || '(anonymous)'}`;
  }
  if (value === null) return 'null';
  const object = value as { shape?: unknown; dtype?: unknown; constructor?: { name?: string } };
  // Tensors and nodes carry a whole graph: name what they are, never walk them.
  if (Array.isArray(object.shape) && typeof object.dtype === 'string') {
    const kind = object.constructor?.name === 'Tensor' ? 'Tensor' : object.constructor?.name || 'value';
    return `${kind} ${object.dtype}[${object.shape.join(', ')}]`;
  }
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const items = value as unknown as ArrayLike<number>;
    return `${object.constructor?.name ?? 'TypedArray'}(${items.length}) ${describeList(Array.from({ length: Math.min(items.length, 16) }, (_, i) => items[i]), items.length, depth)}`;
  }
  if (Array.isArray(value)) return describeList(value, value.length, depth);
  const keys = Object.keys(value as object);
  const prototype = Object.getPrototypeOf(value);
  const kind = prototype === Object.prototype || prototype === null ? 'object' : `${object.constructor?.name || 'object'} object`;
  if (keys.length === 0) return `${kind} with no keys`;
  return `${kind} with keys ${keys.slice(0, 8).join(', ')}${keys.length > 8 ? `, ... (${keys.length} keys)` : ''}`;
}

function describeList(items: readonly unknown[], length: number, depth: number): string {
  if (depth === 0) return `[${length} items]`;
  const parts: string[] = [];
  let used = 2;
  for (let i = 0; i < items.length; i++) {
    const part = describe(items[i], depth - 1);
    if (used + part.length > DESCRIBE_LIMIT - 24) break; // room for the count
    parts.push(part);
    used += part.length + 1;
  }
  if (parts.length < length) parts.push(`... (${length} items)`);
  return `[${parts.join(',')}]`;
}
