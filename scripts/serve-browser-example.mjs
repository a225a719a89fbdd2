// `npm run example:browser`: builds functs for the browser and serves examples/browser/
// (with gpu.js's browser build) on http://127.0.0.1:PORT/ (PORT=8080 unless given).
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { buildBrowser, gpujsBrowserScript } from './build-browser.mjs';

const dir = new URL('../examples/browser/', import.meta.url);
const bundle = await buildBrowser();
const files = {
  '/': ['text/html', () => readFileSync(new URL('index.html', dir))],
  '/main.js': ['text/javascript', () => readFileSync(new URL('main.js', dir))],
  '/functs.js': ['text/javascript', () => bundle],
  '/gpu-browser.js': ['text/javascript', () => readFileSync(gpujsBrowserScript)],
};
const port = Number(process.env.PORT ?? 8080);
createServer((req, res) => {
  const file = files[(req.url ?? '/').split('?')[0]];
  if (!file) {
    res.statusCode = 404;
    res.end('not found');
    return;
  }
  res.setHeader('content-type', file[0]);
  res.end(file[1]());
}).listen(port, '127.0.0.1', () => console.log(`functs browser example: http://127.0.0.1:${port}/ (Ctrl-C to stop)`));
