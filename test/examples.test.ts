// Every example runs to the end, in its quick mode (FUNCTS_QUICK=1), and reports that its
// check passed (the demo is one of them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const dir = new URL('../examples/', import.meta.url);

for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
  test(`examples/${file} runs and its check passes`, () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', new URL(file, dir).pathname], { encoding: 'utf8', env: { ...process.env, FUNCTS_QUICK: '1' } });
    assert.match(out, /^ok: /m);
  });
}
