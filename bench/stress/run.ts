/**
 * The stress suite (`npm run stress`): each scenario runs at full size in a fresh process
 * (so that peak RSS is its own), prints its checks, and this runner gathers them into one
 * table. Exits non-zero when any check fails. Minutes, not part of `npm test`.
 *   npm run stress                  # every scenario
 *   npm run stress -- loops caches  # only these
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Check } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const scenarios = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && !['run.ts', 'harness.ts'].includes(f))
  .map((f) => f.replace(/\.ts$/, ''))
  .filter((name) => wanted.length === 0 || wanted.includes(name));

let failures = 0;
for (const name of scenarios) {
  console.log(`\n== ${name}`);
  const started = performance.now();
  const child = spawnSync(process.execPath, ['--import', 'tsx', join(here, `${name}.ts`)], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  const seconds = (performance.now() - started) / 1000;
  const checks = (child.stdout ?? '').split('\n').filter((l) => l.startsWith('STRESS ')).map((l) => JSON.parse(l.slice(7)) as Check);
  for (const c of checks) {
    const figures = Object.entries(c.figures).map(([k, v]) => `${k}: ${v}`).join(' | ');
    console.log(`${c.ok ? 'ok  ' : 'FAIL'} ${figures}${c.ok ? '' : `  <- ${c.why}`}`);
  }
  if (child.status !== 0 || checks.length === 0) {
    failures++;
    console.log(`FAIL ${name} exited with ${child.status ?? child.signal} after ${seconds.toFixed(1)} s`);
    console.log((child.stderr ?? '').split('\n').slice(-15).join('\n'));
  } else {
    console.log(`(${seconds.toFixed(1)} s)`);
  }
}
console.log(`\n${scenarios.length - failures} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
