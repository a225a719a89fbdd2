export { grad, gradAndValue, vjp, jvp, linearize, type GradOptions, type GradOf } from './autodiff.js';
export { vmap, type VmapOptions, type AxisSpec } from './vmap.js';
export { jacrev, jacfwd, hessian, type JacobianOptions } from './jacobian.js';
export { makeGraph, Graph } from './graph.js';
