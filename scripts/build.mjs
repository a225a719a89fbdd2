// `npm run build`: tsc -p tsconfig.build.json (JavaScript, declarations and source maps into
// dist/), with V8 compile hints on the modules a first call runs (scripts/eager-compile.mjs):
// their functions compile with the module at import instead of one by one on first use. Then
// esbuild bundles the JavaScript of the two entries (dist/index.js, dist/testing/index.js) and
// the code they share (one dist/chunk-*.js) in place of the ~90 modules: Node's ES module
// loader costs about a millisecond of CPU per module (resolution, package scope lookups,
// file reads), half the library's import. The source maps go through both steps to src/.
// The declarations stay one per module. FUNCTS_EAGER=0 builds without the hints,
// FUNCTS_BUNDLE=0 without the bundle (bench/first-call-dist.mjs reads the phases from it;
// scripts/test-built.mjs runs the test suite on it).
import { readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import ts from 'typescript';
import { eagerCompileHints } from './eager-compile.mjs';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
/**
 * The modules of the path from a Tensor op to a running wasm kernel: building and tracing
 * nodes (lazy/), the transforms, the scheduler and lowering (fusion/), and the default
 * backend. The other backends, nn/ and testing/ stay lazily compiled: an import of the
 * library does not pay for what a program may never call.
 */
const EAGER = /^src\/(lazy|transforms|fusion|backends\/wasm)\/|^src\/backends\/(cpu|device)\.ts$/;

const parsed = ts.getParsedCommandLineOfConfigFile(resolve(root, 'tsconfig.build.json'), {}, {
  ...ts.sys,
  onUnRecoverableConfigFileDiagnostic: (d) => {
    throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  },
});
// FUNCTS_OUTDIR: another output folder than dist/ (scripts/test-built.mjs builds into scratch/).
if (process.env.FUNCTS_OUTDIR) parsed.options.outDir = resolve(root, process.env.FUNCTS_OUTDIR);
const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options, projectReferences: parsed.projectReferences });
const eager = process.env.FUNCTS_EAGER !== '0';
const emitted = program.emit(undefined, undefined, undefined, false, eager ? { before: [eagerCompileHints((file) => EAGER.test(relative(root, file).replaceAll('\\', '/')))] } : undefined);
const diagnostics = [...parsed.errors, ...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics];
if (diagnostics.length) {
  const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' };
  process.stderr.write(ts.formatDiagnosticsWithColorAndContext(diagnostics, host));
}
if (emitted.emitSkipped || diagnostics.some((d) => d.category === ts.DiagnosticCategory.Error)) process.exit(1);

if (process.env.FUNCTS_BUNDLE !== '0') {
  const dist = resolve(root, parsed.options.outDir ?? 'dist');
  const staging = resolve(root, 'dist.bundle');
  rmSync(staging, { recursive: true, force: true });
  // platform 'neutral': the same file serves Node and bundlers for the browser (the library
  // reaches Node's built-ins through process.getBuiltinModule, never an import).
  await build({
    entryPoints: [join(dist, 'index.js'), join(dist, 'testing/index.js')],
    outdir: staging,
    outbase: dist,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'neutral',
    packages: 'external',
    sourcemap: 'linked',
    sourcesContent: true,
    // No keepNames: it costs a `__name` call (Object.defineProperty) per closure created,
    // ~1,500 on a first call. Bundling renames a top-level name two modules share (`add`
    // in ops and in tensor.ts), but the exported functions keep their source's names: the
    // compile hints write top-level functions as anonymous expressions named by their
    // binding, which nothing shadows (test/package.test.ts checks every export's name).
    keepNames: false,
    logLevel: 'warning',
  });
  const files = (dir) => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]));
  for (const file of files(dist)) if (/\.js(\.map)?$/.test(file)) rmSync(file);
  for (const file of files(staging)) renameSync(file, join(dist, relative(staging, file)));
  rmSync(staging, { recursive: true, force: true });
}
