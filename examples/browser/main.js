// The browser example: batched Hessians on the user's GPU (gpu.js over WebGL) and on the
// CPU, with the time each took. Served by `npm run example:browser`, which builds functs
// for the browser (scripts/build-browser.mjs) and serves it as ./functs.js.
import { randn, vmap, hessian, jit, setBackend, registerGpuJs, explain } from './functs.js';

const log = document.getElementById('log');
const results = document.getElementById('results');

function row(cells) {
  const tr = document.createElement('tr');
  for (const c of cells) tr.appendChild(Object.assign(document.createElement('td'), { textContent: c }));
  results.appendChild(tr);
}

/** Runs the workload on the active backend: the first call (compiling) and a warm one. */
function measure(D, N) {
  const A = randn([32, D], { seed: 1 }).realize();
  const b = randn([32], { seed: 2 }).realize();
  const X = randn([N, D], { seed: 3 }).realize();
  const hessians = jit(vmap(hessian((x) => A.matmul(x).add(b).tanh().sum())));
  let t0 = performance.now();
  hessians(X).dataSync();
  const first = performance.now() - t0;
  t0 = performance.now();
  const values = hessians(X).dataSync();
  const warm = performance.now() - t0;
  return { first, warm, values, plan: explain(hessians, X) };
}

async function run() {
  const D = Number(document.getElementById('dim').value);
  const N = Number(document.getElementById('count').value);
  log.textContent = `computing ${N} Hessians of size ${D}×${D}…`;
  await new Promise((r) => setTimeout(r, 20));
  const cpuName = setBackend('js');
  setBackend(cpuName);
  const cpu = measure(D, N);
  let mode = 'unavailable';
  let gpu = null;
  try {
    mode = registerGpuJs(window.GPU);
    setBackend('gpujs');
    gpu = measure(D, N);
  } catch (e) {
    log.textContent = `gpu.js could not run: ${e.message}`;
  } finally {
    setBackend(cpuName);
  }
  row([cpuName, 'cpu', `${cpu.first.toFixed(0)} ms`, `${cpu.warm.toFixed(1)} ms`, Math.round(N / (cpu.warm / 1000)).toLocaleString(), '—']);
  if (gpu) {
    let diff = 0;
    for (let i = 0; i < cpu.values.length; i++) diff = Math.max(diff, Math.abs(cpu.values[i] - gpu.values[i]));
    row(['gpujs', mode, `${gpu.first.toFixed(0)} ms`, `${gpu.warm.toFixed(1)} ms`, Math.round(N / (gpu.warm / 1000)).toLocaleString(), diff.toExponential(1)]);
    log.textContent = String(gpu.plan);
  }
}

document.getElementById('run').addEventListener('click', () => run());
run();
