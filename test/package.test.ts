// What a user of the published package gets: the main entry imports no package at all
// (fast-check is an optional peer used only by @functs/core/testing), and the packed
// tarball installs, typechecks and runs under each moduleResolution the README promises.
// The tarball test builds, packs and runs tsc three times (about 40 s on an idle machine),
// so it runs only with FUNCTS_PACK=1 (`FUNCTS_PACK=1 npm test -- test/package`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile as execFileCallback } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';

const execFile = promisify(execFileCallback);
const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  devDependencies?: Record<string, string>;
  files?: string[];
};

/**
 * Every module specifier reachable from `entry` through static imports, re-exports,
 * dynamic imports and `import('...')` types, following the relative ones. Returns the
 * bare specifiers (packages and node: builtins) with the file that imports each.
 */
function externalImports(entry: string): Map<string, string> {
  const seen = new Set<string>();
  const external = new Map<string, string>();
  const queue = [entry];
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) {
        if (!external.has(fileName)) external.set(fileName, file);
        continue;
      }
      const target = resolve(dirname(file), fileName).replace(/\.js$/, '.ts');
      assert.ok(existsSync(target), `${file} imports ${fileName}, which does not resolve to a .ts source`);
      queue.push(target);
    }
  }
  return external;
}

test('the main entry imports no package: the published package has no dependencies', () => {
  const imports = externalImports(join(root, 'src/index.ts'));
  assert.deepEqual([...imports].filter(([spec]) => !spec.startsWith('node:')), []);
  assert.deepEqual(pkg.dependencies ?? {}, {});
});

test('the import walk sees fast-check where it is used (the testing entry)', () => {
  assert.ok(externalImports(join(root, 'src/testing/index.ts')).has('fast-check'));
});

test('fast-check is an optional peer and a devDependency, not a dependency', () => {
  assert.equal(pkg.name, '@functs/core');
  assert.ok(pkg.peerDependencies?.['fast-check']);
  assert.equal(pkg.peerDependenciesMeta?.['fast-check']?.optional, true);
  assert.equal(pkg.devDependencies?.['fast-check'], pkg.peerDependencies?.['fast-check']);
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  assert.equal(lock.name, pkg.name);
  assert.equal(lock.packages[''].name, pkg.name);
  assert.deepEqual(lock.packages[''].dependencies ?? {}, {});
});

// The consumer: touches the main entry and the testing entry, and prints what it computed.
const consumer = `
import { tensor, grad, type Tensor } from '@functs/core';
import { assertAllClose } from '@functs/core/testing';
declare const console: { log(...values: unknown[]): void };
const slope: Tensor = grad((x: Tensor) => x.square().sum())(tensor([1, 2, 3]));
assertAllClose(slope, tensor([2, 4, 6]));
console.log(JSON.stringify(slope.toArray()));
`;
const mainOnly = `
import { tensor } from '@functs/core';
declare const console: { log(...values: unknown[]): void };
console.log(JSON.stringify(tensor([1, 2]).add(1).toArray()));
`;

const resolutions = [
  { moduleResolution: 'node16', module: 'node16' },
  { moduleResolution: 'nodenext', module: 'nodenext' },
  { moduleResolution: 'bundler', module: 'esnext' },
] as const;

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const tsc = join(root, 'node_modules/typescript/lib/tsc.js');

const packSkip = process.env.FUNCTS_PACK === '1' ? false : 'set FUNCTS_PACK=1 to build, pack and install the package';

test('the packed tarball installs with no dependencies, typechecks under node16, nodenext and bundler, and runs', { timeout: 300_000, skip: packSkip }, async () => {
  const work = mkdtempSync(join(tmpdir(), 'functs-pack-'));
  try {
    await execFile(npm, ['run', 'build'], { cwd: root });
    assert.ok(!readdirSync(join(root, 'dist')).some((f) => f.endsWith('.test.js')), 'dist holds only the library');
    const { stdout } = await execFile(npm, ['pack', '--json', '--pack-destination', work], { cwd: root });
    const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    const shipped = packed.files.map((f) => f.path);
    assert.ok(shipped.includes('LICENSE') && shipped.includes('README.md') && shipped.includes('dist/index.js'));
    assert.ok(shipped.every((p) => /^(dist\/|LICENSE$|README\.md$|package\.json$)/.test(p)), `unexpected files in the tarball: ${shipped.filter((p) => !p.startsWith('dist/'))}`);
    // A source map must carry its sources, since src/ is not shipped. The build bundles the
    // modules (scripts/build.mjs): every shipped map carries all of its sources, src/index.ts among them.
    const maps = shipped.filter((p) => p.endsWith('.js.map')).map((p) => JSON.parse(readFileSync(join(root, p), 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] });
    assert.ok(maps.length > 0, 'no source maps shipped');
    for (const map of maps) assert.ok(map.sources.every((_, i) => typeof map.sourcesContent?.[i] === 'string'), `a source map lacks sourcesContent for ${map.sources.join(', ')}`);
    const entry = maps.flatMap((m) => m.sources.map((source, i) => ({ source, content: m.sourcesContent?.[i] ?? '' }))).find((s) => s.source.endsWith('src/index.ts'));
    assert.ok(entry?.content.includes('export'), 'no shipped source map carries src/index.ts');
    // The bundle renames top-level names two modules share unless told to keep them: every
    // exported function must keep its source's name (stack traces, `jit.name`).
    const [built, source] = await Promise.all([import(pathToFileURL(join(root, 'dist/index.js')).href), import('../src/index.js')]);
    const renamed = Object.entries(source as Record<string, unknown>).filter(([name, value]) => typeof value === 'function' && (built as Record<string, { name?: string }>)[name]?.name !== value.name);
    assert.deepEqual(renamed.map(([name]) => name), [], 'exported functions renamed by the bundle');

    const project = join(work, 'consumer');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    await execFile(npm, ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', join(work, packed.filename)], { cwd: project });
    const installed = readdirSync(join(project, 'node_modules')).filter((d) => !d.startsWith('.'));
    assert.deepEqual(installed, ['@functs'], 'installing the package pulls in nothing else');

    // Without fast-check the main entry works on its own.
    writeFileSync(join(project, 'main-only.mjs'), mainOnly.replace(/^declare .*$/m, ''));
    const alone = await execFile(process.execPath, ['main-only.mjs'], { cwd: project });
    assert.equal(alone.stdout.trim(), '[2,3]');

    // The testing entry needs the optional peer: link the repository's copy in.
    symlinkSync(join(root, 'node_modules/fast-check'), join(project, 'node_modules/fast-check'), 'dir');
    writeFileSync(join(project, 'index.ts'), consumer);
    await Promise.all(
      resolutions.map(async ({ moduleResolution, module }) => {
        const config = {
          compilerOptions: { target: 'ES2022', module, moduleResolution, strict: true, skipLibCheck: false, types: [], outDir: `out-${moduleResolution}` },
          files: ['index.ts'],
        };
        writeFileSync(join(project, `tsconfig.${moduleResolution}.json`), JSON.stringify(config));
        try {
          await execFile(process.execPath, [tsc, '-p', `tsconfig.${moduleResolution}.json`], { cwd: project });
        } catch (error) {
          const { stdout: out } = error as { stdout: string };
          assert.fail(`moduleResolution ${moduleResolution}: the consumer does not typecheck:\n${out}`);
        }
        const run = await execFile(process.execPath, [join(`out-${moduleResolution}`, 'index.js')], { cwd: project });
        assert.equal(run.stdout.trim(), '[2,4,6]', `moduleResolution ${moduleResolution}`);
      }),
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
