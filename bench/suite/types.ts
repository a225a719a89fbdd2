import type { BackendVariant } from './backends.js';

/**
 * The suite's vocabulary. A workload (bench/workloads/) yields cases: one size of one
 * computation, its float64 expectation and the systems that compute it (each functs backend
 * and every peer that applies). The runner checks each system's output against the
 * expectation before it times it, then samples the checked systems interleaved.
 */

/** Thrown by a setup that does not apply at this size: the row says why, and it is not an error. */
export class NotRun extends Error {
  override name = 'NotRun';
}

/** What a system hands back after building its computation for one case. */
export interface Ready {
  /** One run of the whole computation, readback included; its output is checked. */
  run(): Float32Array | Promise<Float32Array>;
  /** The output of the first run (made in `setup`, timed as `firstCallMs`). */
  firstOutput: Float32Array;
  /** Wall time of building the transformed function and its first run, readback included. */
  firstCallMs: number;
  /** What functs planned for the run: kernels launched and bytes they read and write. */
  plan?: { kernels: number; bytesMoved: number };
  dispose?(): void;
}

export interface SystemEntry {
  /** Row label, e.g. "functs wasm", "jax-js", "tfjs-wasm nested grad". */
  system: string;
  /** functs (any backend) or a peer it is compared with. */
  kind: 'functs' | 'peer';
  /** One line on exactly what is computed (printed under the table, saved in the JSON). */
  method: string;
  setup(): Promise<Ready>;
}

/** The float64 truth a case's outputs are checked against. */
export interface Expected {
  /** Float64 values at `positions` of the flat output (all of it when `positions` is null). */
  values: Float64Array;
  positions: Int32Array | null;
  /** Length of the whole output (checked exactly). */
  outputLength: number;
  /** What the values are, e.g. "float64 closed form, 128 of 4096 examples". */
  label: string;
}

export interface Case {
  /** Workload id (BENCH_FILTER matches it), e.g. "hessian-tanh". */
  workload: string;
  /** Size label, e.g. "D=8 H=32 N=4096". */
  variant: string;
  /** The numbers behind the label; charts draw a sweep's parameter on x. */
  params: Record<string, number>;
  /** The sweeps this point belongs to (the parameter that varies): e.g. ["N", "D"]. */
  sweeps: string[];
  /** What the figure counts, per second: "Hessians/s", "GFLOP/s", "GB/s", ... */
  unit: string;
  /** Units per run: N for Hessians/s; flops/1e9 for GFLOP/s; bytes/1e9 for GB/s. */
  perRun: number;
  /** Float64 expectation; computed once, before any system runs. */
  expected(): Expected;
  /** Relative tolerance, scaled by max(1, max |expected|). */
  relTol: number;
  systems: SystemEntry[];
}

/** A whole workload: a name, a line on what it measures, and its cases for this run. */
export interface Workload {
  id: string;
  title: string;
  /** The cases of this run, each with a system per backend variant and per peer. */
  cases(opts: { quick: boolean; backends: readonly BackendVariant[] }): Case[];
}
