/**
 * @jax-js/jax 0.1.25: jit(vmap(hessian(f))) on the wasm device.
 *
 * API notes (from node_modules/@jax-js/jax/dist/index.d.ts and the bundle):
 *  - `await init("wasm")` initializes backends (the wasm backend is in fact
 *    created eagerly at import time when WebAssembly exists, and is already
 *    the default device); `defaultDevice("wasm")` pins it explicitly.
 *  - The numpy-like namespace is the `numpy` export (`import { numpy as np }`).
 *  - `hessian(f)` is `jacfwd(grad(f))` and only takes f(x) of ONE argument,
 *    so A and b are closed over; `jit` captures them as constants.
 *  - Arrays use move semantics with reference counting: every op consumes its
 *    inputs, so reused arrays must be passed as `x.ref` (incl. inside f, which
 *    is traced by jit).
 *  - Execution is lazy; `await out.data()` dispatches, waits, copies the
 *    result out as a Float32Array AND disposes `out`.
 *  - jit's JitOpts type only has `staticArgnums` (its doc comment mentions a
 *    `device` option that isn't in the type); we use the default device.
 *  - Under Node 20 there is no global `Worker`, so the wasm backend's worker
 *    pool is disabled and kernels run synchronously on the main thread
 *    (single-threaded); in a browser it would use navigator.hardwareConcurrency
 *    workers over SharedArrayBuffer.
 */
import * as jax from "@jax-js/jax";
import type { Implementation } from "../types.js";
import type { Workload } from "../workload.js";

const np = jax.numpy;

let initMs = -1;
let initPromise: Promise<void> | null = null;
function ensureInit(): Promise<void> {
  if (!initPromise) {
    initPromise = (async () => {
      const t0 = performance.now();
      const devs = await jax.init("wasm");
      if (!devs.includes("wasm")) throw new Error(`jax-js wasm backend unavailable (got ${devs.join(",")})`);
      jax.defaultDevice("wasm");
      initMs = performance.now() - t0;
    })();
  }
  return initPromise;
}

export const jaxJs: Implementation = {
  name: "jax-js",
  method: "@jax-js/jax 0.1.25 jit(vmap(hessian(f))) on wasm device (hessian = jacfwd(grad))",
  async setup(wl: Workload) {
    await ensureInit();
    const { N, D, H } = wl.size;
    // Inputs uploaded once (not timed); A, b become jit constants via closure.
    const A = np.array(wl.A, { shape: [H, D], dtype: np.float32 });
    const b = np.array(wl.b, { shape: [H], dtype: np.float32 });
    const X = np.array(wl.X, { shape: [N, D], dtype: np.float32 });

    const f = (x: jax.Array) => np.sum(np.tanh(np.matmul(A.ref, x).add(b.ref)));

    const t0 = performance.now();
    const hess = jax.jit(jax.vmap(jax.hessian(f)));
    const run = async (): Promise<Float32Array> => {
      const out = hess(X.ref); // [N, D, D]
      return (await out.data()) as Float32Array; // data() disposes `out`
    };
    const firstOutput = await run();
    const firstCallMs = performance.now() - t0;

    return {
      run,
      firstCallMs,
      firstOutput,
      note: `jax.init("wasm") took ${initMs.toFixed(1)} ms once per process (excluded from first-call)`,
      dispose() {
        hess.dispose();
        A.dispose();
        b.dispose();
        X.dispose();
      },
    };
  },
};
