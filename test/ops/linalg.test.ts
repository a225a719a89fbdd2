import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as F from '../../src/index.js';
import { tensor } from '../../src/index.js';
import { assertAllClose } from '../../src/testing/assert.js';

const a = tensor([[1, 2], [3, 4], [5, 6]]); // [3, 2]
const b = tensor([[1, 0, -1], [2, 1, 0]]); // [2, 3]

describe('matmul', () => {
  test('matrix @ matrix, as a function and a method', () => {
    const expected = [[5, 2, -1], [11, 4, -3], [17, 6, -5]];
    assertAllClose(F.matmul(a, b), expected);
    assertAllClose(a.matmul(b), expected);
    assertAllClose(b.matmul(a), [[-4, -4], [5, 8]]);
  });

  test('1-D operands: matrix @ vector, vector @ matrix, vector @ vector', () => {
    const v = tensor([1, -1]);
    assertAllClose(F.matmul(a, v), [-1, -1, -1]);
    assert.deepEqual(F.matmul(a, v).shape, [3]);
    assertAllClose(F.matmul(tensor([1, 0, 1]), a), [6, 8]);
    assert.deepEqual(F.matmul(tensor([1, 0, 1]), a).shape, [2]);
    assertAllClose(F.matmul(tensor([1, 2, 3]), tensor([4, 5, 6])), 32);
    assert.deepEqual(F.matmul(tensor([1, 2, 3]), tensor([4, 5, 6])).shape, []);
  });

  test('batched, with batch axes broadcasting', () => {
    const batch = F.stack([a, a.mul(2)]); // [2, 3, 2]
    const out = F.matmul(batch, b); // [2, 3, 3]
    assert.deepEqual(out.shape, [2, 3, 3]);
    assertAllClose(out, [[[5, 2, -1], [11, 4, -3], [17, 6, -5]], [[10, 4, -2], [22, 8, -6], [34, 12, -10]]]);
    // [2, 1, 3, 2] @ [4, 2, 1] -> [2, 4, 3, 1]
    const left = F.ones([2, 1, 3, 2]);
    const right = F.arange(8).reshape([4, 2, 1]).cast('float32');
    const broadcast = F.matmul(left, right);
    assert.deepEqual(broadcast.shape, [2, 4, 3, 1]);
    // right[2] = [[4], [5]], so every row of ones @ right[2] is 4 + 5.
    assertAllClose(F.select(F.select(broadcast, 0, 1), 0, 2), [[9], [9], [9]]);
    // Batched matrix @ vector.
    assertAllClose(F.matmul(batch, tensor([1, 1])), [[3, 7, 11], [6, 14, 22]]);
  });

  test('integer matmul stays int32; mixed dtypes promote', () => {
    const n = tensor([[1, 2], [3, 4]], { dtype: 'int32' });
    assert.equal(F.matmul(n, n).dtype, 'int32');
    assert.deepEqual(F.matmul(n, n).toArray(), [[7, 10], [15, 22]]);
    assert.equal(F.matmul(n, tensor([[1], [1]], { dtype: 'float64' })).dtype, 'float64');
  });
});

describe('dot and outer', () => {
  test('dot of two vectors', () => {
    assertAllClose(F.dot(tensor([1, 2, 3]), tensor([4, -5, 6])), 12);
    assertAllClose(tensor([1, 2, 3]).dot(tensor([4, -5, 6])), 12);
    assert.deepEqual(F.dot(tensor([1]), tensor([2])).shape, []);
  });

  test('outer product', () => {
    const expected = [[3, 4, 5], [6, 8, 10]];
    assertAllClose(F.outer(tensor([1, 2]), tensor([3, 4, 5])), expected);
    assertAllClose(tensor([1, 2]).outer(tensor([3, 4, 5])), expected);
  });
});

describe('einsum', () => {
  test('matrix product, transposes, batch matmul', () => {
    assertAllClose(F.einsum('ij,jk->ik', a, b), F.matmul(a, b));
    assertAllClose(F.einsum('ij->ji', a), [[1, 3, 5], [2, 4, 6]]);
    assertAllClose(a.einsum('ij,jk->ik', b), F.matmul(a, b), { message: 'the method form: the tensor is the first operand' });
    assertAllClose(F.einsum('ij,kj->ik', a, b.T), F.matmul(a, b), { message: 'contracting a transposed operand' });
    assertAllClose(F.einsum('ji,kj->ik', a.T, b.T), F.matmul(a, b));
    const x = F.arange(12).reshape([2, 2, 3]).cast('float32');
    const y = F.arange(12).reshape([2, 3, 2]).cast('float32');
    assertAllClose(F.einsum('bij,bjk->bik', x, y), F.matmul(x, y));
    assertAllClose(F.einsum('bij,bjk->bik', x, y), [[[10, 13], [28, 40]], [[172, 193], [244, 274]]]);
  });

  test('traces and diagonals from repeated subscripts', () => {
    const sq = F.arange(9).reshape([3, 3]).cast('float32');
    assertAllClose(F.einsum('ii->', sq), 12);
    assertAllClose(F.einsum('ii', sq), 12, { message: 'implicit output of a trace is a scalar' });
    assertAllClose(F.einsum('ii->i', sq), [0, 4, 8]);
    const batch = F.stack([sq, sq.mul(2)]);
    assertAllClose(F.einsum('bii->b', batch), [12, 24]);
  });

  test('sums, dot, outer, implicit output in alphabetical order', () => {
    const v = tensor([1, 2, 3]);
    assertAllClose(F.einsum('i->', v), 6);
    assertAllClose(F.einsum('i,i', v, v), 14);
    assertAllClose(F.einsum('i,j->ij', v, tensor([1, 10])), [[1, 10], [2, 20], [3, 30]]);
    assertAllClose(F.einsum('ij->j', a), [9, 12]);
    assertAllClose(F.einsum('ba', a), [[1, 3, 5], [2, 4, 6]], { message: "implicit 'ba' means 'ba->ab', a transpose" });
    assertAllClose(F.einsum(' ij , jk -> ik ', a, b), F.matmul(a, b), { message: 'spaces are ignored' });
  });
});
