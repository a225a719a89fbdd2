import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import * as F from '../../src/index.js';
import { tensor } from '../../src/index.js';

describe('reading values', () => {
  test('toArray gives nested arrays of the shape, numbers or booleans, and a number for 0-d', () => {
    assert.deepEqual(tensor([[1, 2], [3, 4]]).toArray(), [[1, 2], [3, 4]]);
    assert.deepEqual(tensor([[true, false]]).toArray(), [[true, false]]);
    assert.equal(tensor(3).toArray(), 3);
    assert.deepEqual(F.zeros([2, 0]).toArray(), [[], []]);
    assert.deepEqual(F.zeros([0, 2]).toArray(), []);
  });

  test('item reads the one element of any shape with one element', () => {
    assert.equal(tensor(2.5).item(), 2.5);
    assert.equal(tensor([[7]]).item(), 7);
    assert.equal(tensor([1, 2, 3]).sum().item(), 6);
    assert.equal(tensor([true]).item(), 1);
  });

  test('dataSync gives a fresh typed array of the dtype', () => {
    const x = tensor([[1, 2], [3, 4]]);
    const data = x.dataSync();
    assert.ok(data instanceof Float32Array);
    assert.deepEqual(Array.from(data), [1, 2, 3, 4]);
    data[0] = 100;
    assert.deepEqual(x.toArray(), [[1, 2], [3, 4]], 'writing to the copy does not change the tensor');
    assert.ok(tensor([1], { dtype: 'float64' }).dataSync() instanceof Float64Array);
    assert.ok(tensor([1], { dtype: 'int32' }).dataSync() instanceof Int32Array);
    assert.ok(tensor([true]).dataSync() instanceof Uint8Array);
  });

  test('data is a Promise of the same values', async () => {
    const x = tensor([1, 2, 3]).mul(2);
    const promise = x.data();
    assert.ok(promise instanceof Promise);
    assert.deepEqual(Array.from(await promise), [2, 4, 6]);
  });

  test('reading computes once: the node keeps its value and drops its inputs', () => {
    const x = tensor([1, 2]).add(1);
    assert.equal(x.node.realized, null);
    assert.ok(x.node.inputs.length > 0);
    x.toArray();
    assert.ok(x.node.realized !== null);
    assert.equal(x.node.inputs.length, 0);
    // Building on a realized node still works, including rules that would look through it.
    assert.deepEqual(x.reshape([2, 1]).reshape([2]).neg().neg().toArray(), [2, 3]);
  });
});

describe('toString', () => {
  test('shape, dtype and values in the style of PyTorch, 4 decimals for floats', () => {
    assert.equal(tensor([[1, 2], [3, 4]]).toString(), 'tensor([[1.0000, 2.0000],\n        [3.0000, 4.0000]], shape=[2, 2], dtype=float32)');
    assert.equal(tensor(3.5).toString(), 'tensor(3.5000, shape=[], dtype=float32)');
    assert.equal(tensor([-1.5, 2]).toString(), 'tensor([-1.5000,  2.0000], shape=[2], dtype=float32)');
  });

  test('integers and booleans print without decimals', () => {
    assert.equal(tensor([1, -20], { dtype: 'int32' }).toString(), 'tensor([  1, -20], shape=[2], dtype=int32)');
    assert.equal(tensor([true, false]).toString(), 'tensor([ true, false], shape=[2], dtype=bool)');
  });

  test('higher ranks separate blocks by blank lines', () => {
    assert.equal(F.arange(8).reshape([2, 2, 2]).toString(), 'tensor([[[0, 1],\n         [2, 3]],\n\n        [[4, 5],\n         [6, 7]]], shape=[2, 2, 2], dtype=int32)');
  });

  test('very small or large magnitudes switch to scientific notation; non-finite values print as nan/inf', () => {
    assert.equal(tensor([1e-6, 1]).toString(), 'tensor([1.0000e-6, 1.0000e+0], shape=[2], dtype=float32)');
    assert.equal(tensor([1e9], { dtype: 'float64' }).toString(), 'tensor([1.0000e+9], shape=[1], dtype=float64)');
    assert.equal(tensor([NaN, Infinity, -Infinity, 1]).toString(), 'tensor([   nan,    inf,   -inf, 1.0000], shape=[4], dtype=float32)');
  });

  test('large tensors are summarized with ...', () => {
    assert.equal(F.arange(2000).toString(), 'tensor([   0,    1,    2, ..., 1997, 1998, 1999], shape=[2000], dtype=int32)');
    const rows = F.arange(3000).reshape([1000, 3]).toString().split('\n');
    assert.equal(rows.length, 7, 'three rows, an ellipsis, three rows');
    assert.equal(rows[3].trim(), '...,');
  });

  test('empty tensors; util.inspect and template strings use the same format', () => {
    assert.equal(F.zeros([0]).toString(), 'tensor([], shape=[0], dtype=float32)');
    assert.equal(inspect(tensor([1], { dtype: 'int32' })), 'tensor([1], shape=[1], dtype=int32)');
    assert.equal(`${tensor([2], { dtype: 'int32' })}`, 'tensor([2], shape=[1], dtype=int32)');
  });
});
