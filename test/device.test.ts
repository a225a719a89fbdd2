// The device seam: storages and their views, dispose, data() against dataSync(), backend
// choice per jit against setBackend, and a fake GPU-like device (buffers of its own,
// asynchronous reads only) that runs the fused programs through the Device interface.
import { test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import assert from 'node:assert/strict';
import {
  ArgumentError, DeviceError, backendNames, explain, grad, jit, randn, setBackend, tensor, vmap, withBackend, type Tensor, type TypedArray,
} from '../src/index.js';
import { Storage, type Device, type DeviceBuffer } from '../src/backends/device.js';
import { noSyncRead } from '../src/backends/device.js';
import { cpuDevice } from '../src/backends/cpu.js';
import { compileJs } from '../src/backends/js/codegen.js';
import { fusingBackend, type CompiledKernel } from '../src/fusion/program.js';
import { registerBackend } from '../src/lazy/realize.js';
import { allocate, type DType } from '../src/lazy/dtype.js';
import { assertAllClose } from '../src/testing/index.js';

const CPU_BACKENDS = ['js', 'wasm', 'interp'] as const;

/** A buffer of the fake device: its memory is private (only the device reads it). */
class FakeBuffer {
  constructor(readonly data: TypedArray) {}
}

/**
 * A GPU-like device over typed arrays: buffers are objects of its own, launches are queued
 * and run in order when something reads, reads are asynchronous only, and every buffer
 * handed out is counted until released.
 */
function fakeAsyncDevice(name: string, options: { float64?: boolean } = {}): Device<FakeBuffer, CompiledKernel> & { live: Set<FakeBuffer>; queue: (() => void)[] } {
  const live = new Set<FakeBuffer>();
  const queue: (() => void)[] = [];
  const track = (b: FakeBuffer) => (live.add(b), b);
  const flush = () => {
    while (queue.length) queue.shift()!();
  };
  const device: Device<FakeBuffer, CompiledKernel> & { live: Set<FakeBuffer>; queue: (() => void)[] } = {
    name,
    live,
    queue,
    caps: { float64: options.float64 ?? true, syncRead: false, kernelForm: 'loops', maxBuffers: 8, memory: 'buffers' },
    alloc: (dtype: DType, size: number) => track(new FakeBuffer(allocate(dtype, size))),
    upload: (data) => track(new FakeBuffer(data.slice())),
    view: (buffer, offset, size) => track(new FakeBuffer(buffer.data.subarray(offset, offset + size))),
    release(buffer) {
      assert.ok(live.delete(buffer), 'a buffer is released once, and only buffers the device handed out');
    },
    compile(ir) {
      if (ir.call) throw new DeviceError(`${ir.call.op}: the ${name} device runs no opaque calls`);
      return compileJs(ir);
    },
    launch(kernel, buffers) {
      const arrays = buffers.map((b) => b.data);
      queue.push(() => kernel.run(...arrays));
    },
    readSync() {
      throw noSyncRead(device, 'readSync');
    },
    async read(buffer) {
      await Promise.resolve();
      flush();
      return buffer.data.slice();
    },
  };
  return device;
}

const fake = fakeAsyncDevice('fake-async');
registerBackend(fusingBackend(fake));

test('a realized row or reshape is a view: it shares the buffer of the value it views', () => {
  const xs = randn([4, 3], { seed: 1 }).realize();
  const row = xs.select(0, 2).realize();
  const parent = xs.node.realized!.buffer as TypedArray;
  const view = row.node.realized!.buffer as TypedArray;
  assert.equal(view.buffer, parent.buffer, 'same memory');
  assert.equal(view.byteOffset, parent.byteOffset + 6 * 4, 'at the row\'s offset');
  assert.deepEqual(Array.from(row.dataSync()), Array.from(xs.dataSync()).slice(6, 9));
});

test('Storage views: offsets compose, bounds are checked, the allocation goes with the last view', () => {
  const released: DeviceBuffer[] = [];
  const base = cpuDevice('counting');
  const device: Device = { ...base, release: (b) => void released.push(b) };
  const root = new Float32Array([0, 1, 2, 3, 4, 5, 6, 7]);
  const whole = Storage.onDevice(device, root, 'float32', 8);
  const middle = whole.view(2, 4);
  const inner = middle.view(1, 2);
  assert.deepEqual(Array.from(inner.readSync()), [3, 4]);
  assert.throws(() => middle.view(3, 2), ArgumentError);
  whole.dispose();
  assert.ok(!released.includes(root), 'views still read the allocation');
  assert.deepEqual(Array.from(inner.readSync()), [3, 4]);
  middle.dispose();
  inner.dispose();
  assert.ok(released.includes(root), 'released once the last view went');
  assert.equal(released.filter((b) => b === root).length, 1);
  assert.throws(() => inner.readSync(), /dispose/);
});

test('dispose then use throws an ArgumentError that names dispose, for the tensor and for lazy values built on it', () => {
  for (const backend of [...CPU_BACKENDS, 'fake-async']) withBackend(backend, () => {
    const x = tensor([1, 2, 3]).mul(2).realize();
    const y = x.add(1);
    x.dispose();
    assert.equal(x.disposed, true);
    assert.throws(() => x.dataSync(), (e) => e instanceof ArgumentError && /dispose\(\)/.test(e.message), backend);
    assert.throws(() => y.dataSync(), (e) => e instanceof ArgumentError && /dispose\(\)/.test(e.message), backend);
    x.dispose(); // twice does nothing
  });
  // A lazy value disposed before it was computed; an equal expression built later is not it.
  const a = tensor([1, 2]);
  const lazy = a.exp();
  lazy.dispose();
  assert.throws(() => lazy.item(), ArgumentError);
  assertAllClose(a.exp(), [Math.E, Math.E ** 2], { rtol: 1e-6 });
});

test('`using` disposes at the end of the block', () => {
  let kept: Tensor | undefined;
  {
    using x = tensor([1, 2, 3]).sin().realize();
    kept = x;
    assert.equal(x.disposed, false);
  }
  assert.equal(kept.disposed, true);
  assert.throws(() => kept!.dataSync(), ArgumentError);
});

test('data() equals dataSync() on every CPU backend', async () => {
  for (const backend of CPU_BACKENDS) {
    const y = withBackend(backend, () => randn([5, 7], { seed: 4 }).tanh().matmul(randn([7, 3], { seed: 5 })).realize());
    const [asynchronous, synchronous] = [await y.data(), y.dataSync()];
    assert.deepEqual(asynchronous, synchronous, backend);
    // Fresh copies: writing to one does not change the tensor.
    asynchronous[0] = 1234;
    assert.notEqual(y.dataSync()[0], 1234);
  }
});

test('jit(f, {backend}) gives what setBackend gives, whichever backend is active', () => {
  const f = (w: Tensor, x: Tensor) => vmap((xi: Tensor) => grad((v: Tensor) => xi.mul(v).tanh().sum())(w))(x);
  const w = randn([6], { seed: 6 });
  const x = randn([4, 6], { seed: 7 });
  for (const backend of CPU_BACKENDS) {
    const previous = setBackend(backend);
    let expected: Float32Array;
    try {
      expected = jit(f)(w, x).dataSync() as Float32Array;
    } finally {
      setBackend(previous);
    }
    for (const active of CPU_BACKENDS) {
      const got = withBackend(active, () => jit(f, { backend })(w, x).dataSync());
      assert.deepEqual(got, expected, `jit on ${backend} while ${active} is active`);
    }
    assert.equal(explain(jit(f, { backend }), w, x).backend, backend);
  }
  assert.throws(() => jit(f, { backend: 'nope' })(w, x), (e) => e instanceof ArgumentError && /jit: unknown backend 'nope'/.test(e.message));
});

test('an async-only device: dataSync throws the DeviceError that says to await data(); data() has the values', async () => {
  assert.ok(backendNames().includes('fake-async'));
  const x = randn([8, 5], { seed: 8 });
  const f = (v: Tensor) => v.exp().sum(1).add(v.max(1)).div(v.square().mean());
  const expected = f(x).dataSync();
  const y = withBackend('fake-async', () => f(x).realize());
  assert.equal(y.node.realized!.device, fake, 'computed on the fake device');
  assert.throws(() => y.dataSync(), (e) => e instanceof DeviceError && /cannot read values synchronously/.test(e.message) && /await tensor\.data\(\)/.test(e.message));
  assert.throws(() => withBackend('fake-async', () => f(x).sum().realize()).item(), DeviceError);
  // A value on the device needed by a program elsewhere before it was read back: the error says how.
  assert.throws(() => y.add(1).dataSync(), (e) => e instanceof DeviceError && /await tensor\.data\(\)/.test(e.message));
  assert.throws(() => y.toArray(), DeviceError);
  assert.match(String(y), /on fake-async \(await data\(\) to read it\)/, 'printing does not throw');
  assertAllClose(Array.from(await y.data()), Array.from(expected), { rtol: 1e-6 });
  // Once read back, the host copy serves synchronous reads.
  assertAllClose(Array.from(y.dataSync()), Array.from(expected), { rtol: 1e-6 });
  assert.equal(String(y), String(tensor(Array.from(y.dataSync()))));
});

test('an async-only device runs jitted and chained programs; intermediates are released, roots kept until disposed', async () => {
  const x = randn([16, 4], { seed: 9 });
  const g = jit((v: Tensor) => v.sin().mul(v.cos()).sum(0).softmax(), { backend: 'fake-async' });
  const expected = withBackend('js', () => jit((v: Tensor) => v.sin().mul(v.cos()).sum(0).softmax())(x).dataSync());
  const liveBefore = fake.live.size;
  const y = g(x);
  const z = withBackend('fake-async', () => y.mul(2).realize()); // reads y's buffer on the device
  assertAllClose(Array.from(await y.data()), Array.from(expected), { rtol: 1e-6 });
  assertAllClose(Array.from(await z.data()), Array.from(expected, (v) => 2 * v), { rtol: 1e-6 });
  // Left on the device: x's upload (kept with x), y and z.
  assert.ok(fake.live.size - liveBefore <= 3, `${fake.live.size - liveBefore} buffers left after two programs`);
  y.dispose();
  z.dispose();
  x.dispose();
  assert.equal(fake.live.size, liveBefore, 'disposing frees the device buffers (and x\'s upload)');
});

test('a device without float64 refuses float64 kernels with a DeviceError that names the fix', () => {
  registerBackend(fusingBackend(fakeAsyncDevice('fake-f32', { float64: false })));
  const x = tensor([1, 2, 3], { dtype: 'float64' });
  assert.throws(() => withBackend('fake-f32', () => x.exp().realize()), (e) => e instanceof DeviceError && /no float64/.test(e.message));
});

test('the safety net: device buffers of values collected without dispose() are released', async () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const device = fakeAsyncDevice('fake-gc');
  registerBackend(fusingBackend(device));
  const x = randn([64], { seed: 10 });
  const step = jit((v: Tensor) => v.sin().add(1), { backend: 'fake-gc' });
  const kept = step(x); // held: its buffer stays
  for (let i = 0; i < 200; i++) step(x); // dropped at once
  assert.ok(device.live.size >= 200, `${device.live.size} buffers live before collection`);
  for (let round = 0; round < 10 && device.live.size > 2; round++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  // Left: x (computed on the device as jit's argument) and the value still held.
  assert.ok(device.live.size <= 2, `${device.live.size} buffers live after collection`);
  assert.ok(device.live.has(kept.node.realized!.buffer as FakeBuffer), 'the held value keeps its buffer');
  assertAllClose(Array.from(await kept.data()), Array.from(await x.data(), (v) => Math.sin(v) + 1), { rtol: 1e-6 });
});
