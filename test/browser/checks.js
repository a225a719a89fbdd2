// Runs in the page of test/browser.test.ts: the same three computations on the gpu.js
// backend (WebGL) and on the default CPU backend, on data sent from Node.
import { tensor, vmap, hessian, grad, setBackend, registerGpuJs, explain, realize } from '/functs.js';
export { OPS };

function computations(data) {
  const x = tensor(data.x, { shape: data.xShape });
  const A = tensor(data.A, { shape: data.AShape });
  const b = tensor(data.b);
  const X = tensor(data.X, { shape: data.XShape });
  const w = tensor(data.w);
  const energy = (v) => A.matmul(v).add(b).tanh().sum();
  const loss = (v) => A.matmul(v).sub(b).square().mean();
  const fused = x.mul(0.5).add(1).sin().mul(x.exp()).sum({ axis: 1 });
  const hessians = vmap(hessian(energy))(X);
  const step = w.sub(grad(loss)(w).mul(0.1));
  // Two values over the same elements, computed in one program: one kernel with two outputs.
  const siblings = [X.tanh().mul(X), X.exp().mul(X)];
  return { fused, hessians, step, siblingA: siblings[0], siblingB: siblings[1] };
}

// Elementwise ops on 4,001 points of [-10, 10] (arguments kept in each op's domain).
const OPS = {
  exp: (t) => t.exp(), log: (t) => t.abs().add(0.01).log(), sqrt: (t) => t.abs().sqrt(),
  tanh: (t) => t.tanh(), sigmoid: (t) => t.sigmoid(), log1p: (t) => t.abs().log1p(), expm1: (t) => t.expm1(),
  pow: (t) => t.abs().pow(1.7), div: (t) => t.add(0.0025).reciprocal(), sin: (t) => t.sin(), cos: (t) => t.cos(),
};

function elementwise(points) {
  const x = tensor(points);
  return Object.fromEntries(Object.entries(OPS).map(([name, f]) => [name, Array.from(f(x).dataSync())]));
}

function read(result) {
  realize(Object.values(result));
  return Object.fromEntries(Object.entries(result).map(([k, t]) => [k, Array.from(t.dataSync())]));
}

window.runChecks = (data) => {
  const out = {};
  // The default backend, whichever it is (setBackend answers the previous one's name).
  out.cpuBackend = setBackend('interp');
  setBackend(out.cpuBackend);
  out.cpu = read(computations(data));
  out.mode = registerGpuJs(window.GPU);
  setBackend('gpujs');
  const t0 = performance.now();
  out.gpujs = read(computations(data));
  out.gpujsMs = performance.now() - t0;
  out.elementwise = elementwise(data.points);
  const again = computations(data);
  out.plan = String(explain(again.hessians)).split('\n').slice(0, 3).join('\n');
  out.siblingKernels = explain([again.siblingA, again.siblingB]).kernels.map((k) => k.outputs.length);
  setBackend(out.cpuBackend);
  const el = document.getElementById('out');
  el.textContent = `gpu.js mode: ${out.mode}\nfused, vmap(hessian), grad step on gpujs in ${out.gpujsMs.toFixed(1)} ms\n` +
    `hessians[0..3] gpujs: ${out.gpujs.hessians.slice(0, 4).map((v) => v.toFixed(5)).join(', ')}\n` +
    `hessians[0..3] ${out.cpuBackend}:    ${out.cpu.hessians.slice(0, 4).map((v) => v.toFixed(5)).join(', ')}\n\n${out.plan}`;
  return out;
};
window.checksReady = true;
