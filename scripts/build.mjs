// `npm run build`: tsc -p tsconfig.build.json (JavaScript, declarations and source maps into
// dist/), with V8 compile hints on the modules a first call runs (scripts/eager-compile.mjs):
// their functions compile with the module at import instead of one by one on first use.
// FUNCTS_EAGER=0 builds without the hints (to measure them).
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
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
const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options, projectReferences: parsed.projectReferences });
const eager = process.env.FUNCTS_EAGER !== '0';
const emitted = program.emit(undefined, undefined, undefined, false, eager ? { before: [eagerCompileHints((file) => EAGER.test(relative(root, file).replaceAll('\\', '/')))] } : undefined);
const diagnostics = [...parsed.errors, ...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics];
if (diagnostics.length) {
  const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' };
  process.stderr.write(ts.formatDiagnosticsWithColorAndContext(diagnostics, host));
}
process.exit(emitted.emitSkipped || diagnostics.some((d) => d.category === ts.DiagnosticCategory.Error) ? 1 : 0);
