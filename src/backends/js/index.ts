/**
 * The JIT CPU loop compiler: the fusion scheduler's kernels, each compiled to a specialized
 * JavaScript function (`setBackend('js')`; wasm is the default); `setBackend('interp')` selects the
 * reference interpreter it is tested against.
 */
import { fusingBackend, type KernelCompiler } from '../../fusion/program.js';
import { compileJs } from './codegen.js';

/** Compiles kernel IR to JavaScript; the buffer cap keeps argument lists short. */
export const jsCompiler: KernelCompiler = {
  name: 'js',
  maxBuffers: 32,
  compile: compileJs,
};

export const jsBackend = fusingBackend(jsCompiler);
