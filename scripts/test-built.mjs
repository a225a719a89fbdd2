// The test suite run on the published build's JavaScript instead of the TypeScript sources:
// `npm run build`'s tsc step with its compile hints (scripts/eager-compile.mjs rewrites
// functions, classes' methods and arrows), unbundled, into scratch/built, and every import
// of a src/ module mapped to its built module (scripts/test-built-hooks.mjs). The tests
// themselves still run through tsx. Arguments as for `npm test` (path filters, flags):
//   node scripts/test-built.mjs                 (all of test/ and props/)
//   node scripts/test-built.mjs test/wasm        (the files whose path contains test/wasm)
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const out = join(root, 'scratch', 'built');
rmSync(out, { recursive: true, force: true });
const build = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { stdio: 'inherit', env: { ...process.env, FUNCTS_BUNDLE: '0', FUNCTS_OUTDIR: out } });
if (build.status !== 0) process.exit(build.status ?? 1);

const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const flags = process.argv.slice(2).filter((a) => a.startsWith('-'));
const find = (dir) => readdirSync(dir).flatMap((name) => {
  const path = join(dir, name);
  return statSync(path).isDirectory() ? find(path) : name.endsWith('.test.ts') ? [path] : [];
});
const files = ['test', 'props'].flatMap((d) => find(join(root, d))).filter((f) => filters.length === 0 || filters.some((p) => f.includes(p))).sort();
if (files.length === 0) {
  console.error(`no test file under test/ or props/ matches ${filters.join(', ')}`);
  process.exit(1);
}
const hooks = pathToFileURL(join(root, 'scripts', 'test-built-hooks.mjs')).href;
const register = `data:text/javascript,import { register } from 'node:module'; register(${JSON.stringify(hooks)});`;
const reporter = flags.some((f) => f.startsWith('--test-reporter')) ? [] : ['--test-reporter=spec'];
const result = spawnSync(process.execPath, ['--import', 'tsx', '--import', register, '--test', ...reporter, ...flags, ...files], { stdio: 'inherit', cwd: root, env: { ...process.env, FUNCTS_BUILT_DIR: out } });
process.exit(result.status ?? 1);
