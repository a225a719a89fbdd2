// The wasm memory's allocator and the values kept in it between runs: blocks never overlap,
// outputs stay in the memory and are freed by dispose, a block reused for a new output never
// belongs to a live value, and leaves a program copied into its scratch block are reused only
// while they are the same arrays and no other run used the block.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { jit, randn, solve, tensor, withBackend, type Tensor } from '../src/index.js';
import { assertAllClose } from '../src/testing/index.js';
import { numRuns } from '../src/testing/index.js';
import { WasmArena } from '../src/backends/wasm/memory.js';
import { residentLimits, residentOutputs, wasmArena } from '../src/backends/wasm/index.js';

test('the allocator hands out 64-byte aligned blocks that never overlap, and gives every byte back', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 200_000 }), fc.nat()), { minLength: 1, maxLength: 60 }), (ops) => {
      const arena = new WasmArena();
      const live: { base: number; bytes: number }[] = [];
      for (const [allocate, bytes, pick] of ops) {
        if (allocate || live.length === 0) {
          const base = arena.alloc(bytes);
          assert.equal(base % 64, 0);
          assert.ok(base + bytes <= arena.memory.buffer.byteLength, 'the block lies inside the memory');
          for (const other of live) assert.ok(base + bytes <= other.base || other.base + other.bytes <= base, `block [${base}, +${bytes}) overlaps [${other.base}, +${other.bytes})`);
          live.push({ base, bytes });
        } else {
          const [block] = live.splice(pick % live.length, 1);
          arena.release(block.base);
        }
      }
      for (const block of live.splice(0)) arena.release(block.base);
      assert.equal(arena.usedBytes, 0);
      // Everything was given back and merged: one block as large as the memory fits at address 0.
      assert.equal(arena.alloc(arena.memory.buffer.byteLength), 0);
    }),
    { numRuns: numRuns(40) },
  );
});

test('releasing a block twice is an internal error, not a silent corruption', () => {
  const arena = new WasmArena();
  const base = arena.alloc(100);
  arena.release(base);
  assert.throws(() => arena.release(base), /released twice/);
});

test('a scratch block is reused while big enough; `again` only for the same owner on the same block', () => {
  const arena = new WasmArena();
  const a = {};
  const b = {};
  const first = arena.scratchFor(1000, a);
  assert.equal(first.again, false);
  assert.deepEqual(arena.scratchFor(500, a), { base: first.base, again: true });
  assert.equal(arena.scratchFor(500, b).again, false, 'another owner ran in between');
  assert.equal(arena.scratchFor(500, a).again, false);
  arena.alloc(64); // something above the scratch block: a bigger one cannot grow in place
  assert.equal(arena.scratchFor(1_000_000, a).again, false, 'a new block holds nothing of the last run');
});

test('a wasm result lives in the wasm memory until disposed, and a block reused for a new result never belongs to a live one', () => {
  withBackend('wasm', () => {
    const x = randn([1000], { seed: 1 });
    x.dataSync();
    const f = jit((v: Tensor, k: Tensor) => v.mul(k).add(1));
    const expected = (k: number) => Array.from(x.dataSync(), (v) => Math.fround(Math.fround(v * k) + 1));
    const before = residentOutputs.bytes;
    const kept: Tensor[] = [];
    for (let k = 0; k < 6; k++) {
      const y = f(x, tensor(k)) as Tensor;
      const storage = y.node.realized!;
      if (k === 0) assert.ok(wasmArena.holds(storage.readSync()), 'the first result is a view of the wasm memory');
      kept.push(y);
      // Dispose every other result: its block is free for the next one.
      if (k % 2 === 1) kept[k - 1].dispose();
    }
    kept.forEach((y, k) => {
      if (k % 2 === 0 && k < 5) return; // disposed
      assert.deepEqual(Array.from(y.dataSync()), expected(k), `result ${k} after the others were computed`);
    });
    for (const y of kept) y.dispose();
    assert.equal(residentOutputs.bytes, before, 'disposing gave every block back');
  });
});

test('a result used as the next call\'s input, then disposed, gives the right values over a chain of calls', () => {
  withBackend('wasm', () => {
    const step = jit((v: Tensor) => v.mul(0.5).add(1));
    let y = step(tensor(new Float32Array(4096).fill(8))) as Tensor;
    let reference = 8;
    reference = Math.fround(Math.fround(reference * 0.5) + 1);
    for (let i = 0; i < 20; i++) {
      const next = step(y) as Tensor;
      y.dispose();
      y = next;
      reference = Math.fround(Math.fround(reference * 0.5) + 1);
    }
    assert.ok(Array.from(y.dataSync()).every((v) => v === reference), `every element is ${reference}`);
  });
});

test('a root returned twice is two values: disposing one leaves the other', () => {
  withBackend('wasm', () => {
    const twice = jit((v: Tensor) => {
      const y = v.mul(3);
      return [y, y];
    });
    const [a, b] = twice(tensor([1, 2, 3])) as Tensor[];
    a.dispose();
    withBackend('wasm', () => tensor([7, 7, 7]).mul(2).dataSync()); // a new result may take a's block
    assert.deepEqual(Array.from(b.dataSync()), [3, 6, 9]);
  });
});

test('host inputs copied into the scratch block are copied again when the arrays change or another program ran', () => {
  withBackend('wasm', () => {
    const f = jit((p: Tensor, q: Tensor) => p.mul(2).add(q));
    const g = jit((p: Tensor) => p.neg());
    const p1 = tensor([1, 2, 3, 4]);
    const p2 = tensor([10, 20, 30, 40]);
    const q = tensor([0.5, 0.5, 0.5, 0.5]);
    const calls: [Tensor, number[]][] = [
      [p1, [2.5, 4.5, 6.5, 8.5]],
      [p1, [2.5, 4.5, 6.5, 8.5]],
      [p2, [20.5, 40.5, 60.5, 80.5]],
      [p1, [2.5, 4.5, 6.5, 8.5]],
    ];
    for (const [p, expected] of calls) {
      assert.deepEqual(Array.from((f(p, q) as Tensor).dataSync()), expected);
      // Another program runs on the same scratch block in between.
      assert.deepEqual(Array.from((g(tensor([5, 6, 7, 8])) as Tensor).dataSync()), [-5, -6, -7, -8]);
      assert.deepEqual(Array.from((f(p, q) as Tensor).dataSync()), expected);
    }
  });
});

test('results nobody disposes grow the memory by two results at most; the rest go to host arrays', () => {
  withBackend('wasm', () => {
    const f = jit((v: Tensor) => v.add(1));
    const x = tensor(new Float32Array(1 << 16));
    const results: Tensor[] = [];
    results.push(f(x) as Tensor);
    const memory = wasmArena.memory.buffer.byteLength;
    for (let i = 0; i < 50; i++) results.push(f(x) as Tensor);
    const grown = wasmArena.memory.buffer.byteLength - memory;
    assert.ok(grown <= 4 * (1 << 16) + 65536, `the memory grew by ${grown} bytes for 50 results of 256 kB kept`);
    assert.ok(residentOutputs.bytes <= residentLimits.outputBytes);
    assert.ok(results.every((r) => r.dataSync().every((v) => v === 1)));
    for (const r of results) r.dispose();
  });
});

test('a program mixing wasm kernels (run on byte addresses), JS-compiled kernels and a call step (run on views of the memory) agrees with the interpreter, call after call', () => {
  // randn inside f: a random draw, which the wasm compiler leaves to the JS compiler; solve: a
  // call step run by the program on typed arrays; the rest wasm kernels reading their outputs.
  const f = (x: Tensor, m: Tensor) => {
    const noisy = x.mul(randn([6, 3], { seed: 4 })).add(1);
    const y = solve(m, noisy.exp().mul(0.5));
    return [y.tanh().sum({ axis: 1 }), noisy.sum(), y];
  };
  const m = tensor([[4, 1, 0, 0, 0, 0], [1, 5, 1, 0, 0, 0], [0, 1, 6, 1, 0, 0], [0, 0, 1, 7, 1, 0], [0, 0, 0, 1, 8, 1], [0, 0, 0, 0, 1, 9]]);
  const jitted = jit(f, { backend: 'wasm' });
  const plan = withBackend('wasm', () => jitted.plan(tensor(new Float32Array(18), { shape: [6, 3] }), m));
  assert.ok(plan.kernels.some((k) => k.source.includes('compiled by the JS compiler instead')), `a JS kernel in\n${plan}`);
  assert.ok(plan.kernels.some((k) => k.source.startsWith('// wasm module')), `a wasm kernel in\n${plan}`);
  for (let call = 0; call < 4; call++) {
    const x = tensor(Float32Array.from({ length: 18 }, (_, i) => Math.sin(i + 3 * call)), { shape: [6, 3] });
    const got = (jitted(x, m) as Tensor[]).map((t) => Array.from(t.dataSync()));
    const expected = withBackend('interp', () => (f(x, m) as Tensor[]).map((t) => Array.from(t.dataSync())));
    got.forEach((values, i) => assertAllClose(values, expected[i], { rtol: 1e-5, atol: 1e-5, message: `output ${i} of call ${call}` }));
  }
});
