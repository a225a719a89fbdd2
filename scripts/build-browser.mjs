// The browser build: one ESM file of the whole library (src/index.ts), for a page's
// <script type="module">. `node scripts/build-browser.mjs` writes dist/browser/functs.js;
// the browser test and `npm run example:browser` build it in memory with the same options.
// The browser path imports no Node built-ins (esbuild's platform 'browser' would fail on one).
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export const browserBuildOptions = {
  entryPoints: [`${root}src/index.ts`],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  sourcemap: false,
  logLevel: 'warning',
};

/** Builds the bundle; returns its text (and writes it to `outfile` when given). */
export async function buildBrowser(outfile) {
  const result = await build({ ...browserBuildOptions, ...(outfile ? { outfile, write: true } : { write: false }) });
  return outfile ? null : result.outputFiles[0].text;
}

/** gpu.js's own browser build (a classic script that defines the global GPU). */
export const gpujsBrowserScript = `${root}node_modules/gpu.js/dist/gpu-browser.min.js`;

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const outfile = `${root}dist/browser/functs.js`;
  await buildBrowser(outfile);
  console.log(`wrote ${outfile}`);
}
