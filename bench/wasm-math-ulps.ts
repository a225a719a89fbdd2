/**
 * The error profile of the wasm backend's f32x4 tanh, in ulps of the exact value (Math.tanh
 * in float64), over every STRIDE-th float32 (default 17) of each range of |x|; BASE=<checkout>
 * profiles another checkout's beside it. An accuracy measurement, not a timing.
 *   BASE=/work/wt/base npx tsx bench/wasm-math-ulps.ts
 */
import { emitVectorMathModule } from '../src/backends/wasm/compile.js';
import { ulp32 } from '../src/backends/wasm/accuracy.js';

type MathModule = { tanh: (x: number) => number };
const load = (bytes: Uint8Array<ArrayBuffer>): MathModule => new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as MathModule;
const trees: [string, MathModule][] = [['this tree', load(emitVectorMathModule())]];
const base = process.env.BASE;
if (base) trees.push([base, load(((await import(`${base}/src/backends/wasm/compile.ts`)) as { emitVectorMathModule: () => Uint8Array<ArrayBuffer> }).emitVectorMathModule())]);
const stride = Number(process.env.STRIDE ?? 17);
const f32 = new Float32Array(1);
const bits = new Uint32Array(f32.buffer);
const ranges: [number, number][] = [[2 ** -14, 2 ** -6], [2 ** -6, 0.25], [0.25, 0.55], [0.55, 1], [1, 2], [2, 4], [4, 6], [6, 9.5], [9.5, 12]];
for (const [lo, hi] of ranges) {
  f32[0] = lo;
  const first = bits[0];
  f32[0] = hi;
  const last = bits[0];
  const worst = trees.map(() => [0, 0]);
  for (let b = first; b < last; b += stride) {
    bits[0] = b;
    const x = f32[0];
    const exact = Math.tanh(x);
    trees.forEach(([, m], k) => {
      const ulps = Math.abs(m.tanh(x) - exact) / ulp32(exact);
      if (ulps > worst[k][0]) worst[k] = [ulps, x];
    });
  }
  console.log(`|x| in [${lo.toPrecision(3)}, ${hi}): ` + trees.map(([name], k) => `${name} ${worst[k][0].toFixed(2)} ulps (at ${worst[k][1].toPrecision(6)})`).join(', '));
}
