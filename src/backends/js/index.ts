/**
 * The JIT CPU loop compiler: the fusion scheduler's kernels, each compiled to a specialized
 * JavaScript function, on a CPU device (typed arrays). This is functs' default backend;
 * `setBackend('interp')` selects the reference interpreter it is tested against.
 */
import { fusingBackend } from '../../fusion/program.js';
import { cpuDevice } from '../cpu.js';
import { compileJs } from './codegen.js';

/** Compiles kernel IR to JavaScript; the buffer cap keeps argument lists short. */
export const jsDevice = cpuDevice('js', { compile: compileJs, maxBuffers: 32 });

export const jsBackend = fusingBackend(jsDevice);
