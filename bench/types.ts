import type { Workload } from "./workload.js";

/** What an implementation hands back after setup for one workload. */
export interface Prepared {
  /**
   * Compute all N Hessians for the workload's X and return them as a
   * row-major Float32Array [N, D, D]. Must include any device->host readback
   * (the timing loop awaits the result). Inputs that live on a device may be
   * uploaded once in setup and reused.
   */
  run(): Float32Array | Promise<Float32Array>;
  /**
   * Wall time of the first call, measured inside setup: everything from
   * building the transformed function (trace + compile) through the first run
   * and its readback. One-time library init (e.g. loading a wasm backend) is
   * excluded; report it via `note` if relevant.
   */
  firstCallMs: number;
  /** The output of that first call (also checked against the reference). */
  firstOutput: Float32Array;
  /** Free device memory / compiled functions after timing. */
  dispose?(): void;
  /** Extra info printed under the table (e.g. "init 12 ms, excluded"). */
  note?: string;
}

export interface Implementation {
  /** Row label, e.g. "hand-loop", "jax-js jit(vmap(hessian))". */
  name: string;
  /** One-line description of what exactly is computed (printed + saved). */
  method: string;
  setup(w: Workload): Promise<Prepared>;
}

/** Time `fn` once (ms) and return its awaited result. */
export async function timeOnce<T>(fn: () => T | Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, performance.now() - t0];
}
