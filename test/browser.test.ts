// functs in a real browser: headless Chromium (Debian's package, through playwright-core)
// loads the ESM build of the library from a page this test serves, and computes a fused
// expression, vmap(hessian(f)) and a gradient step on the gpu.js backend (WebGL through
// Chromium's software GL, SwiftShader) and on the default CPU backend. The values are
// checked against each other and against float64 references computed here in Node.
// A screenshot of the page is kept in test-artifacts/. Skips only when Chromium cannot start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { grad, hessian, randn, tensor, vmap, withBackend, type Tensor } from '../src/index.js';
// @ts-expect-error: a plain .mjs build script without types
import { buildBrowser, gpujsBrowserScript } from '../scripts/build-browser.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const artifacts = new URL('../test-artifacts/', import.meta.url);

const PAGE = `<!doctype html>
<meta charset="utf-8"><title>functs browser test</title>
<script src="/gpu-browser.js"></script>
<script type="module" src="/checks.js"></script>
<body style="font: 14px monospace; margin: 16px"><h3>functs in the browser</h3><pre id="out">running…</pre></body>`;

async function serve(): Promise<Server> {
  const bundle = (await buildBrowser()) as string;
  const files: Record<string, [string, string]> = {
    '/': ['text/html', PAGE],
    '/functs.js': ['text/javascript', bundle],
    '/checks.js': ['text/javascript', readFileSync(new URL('browser/checks.js', import.meta.url), 'utf8')],
    '/gpu-browser.js': ['text/javascript', readFileSync(gpujsBrowserScript as string, 'utf8')],
  };
  const server = createServer((req, res) => {
    const file = files[req.url ?? ''];
    if (!file) {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.setHeader('content-type', file[0]);
    res.end(file[1]);
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  return server;
}

/** The inputs, drawn in Node and sent to the page as plain numbers. */
function inputs() {
  const data = (t: Tensor) => Array.from(t.dataSync());
  const x = randn([3, 5], { seed: 1 });
  const A = randn([12, 6], { seed: 2 }).mul(0.5);
  const b = randn([12], { seed: 3 });
  const X = randn([32, 6], { seed: 4 });
  const w = randn([6], { seed: 5 });
  const points = Array.from({ length: 4001 }, (_, i) => Math.fround(-10 + i * 0.005));
  return { points, x: data(x), xShape: [3, 5], A: data(A), AShape: [12, 6], b: data(b), X: data(X), XShape: [32, 6], w: data(w) };
}

type Data = ReturnType<typeof inputs>;

/** The same computations in float64, in Node, on the interpreter. */
type Case = 'fused' | 'hessians' | 'step' | 'siblingA' | 'siblingB';
const CASES: readonly Case[] = ['fused', 'hessians', 'step', 'siblingA', 'siblingB'];

function references(d: Data): Record<Case, number[]> {
  return withBackend('interp', () => {
    const f64 = (values: number[], shape?: number[]) => tensor(values, { dtype: 'float64', ...(shape ? { shape } : {}) });
    const x = f64(d.x, d.xShape);
    const A = f64(d.A, d.AShape);
    const b = f64(d.b);
    const energy = (v: Tensor) => A.matmul(v).add(b).tanh().sum();
    const loss = (v: Tensor) => A.matmul(v).sub(b).square().mean();
    const w = f64(d.w);
    const X = f64(d.X, d.XShape);
    return {
      siblingA: Array.from(X.tanh().mul(X).dataSync()),
      siblingB: Array.from(X.exp().mul(X).dataSync()),
      fused: Array.from(x.mul(0.5).add(1).sin().mul(x.exp()).sum({ axis: 1 }).dataSync()),
      hessians: Array.from(vmap(hessian(energy))(f64(d.X, d.XShape)).dataSync()),
      step: Array.from(w.sub(grad(loss)(w).mul(0.1)).dataSync()),
    };
  });
}

/** Largest error relative to the reference's scale (max |ref| over the array, at least 1). */
function relativeError(got: readonly number[], want: readonly number[]): number {
  assert.equal(got.length, want.length);
  const scale = Math.max(1, ...want.map(Math.abs));
  return Math.max(...got.map((g, i) => Math.abs(g - want[i]) / scale));
}

/** float64 values of the page's elementwise ops (test/browser/checks.js) at float32 points. */
const ELEMENTWISE: Record<string, (v: number) => number> = {
  exp: Math.exp, log: (v) => Math.log(Math.fround(Math.abs(v) + 0.01)), sqrt: (v) => Math.sqrt(Math.abs(v)),
  tanh: Math.tanh, sigmoid: (v) => 1 / (1 + Math.exp(-v)), log1p: (v) => Math.log1p(Math.abs(v)), expm1: Math.expm1,
  pow: (v) => Math.abs(v) ** 1.7, div: (v) => 1 / Math.fround(v + 0.0025), sin: Math.sin, cos: Math.cos,
};

/**
 * WebGL's float32 is not IEEE-exact: the bounds the gpu.js backend meets on SwiftShader
 * (README, "Which backend where"), as error / max(1, |value|); sin and cos are absolute.
 */
const ELEMENTWISE_BOUND: Record<string, number> = { sin: 5e-4, cos: 5e-4 };
const DEFAULT_ELEMENTWISE_BOUND = 1e-5;

interface PageResult {
  mode: string;
  elementwise: Record<string, number[]>;
  gpujsMs: number;
  plan: string;
  siblingKernels: number[];
  cpu: Record<Case, number[]>;
  gpujs: Record<Case, number[]>;
}

test('functs in headless Chromium: the gpu.js backend (WebGL) and the CPU backend agree with float64 references', async (t) => {
  let browser: Browser;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--no-sandbox'],
      timeout: 30_000,
    });
  } catch (e) {
    t.skip(`Chromium cannot start (${CHROMIUM}): ${(e as Error).message.split('\n')[0]}; install it with apt-get install chromium`);
    return;
  }
  const server = await serve();
  try {
    const page = await browser.newPage({ viewport: { width: 900, height: 420 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await page.waitForFunction(() => (window as unknown as { checksReady?: boolean }).checksReady === true, null, { timeout: 20_000 });
    const data = inputs();
    const result = (await page.evaluate((d) => (window as unknown as { runChecks(d: unknown): unknown }).runChecks(d), data)) as PageResult;
    assert.deepEqual(errors, []);
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: new URL('browser.png', artifacts).pathname });

    // The page ran gpu.js on WebGL, not on a CPU fallback.
    assert.match(result.mode, /^webgl2?$/);
    assert.match(result.plan, /gpujs backend/);
    // WebGL2 has kernel maps: two values over the same elements are one kernel with two outputs.
    if (result.mode === 'webgl2') assert.deepEqual(result.siblingKernels, [2]);
    const want = references(data);
    const errorsByCase: Record<string, { cpu: number; gpujs: number; between: number }> = {};
    for (const key of CASES) {
      const cpu = relativeError(result.cpu[key], want[key]);
      const gpujs = relativeError(result.gpujs[key], want[key]);
      errorsByCase[key] = { cpu, gpujs, between: relativeError(result.gpujs[key], result.cpu[key]) };
    }
    const elementwise = Object.fromEntries(Object.entries(ELEMENTWISE).map(([name, f]) => {
      const got = result.elementwise[name];
      return [name, Math.max(...data.points.map((v, i) => Math.abs(got[i] - f(v)) / Math.max(1, Math.abs(f(v)))))];
    }));
    writeFileSync(new URL('browser.json', artifacts), JSON.stringify({ mode: result.mode, gpujsMs: result.gpujsMs, errors: errorsByCase, elementwise }, null, 2));
    for (const [name, error] of Object.entries(elementwise)) {
      const bound = ELEMENTWISE_BOUND[name] ?? DEFAULT_ELEMENTWISE_BOUND;
      assert.ok(error < bound, `${name} on WebGL is off by ${error} (bound ${bound})`);
    }
    for (const key of CASES) {
      const { cpu, gpujs } = errorsByCase[key];
      // The CPU backend rounds every op to float32; the WebGL kernels also accumulate in
      // float32 and use the GPU's transcendentals (README: the tolerance gpu.js meets).
      assert.ok(cpu < 1e-5, `${key}: the CPU backend in the page is off by ${cpu} (relative to the largest value)`);
      // The fused expression goes through sin (SwiftShader's is good to 2e-4 absolute, times e^x).
      const bound = key === 'fused' ? 2e-3 : 1e-5;
      assert.ok(gpujs < bound, `${key}: the gpu.js backend is off by ${gpujs} (relative to the largest value; bound ${bound})`);
    }
  } finally {
    await browser.close();
    await new Promise((done) => server.close(done));
  }
});
