import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as F from '../../src/index.js';
import { tensor, type Tensor } from '../../src/index.js';
import { iota } from '../../src/lazy/ops/creation.js';

const idx = (data: F.NestedArray) => tensor(data, { dtype: 'int32' });
/** [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]] */
const m = F.arange(12).reshape([3, 4]);
/** x[i][j][k] = 100 i + 10 j + k, shape [2, 3, 4]: every element names its own position. */
const x = F.add(F.add(iota([2, 3, 4], 0).mul(100), iota([2, 3, 4], 1).mul(10)), iota([2, 3, 4], 2));

/** Checks the function form and the method form against one expected nested array. */
function checkBoth(name: string, viaFunction: Tensor, viaMethod: Tensor, expected: F.NestedArray): void {
  assert.deepEqual(viaFunction.toArray(), expected, `${name} (function)`);
  assert.deepEqual(viaMethod.toArray(), expected, `${name} (method)`);
}

describe('reshape, flatten, squeeze, unsqueeze', () => {
  test('reshape, with one inferred -1, and to and from scalars', () => {
    checkBoth('reshape', F.reshape(m, [2, 6]), m.reshape([2, 6]), [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]);
    checkBoth('reshape -1', F.reshape(m, [-1, 3]), m.reshape([-1, 3]), [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]);
    assert.deepEqual(tensor(5).reshape([1, 1]).toArray(), [[5]]);
    assert.deepEqual(tensor([[5]]).reshape([]).toArray(), 5);
    assert.deepEqual(F.zeros([0, 3]).reshape([3, 0]).shape, [3, 0]);
    assert.deepEqual(F.zeros([0, 3]).reshape([-1, 3]).shape, [0, 3]);
  });

  test('flatten all axes or a range of them', () => {
    checkBoth('flatten', F.flatten(x), x.flatten(), (x.toArray() as number[][][]).flat(2));
    assert.deepEqual(x.flatten(1).shape, [2, 12]);
    assert.deepEqual(F.flatten(x, 0, 1).shape, [6, 4]);
    assert.deepEqual(x.flatten(-2, -1).shape, [2, 12]);
    assert.deepEqual(tensor(3).flatten().toArray(), [3]);
  });

  test('squeeze all size-1 axes, or the named ones; unsqueeze with negative axes', () => {
    const t = F.zeros([1, 3, 1, 2]);
    assert.deepEqual(F.squeeze(t).shape, [3, 2]);
    assert.deepEqual(t.squeeze().shape, [3, 2]);
    assert.deepEqual(t.squeeze(2).shape, [1, 3, 2]);
    assert.deepEqual(t.squeeze([0, -2]).shape, [3, 2]);
    assert.deepEqual(F.unsqueeze(tensor([1, 2]), 0).toArray(), [[1, 2]]);
    assert.deepEqual(tensor([1, 2]).unsqueeze(-1).toArray(), [[1], [2]]);
    assert.deepEqual(tensor([1, 2]).unsqueeze(1).shape, [2, 1]);
    assert.deepEqual(tensor(7).unsqueeze(0).toArray(), [7]);
  });
});

describe('permute, transpose, movedim, T', () => {
  test('permute moves axes; element [i][j][k] lands at the permuted position', () => {
    const p = F.permute(x, [2, 0, 1]);
    assert.deepEqual(p.shape, [4, 2, 3]);
    assert.deepEqual(x.permute([2, 0, 1]).toArray(), p.toArray());
    const out = p.toArray() as number[][][];
    for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 4; k++) assert.equal(out[k][i][j], 100 * i + 10 * j + k);
    assert.deepEqual(F.permute(x, [-1, 0, 1]).toArray(), out, 'negative entries name axes from the end');
  });

  test('transpose swaps the last two axes by default, or any two', () => {
    checkBoth('transpose', F.transpose(tensor([[1, 2, 3], [4, 5, 6]])), tensor([[1, 2, 3], [4, 5, 6]]).transpose(), [[1, 4], [2, 5], [3, 6]]);
    assert.deepEqual(x.transpose(0, 2).shape, [4, 3, 2]);
    assert.deepEqual(F.transpose(tensor([1, 2])).toArray(), [1, 2], 'rank-1 tensors transpose to themselves');
  });

  test('movedim keeps the other axes in order; T reverses all axes', () => {
    assert.deepEqual(F.movedim(x, 0, -1).shape, [3, 4, 2]);
    assert.deepEqual(x.movedim(2, 0).toArray(), F.permute(x, [2, 0, 1]).toArray());
    assert.deepEqual(x.T.shape, [4, 3, 2]);
    assert.deepEqual(x.T.toArray(), F.permute(x, [2, 1, 0]).toArray());
  });
});

describe('expand and broadcastTo', () => {
  test('size-1 axes grow; new leading axes are added; -1 keeps a dimension', () => {
    checkBoth('broadcastTo', F.broadcastTo(tensor([1, 2]), [2, 2]), tensor([1, 2]).broadcastTo([2, 2]), [[1, 2], [1, 2]]);
    checkBoth('expand', F.expand(tensor([[1], [2]]), [2, 3]), tensor([[1], [2]]).expand([2, 3]), [[1, 1, 1], [2, 2, 2]]);
    assert.deepEqual(tensor([[1], [2]]).expand([2, -1, 2]).toArray(), [[[1, 1], [2, 2]], [[1, 1], [2, 2]]]);
    assert.deepEqual(tensor(3).broadcastTo([2]).toArray(), [3, 3]);
  });
});

describe('slice and select', () => {
  const v = F.arange(6);
  test('Python slices: start:stop, steps, negative indices, clamping', () => {
    checkBoth('[1:4]', F.slice(v, [[1, 4]]), v.slice([[1, 4]]), [1, 2, 3]);
    checkBoth('[::2]', F.slice(v, [[undefined, undefined, 2]]), v.slice([[undefined, undefined, 2]]), [0, 2, 4]);
    checkBoth('[1::3]', F.slice(v, [{ start: 1, step: 3 }]), v.slice([{ start: 1, step: 3 }]), [1, 4]);
    checkBoth('[-2:]', F.slice(v, [[-2]]), v.slice([[-2]]), [4, 5]);
    checkBoth('[:-4]', F.slice(v, [{ stop: -4 }]), v.slice([{ stop: -4 }]), [0, 1]);
    checkBoth('[-100:100] clamps', F.slice(v, [[-100, 100]]), v.slice([[-100, 100]]), [0, 1, 2, 3, 4, 5]);
    checkBoth('[4:2] is empty', F.slice(v, [[4, 2]]), v.slice([[4, 2]]), []);
  });

  test('negative steps walk backwards, as in Python', () => {
    checkBoth('[::-1]', F.slice(v, [[undefined, undefined, -1]]), v.slice([[undefined, undefined, -1]]), [5, 4, 3, 2, 1, 0]);
    checkBoth('[::-2]', F.slice(v, [{ step: -2 }]), v.slice([{ step: -2 }]), [5, 3, 1]);
    checkBoth('[4:1:-1]', F.slice(v, [[4, 1, -1]]), v.slice([[4, 1, -1]]), [4, 3, 2]);
    checkBoth('[-2::-3]', F.slice(v, [[-2, undefined, -3]]), v.slice([[-2, undefined, -3]]), [4, 1]);
    checkBoth('[1:4:-1] is empty', F.slice(v, [[1, 4, -1]]), v.slice([[1, 4, -1]]), []);
    checkBoth('[100:-100:-4] clamps', F.slice(v, [[100, -100, -4]]), v.slice([[100, -100, -4]]), [5, 1]);
  });

  test('several axes at once: null keeps an axis, a number selects and drops it', () => {
    checkBoth('m[:, 1:3]', F.slice(m, [null, [1, 3]]), m.slice([null, [1, 3]]), [[1, 2], [5, 6], [9, 10]]);
    checkBoth('m[1]', F.slice(m, [1]), m.slice([1]), [4, 5, 6, 7]);
    checkBoth('m[-1, ::-2]', F.slice(m, [-1, [undefined, undefined, -2]]), m.slice([-1, [undefined, undefined, -2]]), [11, 9]);
    checkBoth('m[::2, 3]', F.slice(m, [[undefined, undefined, 2], 3]), m.slice([[undefined, undefined, 2], 3]), [3, 11]);
    assert.deepEqual(F.slice(x, [1, 2]).toArray(), [120, 121, 122, 123]);
    assert.deepEqual(F.slice(m, []).toArray(), m.toArray());
  });

  test('select removes the axis; negative indices count from the end', () => {
    checkBoth('select(0, 1)', F.select(m, 0, 1), m.select(0, 1), [4, 5, 6, 7]);
    checkBoth('select(1, -1)', F.select(m, 1, -1), m.select(1, -1), [3, 7, 11]);
    checkBoth('select(-1, 0)', F.select(x, -1, 0), x.select(-1, 0), [[0, 10, 20], [100, 110, 120]]);
    assert.equal(F.select(tensor([7, 8]), 0, 1).item(), 8);
  });
});

describe('pad and flip', () => {
  test('pad with zeros or a value, per axis before and after', () => {
    checkBoth('pad zeros', F.pad(tensor([[1, 2]]), [[1, 0], [0, 2]]), tensor([[1, 2]]).pad([[1, 0], [0, 2]]), [[0, 0, 0, 0], [1, 2, 0, 0]]);
    checkBoth('pad value', F.pad(tensor([1, 2]), [[2, 1]], 9), tensor([1, 2]).pad([[2, 1]], 9), [9, 9, 1, 2, 9]);
    assert.deepEqual(F.pad(tensor([1, 2]), [[1, 1]], -Infinity).toArray(), [-Infinity, 1, 2, -Infinity]);
    assert.ok((F.pad(tensor([1]), [[1, 0]], NaN).toArray() as number[]).map(Number.isNaN).join() === 'true,false');
  });

  test('pad keeps the values exactly and the dtype of the tensor', () => {
    assert.deepEqual(F.pad(tensor([1e-8]), [[0, 1]], 1).toArray(), [Math.fround(1e-8), 1]);
    const b = F.pad(tensor([true, false]), [[1, 1]], 1);
    assert.equal(b.dtype, 'bool');
    assert.deepEqual(b.toArray(), [true, true, false, true]);
    const n = F.pad(tensor([1, 2], { dtype: 'int32' }), [[1, 0]], 7);
    assert.equal(n.dtype, 'int32');
    assert.deepEqual(n.toArray(), [7, 1, 2]);
  });

  test('negative pads crop', () => {
    checkBoth('crop before, pad after', F.pad(F.arange(5), [[-2, 1]]), F.arange(5).pad([[-2, 1]]), [2, 3, 4, 0]);
    checkBoth('crop both sides', F.pad(m, [[-1, -1], [0, -3]]), m.pad([[-1, -1], [0, -3]]), [[4]]);
    assert.deepEqual(F.pad(F.arange(3), [[-1, 2]], 5).toArray(), [1, 2, 5, 5]);
  });

  test('flip all axes or the named ones', () => {
    checkBoth('flip all', F.flip(m), m.flip(), [[11, 10, 9, 8], [7, 6, 5, 4], [3, 2, 1, 0]]);
    checkBoth('flip axis 1', F.flip(m, 1), m.flip(1), [[3, 2, 1, 0], [7, 6, 5, 4], [11, 10, 9, 8]]);
    checkBoth('flip axis -2', F.flip(m, [-2]), m.flip([-2]), [[8, 9, 10, 11], [4, 5, 6, 7], [0, 1, 2, 3]]);
  });
});

describe('concat, stack, split, tile', () => {
  test('concat along any axis, including negative', () => {
    const a = tensor([[1, 2]]);
    const b = tensor([[3, 4], [5, 6]]);
    checkBoth('concat axis 0', F.concat([a, b]), a.concat([b]), [[1, 2], [3, 4], [5, 6]]);
    checkBoth('concat axis -1', F.concat([b, b.mul(10)], -1), b.concat([b.mul(10)], -1), [[3, 4, 30, 40], [5, 6, 50, 60]]);
    assert.deepEqual(F.concat([a]).toArray(), [[1, 2]]);
    assert.deepEqual(F.concat([F.zeros([0, 2]), a]).toArray(), [[1, 2]]);
  });

  test('concat keeps bool and promotes mixed dtypes', () => {
    const joined = F.concat([tensor([true]), tensor([false, true])]);
    assert.equal(joined.dtype, 'bool');
    assert.deepEqual(joined.toArray(), [true, false, true]);
    const mixed = F.concat([tensor([1], { dtype: 'int32' }), tensor([2.5])]);
    assert.equal(mixed.dtype, 'float32');
    assert.deepEqual(mixed.toArray(), [1, 2.5]);
    assert.deepEqual(F.concat([tensor([Infinity]), tensor([-Infinity])]).toArray(), [Infinity, -Infinity]);
  });

  test('stack along a new axis', () => {
    const a = tensor([1, 2]);
    const b = tensor([3, 4]);
    checkBoth('stack axis 0', F.stack([a, b]), a.stack([b]), [[1, 2], [3, 4]]);
    checkBoth('stack axis -1', F.stack([a, b], -1), a.stack([b], -1), [[1, 3], [2, 4]]);
    assert.deepEqual(F.stack([tensor(1), tensor(2)]).toArray(), [1, 2]);
    assert.equal(F.stack([tensor([true]), tensor([false])]).dtype, 'bool');
  });

  test('split into equal chunks (the last may be smaller) or given sizes', () => {
    const parts = F.split(F.arange(5), 2);
    assert.deepEqual(parts.map((p) => p.toArray()), [[0, 1], [2, 3], [4]]);
    assert.deepEqual(F.arange(5).split(2).map((p) => p.toArray()), [[0, 1], [2, 3], [4]]);
    assert.deepEqual(F.split(m, [1, 3], 1).map((p) => p.toArray()), [[[0], [4], [8]], [[1, 2, 3], [5, 6, 7], [9, 10, 11]]]);
    assert.deepEqual(m.split([2, 0, 1]).map((p) => p.shape), [[2, 4], [0, 4], [1, 4]]);
    assert.deepEqual(m.split(4, -1).map((p) => p.shape), [[3, 4]]);
  });

  test('tile repeats along each axis; fewer reps than axes repeat the last axes', () => {
    checkBoth('tile [2]', F.tile(tensor([1, 2]), [2]), tensor([1, 2]).tile([2]), [1, 2, 1, 2]);
    checkBoth('tile [2, 1]', F.tile(tensor([[1, 2]]), [2, 1]), tensor([[1, 2]]).tile([2, 1]), [[1, 2], [1, 2]]);
    checkBoth('tile [2, 2] of 1-D', F.tile(tensor([1, 2]), [2, 2]), tensor([1, 2]).tile([2, 2]), [[1, 2, 1, 2], [1, 2, 1, 2]]);
    assert.deepEqual(tensor([[1], [2]]).tile([3]).toArray(), [[1, 1, 1], [2, 2, 2]]);
    assert.deepEqual(tensor([1, 2]).tile([0]).toArray(), []);
  });
});

describe('gather, indexSelect, scatterAdd', () => {
  const t = tensor([[1, 2, 3], [4, 5, 6]]);
  test('gather along axis 1 and 0 (torch semantics), negative indices count from the end', () => {
    checkBoth('gather axis 1', F.gather(t, 1, idx([[2, 0], [1, 1]])), t.gather(1, idx([[2, 0], [1, 1]])), [[3, 1], [5, 5]]);
    checkBoth('gather axis 0', F.gather(t, 0, idx([[1, 0, 1]])), t.gather(0, idx([[1, 0, 1]])), [[4, 2, 6]]);
    checkBoth('gather negative', F.gather(t, -1, idx([[-1], [-3]])), t.gather(-1, idx([[-1], [-3]])), [[3], [4]]);
  });

  test('indexSelect picks whole slices in any order, with repeats', () => {
    checkBoth('indexSelect axis 0', F.indexSelect(t, 0, idx([1, 0, 1])), t.indexSelect(0, idx([1, 0, 1])), [[4, 5, 6], [1, 2, 3], [4, 5, 6]]);
    checkBoth('indexSelect axis -1', F.indexSelect(t, -1, idx([2, 2])), t.indexSelect(-1, idx([2, 2])), [[3, 3], [6, 6]]);
    assert.deepEqual(F.indexSelect(t, 1, idx([])).toArray(), [[], []], 'an empty index selects nothing');
    assert.deepEqual(F.indexSelect(t, 0, idx([])).toArray(), [], 'an empty index selects nothing');
  });

  test('scatterAdd adds src at the indexed positions, accumulating repeats', () => {
    const base = F.zeros([2, 3]);
    checkBoth('scatterAdd axis 1', F.scatterAdd(base, 1, idx([[0, 0], [2, 1]]), tensor([[1, 2], [3, 4]])), base.scatterAdd(1, idx([[0, 0], [2, 1]]), tensor([[1, 2], [3, 4]])), [[3, 0, 0], [0, 4, 3]]);
    checkBoth('scatterAdd axis 0', F.scatterAdd(F.ones([2, 2]), 0, idx([[1, 1]]), tensor([[5, 6]])), F.ones([2, 2]).scatterAdd(0, idx([[1, 1]]), tensor([[5, 6]])), [[1, 1], [6, 7]]);
    assert.deepEqual(F.scatterAdd(F.zeros([3]), 0, idx([-1, 0, -1]), tensor([1, 2, 3])).toArray(), [2, 0, 4]);
  });
});

describe('diagonal, triu, tril', () => {
  test('diagonal with offsets, on a chosen plane', () => {
    checkBoth('diagonal', F.diagonal(m), m.diagonal(), [0, 5, 10]);
    checkBoth('diagonal +1', F.diagonal(m, 1), m.diagonal(1), [1, 6, 11]);
    checkBoth('diagonal +3', F.diagonal(m, 3), m.diagonal(3), [3]);
    checkBoth('diagonal -1', F.diagonal(m, -1), m.diagonal(-1), [4, 9]);
    checkBoth('diagonal -3 is empty', F.diagonal(m, -3), m.diagonal(-3), []);
    checkBoth('diagonal +7 is empty', F.diagonal(m, 7), m.diagonal(7), []);
    // Plane (0, 2) of x: x[i][j][i] for each j, the diagonal as the last axis.
    checkBoth('diagonal of axes 0, 2', F.diagonal(x, 0, 0, 2), x.diagonal(0, 0, 2), [[0, 101], [10, 111], [20, 121]]);
    checkBoth('diagonal of axes -1, 1 offset 1', F.diagonal(x, 1, -1, 1), x.diagonal(1, -1, 1), [[10, 21], [110, 121]]);
  });

  test('triu and tril with k', () => {
    const ones = F.ones([3, 3]);
    checkBoth('triu', F.triu(ones), ones.triu(), [[1, 1, 1], [0, 1, 1], [0, 0, 1]]);
    checkBoth('triu 1', F.triu(ones, 1), ones.triu(1), [[0, 1, 1], [0, 0, 1], [0, 0, 0]]);
    checkBoth('triu -1', F.triu(ones, -1), ones.triu(-1), [[1, 1, 1], [1, 1, 1], [0, 1, 1]]);
    checkBoth('tril', F.tril(ones), ones.tril(), [[1, 0, 0], [1, 1, 0], [1, 1, 1]]);
    checkBoth('tril -1', F.tril(ones, -1), ones.tril(-1), [[0, 0, 0], [1, 0, 0], [1, 1, 0]]);
    checkBoth('tril on a wide matrix', F.tril(m, 1), m.tril(1), [[0, 1, 0, 0], [4, 5, 6, 0], [8, 9, 10, 11]]);
    assert.deepEqual(F.triu(F.ones([2, 2, 2])).toArray(), [[[1, 1], [0, 1]], [[1, 1], [0, 1]]], 'batched over leading axes');
    assert.equal(F.tril(tensor([[true, true], [true, true]])).dtype, 'bool');
  });
});
