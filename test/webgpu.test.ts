// The WebGPU backend on Dawn (here: Mesa's OpenGL ES through EGL, compatibility mode): the
// WGSL it generates from the scheduler's kernels agrees with the reference interpreter to
// float32 tolerance on random programs, random movement-heavy DAGs (int32 and bool
// included) and transformed programs; device memory stays flat over 10,000 runs; float64 and
// synchronous reads are refused with errors that say what to do. Where Dawn has no adapter
// the suite is skipped with the reason (FUNCTS_REQUIRE_WEBGPU=1 makes that a failure).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { grad, hessian, jacrev, tensor, vmap, withBackend, DeviceError, DTypeError, type DType, type Tensor, type TypedArray } from '../src/index.js';
import { allPrimitives } from '../src/lazy/primitive.js';
import { programFor } from '../src/fusion/program.js';
import { topoSort, type Node } from '../src/lazy/node.js';
import type { KernelIR } from '../src/fusion/kernel.js';
import { destroyWebGPU, initWebGPU, runOnDevice, webgpuCompiler, type WebGPUDevice } from '../src/backends/webgpu/index.js';
import { WGSL_OPS, generateWgsl } from '../src/backends/webgpu/wgsl.js';
import { arbitraryProgramWithInputs, assertAllClose, numRuns, type Program } from '../src/testing/index.js';
import { arbitraryDag, dagInputs } from '../props/fusion-dags.js';

let device: WebGPUDevice | undefined;
let unavailable = '';
try {
  device = (await initWebGPU()).device;
} catch (error) {
  unavailable = `WebGPU (Dawn) is unavailable here: ${(error as Error).message}`;
  if (process.env.FUNCTS_REQUIRE_WEBGPU === '1') throw error;
  console.log(`# skipping the webgpu suite: ${unavailable}`);
}
const skip = unavailable || false;
const runs = (quick: number): fc.Parameters<unknown> => ({ numRuns: numRuns(quick) });

/** Computes `t` on the device (leaves uploaded, kernels launched, the root read back). */
async function onDevice(t: Tensor): Promise<TypedArray> {
  const gpu = device!;
  const { program, leaves } = programFor([t.node], webgpuCompiler(gpu));
  const buffers = leaves.map((leaf) => gpu.upload(leaf.realized!));
  const [root] = runOnDevice(program, gpu, buffers);
  try {
    return await gpu.read(root);
  } finally {
    gpu.release(root);
    for (const b of buffers) gpu.release(b);
  }
}

function computesFloat64(root: Node): boolean {
  return topoSort([root], (n) => n.realized !== null).some((n) => n.dtype === 'float64');
}

function tolerance(expected: TypedArray): { rtol: number; atol: number } {
  const finite = Array.from(expected).filter(Number.isFinite);
  return { rtol: 1e-4, atol: 1e-4 * Math.max(1, ...finite.map(Math.abs)) };
}

/** Builds a value twice, under the interpreter and for the device, and compares. */
async function agree(build: () => Tensor, what: () => string): Promise<void> {
  const expected = withBackend('interp', () => build().dataSync());
  const built = build();
  if (built.node.realized) return; // constant-folded to data: nothing runs on the device
  let actual: TypedArray;
  try {
    actual = await onDevice(built);
  } catch (error) {
    // No float64 on the device: refused, never silently downcast (a float64 value the
    // scheduler folded away, such as an exact int32 -> float64 -> int32 cast, is no refusal).
    if (computesFloat64(built.node) && error instanceof DTypeError && /no float64/.test(error.message)) return;
    throw error;
  }
  assert.ok(built.dtype !== 'float64', `${what()}: a float64 result came back from the device`);
  assertAllClose(Array.from(actual), Array.from(expected), { ...tolerance(expected), message: what() });
}

describe('the webgpu backend', { skip }, () => {
  before(() => assert.ok(device));
  after(() => destroyWebGPU());

  test('the WGSL op table covers every elementwise primitive', () => {
    const elementwise = allPrimitives().filter((r) => r.kind === 'elementwise').map((r) => r.op);
    for (const op of elementwise) assert.ok(op in WGSL_OPS, `no WGSL spelling for ${op}`);
  });

  test('random float32 programs agree with the interpreter', async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryProgramWithInputs({ maxSteps: 6 }, { dtype: 'float32' }), async ([p, xs]: [Program, Tensor[]]) => {
        for (const x of xs) x.dataSync();
        await agree(() => p.fn(...xs), () => String(p));
      }),
      runs(12),
    );
  });

  test('random movement-heavy DAGs (pad, flip, gather, scatter; float32, int32, bool) agree with the interpreter', async () => {
    for (const dtype of ['float32', 'int32'] as DType[]) {
      await fc.assert(
        fc.asyncProperty(arbitraryDag({ maxSteps: 8 }).chain((dag) => dagInputs(dag, dtype).map((xs) => [dag, xs] as const)), async ([dag, xs]) => {
          for (const x of xs) x.dataSync();
          await agree(() => dag.build(xs), () => `${dag} on ${dtype}`);
        }),
        runs(8),
      );
    }
  });

  test('transformed programs (grad, vmap, jacrev, hessian of random functions) agree with the interpreter', async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryProgramWithInputs({ maxSteps: 4, smooth: true, scalarOutput: true, inputShapes: [[3]] }, { dtype: 'float32' }), async ([p, xs]: [Program, Tensor[]]) => {
        const x = xs[0];
        x.dataSync();
        const batch = tensor(Float32Array.from({ length: 12 }, (_, i) => Math.sin(i) * 1.5), { shape: [4, 3] });
        batch.dataSync();
        await agree(() => grad(p.fn)(x), () => `grad of ${p}`);
        await agree(() => jacrev(p.fn)(x), () => `jacrev of ${p}`);
        await agree(() => hessian(p.fn)(x), () => `hessian of ${p}`);
        await agree(() => vmap(hessian(p.fn))(batch), () => `vmap(hessian) of ${p}`);
      }),
      runs(6),
    );
  });

  test('batched Hessians of sum(tanh(A x + b)) match a float64 reference', async () => {
    const D = 8;
    const H = 32;
    const N = 100;
    const A = Float32Array.from({ length: H * D }, (_, i) => Math.sin(i * 0.7) * 0.6);
    const b = Float32Array.from({ length: H }, (_, i) => Math.cos(i) * 0.3);
    const X = Float32Array.from({ length: N * D }, (_, i) => Math.sin(i * 1.3));
    const [At, bt, Xt] = [tensor(A, { shape: [H, D] }), tensor(b, { shape: [H] }), tensor(X, { shape: [N, D] })];
    const got = await onDevice(vmap(hessian((x: Tensor) => At.matmul(x).add(bt).tanh().sum()))(Xt));
    for (let n = 0; n < N; n++) {
      const s = Array.from({ length: H }, (_, h) => {
        let z = b[h];
        for (let d = 0; d < D; d++) z += A[h * D + d] * X[n * D + d];
        const t = Math.tanh(z);
        return -2 * t * (1 - t * t);
      });
      for (let i = 0; i < D; i++) {
        for (let j = 0; j < D; j++) {
          let want = 0;
          for (let h = 0; h < H; h++) want += A[h * D + i] * s[h] * A[h * D + j];
          assert.ok(Math.abs(got[(n * D + i) * D + j] - want) <= 1e-5, `Hessian ${n} [${i}, ${j}]: ${got[(n * D + i) * D + j]} vs ${want}`);
        }
      }
    }
  });

  test('device buffers stay flat over 10,000 runs of a compiled program', async () => {
    const gpu = device!;
    const A = tensor(Float32Array.from({ length: 32 }, (_, i) => Math.sin(i)), { shape: [8, 4] });
    const X = tensor(Float32Array.from({ length: 64 }, (_, i) => Math.cos(i)), { shape: [16, 4] });
    const out = vmap(hessian((x: Tensor) => A.matmul(x).tanh().sum()))(X);
    const { program, leaves } = programFor([out.node], webgpuCompiler(gpu));
    const inputs = leaves.map((leaf) => gpu.upload(leaf.realized!));
    const expected = withBackend('interp', () => vmap(hessian((x: Tensor) => A.matmul(x).tanh().sum()))(X).dataSync());
    const before = gpu.memoryStats().liveBuffers;
    const live: number[] = [];
    let last: TypedArray = new Float32Array(0);
    for (let i = 0; i < 10_000; i++) {
      const [root] = runOnDevice(program, gpu, inputs);
      if (i % 1000 === 999) {
        last = await gpu.read(root);
        live.push(gpu.memoryStats().liveBuffers);
      }
      gpu.release(root);
    }
    for (const b of inputs) gpu.release(b);
    assertAllClose(Array.from(last), Array.from(expected), tolerance(expected));
    // The pool hands the same buffers back on every run: the count is bounded by one run's needs.
    const perRun = leaves.length + program.buffers.length;
    assert.ok(Math.max(...live) <= before + perRun, `live buffers ${live.join(', ')} exceed the ${before} before the runs plus one run's ${perRun}`);
    assert.equal(live[live.length - 1], live[0], `live buffers grew: ${live.join(', ')}`);
  });

  test('float64 is refused with an error naming the op and the fix', () => {
    const gpu = device!;
    assert.throws(() => gpu.upload(new Float64Array(4)), (e: unknown) => e instanceof DTypeError && /float64/.test(e.message) && /float32/.test(e.message));
    const x = tensor([1, 2, 3], { dtype: 'float64' });
    x.dataSync();
    const { program } = ((): { program: { steps: readonly { ir: KernelIR }[] } } => {
      try {
        return programFor([x.exp().node], webgpuCompiler(gpu));
      } catch (error) {
        assert.ok(error instanceof DTypeError, String(error));
        assert.match((error as Error).message, /exp: the webgpu backend has no float64/);
        return { program: { steps: [] } };
      }
    })();
    assert.equal(program.steps.length, 0, 'a float64 kernel compiled');
  });

  test('reading synchronously throws a DeviceError that says to await data()', () => {
    const gpu = device!;
    const b = gpu.upload(new Float32Array([1, 2]));
    try {
      assert.throws(() => gpu.readSync(), (e: unknown) => e instanceof DeviceError && /await tensor\.data\(\)/.test(e.message));
    } finally {
      gpu.release(b);
    }
  });

  test('kernels whose grid exceeds one dimension of workgroups split it over two', () => {
    const ir: KernelIR = {
      kind: 'map', buffers: [{ dtype: 'float32', size: 1 << 20, role: 'output' }], operations: 0, text: '',
      body: [{ kind: 'loop', index: 'i0', extent: 1 << 20, body: [{ kind: 'store', buffer: 0, index: 'i0', value: { literal: 1 } }] }],
    };
    const { launch } = generateWgsl(ir, { workgroupSize: 4, maxWorkgroupsPerDimension: 65535, workgroupStorageBytes: 0 });
    assert.ok(launch.workgroups[0] <= 65535 && launch.workgroups[0] * launch.workgroups[1] * 4 >= 1 << 20, JSON.stringify(launch));
  });
});
