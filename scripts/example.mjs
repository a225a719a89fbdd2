// `npm run example -- NAME` runs examples/NAME.ts (through tsx); without a name it lists them.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const dir = new URL('../examples/', import.meta.url);
const names = readdirSync(dir).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3)).sort();
const name = process.argv[2]?.replace(/\.ts$/, '');
if (!name || !names.includes(name)) {
  console.error(`${name ? `no example '${name}'. ` : ''}Usage: npm run example -- NAME, with NAME one of: ${names.join(', ')} (FUNCTS_QUICK=1 for the small sizes the tests use)`);
  process.exit(name ? 1 : 0);
}
const result = spawnSync(process.execPath, ['--import', 'tsx', new URL(`${name}.ts`, dir).pathname, ...process.argv.slice(3)], { stdio: 'inherit' });
process.exit(result.status ?? 1);
