/**
 * Peak memory of batched Hessians against the size of their output (issue 9, items 3 and 4):
 * vmap's chunkSize must lower the peak under jit as it does eagerly, and the headline
 * workload's peak must stay a small multiple of its output. Each variant runs in a fresh
 * process of its own, so that its peak RSS is its own.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { hessian, jit, randn, vmap, type Tensor } from '../../src/index.js';
import { MB, peakRss, report, round } from './harness.js';

interface Variant {
  readonly name: string;
  readonly n: number;
  readonly jitted: boolean;
  readonly chunks: number;
}

const D = 8;
const H = 32;
const VARIANTS: Variant[] = [
  { name: 'eager', n: 262_144, jitted: false, chunks: 1 },
  { name: 'eager, chunkSize N/8', n: 262_144, jitted: false, chunks: 8 },
  { name: 'jit', n: 262_144, jitted: true, chunks: 1 },
  { name: 'jit, chunkSize N/8', n: 262_144, jitted: true, chunks: 8 },
  { name: 'jit (headline)', n: 1_048_576, jitted: true, chunks: 1 },
];

/** In a child: computes one variant and prints its peak above the process's baseline. */
function measure(v: Variant): void {
  const A = randn([H, D], { seed: 1 }).realize();
  const b = randn([H], { seed: 2 }).realize();
  const X = randn([v.n, D], { seed: 3 }).realize();
  const f = (x: Tensor) => A.matmul(x).add(b).tanh().sum();
  const mapped = vmap(hessian(f), v.chunks > 1 ? { chunkSize: v.n / v.chunks } : {});
  const run = v.jitted ? jit(mapped) : mapped;
  const baseline = process.memoryUsage().rss;
  const out = run(X) as Tensor;
  const values = out.dataSync();
  if (values.length !== v.n * D * D || !Number.isFinite(values[values.length - 1])) throw new Error('wrong output');
  console.log(JSON.stringify({ peak: peakRss() - baseline, output: values.byteLength }));
}

const which = process.env.STRESS_VARIANT;
if (which !== undefined) {
  measure(VARIANTS[Number(which)]);
} else {
  const peaks = new Map<string, number>();
  VARIANTS.forEach((v, i) => {
    const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], { encoding: 'utf8', env: { ...process.env, STRESS_VARIANT: String(i) } });
    if (child.status !== 0) throw new Error(`variant ${v.name} failed: ${child.stderr}`);
    const { peak, output } = JSON.parse(child.stdout.trim().split('\n').pop()!) as { peak: number; output: number };
    peaks.set(v.name, peak);
    const figures = { variant: v.name, N: v.n, 'output MB': round(output / MB), 'peak above baseline MB': round(peak / MB), 'peak / output': round(peak / output, 2) };
    // chunkSize bounds the peak under jit as it does eagerly (its chunks' intermediates reuse
    // one another's memory); both pay the concatenation of the chunks' results.
    if (v.name === 'jit, chunkSize N/8') report('peaks', figures, peak < 1.1 * peaks.get('eager, chunkSize N/8')!, 'chunkSize bounds the peak under jit as it does eagerly');
    else if (v.name === 'jit (headline)') report('peaks', figures, peak < 3 * output, 'the headline peak stays within 3x its output');
    else report('peaks', figures, true, '');
  });
}
