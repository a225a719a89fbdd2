// The WebGPU backend on Dawn (here: Mesa's OpenGL ES through EGL, compatibility mode): the
// WGSL it generates from the scheduler's kernels agrees with the reference interpreter to
// float32 tolerance on random programs, random movement-heavy DAGs (int32 and bool
// included) and transformed programs; device memory stays flat over 10,000 runs; float64 and
// synchronous reads are refused with errors that say what to do. Where Dawn has no adapter
// the suite is skipped with the reason (FUNCTS_REQUIRE_WEBGPU=1 makes that a failure).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import v8 from 'node:v8';
import vm from 'node:vm';
import { explain, grad, hessian, jacrev, jit, setBackend, tensor, vmap, withBackend, destroyWebGPU, initWebGPU, DeviceError, type DType, type Tensor, type TypedArray } from '../src/index.js';
import { allPrimitives } from '../src/lazy/primitive.js';
import { topoSort, type Node } from '../src/lazy/node.js';
import type { KernelIR } from '../src/fusion/kernel.js';
import type { WebGPUDevice } from '../src/backends/webgpu/gpu.js';
import { startWebGPU } from '../src/backends/webgpu/start.js';
import { WGSL_OPS, generateWgsl } from '../src/backends/webgpu/wgsl.js';
import { arbitraryProgramWithInputs, assertAllClose, numRuns, type Program } from '../src/testing/index.js';
import { arbitraryDag, dagInputs, decodeDag } from '../props/fusion-dags.js';

let device: WebGPUDevice | undefined;
let unavailable = '';
try {
  await initWebGPU();
  device = (await startWebGPU()).device;
} catch (error) {
  unavailable = `WebGPU (Dawn) is unavailable here: ${(error as Error).message}`;
  if (process.env.FUNCTS_REQUIRE_WEBGPU === '1') throw error;
  console.log(`# skipping the webgpu suite: ${unavailable}`);
}
const skip = unavailable || false;
const runs = (quick: number): fc.Parameters<unknown> => ({ numRuns: numRuns(quick) });

/** Computes `build()` on the device and reads it back (then frees it). */
async function onDevice(build: () => Tensor): Promise<TypedArray> {
  const t = withBackend('webgpu', () => {
    const value = build();
    value.realize();
    return value;
  });
  try {
    return (await t.data()).slice();
  } finally {
    t.dispose();
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
  const float64 = computesFloat64(build().node);
  let actual: TypedArray;
  try {
    actual = await onDevice(build);
  } catch (error) {
    // No float64 on the device: refused, never silently downcast (a float64 value the
    // scheduler folded away, such as an exact int32 -> float64 -> int32 cast, is no refusal).
    if (float64 && error instanceof DeviceError && /float64/.test(error.message)) return;
    throw error;
  }
  assert.ok(build().dtype !== 'float64', `${what()}: a float64 result came back from the device`);
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

  test('a float32 beyond the int32 range cast to int32 wraps as an Int32Array store does (found by the thorough run)', async () => {
    const dag = decodeDag([[]], [[43492, 0, 0, 0, 0, 0, 0, 0], [60566, 22851, 1809, 0, 0, 0, 0, 0]]);
    const x = tensor(0, { dtype: 'int32' });
    x.realize();
    await agree(() => dag.build([x]), () => String(dag));
    const big = tensor([3e9, -3e9, 1e10, 2 ** 31, -(2 ** 31), Infinity, NaN, -7.9], { dtype: 'float32' });
    big.realize();
    await agree(() => big.add(0.5).cast('int32'), () => 'cast of large float32 values to int32');
  });

  test('batched Hessians of sum(tanh(A x + b)) match a float64 reference', async () => {
    const D = 8;
    const H = 32;
    const N = 100;
    const A = Float32Array.from({ length: H * D }, (_, i) => Math.sin(i * 0.7) * 0.6);
    const b = Float32Array.from({ length: H }, (_, i) => Math.cos(i) * 0.3);
    const X = Float32Array.from({ length: N * D }, (_, i) => Math.sin(i * 1.3));
    const [At, bt, Xt] = [tensor(A, { shape: [H, D] }), tensor(b, { shape: [H] }), tensor(X, { shape: [N, D] })];
    const hessians = jit(vmap(hessian((x: Tensor) => At.matmul(x).add(bt).tanh().sum())), { backend: 'webgpu' });
    const result = hessians(Xt);
    assert.throws(() => result.dataSync(), (e: unknown) => e instanceof DeviceError && /await tensor\.data\(\)/.test((e as Error).message));
    const got = await result.data();
    result.dispose();
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

  test('device buffers stay flat over 10,000 jitted calls', async () => {
    const gpu = device!;
    const A = tensor(Float32Array.from({ length: 32 }, (_, i) => Math.sin(i)), { shape: [8, 4] });
    const X = tensor(Float32Array.from({ length: 64 }, (_, i) => Math.cos(i)), { shape: [16, 4] });
    const f = (x: Tensor) => A.matmul(x).tanh().sum();
    const expected = withBackend('interp', () => vmap(hessian(f))(X).dataSync());
    const hessians = jit(vmap(hessian(f)), { backend: 'webgpu' });
    hessians(X).dispose();
    const before = gpu.memoryStats();
    const live: number[] = [];
    const bytes: number[] = [];
    let last: TypedArray = new Float32Array(0);
    for (let i = 0; i < 10_000; i++) {
      const h = hessians(X);
      if (i % 1000 === 999) {
        last = (await h.data()).slice();
        live.push(gpu.memoryStats().liveBuffers);
        bytes.push(gpu.memoryStats().liveBytes);
      }
      h.dispose();
    }
    assertAllClose(Array.from(last), Array.from(expected), tolerance(expected));
    // The pool hands the same buffers back on every call: nothing accumulates.
    assert.ok(Math.max(...live) <= before.liveBuffers + 2, `live buffers ${live.join(', ')} grew from ${before.liveBuffers}`);
    assert.ok(Math.max(...bytes) <= before.liveBytes + 4096, `live bytes ${bytes.join(', ')} grew from ${before.liveBytes}`);
  });

  test('values dropped without dispose() are returned to the pool by the FinalizationRegistry', async () => {
    const gpu = device!;
    v8.setFlagsFromString('--expose-gc');
    const collect = vm.runInNewContext('gc') as () => void;
    const X = tensor(Float32Array.from({ length: 4096 }, (_, i) => i), { shape: [4096] });
    const square = jit((x: Tensor) => x.mul(x), { backend: 'webgpu' });
    square(X).dispose();
    for (let i = 0; i < 50; i++) square(X); // never disposed
    const dropped = gpu.memoryStats().pooledBuffers;
    for (let i = 0; i < 20 && gpu.memoryStats().pooledBuffers < dropped + 25; i++) {
      collect();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(gpu.memoryStats().pooledBuffers >= dropped + 25, `${gpu.memoryStats().pooledBuffers - dropped} of 50 dropped results came back to the pool`);
  });

  test('float64 is refused with an error naming the op and the fix', async () => {
    const x = tensor([1, 2, 3], { dtype: 'float64' });
    x.realize();
    assert.throws(
      () => withBackend('webgpu', () => x.exp().realize()),
      (e: unknown) => e instanceof DeviceError && /^exp: .*float64/.test((e as Error).message) && /float32/.test((e as Error).message),
    );
    assert.throws(() => device!.upload(new Float64Array(4)), (e: unknown) => e instanceof DeviceError && /float64/.test((e as Error).message));
    // A float64 value inside a kernel (cast up, computed, cast down) is refused too, naming its op.
    const y = tensor([1, 2, 3], { dtype: 'float32' });
    y.realize();
    assert.throws(() => withBackend('webgpu', () => y.cast('float64').sin().cast('float32').realize()), (e: unknown) => e instanceof DeviceError && /^cast: .*float64/.test((e as Error).message));
  });

  test('explain shows the WGSL of each kernel', () => {
    const x = tensor(Float32Array.from({ length: 64 }, (_, i) => i), { shape: [8, 8] });
    const previous = setBackend('webgpu');
    try {
      const plan = explain(x.mul(2).exp().sum(1));
      assert.equal(plan.backend, 'webgpu');
      assert.match(plan.kernels[0].source, /@compute @workgroup_size/);
      assert.match(plan.kernels[0].source, /var<storage, read_write> b0: array<f32>/);
    } finally {
      setBackend(previous);
    }
  });

  test('reading synchronously throws a DeviceError that says to await data()', async () => {
    const x = tensor([1, 2], { dtype: 'float32' });
    const y = withBackend('webgpu', () => x.mul(3).realize());
    assert.throws(() => y.dataSync(), (e: unknown) => e instanceof DeviceError && /await tensor\.data\(\)/.test((e as Error).message));
    assert.deepEqual(Array.from(await y.data()), [3, 6]);
    assert.deepEqual(Array.from(y.dataSync()), [3, 6], 'once read, the host copy serves dataSync');
  });

  test('a kernel reading more buffers than the device binds packs the extra inputs into one', async () => {
    const inputs = Array.from({ length: 24 }, (_, k) => {
      const t = tensor(Float32Array.from({ length: 5 + k }, (_, i) => Math.sin(i + k)), { shape: [5 + k] });
      t.realize();
      return t;
    });
    const build = () => inputs.reduce((acc, t, k) => acc.add(t.slice([[0, 5]]).mul(k + 1)), tensor(new Float32Array(5)));
    const sources = withBackend('webgpu', () => explain(build()).kernels.map((k) => k.source).join('\n'));
    assert.match(sources, /var<storage, read> bp: array<u32>/, 'no kernel packed its inputs');
    await agree(build, () => 'a sum of slices of 24 inputs');
  });

  test('kernels whose grid exceeds one dimension of workgroups split it over two', () => {
    const ir: KernelIR = {
      kind: 'map', buffers: [{ dtype: 'float32', size: 1 << 20, role: 'output' }], operations: 0, text: '',
      body: [{ kind: 'loop', index: 'i0', extent: 1 << 20, body: [{ kind: 'store', buffer: 0, index: 'i0', value: { literal: 1 } }] }],
    };
    const { launch } = generateWgsl(ir, { workgroupSize: 4, maxWorkgroupsPerDimension: 65535, workgroupStorageBytes: 0, maxStorageBuffers: 8 });
    assert.ok(launch.workgroups[0] <= 65535 && launch.workgroups[0] * launch.workgroups[1] * 4 >= 1 << 20, JSON.stringify(launch));
  });
});
