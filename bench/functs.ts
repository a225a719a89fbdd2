/**
 * functs: jit(vmap(hessian(f))) on the default backend (fused kernels compiled to
 * JavaScript). A, b and X are functs tensors built once from the workload's arrays (not
 * timed); A and b are captured by f, as in the jax-js entry.
 */
import { hessian, jit, tensor, vmap, type Tensor } from "../src/index.js";
import type { Implementation } from "./types.js";
import type { Workload } from "./workload.js";

export const functs: Implementation = {
  name: "functs",
  method: "functs jit(vmap(hessian(f))) on the js backend (fused kernels compiled with new Function)",
  async setup(wl: Workload) {
    const { N, D, H } = wl.size;
    const A = tensor(wl.A, { shape: [H, D] });
    const b = tensor(wl.b, { shape: [H] });
    const X = tensor(wl.X, { shape: [N, D] });
    const f = (x: Tensor) => A.matmul(x).add(b).tanh().sum();

    const t0 = performance.now();
    const hessians = jit(vmap(hessian(f)));
    const run = () => hessians(X).dataSync() as Float32Array;
    const firstOutput = run();
    const firstCallMs = performance.now() - t0;
    return { run, firstCallMs, firstOutput };
  },
};
