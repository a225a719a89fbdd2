// The type-level tests in test/types/ (exact result types of the transforms and pytree tools,
// and @ts-expect-error lines for misuse) must compile. `npm run typecheck` checks them too;
// this makes `npm test` catch a regression in the public types as well.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

test('the type-level tests in test/types compile', () => {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '--noEmit', '-p', 'test/types/tsconfig.json'], { encoding: 'utf8' });
  assert.equal(result.status, 0, `tsc reported:\n${result.stdout}${result.stderr}`);
});
