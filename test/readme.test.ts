// The README's code runs as written and prints what its comments say. Each ```ts block is
// executed against the sources with console.log captured. The convention the README keeps:
// - `console.log(...); // text`: the line prints `text`;
// - `console.log(...);` followed by lines `// ...`: those lines are what it prints;
// - anything after ` — ` in such a comment is a remark, not output;
// - every console.log has its expected output, and a comment on any other code line is a
//   description, never a value (values are logged so that they are checked).
// Outputs are compared token by token, ignoring whitespace; a number in a comment stands for
// the printed number rounded to the digits shown (an integer stands for itself).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
const source = pathToFileURL(resolve('src/index.ts')).href;
const testingSource = pathToFileURL(resolve('src/testing/index.ts')).href;

interface Expectation {
  line: number;
  expected: string;
}

/** The code part of a line and its trailing `//` comment (outside string literals). */
function splitComment(line: string): [code: string, comment: string | undefined] {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
    } else if (c === "'" || c === '"' || c === '`') quote = c;
    else if (c === '/' && line[i + 1] === '/') return [line.slice(0, i), line.slice(i + 2).trim()];
  }
  return [line, undefined];
}

const withoutRemark = (text: string): string => text.split(' — ')[0].trim();

function expectations(lines: readonly string[]): Expectation[] {
  const out: Expectation[] = [];
  lines.forEach((line, i) => {
    const [code, comment] = splitComment(line);
    if (!code.includes('console.log(')) {
      if (code.trim() && comment !== undefined && /^-?[\d[{]/.test(comment)) {
        assert.fail(`README line "${line.trim()}": a value in a comment on a line that does not log it; log it (console.log) so the test checks it, or write a description`);
      }
      return;
    }
    if (comment !== undefined) {
      out.push({ line: i, expected: withoutRemark(comment) });
      return;
    }
    const following: string[] = [];
    for (let j = i + 1; j < lines.length && /^\s*\/\//.test(lines[j]); j++) following.push(lines[j].replace(/^\s*\/\/ ?/, ''));
    assert.ok(following.length > 0, `README line "${line.trim()}" logs without saying what it prints`);
    out.push({ line: i, expected: following.join('\n') });
  });
  return out;
}

const TOKEN = /-?\d+(?:\.\d+)?(?:e[+-]?\d+)?|\S/gi;

/** Whether `actual` prints as `expected` shows it: same tokens, numbers within the shown rounding. */
function matches(actual: string, expected: string): boolean {
  const a = actual.match(TOKEN) ?? [];
  const e = expected.match(TOKEN) ?? [];
  if (a.length !== e.length) return false;
  return e.every((token, k) => {
    const isNumber = /^-?\d/.test(token);
    if (!isNumber) return token === a[k];
    if (!/^-?\d/.test(a[k])) return false;
    const [mantissa, exponent] = token.toLowerCase().split('e');
    const decimals = mantissa.includes('.') ? mantissa.split('.')[1].length : 0;
    const value = Number(a[k]);
    const shown = Number(token);
    if (decimals === 0 && exponent === undefined) return Math.abs(value - shown) <= 1e-6 * Math.max(1, Math.abs(shown));
    const halfUnit = 0.5 * 10 ** (-decimals + Number(exponent ?? 0));
    return Math.abs(value - shown) <= halfUnit * (1 + 1e-9);
  });
}

test('the output matcher rounds as shown and reads every token', () => {
  assert.ok(matches('[ 1265.1318359375, 510390.625 ]', '[1265.13, 510390.63]'));
  assert.ok(!matches('[ 1265.1418359375, 510390.625 ]', '[1265.13, 510390.63]'));
  assert.ok(!matches('[ 1265.13 ]', '[1265.13, 510390.63]'));
  assert.ok(matches('6', '6') && !matches('6.4', '6') && !matches('{ a: 1 }', '{ b: 1 }'));
  assert.ok(matches('1.2651e+3', '1.265e+3') && !matches('1.2661e+3', '1.265e+3'));
});

blocks.forEach((code, i) => {
  test(`README code block ${i + 1} runs and prints what its comments say`, async () => {
    const lines = code.split('\n');
    const expected = expectations(lines);
    const printed = new Map<number, string[]>();
    const key = `__readmeLog${i}`;
    (globalThis as Record<string, unknown>)[key] = (line: number, ...values: unknown[]) => {
      printed.set(line, [...(printed.get(line) ?? []), format(...values)]);
    };
    const instrumented = lines
      .map((line, n) => line.replace(/console\.log\(/g, `${key}(${n}, `))
      .join('\n')
      .replace(/from '@functs\/core'/g, `from '${source}'`)
      .replace(/from '@functs\/core\/testing'/g, `from '${testingSource}'`);
    const dir = mkdtempSync(join(tmpdir(), 'functs-readme-'));
    try {
      const file = join(dir, `block${i}.ts`);
      writeFileSync(file, `declare const ${key}: (line: number, ...values: unknown[]) => void;\n${instrumented}\nexport {};\n`);
      await import(pathToFileURL(file).href);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      delete (globalThis as Record<string, unknown>)[key];
    }
    for (const { line, expected: text } of expected) {
      const actual = (printed.get(line) ?? []).join('\n');
      assert.ok(printed.has(line), `README block ${i + 1}: "${lines[line].trim()}" never ran`);
      assert.ok(matches(actual, text), `README block ${i + 1}: "${lines[line].trim()}" prints\n${actual}\nbut the README says\n${text}`);
    }
  });
});
