// The public pytree tools: flatten/unflatten round trips, treeMap over several trees, and
// mismatched structures rejected with the path where they differ.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError, grad, tensor, treeFlatten, treeLeaves, treeMap, treeStructure, treeUnflatten, type Tensor } from '../src/index.js';
import { assertAllClose } from '../src/testing/index.js';

const params = { w: tensor([1, 2]), layers: [{ b: tensor(3) }, { b: tensor(4) }] };

describe('treeFlatten / treeUnflatten / treeLeaves / treeStructure', () => {
  test('leaves come depth-first with object keys sorted, and unflatten rebuilds the tree', () => {
    const [leaves, def] = treeFlatten(params);
    assert.deepEqual(leaves.map((l) => l.toArray()), [3, 4, [1, 2]]);
    const rebuilt = treeUnflatten(def, leaves) as typeof params;
    assert.equal(rebuilt.w, params.w);
    assert.equal(rebuilt.layers[1].b, params.layers[1].b);
    assert.deepEqual(treeLeaves(params), leaves);
    assert.deepEqual(treeStructure(params), def);
  });

  test('non-tensor values are leaves too; empty containers have none', () => {
    const [leaves, def] = treeFlatten({ a: [], b: {}, c: [1, 'x', null] });
    assert.deepEqual(leaves, [1, 'x', null]);
    assert.deepEqual(treeUnflatten(def, ['p', 'q', 'r']), { a: [], b: {}, c: ['p', 'q', 'r'] });
  });

  test('unflattening with the wrong number of leaves is an ArgumentError', () => {
    const def = treeStructure(params);
    assert.throws(() => treeUnflatten(def, [tensor(1)]), (e: unknown) => e instanceof ArgumentError && /3 leaves but 1 were given/.test(e.message));
  });
});

describe('treeMap', () => {
  test('maps one tree, keeping its structure', () => {
    const doubled = treeMap((t) => t.mul(2), params);
    assertAllClose(doubled.w, [2, 4]);
    assertAllClose(doubled.layers[0].b, 6);
    assertAllClose(doubled.layers[1].b, 8);
  });

  test('maps several trees leaf by leaf: an SGD step over a gradient of the same structure', () => {
    const loss = (p: typeof params) => p.w.square().sum().add(p.layers[0].b.mul(p.layers[1].b));
    const g = grad(loss)(params);
    const next = treeMap((p, d) => p.sub(d.mul(0.5)), params, g);
    assertAllClose(next.w, [0, 0]);
    assertAllClose(next.layers[0].b, 3 - 0.5 * 4);
    assertAllClose(next.layers[1].b, 4 - 0.5 * 3);
    const sum3 = treeMap((a: Tensor, b: Tensor, c: Tensor) => a.add(b).add(c), params, params, params);
    assertAllClose(sum3.w, [3, 6]);
  });

  test('object key order does not matter, only the set of keys', () => {
    const out = treeMap((a, b) => a.sub(b), { x: tensor(5), y: tensor(1) }, { y: tensor(1), x: tensor(2) });
    assertAllClose(out.x, 3);
    assertAllClose(out.y, 0);
  });

  test('mismatched structures throw an ArgumentError naming the path', () => {
    const check = (pattern: RegExp) => (e: unknown) => e instanceof ArgumentError && pattern.test(e.message);
    const other = { w: tensor([1, 2]), layers: [{ b: tensor(3) }] };
    assert.throws(() => treeMap((a, b) => a.add(b), params, other), check(/at \.layers tree 0 is an array of 2 but tree 1 is an array of 1/));
    const renamed = { w: tensor([1, 2]), layers: [{ b: tensor(3) }, { c: tensor(4) }] } as unknown as typeof params;
    assert.throws(() => treeMap((a, b) => a.add(b), params, renamed), check(/at \.layers\[1\] tree 0 is an object with keys \{b\} but tree 1 is an object with keys \{c\}/));
    const deeper = { w: [tensor(1), tensor(2)], layers: params.layers } as unknown as typeof params;
    assert.throws(() => treeMap((a, b) => a.add(b), params, params, deeper), check(/at \.w tree 0 is a leaf but tree 2 is an array of 2/));
    assert.throws(() => treeMap((a: Tensor, b: Tensor) => a.add(b), tensor(1), [tensor(1)] as unknown as Tensor), check(/at the top/));
  });
});
