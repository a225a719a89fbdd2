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
  // Anonymous: the declaration names each one (twice.name above), and no inner name shadows the binding.
  assert.match(js, /export const twice = \(function \(x\)/);
  assert.match(js, /const fib = \(function \(n\)/);
  assert.match(js, /export const counter = \(function\* \(\)/);
  // Hoisted above the statement that calls it.
  assert.ok(js.indexOf('const twice') < js.indexOf('const early'));
});

test("arrows become parenthesized function expressions; one that reads its function's this reads it from a const instead; arguments, field initializers and parameter lists keep theirs", async () => {
  const { hinted, js } = await sameBothWays(`
    class Counter {
      count = 0;
      bump = (by: number) => { this.count += by; return this.count; };   // a field initializer: keeps its this
      twiceEach(xs: number[]) { return xs.map((x) => x * 2); }            // no this: rewritten
      sumAll() { return [1, 2].reduce((a, b) => a + b + this.count, 0); } // this: from a const
      nested() { return [1].map((a) => [2].map((b) => a + b + this.count)); } // both from the same const
      args(..._xs: number[]) { return [0].map(() => arguments.length + this.count); } // arguments: kept
      later(f = () => this.count) { return f(); }                          // a parameter list: kept
    }
    class Derived extends Counter {
      seen: number[];
      constructor() { super(); this.seen = [1, 2].map((x) => x + this.count); } // no this before super(): kept
    }
    function variadic(..._rest: number[]) { return [1, 2].map(() => arguments.length); }
    const withDefault = (x: number, y = (() => x + 1)()) => x + y;
    const asyncArrow = async (x: number) => x + 1;
    export function run() {
      const c = new Counter();
      return [c.bump(2), c.bump(3), c.twiceEach([1, 2]), c.sumAll(), c.nested(), c.args(1, 2), c.later(), new Derived().seen, variadic(7, 8, 9), withDefault(1), withDefault.name, asyncArrow.name, asyncArrow(1) instanceof Promise];
    }
  `);
  assert.deepEqual(hinted, [2, 5, [2, 4], 13, [[8]], [7], 5, [1, 2], [3, 3], 3, 'withDefault', 'asyncArrow', true]);
  assert.match(js, /this\.count \+= by/);
  assert.match(js, /sumAll: \(function \(\) \{ const (\w+) = this; return \[1, 2\]\.reduce\(\(function \(a, b\) \{ return a \+ b \+ \1\.count; \}\), 0\); \}\)/);
  assert.match(js, /nested: \(function \(\) \{ const (\w+) = this; return \[1\]\.map\(\(function \(a\) \{ return \[2\]\.map\(\(function \(b\) \{ return a \+ b \+ \1\.count; \}\)\); \}\)\); \}\)/);
  assert.match(js, /=> arguments\.length \+ this\.count/);
  assert.match(js, /later: \(function \(f = \(\) => this\.count\) \{ return f\(\); \}\)/);
  assert.match(js, /\[1, 2\]\.map\(\(x\) => x \+ this\.count\)/);
  assert.match(js, /=> arguments\.length\)/);
  assert.match(js, /xs\.map\(\(function \(x\) \{ return x \* 2; \}\)\)/);
  assert.match(js, /const asyncArrow = \(async function \(x\)/);
});

test("an object literal's methods become properties holding parenthesized function expressions, named by their keys; one using super stays a method", async () => {
  const { hinted, js } = await sameBothWays(`
    const base = { greet() { return 'base'; } };
    const spec = {
      scale: 2,
      apply(x: number) { return x * this.scale; },
      'with-dash'(x: number) { return [x].map((v) => v + this.scale); },
      *pairs() { yield this.scale; },
      get doubled() { return this.scale * 2; },
      greet() { return 'derived ' + super.greet(); },
    };
    Object.setPrototypeOf(spec, base);
    export function run() {
      return [spec.apply(3), spec['with-dash'](1), [...spec.pairs()], spec.doubled, spec.greet(), spec.apply.name, spec['with-dash'].name, Object.keys(spec)];
    }
  `);
  assert.deepEqual(hinted, [6, [3], [2], 4, 'derived base', 'apply', 'with-dash', ['scale', 'apply', 'with-dash', 'pairs', 'doubled', 'greet']]);
  assert.match(js, /apply: \(function \(x\) \{ return x \* this\.scale; \}\)/);
  assert.match(js, /'with-dash': \(function \(x\) \{ const (\w+) = this; return \[x\]\.map\(\(function \(v\) \{ return v \+ \1\.scale; \}\)\); \}\)/);
  assert.match(js, /pairs: \(function\* \(\)/);
  assert.match(js, /get doubled\(\) \{/);
  assert.match(js, /greet\(\) \{ return 'derived ' \+ super\.greet\(\); \}/);
});

test('files the selector leaves out are emitted as tsc emits them', () => {
  const source = 'export function f() { return [1].map((x) => x); }';
  const out = ts.transpileModule(source, { fileName: 'other.ts', compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext }, transformers: { before: [hints(() => false)] } }).outputText;
  assert.equal(out, compile(source, false));
});

test("class methods move onto the prototype as parenthesized expressions, with a method's property descriptor and name, unless their place in the class body matters", async () => {
  const { hinted, js } = await sameBothWays(`
    class Base {
      x = 1;
      constructor(private readonly z: number) {}
      plus(a: number): number { return a + this.x + this.z; }   // moved
      twice(a: number): number;
      twice(a: string): string;
      twice(a: number | string): number | string { return typeof a === 'number' ? a * 2 : a + a; } // moved, overloads dropped
      async later(): Promise<number> { return this.x; }         // moved
      *count() { yield this.x; yield this.z; }                  // moved
      var() { return 'var'; }                                    // a reserved word: moved, still named var
      static make(z: number): Base { return new Base(z); }      // moved to the class
      get doubled(): number { return this.x * 2; }              // accessors stay
    }
    function emit() { return 'outer'; }
    class Derived extends Base {
      plus(a: number): number { return super.plus(a) * 10; }    // super: stays
      emit() { return emit(); }                                 // the module's emit, not itself
      #secret = 5;
      peek() { return this.#secret; }                           // private name: stays
      arrows(xs: number[]) { return xs.map((v) => v + this.x); }
    }
    class Eager { static made = Eager.make(); static make() { return new Eager(); } hi() { return 'hi'; } } // runs code while defined: kept whole
    const describe = (o: object, k: string) => { const d = Object.getOwnPropertyDescriptor(o, k)!; return [typeof d.value, d.writable, d.enumerable, d.configurable, (d.value as { name: string }).name]; };
    export function run() {
      const d = new Derived(3);
      return [
        d.plus(1), d.twice(4), d.twice('ab'), [...d.count()], d.var(), d.emit(), d.peek(), d.arrows([1, 2]), d.doubled,
        Base.make(2).plus(0), Eager.made.hi(), d.later() instanceof Promise,
        Object.keys(Base.prototype), Object.keys(Base),
        describe(Base.prototype, 'plus'), describe(Base.prototype, 'count'), describe(Base.prototype, 'var'), describe(Base, 'make'), describe(Derived.prototype, 'peek'),
        Object.getOwnPropertyNames(Base.prototype).sort(), Object.getOwnPropertyNames(Derived.prototype).sort(),
      ];
    }
  `);
  const method = (name: string) => ['function', true, false, true, name];
  assert.deepEqual(hinted, [
    50, 8, 'abab', [1, 3], 'var', 'outer', 5, [2, 3], 2, 3, 'hi', true, [], [],
    method('plus'), method('count'), method('var'), method('make'), method('peek'),
    ['constructor', 'count', 'doubled', 'later', 'plus', 'twice', 'var'], ['arrows', 'constructor', 'emit', 'peek', 'plus'],
  ]);
  const defined = (target: string, body: string) => new RegExp(`for \\(const \\[(\\w+), (\\w+)\\] of Object\\.entries\\(\\{\\s*${body}[^]*?\\}\\)\\)\\s*Object\\.defineProperty\\(${target}, \\1, \\{ value: \\2, writable: true, configurable: true \\}\\);`);
  assert.match(js, defined('Base\\.prototype', 'plus: \\(function \\(a\\)'));
  assert.match(js, defined('Base', 'make: \\(function \\(z\\)'));
  assert.match(js, /twice: \(function \(a\)/);
  assert.match(js, /later: \(async function \(\)/);
  assert.match(js, /count: \(function\* \(\)/);
  assert.match(js, /var: \(function \(\)/);
  assert.match(js, /emit: \(function \(\) \{ return emit\(\); \}\)/);
  assert.match(js, /arrows: \(function \(xs\)/);
  for (const kept of [/\n\s*get doubled\(\) \{/, /\n\s*plus\(a\) \{ return super\.plus/, /\n\s*peek\(\) \{ return this\.#secret/, /\n\s*hi\(\) \{ return 'hi'/]) assert.match(js, kept);
});
