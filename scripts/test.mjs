// Runs every *.test.ts under test/ and props/ with Node's built-in runner (through tsx).
// Node 20's --test takes no globs, so the files are listed here. Extra arguments are
// passed on (e.g. a path filter: npm test -- test/ops).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const flags = process.argv.slice(2).filter((a) => a.startsWith('-'));

function find(dir) {
  let out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(find(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const files = ['test', 'props'].flatMap((d) => find(d)).filter((f) => filters.length === 0 || filters.some((p) => f.includes(p))).sort();
// With no files, node --test would search the working directory on its own and run whatever
// it finds (test/browser/checks.js, a page script): say instead that the filter matched nothing.
if (files.length === 0) {
  console.error(`no test file under test/ or props/ matches ${filters.join(', ')}`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...flags, ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
