/**
 * The list of implementations the benchmark runs, in table order.
 * The first entry flagged as the reference (the hand loop) is run first for
 * every size and its output is what every other entry is checked against.
 * An implementation is one `Implementation` (bench/types.ts); functs's entry is
 * bench/functs.ts.
 */
import type { Implementation } from "./types.js";
import { handLoop, tunedHandLoop } from "./peers/hand-loop.js";
import { jaxJs } from "./peers/jax-js.js";
import { tfjsClosedForm, tfjsNestedGrad } from "./peers/tfjs.js";
import { functs, functsWasm, functsWasm2 } from "./functs.js";
import { handWasm } from "./peers/hand-wasm.js";

/** Name of the implementation whose output is the reference. */
export const REFERENCE = handLoop.name;

export const IMPLEMENTATIONS: Implementation[] = [
  handLoop, // reference: keep first
  tunedHandLoop,
  handWasm,
  functs,
  functsWasm,
  functsWasm2,
  jaxJs,
  tfjsNestedGrad,
  tfjsClosedForm,
];
