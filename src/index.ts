/**
 * functs: composable function transforms on a lazy, fusing array DSL.
 * This module only re-exports the public API.
 */
import './lazy/primitives/index.js';
import { registerBackend } from './lazy/realize.js';
import { interpBackend } from './backends/interp/index.js';
import { jsBackend } from './backends/js/index.js';
import { wasmBackend } from './backends/wasm/index.js';

// The fused JavaScript backend is the default; the interpreter stays as the specification.
registerBackend(jsBackend);
registerBackend(interpBackend);
registerBackend(wasmBackend);

export { Tensor, type NestedNumbers } from './lazy/tensor.js';
export * from './lazy/ops/index.js';
export type { DType, TypedArray } from './lazy/dtype.js';
export type { Shape } from './lazy/shape.js';
export { FunctsError, ShapeError, DTypeError, IndexError, ArgumentError, TransformError } from './lazy/errors.js';
export { setBackend, withBackend, backendNames } from './lazy/realize.js';
export * from './transforms/index.js';
export type { PyTree, TreeDef } from './lazy/pytree.js';
export { realizeTree as realize } from './lazy/pytree.js';
export { jit, type Jitted, type JitOptions, type JitStats } from './transforms/jit.js';
export { explain } from './transforms/explain.js';
export type { Plan, KernelInfo, BufferInfo } from './fusion/explain.js';
export type { Randomness } from './lazy/trace.js';
