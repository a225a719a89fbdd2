// The README's code must run as written: each ```ts block is executed against the sources.
import { test } from 'node:test';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
const source = pathToFileURL(resolve('src/index.ts')).href;

blocks.forEach((code, i) => {
  test(`README code block ${i + 1} runs`, async () => {
    const dir = mkdtempSync(join(resolve('node_modules'), '.readme-'));
    const file = join(dir, `block${i}.ts`);
    const rewritten = code.replace(/from '@functs/core'/g, `from '${source}'`).replace(/from '@functs\/core\/testing'/g, `from '${pathToFileURL(resolve('src/testing/index.ts')).href}'`);
    writeFileSync(file, rewritten.replace(/console\.log\(/g, 'void (') + '\nexport {};\n');
    await import(pathToFileURL(file).href);
  });
});
