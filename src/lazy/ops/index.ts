export * from './core.js';
export * from './creation.js';
export * from './elementwise.js';
export * from './movement.js';
export * from './reduce.js';
export * from './linalg.js';
export * from './loss.js';
export * from './decompositions.js';
