// Module resolution hooks for scripts/test-built.mjs: an import that resolves to a module of
// src/ (through tsx, which maps .js specifiers to the .ts sources) loads that module as the
// build emitted it instead, from the folder in FUNCTS_BUILT_DIR. Every src module is mapped,
// so the tests and the library share one instance of each.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const src = new URL('../src/', import.meta.url).href;
const built = pathToFileURL(`${process.env.FUNCTS_BUILT_DIR}/`).href;

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  if (!resolved.url.startsWith(src) || !resolved.url.endsWith('.ts')) return resolved;
  const url = built + resolved.url.slice(src.length).replace(/\.ts$/, '.js');
  if (!existsSync(fileURLToPath(url))) throw new Error(`test-built: ${resolved.url} has no built module at ${url}`);
  return { url, format: 'module', shortCircuit: true };
}
