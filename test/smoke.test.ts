import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../src/index.js';

test('a lazy expression computes on demand', () => {
  assert.equal(tensor([1, 2, 3]).mul(2).add(1).sum().item(), 15);
});
