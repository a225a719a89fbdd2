/**
 * functs: composable function transforms on a lazy, fusing array DSL.
 * This module only re-exports the public API, name by name: test/exports.test.ts holds the
 * list, so nothing internal leaks by accident.
 */
import './lazy/primitives/index.js';
import { registerBackend } from './lazy/realize.js';
import { interpBackend } from './backends/interp/index.js';
import { jsBackend } from './backends/js/index.js';
import { wasmBackend } from './backends/wasm/index.js';

// The fused WebAssembly backend is the default (the first registered); the fused JavaScript
// backend stays selectable, and the interpreter is the specification.
registerBackend(wasmBackend);
registerBackend(jsBackend);
registerBackend(interpBackend);

// Tensors, dtypes, shapes.
export { Tensor, type NestedNumbers } from './lazy/tensor.js';
export { asTensor, type NestedArray, type TensorLike } from './lazy/ops/core.js';
export type { DType, TypedArray } from './lazy/dtype.js';
export type { Shape } from './lazy/shape.js';

// Creation.
export { tensor, full, zeros, ones, zerosLike, onesLike, arange, linspace, eye, rand, randn, type CreationOptions, type RandomOptions } from './lazy/ops/creation.js';
export * as random from './lazy/ops/random.js';

// Elementwise.
export {
  cast, neg, reciprocal, sqrt, rsqrt, exp, log, log1p, expm1, sin, cos, tan, tanh, sigmoid, relu, gelu, softplus,
  abs, sign, floor, ceil, round, square, add, sub, mul, div, pow, maximum, minimum, clamp, where,
  eq, ne, lt, le, gt, ge, logicalAnd, logicalOr, logicalNot, stopGradient,
} from './lazy/ops/elementwise.js';

// Reductions.
export { sum, mean, prod, max, min, argmax, argmin, variance, std, logsumexp, softmax, logSoftmax, type ReduceOptions } from './lazy/ops/reduce.js';

// Movement.
export {
  reshape, flatten, permute, transpose, moveaxis, movedim, expand, broadcastTo, squeeze, unsqueeze, slice, select,
  pad, flip, concat, stack, split, tile, gather, indexSelect, scatterAdd, diagonal, triu, tril, type SliceSpec,
} from './lazy/ops/movement.js';

// Linear algebra and losses.
export { matmul, dot, outer, einsum } from './lazy/ops/linalg.js';
export { solve, triangularSolve, cholesky, choleskySolve, inv, det, slogdet, eigh, type TriangularSolveOptions } from './lazy/ops/decompositions.js';
export * as linalg from './lazy/ops/decompositions.js';
export { mseLoss, crossEntropy, type Reduction } from './lazy/ops/loss.js';

// Errors.
export { FunctsError, ShapeError, DTypeError, IndexError, ArgumentError, TransformError, DeviceError } from './lazy/errors.js';

// Pytrees.
export { treeMap, treeFlatten, treeUnflatten, treeLeaves, treeStructure, realizeTree as realize, type PyTree, type TreeDef, type TreeLeaf, type MapLeaves } from './lazy/pytree.js';

// Transforms.
export { grad, gradAndValue, vjp, jvp, linearize, type GradOptions, type GradOf, type GradsAt, type Argnums, type TangentsOf, type VjpResult } from './transforms/autodiff.js';
export { vmap, type VmapOptions, type AxisSpec } from './transforms/vmap.js';
export { jacrev, jacfwd, hessian, type JacobianOptions, type Jacobian, type Hessian } from './transforms/jacobian.js';
export { makeGraph, Graph } from './transforms/graph.js';
export { jit, type Jitted, type JitOptions, type JitStats } from './transforms/jit.js';
export type { Randomness } from './lazy/trace.js';

// Backends and plans.
export { setBackend, withBackend, backendNames } from './lazy/realize.js';
export { setThreads, getThreads } from './backends/wasm/threads.js';
export { initWebGPU, destroyWebGPU, type WebGPUInitOptions } from './backends/webgpu/index.js';
export { explain } from './transforms/explain.js';
export { registerGpuJs, type GpuJsClass, type GpuJsInstance, type GpuJsKernel, type GpuJsMode, type GpuJsOptions } from './backends/gpujs/index.js';
export { cacheInfo, clearCaches, setCacheLimits, type CacheInfo } from './fusion/program.js';
export type { Plan, KernelInfo, BufferInfo } from './fusion/explain.js';

// Modules (src/nn): the `nn` namespace of layers, functorch's functional-module utilities,
// functional optimizers, and 2-D convolution and pooling as array ops.
export * as nn from './nn/index.js';
export * as optim from './nn/optim.js';
export { functionalCall, makeFunctional, makeFunctionalWithBuffers, combineStateForEnsemble, stackModuleState, type FunctionalModule, type FunctionalModuleWithBuffers } from './nn/functional.js';
export { conv2d, maxPool2d, avgPool2d, type Conv2dOptions, type Pool2dOptions } from './nn/conv.js';
