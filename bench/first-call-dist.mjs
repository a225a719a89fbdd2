/**
 * The first call as a user of the published build meets it: plain Node on dist/ (`npm run
 * build` first), no tsx, so nothing is transpiled at run time and functions keep tsc's output.
 * The default backend and thread count, D=8 H=32 N=4096, f(x) = sum(tanh(A x + b)).
 * `importCpuMs`: the process's CPU time at the end of the imports (Node's own start included).
 * Run by bench/first-call.ts (BENCH_FILTER entry "functs dist") as one fresh process per sample; prints the same
 * JSON line as its tsx children.
 */
// FUNCTS_DIST: another build's dist folder (a baseline, built from an older commit).
const dist = new URL(process.env.FUNCTS_DIST ? `file://${process.env.FUNCTS_DIST}/` : '../dist/', import.meta.url);
const { hessian, jit, tensor, vmap } = await import(new URL('index.js', dist).href);
// The phases are read from the scheduler's module where the build keeps modules apart
// (FUNCTS_BUNDLE=0 npm run build); the published build is one bundle: no phases then.
const { existsSync } = await import('node:fs');
const programModule = new URL('fusion/program.js', dist);
const { phaseMs } = existsSync(programModule) ? await import(programModule.href) : { phaseMs: null };
const importMs = performance.now();
// The process's CPU time up to here (Node's start included): what importing the library costs.
const importCpu = process.cpuUsage();

const D = 8, H = 32, N = 4096;
let seed = 1;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
const A = tensor(Float32Array.from({ length: H * D }, random), { shape: [H, D] });
const b = tensor(Float32Array.from({ length: H }, random), { shape: [H] });
const X = tensor(Float32Array.from({ length: N * D }, random), { shape: [N, D] });
const f = (x) => A.matmul(x).add(b).tanh().sum();

const cpuBefore = process.cpuUsage();
const t0 = performance.now();
const hessians = jit(vmap(hessian(f)));
const out = hessians(X).dataSync();
const firstCallMs = performance.now() - t0;
const cpu = process.cpuUsage(cpuBefore);
if (out.length !== N * D * D || !out.every(Number.isFinite)) throw new Error('first-call-dist: wrong output');
const phases = phaseMs ? { ...phaseMs, other: firstCallMs - phaseMs.trace - phaseMs.schedule - phaseMs.build - phaseMs.run } : {};
console.log(JSON.stringify({ firstCallMs, cpuMs: (cpu.user + cpu.system) / 1000, importMs, importCpuMs: (importCpu.user + importCpu.system) / 1000, phases }));
