/**
 * Construction of primitive nodes: shape/dtype inference through the registry, then the
 * construction-time simplifier (constant folding, x+0, x*1, x*0, double negation, movement
 * of movement), then hash-consing.
 */
import { allocate, bytesPerElement, coerce, formatBytes, MAX_ELEMENTS, type DType, type TypedArray } from './dtype.js';
import { ShapeError } from './errors.js';
import { internNode, Node, type Attrs } from './node.js';
import { primitiveRule } from './primitive.js';
import { formatShape, sameShape, sizeOf, type Shape } from './shape.js';

let nextLeafId = 1;

/** Ops whose operands can be swapped: their inputs are put in id order, so a*b and b*a are one node. */
const COMMUTATIVE = new Set(['add', 'mul', 'max', 'eq']);

/** Builds (or finds) the node `op(inputs)`, simplified. */
export function prim(op: string, operands: readonly Node[], attrs: Attrs = {}): Node {
  const rule = primitiveRule(op);
  const inputs = COMMUTATIVE.has(op) && operands[0].id > operands[1].id ? [operands[1], operands[0]] : operands;
  const { shape, dtype } = rule.infer(inputs, attrs);
  checkAllocatable(op, shape, dtype);
  const simpler = simplify(op, inputs, attrs, shape, dtype);
  if (simpler) return simpler;
  return internNode(rule, inputs, shape, dtype, attrs);
}

/**
 * Refuses a shape whose elements no typed array can hold: the error names the op, the shape
 * and the bytes at construction, instead of a RangeError from deep inside a kernel later.
 */
export function checkAllocatable(op: string, shape: Shape, dtype: DType): void {
  const size = sizeOf(shape);
  if (size <= MAX_ELEMENTS) return;
  throw new ShapeError(`${op}: shape ${formatShape(shape)} has ${size} elements (${formatBytes(size * bytesPerElement(dtype))} of ${dtype}), more than one array can hold (${MAX_ELEMENTS} elements); use a smaller shape or compute it in pieces`);
}

/** A 0-d constant. Constants are hash-consed by value, so `0` is one node per dtype. */
export function constant(value: number, dtype: DType): Node {
  const v = coerce(value, dtype);
  // JSON cannot carry NaN or the infinities; give them names so the key stays exact.
  const encoded: number | string = Number.isFinite(v) ? (Object.is(v, -0) ? '-0' : v) : String(v);
  return internNode(primitiveRule('const'), [], [], dtype, { value: encoded });
}

/** A constant of any shape: a scalar constant reshaped and expanded (no storage). */
export function filled(value: number, shape: Shape, dtype: DType): Node {
  const scalar = constant(value, dtype);
  if (shape.length === 0) return scalar;
  // Built directly: the simplifier would fold these back into `filled`.
  const ones = shape.map(() => 1);
  const reshaped = internNode(primitiveRule('reshape'), [scalar], ones, dtype, { shape: ones });
  return shape.every((d) => d === 1) ? reshaped : internNode(primitiveRule('expand'), [reshaped], shape, dtype, { shape: [...shape] });
}

/** A leaf holding data that is already computed. */
export function bufferNode(data: TypedArray, shape: Shape, dtype: DType): Node {
  const node = internNode(primitiveRule('buffer'), [], shape, dtype, { uid: nextLeafId++ });
  node.realized = data;
  return node;
}

/**
 * A transform's Param: a fresh leaf standing for an argument. Under grad/jvp/vjp it is
 * bound to the argument's node, so its value exists; under vmap it is unbound.
 */
export function paramNode(shape: Shape, dtype: DType, binding: Node | null, transform: string): Node {
  return internNode(primitiveRule('param'), [], shape, dtype, { uid: nextLeafId++, transform }, binding);
}

/**
 * The single input of a one-input node, or undefined once the node is realized: a realized
 * node has dropped its inputs, so rules that look through it must treat it as a leaf.
 */
function inputBelow(node: Node): Node | undefined {
  return node.inputs.length > 0 ? node.inputs[0] : undefined;
}

export function constValueOf(node: Node): number | undefined {
  let n = node;
  while (n.op === 'reshape' || n.op === 'expand') {
    const below = inputBelow(n);
    if (!below) return undefined;
    n = below;
  }
  if (n.op !== 'const') return undefined;
  const v = n.attrs.value;
  return typeof v === 'number' ? v : Number(v);
}

function composePermutations(outer: readonly number[], inner: readonly number[]): number[] {
  return outer.map((p) => inner[p]);
}

/** Returns a simpler node equal to `op(inputs)`, or undefined. */
function simplify(op: string, inputs: readonly Node[], attrs: Attrs, shape: Shape, dtype: DType): Node | undefined {
  const rule = primitiveRule(op);
  if (rule.kind === 'elementwise' && inputs.length > 0) {
    const values = inputs.map(constValueOf);
    if (values.every((v) => v !== undefined) && rule.scalar) {
      return filled(rule.scalar(...(values as number[])), shape, dtype);
    }
    const [a, b] = values;
    const [x, y] = inputs;
    switch (op) {
      case 'add':
        if (a === 0 && y.dtype === dtype) return y;
        if (b === 0 && x.dtype === dtype) return x;
        break;
      case 'mul':
        if (a === 1 && y.dtype === dtype) return y;
        if (b === 1 && x.dtype === dtype) return x;
        // x*0 folds to zero: symbolic zeros must not cost work (as in JAX, NaN*0 is not kept).
        if (a === 0 || b === 0) return filled(0, shape, dtype);
        break;
      case 'div':
        if (b === 1) return x;
        break;
      case 'neg':
        if (x.op === 'neg' && inputBelow(x)) return inputBelow(x);
        break;
      case 'cast':
        if (x.dtype === dtype) return x;
        break;
      case 'where': {
        if (a !== undefined) return a ? inputs[1] : inputs[2];
        if (inputs[1] === inputs[2]) return inputs[1];
        break;
      }
    }
    return undefined;
  }
  // An iota along an axis of size 1 is all zeros (e.g. the one-hot basis of a scalar output).
  if (op === 'iota' && (attrs.shape as number[])[attrs.axis as number] === 1) return filled(0, shape, dtype);
  const [x] = inputs;
  // Rules that fold x's own op into this one need x's input, which realization drops.
  const below = x && inputBelow(x);
  switch (op) {
    case 'reshape':
      if (sameShape(x.shape, shape)) return x;
      if (x.op === 'reshape' && below) return prim('reshape', [below], attrs);
      if (constValueOf(x) !== undefined) return filled(constValueOf(x)!, shape, dtype);
      break;
    case 'expand':
      if (sameShape(x.shape, shape)) return x;
      if (x.op === 'expand' && below) return prim('expand', [below], attrs);
      break;
    case 'permute': {
      const perm = attrs.perm as number[];
      if (perm.every((p, i) => p === i)) return x;
      if (x.op === 'permute' && below) return prim('permute', [below], { perm: composePermutations(perm, x.attrs.perm as number[]) });
      if (constValueOf(x) !== undefined) return filled(constValueOf(x)!, shape, dtype);
      break;
    }
    case 'flip':
      if ((attrs.axes as number[]).length === 0) return x;
      if (constValueOf(x) !== undefined) return filled(constValueOf(x)!, shape, dtype);
      break;
    case 'shrink':
      if (sameShape(x.shape, shape)) return x;
      if (constValueOf(x) !== undefined) return filled(constValueOf(x)!, shape, dtype);
      break;
    case 'pad':
      if (sameShape(x.shape, shape)) return x;
      if (constValueOf(x) === 0) return filled(0, shape, dtype);
      break;
    case 'reduce_sum':
      if (constValueOf(x) === 0) return filled(0, shape, dtype);
      if (sizeOf(x.shape) === sizeOf(shape)) return prim('reshape', [x], { shape: [...shape] });
      break;
    case 'reduce_max':
      if (sizeOf(x.shape) === sizeOf(shape) && sizeOf(shape) > 0) return prim('reshape', [x], { shape: [...shape] });
      if (constValueOf(x) !== undefined && sizeOf(x.shape) > 0) return filled(constValueOf(x)!, shape, dtype);
      break;
    case 'scatter_add':
      if (constValueOf(inputs[1]) === 0) return filled(0, shape, dtype);
      break;
    case 'gather':
      if (constValueOf(x) !== undefined) return filled(constValueOf(x)!, shape, dtype);
      break;
  }
  return undefined;
}

export { allocate, Node };
