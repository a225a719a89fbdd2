/**
 * @functs/core/testing: utilities for property tests of code written with functs, the same ones
 * the project's own tests use: fast-check arbitraries for shapes, tensors and random
 * programs, `assertAllClose`, `checkGrads` (derivatives against finite differences), and
 * `approximationErrorBound` (agreement with the reference where a backend approximates ops).
 */
export * from './approximations.js';
export * from './arbitraries.js';
export * from './assert.js';
export * from './grads.js';
export * from './programs.js';
