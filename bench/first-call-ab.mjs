/**
 * The published build's cold first call against another build's, interleaved: R rounds, each
 * one fresh process of bench/first-call-dist.mjs per build, the builds' order alternating from
 * round to round (a slow moment of a shared machine then falls on both alike). Prints per
 * build the medians (min-max) of the first call's wall and CPU milliseconds and of the
 * import's, and the median of the per-round ratios against the first build.
 *
 *   npm run build     (here, and in a checkout of the other tree)
 *   FIRST_CALL_BASE=/tmp/fc-base/dist R=20 node bench/first-call-ab.mjs
 *
 * FIRST_CALL_BASE: the other build's dist folder (required); FIRST_CALL_NEW: this one's (default
 * ../dist). Extra Node flags for the children: FIRST_CALL_NODE_FLAGS (e.g. "--no-lazy").
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const base = process.env.FIRST_CALL_BASE;
if (!base) throw new Error('first-call-ab: set FIRST_CALL_BASE to the dist folder of the build to compare against');
const builds = [
  { name: 'base', dist: base },
  { name: 'new', dist: process.env.FIRST_CALL_NEW ?? fileURLToPath(new URL('../dist', import.meta.url)) },
];
const rounds = Number(process.env.R ?? 15);
const flags = (process.env.FIRST_CALL_NODE_FLAGS ?? '').split(' ').filter(Boolean);
const script = fileURLToPath(new URL('first-call-dist.mjs', import.meta.url));
const FIELDS = ['firstCallMs', 'cpuMs', 'importMs', 'importCpuMs'];
/** Per build, per field, one value per round. */
const samples = builds.map(() => Object.fromEntries(FIELDS.map((f) => [f, []])));

for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? [0, 1] : [1, 0];
  for (const b of order) {
    const out = execFileSync(process.execPath, [...flags, script], { encoding: 'utf8', env: { ...process.env, FUNCTS_DIST: builds[b].dist }, stdio: ['ignore', 'pipe', 'inherit'] });
    const line = JSON.parse(out.trim().split('\n').at(-1));
    for (const f of FIELDS) samples[b][f].push(line[f]);
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const show = (xs) => `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)})`;
console.log(`first call from a build, ${rounds} interleaved rounds, node ${process.version}${flags.length ? ` ${flags.join(' ')}` : ''}`);
console.log(['build', 'first call ms', 'cpu ms', 'import ms', 'import cpu ms', 'first call / base', 'cpu / base'].join(' | '));
builds.forEach((build, b) => {
  const ratio = (f) => median(samples[b][f].map((x, r) => x / samples[0][f][r])).toFixed(3);
  console.log([`${build.name} (${build.dist})`, ...FIELDS.map((f) => show(samples[b][f])), ratio('firstCallMs'), ratio('cpuMs')].join(' | '));
});
