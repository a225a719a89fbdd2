// The gpu.js backend in Node: gpu.js runs its WebAssembly mode (the automatic choice where no
// GL context exists) or its CPU mode, on the same grid kernels a browser runs on WebGL.
// Random programs and transformed programs agree with the reference interpreter within
// float32 tolerance (gpu.js accumulates in float32, the interpreter in float64); what has no
// grid form runs on the CPU and says so; only the roots are read back from the device.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import gpujs from 'gpu.js';
import {
  ArgumentError, DeviceError, IndexError, explain, gather, grad, hessian, jit, randn, realize, registerGpuJs, tensor, vmap, withBackend,
  type GpuJsClass, type GpuJsInstance, type GpuJsKernel, type Tensor,
} from '../src/index.js';
import { allPrimitives } from '../src/lazy/primitive.js';
import { GPUJS_OPS } from '../src/backends/gpujs/ops.js';
import { arbitraryProgram, arbitraryProgramInputs, numRuns, type Program } from '../src/testing/index.js';

const GPU = gpujs.GPU as unknown as GpuJsClass;

/** Runs `body` on the gpu.js backend in gpu.js's `mode`, then goes back to the default backend. */
function onGpuJs<T>(mode: string | undefined, body: () => T): T {
  registerGpuJs(GPU, mode ? { mode } : {});
  return withBackend('gpujs', body);
}

/**
 * Every value within 1e-4 of the largest reference value (at least `floor`): float32
 * accumulation in another order, and float32 transcendentals; non-finite values must match.
 */
function assertFloat32Close(got: ArrayLike<number>, want: ArrayLike<number>, what: () => string, floor = 1): void {
  assert.equal(got.length, want.length, what());
  const finite = Array.from(want).filter(Number.isFinite);
  const scale = Math.max(floor, ...finite.map(Math.abs));
  for (let i = 0; i < want.length; i++) {
    const [g, w] = [got[i], want[i]];
    if (!Number.isFinite(w)) assert.ok(Object.is(g, w) || (Number.isNaN(g) && Number.isNaN(w)), `${what()}\nelement ${i}: gpujs ${g}, reference ${w}`);
    else assert.ok(Math.abs(g - w) <= 1e-4 * scale, `${what()}\nelement ${i}: gpujs ${g}, reference ${w}`);
  }
}

const describeInputs = (xs: readonly Tensor[]) => xs.map((x) => `[${Array.from(x.dataSync()).join(', ')}]`).join(', ');

/**
 * f(x) = sum(tanh(A x + b)) at 64 points, and its batched Hessians from the interpreter. The
 * data is computed first: random draws are kernels of their own, on the CPU.
 */
function batchedHessianCase(): { energy: (x: Tensor) => Tensor; X: Tensor; want: ArrayLike<number> } {
  const A = randn([16, 8], { seed: 1 }).realize();
  const b = randn([16], { seed: 2 }).realize();
  const energy = (x: Tensor) => A.matmul(x).add(b).tanh().sum();
  const X = randn([64, 8], { seed: 3 }).realize();
  return { energy, X, want: withBackend('interp', () => vmap(hessian(energy))(X).dataSync()) };
}

function agreesWithInterpreter(mode: string | undefined, p: Program, xs: readonly Tensor[]): void {
  const want = withBackend('interp', () => p.fn(...xs).dataSync());
  const got = onGpuJs(mode, () => p.fn(...xs).dataSync());
  assertFloat32Close(got, want, () => `${p}\non ${describeInputs(xs)}`);
}

for (const mode of [undefined, 'cpu']) {
  const name = mode ?? 'automatic (webasm)';
  test(`gpu.js ${name}: random float32 programs agree with the interpreter within float32 tolerance`, () => {
    fc.assert(
      fc.property(arbitraryProgram({ maxSteps: 6 }).chain((p) => arbitraryProgramInputs(p).map((xs) => [p, xs] as const)), ([p, xs]) => agreesWithInterpreter(mode, p, xs)),
      { numRuns: numRuns(mode ? 15 : 30) },
    );
  });
}

test('gpu.js: grad, vmap(grad) and hessian of random programs agree with the interpreter within float32 tolerance', () => {
  const scalarPrograms = arbitraryProgram({ maxSteps: 4, smooth: true, scalarOutput: true, maxSize: 12 });
  fc.assert(
    fc.property(scalarPrograms.chain((p) => arbitraryProgramInputs(p).map((xs) => [p, xs] as const)), ([p, xs]) => {
      const f = (x: Tensor) => p.fn(x, ...xs.slice(1));
      const x = xs[0];
      const batch = x.expand([2, ...x.shape]).mul(tensor([1, -0.5]).reshape([2, ...x.shape.map(() => 1)]));
      const transforms: [string, () => Tensor][] = [
        ['grad', () => grad(f)(x)],
        ['vmap(grad)', () => vmap(grad(f))(batch)],
        ['hessian', () => hessian(f)(x)],
      ];
      for (const [label, build] of transforms) {
        const want = withBackend('interp', () => build().dataSync());
        const got = onGpuJs(undefined, () => build().dataSync());
        assertFloat32Close(got, want, () => `${label} of\n${p}\non ${describeInputs(xs)}`);
      }
    }),
    { numRuns: numRuns(15) },
  );
});

test('gpu.js: the batched-Hessian workload runs as grid kernels, explain names the mode, jit agrees', () => {
  const mode = registerGpuJs(GPU);
  assert.equal(mode, 'webasm');
  const { energy, X, want } = batchedHessianCase();
  withBackend('gpujs', () => {
    const plan = explain(vmap(hessian(energy))(X));
    assert.equal(plan.backend, 'gpujs');
    for (const k of plan.kernels) assert.match(k.source, /^\/\/ gpu\.js webasm: 1 kernel, one thread per output element/);
    assertFloat32Close(vmap(hessian(energy))(X).dataSync(), want, () => 'vmap(hessian)');
    assertFloat32Close(jit(vmap(hessian(energy)))(X).dataSync(), want, () => 'jit(vmap(hessian))');
  });
});

test('gpu.js: float64, int32, random draws, scatters and checked gathers run on the CPU, exactly, and explain says why', () => {
  registerGpuJs(GPU);
  withBackend('gpujs', () => {
    const x64 = tensor([0.1, 0.2, 0.3], { dtype: 'float64' });
    const y = x64.mul(3).exp();
    assert.match(explain(y).kernels[0].source, /^\/\/ gpu\.js: runs on the CPU \(a float64 buffer/);
    assert.deepEqual(Array.from(y.dataSync()), [0.1, 0.2, 0.3].map((v) => Math.exp(v * 3)));
    const ints = tensor([1, 2, 3], { dtype: 'int32' }).mul(2 ** 30);
    assert.deepEqual(Array.from(ints.dataSync()), [2 ** 30, -(2 ** 31), -(2 ** 30)]);
    const table = tensor([1, 2, 3]);
    assert.throws(() => gather(table, 0, tensor([0, 5], { dtype: 'int32' })).dataSync(), IndexError);
    const scattered = tensor([0, 0, 0]).scatterAdd(0, tensor([0, 0, 2], { dtype: 'int32' }), tensor([1, 2, 3]));
    assert.deepEqual(Array.from(scattered.dataSync()), [3, 0, 3]);
  });
});

test('gpu.js: comparisons come back as bool, kernels with several outputs agree, scalars work', () => {
  registerGpuJs(GPU);
  const x = randn([5, 3], { seed: 4 });
  const build = () => [x.gt(0), x.sum(), x.exp().add(x.max()), x.tanh().mul(2)];
  const want = withBackend('interp', () => build().map((t) => t.dataSync()));
  withBackend('gpujs', () => {
    const got = build().map((t) => t.dataSync());
    assert.ok(got[0] instanceof Uint8Array);
    got.forEach((g, i) => assertFloat32Close(g, want[i], () => `output ${i}`));
  });
});

test('gpu.js cpu mode (which has kernel maps): values over the same elements share one kernel map and agree', () => {
  assert.equal(registerGpuJs(GPU, { mode: 'cpu' }), 'cpu');
  const x = randn([64, 8], { seed: 7 }).realize();
  const build = () => [x.sin().mul(x), x.cos().mul(x), x.tanh().sum({ axis: 1 })];
  const want = withBackend('interp', () => build().map((t) => t.dataSync()));
  withBackend('gpujs', () => {
    const plan = explain(build());
    const mapped = plan.kernels.find((k) => k.outputs.length === 2);
    assert.ok(mapped, `the two [64, 8] values share a kernel: ${plan.kernels.map((k) => k.outputs.length)}`);
    assert.match(mapped.source, /a kernel map/);
    const outs = build();
    realize(outs);
    outs.forEach((t, i) => assertFloat32Close(t.dataSync(), want[i], () => `output ${i}`));
  });
  // gpu.js's wasm mode has no kernel maps: one output per kernel.
  registerGpuJs(GPU);
  withBackend('gpujs', () => assert.ok(explain(build()).kernels.every((k) => k.outputs.length === 1)));
});

test('gpu.js: every elementwise primitive of the registry has an entry in the op table', () => {
  const elementwise = allPrimitives().filter((rule) => rule.kind === 'elementwise').map((rule) => rule.op);
  assert.deepEqual(Object.keys(GPUJS_OPS).sort(), [...elementwise].sort());
});

test('registerGpuJs: anything but a GPU class is an ArgumentError naming the fix', () => {
  assert.throws(() => registerGpuJs({} as unknown as GpuJsClass), (e: unknown) => e instanceof ArgumentError && /registerGpuJs: expected gpu\.js's GPU class/.test((e as Error).message));
});

/**
 * gpu.js's CPU mode dressed as a GPU: `pipeline` results become device handles that count
 * how often they are read back and deleted.
 */
function countingGpu(counts: { created: number; read: number; deleted: number }, answersLater = false): GpuJsClass {
  class CountingGPU implements GpuJsInstance {
    private readonly inner: GpuJsInstance = new GPU({ mode: 'cpu' });
    createKernel(source: string, settings: Readonly<Record<string, unknown>>): GpuJsKernel {
      const kernel = this.inner.createKernel(source, { ...settings, pipeline: false });
      const wrapped = (...args: unknown[]) => {
        const values = kernel(...args.map((a) => (a instanceof DeviceHandle ? a.values : a))) as Float32Array;
        if (!settings.pipeline) return values;
        counts.created++;
        const handle = new DeviceHandle(values, counts, answersLater);
        return answersLater ? Promise.resolve(handle) : handle;
      };
      return Object.assign(wrapped, { kernel: { constructor: { name: 'WebGL2Kernel' } } }) as unknown as GpuJsKernel;
    }
  }
  return CountingGPU as unknown as GpuJsClass;
}

class DeviceHandle {
  constructor(readonly values: Float32Array, private readonly counts: { read: number; deleted: number }, private readonly answersLater: boolean) {}
  toArray(): Float32Array | Promise<Float32Array> {
    this.counts.read++;
    return this.answersLater ? Promise.resolve(this.values) : this.values;
  }
  delete(): void {
    this.counts.deleted++;
  }
}

test('gpu.js: values stay on the device between kernels; a root is read back once when read, intermediates are freed at once and the root on dispose()', () => {
  const counts = { created: 0, read: 0, deleted: 0 };
  assert.equal(registerGpuJs(countingGpu(counts)), 'webgl2');
  const { energy, X, want } = batchedHessianCase();
  withBackend('gpujs', () => {
    const kernels = explain(vmap(hessian(energy))(X)).kernels.length;
    assert.ok(kernels >= 2, 'the plan has an intermediate');
    const hessians = vmap(hessian(energy))(X);
    assertFloat32Close(hessians.dataSync(), want, () => 'vmap(hessian) through device handles');
    hessians.dataSync();
    assert.equal(counts.created, kernels);
    // Read once (the host copy is kept); the intermediates are freed, the root stays on the
    // device for later kernels until the tensor is disposed.
    assert.equal(counts.read, 1);
    assert.equal(counts.deleted, counts.created - 1);
    hessians.dispose();
    assert.equal(counts.deleted, counts.created);
  });
  registerGpuJs(GPU);
});

test('gpu.js WebGPU-like (every kernel call and read answers with a promise): launches chain, data() reads, dataSync() is a DeviceError', async () => {
  const counts = { created: 0, read: 0, deleted: 0 };
  assert.equal(registerGpuJs(countingGpu(counts, true), { mode: 'webgpu' }), 'webgpu');
  const { energy, X, want } = batchedHessianCase();
  const hessians = withBackend('gpujs', () => vmap(hessian(energy))(X).realize());
  assert.throws(() => hessians.dataSync(), DeviceError);
  assertFloat32Close(await hessians.data(), want, () => 'vmap(hessian) through promised device values');
  assert.equal(counts.read, 1);
  hessians.dispose();
  await new Promise((done) => setTimeout(done, 10));
  assert.equal(counts.deleted, counts.created);
  registerGpuJs(GPU);
});
