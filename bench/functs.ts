/**
 * functs: jit(vmap(hessian(f))) on each CPU backend: js (fused kernels compiled with
 * new Function, the default) and wasm (the same kernels as WebAssembly, f32x4 loops). A, b
 * and X are functs tensors built once from the workload's arrays (not timed); A and b are
 * captured by f, as in the jax-js entry.
 */
import { hessian, jit, setThreads, tensor, vmap, withBackend, type Tensor } from "../src/index.js";
import type { Implementation } from "./types.js";
import type { Workload } from "./workload.js";

/** The headline's A, b and X as functs tensors, and f(x) = sum(tanh(A x + b)) closing over A and b. */
export function headlineTensors(wl: Workload): { A: Tensor; b: Tensor; X: Tensor; f: (x: Tensor) => Tensor } {
  const { N, D, H } = wl.size;
  const A = tensor(wl.A, { shape: [H, D] });
  const b = tensor(wl.b, { shape: [H] });
  return { A, b, X: tensor(wl.X, { shape: [N, D] }), f: (x: Tensor) => A.matmul(x).add(b).tanh().sum() };
}

/** `threads`: the wasm backend's thread count for this entry's calls (set around each call, so entries interleave). */
function functsOn(backend: "js" | "wasm" | undefined, name: string, method: string, threads?: number): Implementation {
  return {
    name,
    method,
    async setup(wl: Workload) {
      const { X, f } = headlineTensors(wl);

      const t0 = performance.now();
      const hessians = jit(vmap(hessian(f)));
      const call = () => (backend === undefined ? (hessians(X).dataSync() as Float32Array) : withBackend(backend, () => hessians(X).dataSync() as Float32Array));
      const run = () => {
        if (threads === undefined) return call();
        const previous = setThreads(threads);
        try {
          return call();
        } finally {
          setThreads(previous);
        }
      };
      const firstOutput = run();
      const firstCallMs = performance.now() - t0;
      return { run, firstCallMs, firstOutput };
    },
  };
}

export const functs = functsOn("js", "functs", "functs jit(vmap(hessian(f))) on the js backend (fused kernels compiled with new Function)");
export const functsWasm = functsOn("wasm", "functs wasm", "functs jit(vmap(hessian(f))) on the wasm backend (the same kernels as WebAssembly, f32x4 loops, one thread)", 1);
export const functsWasm2 = functsOn("wasm", "functs wasm 2t", "functs jit(vmap(hessian(f))) on the wasm backend with 2 threads (outermost loops split in chunks between the main thread and a worker)", 2);
export const functsDefault = functsOn(undefined, "functs default", "functs jit(vmap(hessian(f))) as a user calls it: the default backend (wasm) and thread count, nothing set");
