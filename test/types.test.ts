// The type-level tests in test/types/ (exact result types of the transforms and pytree tools, and
// lines expecting errors for misuse) and the README's code blocks must compile in strict
// mode, without casts. `npm run typecheck` checks test/types too; this makes `npm test`
// catch a regression in the public types and keeps the README honest about them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';

test('test/types and the README code blocks type-check in strict mode', () => {
  const root = resolve('.');
  const dir = mkdtempSync(join(root, 'node_modules', '.types-'));
  try {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
    const importPath = (file: string) => relative(dir, join(root, file)).replace(/\.ts$/, '.js');
    blocks.forEach((code, i) => {
      const rewritten = code
        .replace(/from '(?:functs|@functs\/core)\/testing'/g, `from '${importPath('src/testing/index.ts')}'`)
        .replace(/from '(?:functs|@functs\/core)'/g, `from '${importPath('src/index.ts')}'`);
      writeFileSync(join(dir, `readme-block-${i + 1}.ts`), `${rewritten}\nexport {};\n`);
    });
    const config = {
      extends: join(root, 'tsconfig.json'),
      compilerOptions: { noEmit: true, rootDir: root, noUnusedLocals: false },
      include: [join(root, 'test/types/*.ts'), join(dir, '*.ts')],
    };
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(config));
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const result = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8' });
    assert.ok(blocks.length >= 3, 'found the README code blocks');
    assert.equal(result.status, 0, `tsc reported:\n${result.stdout}${result.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
