// The published build's V8 compile hints (scripts/eager-compile.mjs, applied by `npm run
// build`): the rewrite must leave every value and behaviour as it was. Each case is a small
// module compiled with and without the transform and run both ways; the built output is
// also checked for the shapes V8 compiles eagerly (parenthesized function expressions).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ts from 'typescript';
// @ts-expect-error: a plain .mjs build script, without declarations
import { eagerCompileHints } from '../scripts/eager-compile.mjs';

type Hints = (eager: (file: string) => boolean) => ts.TransformerFactory<ts.SourceFile>;
const hints = eagerCompileHints as Hints;

function compile(source: string, eager: boolean): string {
  return ts.transpileModule(source, {
    fileName: 'module.ts',
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
    transformers: eager ? { before: [hints(() => true)] } : undefined,
  }).outputText;
}

/** The module's exports, evaluated from its JavaScript. */
async function evaluate(js: string): Promise<Record<string, unknown>> {
  return (await import(`data:text/javascript;base64,${Buffer.from(js).toString('base64')}`)) as Record<string, unknown>;
}

/** Runs `source`'s `run` export compiled both ways: the results must be equal. */
async function sameBothWays(source: string): Promise<{ plain: unknown; hinted: unknown; js: string }> {
  const js = compile(source, true);
  const [plain, hinted] = await Promise.all([evaluate(compile(source, false)), evaluate(js)]);
  const results = [(plain.run as () => unknown)(), (hinted.run as () => unknown)()];
  assert.deepEqual(results[1], results[0]);
  return { plain: results[0], hinted: results[1], js };
}

test('top-level functions become hoisted parenthesized expressions: calls above the declaration still work', async () => {
  const { hinted, js } = await sameBothWays(`
    const early = twice(21);                       // called above its declaration
    export function twice(x: number): number { return x * 2; }
    function fib(n: number): number { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
    export function pick(x: number): number;
    export function pick(x: string): string;
    export function pick(x: number | string): number | string { return x; }
    export async function later(): Promise<number> { return 1; }
    export function* counter() { yield 1; yield 2; }
    export function run() { return [early, fib(10), pick(3), pick('a'), [...counter()], twice.name, fib.length, typeof later]; }
  `);
  assert.deepEqual(hinted, [42, 55, 3, 'a', [1, 2], 'twice', 1, 'function']);
  assert.match(js, /export const twice = \(function twice\(x\)/);
  assert.match(js, /const fib = \(function fib\(n\)/);
  assert.match(js, /export const counter = \(function\* counter\(\)/);
  // Hoisted above the statement that calls it.
  assert.ok(js.indexOf('const twice') < js.indexOf('const early'));
});

test("arrows become parenthesized function expressions unless they use their scope's this or arguments", async () => {
  const { hinted, js } = await sameBothWays(`
    class Counter {
      count = 0;
      bump = (by: number) => { this.count += by; return this.count; };   // keeps its this
      twiceEach(xs: number[]) { return xs.map((x) => x * 2); }            // no this: rewritten
      sumAll() { return [1, 2].reduce((a, b) => a + b + this.count, 0); } // this: kept
    }
    function variadic(..._rest: number[]) { return [1, 2].map(() => arguments.length); }
    const withDefault = (x: number, y = (() => x + 1)()) => x + y;
    const asyncArrow = async (x: number) => x + 1;
    export function run() {
      const c = new Counter();
      return [c.bump(2), c.bump(3), c.twiceEach([1, 2]), c.sumAll(), variadic(7, 8, 9), withDefault(1), withDefault.name, asyncArrow.name, asyncArrow(1) instanceof Promise];
    }
  `);
  assert.deepEqual(hinted, [2, 5, [2, 4], 13, [3, 3], 3, 'withDefault', 'asyncArrow', true]);
  assert.match(js, /this\.count \+= by/);
  assert.match(js, /=> a \+ b \+ this\.count/);
  assert.match(js, /=> arguments\.length/);
  assert.match(js, /xs\.map\(\(function \(x\) \{ return x \* 2; \}\)\)/);
  assert.match(js, /const asyncArrow = \(async function \(x\)/);
});

test('files the selector leaves out are emitted as tsc emits them', () => {
  const source = 'export function f() { return [1].map((x) => x); }';
  const out = ts.transpileModule(source, { fileName: 'other.ts', compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext }, transformers: { before: [hints(() => false)] } }).outputText;
  assert.equal(out, compile(source, false));
});
