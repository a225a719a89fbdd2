/**
 * Construction of primitive nodes: shape/dtype inference through the registry, then the
 * construction-time simplifier (constant folding, x*1, x/1, x+(-0), double negation,
 * movement of movement), then hash-consing.
 *
 * Two kinds of zero: a user's number 0 follows IEEE arithmetic (Infinity * 0 is NaN,
 * -0 + 0 is +0, as in JAX and PyTorch), so `x * 0` and `x + 0` stay unless x is an
 * integer; a symbolic zero (`symbolicZeros`), which the transforms create for "this does
 * not depend on that" (a where branch without a tangent, say), folds away: anything times
 * it is a symbolic zero and anything plus it is itself, so it costs no work.
 */
import { allocate, bytesPerElement, coerce, formatBytes, isFloat, MAX_ELEMENTS, type DType, type TypedArray } from './dtype.js';
import { ShapeError } from './errors.js';
import { Storage } from '../backends/device.js';
import { compareOperands, internNode, Node, uniqueLeaf, type Attrs } from './node.js';
import { primitiveRule, scalarFunction } from './primitive.js';
import { formatShape, sameShape, sizeOf, type Shape } from './shape.js';

let nextLeafId = 1;

/**
 * Ops whose operands can be swapped: their inputs are put in a canonical order
 * (`compareOperands`: by structure, then id), so a*b and b*a are one node.
 */
export const COMMUTATIVE: ReadonlySet<string> = new Set(['add', 'mul', 'max', 'eq']);

/** Builds (or finds) the node `op(inputs)`, simplified. */
export function prim(op: string, operands: readonly Node[], attrs: Attrs = {}): Node {
  const rule = primitiveRule(op);
  const inputs = COMMUTATIVE.has(op) && compareOperands(operands[0], operands[1]) > 0 ? [operands[1], operands[0]] : operands;
  const { shape, dtype } = rule.infer(inputs, attrs);
  const simpler = simplify(op, inputs, attrs, shape, dtype);
  if (simpler) return simpler;
  return internNode(rule, inputs, shape, dtype, attrs);
}

/**
 * Refuses a shape whose elements no typed array can hold: the error names the op, the shape
 * and the bytes, instead of a RangeError from deep inside a kernel. Called where a value
 * must be stored — created data, the roots of a realization, a program's kernel outputs —
 * not on every lazy node: a broadcast larger than memory is fine while it is only ever
 * fused into a smaller result (vmap(hessian) of a million inputs builds such nodes).
 */
export function checkAllocatable(op: string, shape: Shape, dtype: DType): void {
  const size = sizeOf(shape);
  if (size <= MAX_ELEMENTS) return;
  throw new ShapeError(`${op}: shape ${formatShape(shape)} has ${size} elements (${formatBytes(size * bytesPerElement(dtype))} of ${dtype}), more than one array can hold (${MAX_ELEMENTS} elements); use a smaller shape or compute it in pieces`);
}

/**
 * A 0-d constant. Constants are hash-consed by value, so `0` is one node per dtype (and
 * the symbolic zero another).
 */
export function constant(value: number, dtype: DType, symbolic = false): Node {
  const v = coerce(value, dtype);
  // JSON cannot carry NaN or the infinities; give them names so the key stays exact.
  const encoded: number | string = Number.isFinite(v) ? (Object.is(v, -0) ? '-0' : v) : String(v);
  return internNode(primitiveRule('const'), [], [], dtype, symbolic ? { value: 0, symbolic: true } : { value: encoded });
}

/** A constant of any shape: a scalar constant reshaped and expanded (no storage). */
export function filled(value: number, shape: Shape, dtype: DType, symbolic = false): Node {
  const scalar = constant(value, dtype, symbolic);
  if (shape.length === 0) return scalar;
  // Built directly: the simplifier would fold these back into `filled`.
  const ones = shape.map(() => 1);
  const reshaped = internNode(primitiveRule('reshape'), [scalar], ones, dtype, { shape: ones });
  return shape.every((d) => d === 1) ? reshaped : internNode(primitiveRule('expand'), [reshaped], shape, dtype, { shape: [...shape] });
}

/** A leaf holding data that is already computed: host data, or a Storage (which it then owns). */
export function bufferNode(data: TypedArray | Storage, shape: Shape, dtype: DType): Node {
  const node = uniqueLeaf(primitiveRule('buffer'), shape, dtype, { uid: nextLeafId++ });
  node.realized = data instanceof Storage ? data : Storage.fromHost(data, dtype);
  return node;
}

/**
 * A transform's Param: a fresh leaf standing for an argument. Under grad/jvp/vjp it is
 * bound to the argument's node, so its value exists; under vmap it is unbound.
 */
export function paramNode(shape: Shape, dtype: DType, binding: Node | null, transform: string): Node {
  return uniqueLeaf(primitiveRule('param'), shape, dtype, { uid: nextLeafId++, transform }, binding);
}

/**
 * The single input of a one-input node, or undefined once the node is realized: a realized
 * node has dropped its inputs, so rules that look through it must treat it as a leaf.
 */
function inputBelow(node: Node): Node | undefined {
  return node.inputs.length > 0 ? node.inputs[0] : undefined;
}

/** Zeros that stand for "no dependence": they fold away in arithmetic (see the file comment). */
export function symbolicZeros(shape: Shape, dtype: DType): Node {
  return filled(0, shape, dtype, true);
}

/** The const node below reshapes and expands of `node`, if that is what it is. */
function constNodeOf(node: Node): Node | undefined {
  let n = node;
  while (n.op === 'reshape' || n.op === 'expand') {
    const below = inputBelow(n);
    if (!below) return undefined;
    n = below;
  }
  return n.op === 'const' ? n : undefined;
}

export function constValueOf(node: Node): number | undefined {
  const n = constNodeOf(node);
  if (!n) return undefined;
  const v = n.attrs.value;
  return typeof v === 'number' ? v : Number(v);
}

/** Whether `node` is a (reshaped, expanded) symbolic zero. */
export function isSymbolicZero(node: Node): boolean {
  return constNodeOf(node)?.attrs.symbolic === true;
}

/** `value` filled into `shape`, symbolic where `like` is a symbolic zero (movement of a constant). */
function filledLike(like: Node, value: number, shape: Shape, dtype: DType): Node {
  return filled(value, shape, dtype, isSymbolicZero(like));
}

function composePermutations(outer: readonly number[], inner: readonly number[]): number[] {
  return outer.map((p) => inner[p]);
}

/** Returns a simpler node equal to `op(inputs)`, or undefined. */
function simplify(op: string, inputs: readonly Node[], attrs: Attrs, shape: Shape, dtype: DType): Node | undefined {
  const rule = primitiveRule(op);
  if (rule.kind === 'elementwise' && inputs.length > 0) {
    const values = inputs.map(constValueOf);
    const symbolic = inputs.map(isSymbolicZero);
    if (values.every((v) => v !== undefined) && (rule.scalar || rule.scalarFor)) {
      const value = scalarFunction(rule, dtype)(...(values as number[]));
      // Zero times a symbolic zero, or an op of symbolic zeros alone, stays symbolic.
      const staysSymbolic = value === 0 && (op === 'mul' ? symbolic.some(Boolean) : symbolic.every(Boolean));
      return filled(value, shape, dtype, staysSymbolic);
    }
    const [a, b] = values;
    const [x, y] = inputs;
    // Integers have no NaN, infinities or -0: for them x*0 is 0 and x+0 is x exactly.
    const exact = !isFloat(dtype);
    switch (op) {
      case 'add':
        // x + (-0) is x for every x; x + 0 is not for x = -0.
        if ((symbolic[0] || Object.is(a, -0) || (exact && a === 0)) && y.dtype === dtype) return y;
        if ((symbolic[1] || Object.is(b, -0) || (exact && b === 0)) && x.dtype === dtype) return x;
        break;
      case 'mul':
        if (a === 1 && y.dtype === dtype) return y;
        if (b === 1 && x.dtype === dtype) return x;
        if (symbolic[0] || symbolic[1]) return symbolicZeros(shape, dtype);
        if (exact && (a === 0 || b === 0)) return filled(0, shape, dtype);
        break;
      case 'div':
        if (b === 1) return x;
        if (symbolic[0]) return symbolicZeros(shape, dtype);
        break;
      case 'neg':
        if (x.op === 'neg' && inputBelow(x)) return inputBelow(x);
        break;
      case 'cast':
        if (x.dtype === dtype) return x;
        if (symbolic[0]) return symbolicZeros(shape, dtype);
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
      if (constValueOf(x) !== undefined) return filledLike(x, constValueOf(x)!, shape, dtype);
      break;
    case 'expand':
      if (sameShape(x.shape, shape)) return x;
      if (x.op === 'expand' && below) return prim('expand', [below], attrs);
      break;
    case 'permute': {
      const perm = attrs.perm as number[];
      if (perm.every((p, i) => p === i)) return x;
      if (x.op === 'permute' && below) return prim('permute', [below], { perm: composePermutations(perm, x.attrs.perm as number[]) });
      if (constValueOf(x) !== undefined) return filledLike(x, constValueOf(x)!, shape, dtype);
      break;
    }
    case 'flip':
      if ((attrs.axes as number[]).length === 0) return x;
      if (constValueOf(x) !== undefined) return filledLike(x, constValueOf(x)!, shape, dtype);
      break;
    case 'shrink':
      if (sameShape(x.shape, shape)) return x;
      if (constValueOf(x) !== undefined) return filledLike(x, constValueOf(x)!, shape, dtype);
      break;
    case 'pad':
      if (sameShape(x.shape, shape)) return x;
      // Padding fills +0, so only a +0 (or symbolic) constant stays one constant.
      if (Object.is(constValueOf(x), 0)) return filledLike(x, 0, shape, dtype);
      break;
    case 'reduce_sum':
      if (constValueOf(x) === 0) return filledLike(x, 0, shape, dtype);
      if (sizeOf(x.shape) === sizeOf(shape)) return prim('reshape', [x], { shape: [...shape] });
      break;
    case 'reduce_max':
      if (sizeOf(x.shape) === sizeOf(shape) && sizeOf(shape) > 0) return prim('reshape', [x], { shape: [...shape] });
      if (constValueOf(x) !== undefined && sizeOf(x.shape) > 0) return filledLike(x, constValueOf(x)!, shape, dtype);
      break;
    case 'scatter_add':
      if (constValueOf(inputs[1]) === 0) return filledLike(inputs[1], 0, shape, dtype);
      break;
    case 'gather':
      if (constValueOf(x) !== undefined) return filledLike(x, constValueOf(x)!, shape, dtype);
      break;
  }
  return undefined;
}

export { allocate, Node };
