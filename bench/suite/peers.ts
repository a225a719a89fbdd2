/**
 * The peers' runtimes, started once per process: @jax-js/jax on its wasm device and
 * TensorFlow.js on @tensorflow/tfjs-backend-wasm. Start-up time is measured once and
 * reported, never counted in a first call. Versions come from the installed packages.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as jax from '@jax-js/jax';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function packageVersion(name: string): string | null {
  try {
    return (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return null;
  }
}

export const PEER_PACKAGES = ['@jax-js/jax', '@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', 'benny', 'benchmark', 'vega', 'vega-lite'];

export const startup: Record<string, number> = {};

let jaxReady: Promise<typeof jax> | null = null;
/** @jax-js/jax with the wasm device as default (single-threaded under Node: no Worker). */
export function jaxWasm(): Promise<typeof jax> {
  jaxReady ??= (async () => {
    const t0 = performance.now();
    const devices = await jax.init('wasm');
    if (!devices.includes('wasm')) throw new Error(`jax-js: no wasm device (got ${devices.join(', ')})`);
    jax.defaultDevice('wasm');
    startup['jax-js init("wasm")'] = performance.now() - t0;
    return jax;
  })();
  return jaxReady;
}

let tfReady: Promise<typeof tf> | null = null;
/** TensorFlow.js on its wasm backend (XNNPACK kernels; SIMD, one thread under Node). */
export function tfWasm(): Promise<typeof tf> {
  tfReady ??= (async () => {
    const t0 = performance.now();
    await tf.setBackend('wasm');
    await tf.ready();
    if (tf.getBackend() !== 'wasm') throw new Error(`tfjs: backend is ${tf.getBackend()}, expected wasm`);
    startup['tfjs setBackend("wasm")'] = performance.now() - t0;
    return tf;
  })();
  return tfReady;
}

/** Runs `compute` in a tidy and reads the result; every intermediate is freed. */
export function tfRead(compute: () => tf.Tensor): Float32Array {
  const out = tf.tidy(compute);
  const data = out.dataSync() as Float32Array;
  out.dispose();
  return data;
}

export type { tf };
