import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as F from '../../src/index.js';
import { tensor } from '../../src/index.js';
import { assertAllClose } from '../../src/testing/assert.js';

describe('mseLoss', () => {
  const prediction = tensor([[1, 2], [3, 4]]);
  const target = tensor([[1, 0], [5, 4]]);
  test('mean by default, sum or none on request, as a function and a method', () => {
    assertAllClose(F.mseLoss(prediction, target), 2);
    assertAllClose(prediction.mseLoss(target), 2);
    assertAllClose(F.mseLoss(prediction, target, { reduction: 'sum' }), 8);
    assertAllClose(prediction.mseLoss(target, { reduction: 'none' }), [[0, 4], [4, 0]]);
  });

  test('targets may be plain numbers or arrays', () => {
    assertAllClose(F.mseLoss(tensor([1, 3]), [0, 0]), 5);
    assertAllClose(F.mseLoss(tensor(2), 0), 4);
  });
});

describe('crossEntropy', () => {
  const logits = tensor([[0, 0, 0], [1, 2, 3]]);
  const targets = tensor([2, 0], { dtype: 'int32' });
  // Row 0: uniform, so -log(1/3). Row 1: -log(e^1 / (e^1 + e^2 + e^3)).
  const row0 = Math.log(3);
  const row1 = Math.log(Math.E + Math.E ** 2 + Math.E ** 3) - 1;

  test('from logits with integer class targets, averaged over the batch by default', () => {
    assertAllClose(F.crossEntropy(logits, targets), (row0 + row1) / 2);
    assertAllClose(logits.crossEntropy(targets), (row0 + row1) / 2);
    assertAllClose(F.crossEntropy(logits, targets, { reduction: 'sum' }), row0 + row1);
    assertAllClose(logits.crossEntropy(targets, { reduction: 'none' }), [row0, row1]);
  });

  test('a single example: logits [C] with a scalar target', () => {
    const loss = F.crossEntropy(tensor([1, 2, 3]), tensor(0, { dtype: 'int32' }));
    assert.deepEqual(loss.shape, []);
    assertAllClose(loss, row1);
  });

  test('stable for large logits', () => {
    assertAllClose(F.crossEntropy(tensor([[1000, 0]]), tensor([1], { dtype: 'int32' })), 1000);
    assertAllClose(F.crossEntropy(tensor([[1000, 0]]), tensor([0], { dtype: 'int32' })), 0);
  });
});
