/**
 * Bad input never crashes obscurely or returns garbage: each kind throws one of the exported
 * error classes, whose message names the op, the shapes (or values) involved and the fix.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as F from '../src/index.js';
import { ArgumentError, DTypeError, FunctsError, IndexError, ShapeError, tensor } from '../src/index.js';
import { describeValue } from '../src/lazy/errors.js';
import { allocate } from '../src/lazy/dtype.js';

type ErrorClass = typeof ShapeError | typeof DTypeError | typeof IndexError | typeof ArgumentError;

/**
 * Asserts that `body` throws an instance of `kind` (which is a FunctsError) whose message
 * starts with the op's name and mentions every fragment. Lazy errors surface on reading,
 * so a returned tensor is read.
 */
function throwsFrom(op: string, kind: ErrorClass, fragments: readonly string[], body: () => unknown): void {
  assert.throws(
    () => {
      const out = body();
      if (out instanceof F.Tensor) out.toArray();
    },
    (error: unknown) => {
      assert.ok(error instanceof kind, `expected a ${kind.name}, got ${String(error)}`);
      assert.ok(error instanceof FunctsError);
      assert.equal(error.name, kind.name);
      assert.ok(error.message.startsWith(`${op}: `), `message should start with "${op}: ": ${error.message}`);
      for (const fragment of fragments) assert.ok(error.message.includes(fragment), `message should mention "${fragment}": ${error.message}`);
      return true;
    },
  );
}

const i32 = (data: F.NestedArray) => tensor(data, { dtype: 'int32' });
const loose = <T>(x: unknown) => x as T;

describe('shape mismatches', () => {
  test('broadcasting: elementwise ops, where, broadcastTo', () => {
    throwsFrom('add', ShapeError, ['[2, 3]', '[4]', 'broadcast'], () => F.add(F.ones([2, 3]), F.ones([4])));
    throwsFrom('mul', ShapeError, ['[2, 3]', '[3, 3]'], () => F.ones([2, 3]).mul(F.ones([3, 3])));
    throwsFrom('lt', ShapeError, ['[2]', '[3]'], () => F.lt(F.ones([2]), F.ones([3])));
    throwsFrom('where', ShapeError, ['[2]', '[3]'], () => F.where(F.ones([2]).gt(0), F.ones([3]), 0));
    throwsFrom('broadcastTo', ShapeError, ['[3]', '[2, 2]'], () => F.broadcastTo(F.ones([3]), [2, 2]));
    throwsFrom('broadcastTo', ShapeError, ['[2, 3]', '[3]', 'lower rank'], () => F.ones([2, 3]).expand([3]));
  });

  test('matmul, dot, outer, einsum', () => {
    throwsFrom('matmul', ShapeError, ['[2, 3]', '[4, 5]', 'inner'], () => F.matmul(F.ones([2, 3]), F.ones([4, 5])));
    throwsFrom('matmul', ShapeError, ['[3]', '[2]'], () => F.matmul(F.ones([3]), F.ones([2])));
    throwsFrom('matmul', ShapeError, ['[2, 2, 3]', '[3, 3, 4]', 'batch'], () => F.matmul(F.ones([2, 2, 3]), F.ones([3, 3, 4])));
    throwsFrom('matmul', ShapeError, ['[]', 'mul'], () => F.ones([]).matmul(F.ones([3])));
    throwsFrom('dot', ShapeError, ['[2]', '[3]'], () => F.dot(F.ones([2]), F.ones([3])));
    throwsFrom('dot', ShapeError, ['[2, 2]'], () => F.dot(F.ones([2, 2]), F.ones([2])));
    throwsFrom('outer', ShapeError, ['[2, 2]', '[3]'], () => F.outer(F.ones([2, 2]), F.ones([3])));
    throwsFrom('einsum', ShapeError, ['[2]', "'ij'"], () => F.einsum('ij,jk->ik', F.ones([2]), F.ones([2, 2])));
    throwsFrom('einsum', ShapeError, ["'j'", '3', '2'], () => F.einsum('ij,jk->ik', F.ones([2, 3]), F.ones([2, 2])));
  });

  test('concat, stack, split, reshape, squeeze, pad', () => {
    throwsFrom('concat', ShapeError, ['[2, 3]', '[2, 4]', 'axis 0'], () => F.concat([F.ones([2, 3]), F.ones([2, 4])]));
    throwsFrom('concat', ShapeError, ['[2, 3]', '[3]'], () => F.ones([2, 3]).concat([F.ones([3])]));
    throwsFrom('stack', ShapeError, ['[2]', '[3]'], () => F.stack([F.ones([2]), F.ones([3])]));
    throwsFrom('split', ShapeError, ['[2,2]', '5', '[5]'], () => F.split(F.ones([5]), [2, 2]));
    throwsFrom('reshape', ShapeError, ['[6]', '[4, 2]', '6 elements', '8 elements'], () => F.reshape(F.ones([6]), [4, 2]));
    throwsFrom('reshape', ShapeError, ['[6]', '[-1, 4]'], () => F.ones([6]).reshape([-1, 4]));
    throwsFrom('reshape', ShapeError, ['[-1, -1]', 'more than one -1'], () => F.reshape(F.ones([6]), [-1, -1]));
    throwsFrom('squeeze', ShapeError, ['[2, 1]', 'size 2'], () => F.squeeze(F.ones([2, 1]), 0));
    throwsFrom('pad', ShapeError, ['1 [before, after] pairs', '[2, 2]'], () => F.pad(F.ones([2, 2]), [[1, 1]]));
    throwsFrom('pad', ShapeError, ['[[-2,-2]]', '[3]'], () => F.pad(F.ones([3]), [[-2, -2]]));
    throwsFrom('tensor', ShapeError, ['2 values', '[3]'], () => tensor([1, 2], { shape: [3] }));
  });

  test('shapes that do not suit the op: diagonal, triu, tril, gather, scatterAdd, indexSelect, losses', () => {
    throwsFrom('diagonal', ShapeError, ['[2]', 'rank >= 2'], () => F.diagonal(F.ones([2])));
    throwsFrom('triu', ShapeError, ['[2]'], () => F.triu(F.ones([2])));
    throwsFrom('tril', ShapeError, ['[]'], () => F.ones([]).tril());
    throwsFrom('gather', ShapeError, ['[1, 3]', '[2, 2]'], () => F.gather(F.ones([2, 2]), 0, i32([[0, 1, 0]])));
    throwsFrom('gather', ShapeError, ['[1]', '[2, 2]'], () => F.gather(F.ones([2, 2]), 0, i32([0])));
    throwsFrom('indexSelect', ShapeError, ['[1, 1]', '1-D'], () => F.indexSelect(F.ones([2, 2]), 0, i32([[0]])));
    throwsFrom('scatterAdd', ShapeError, ['[3]', '[2]'], () => F.scatterAdd(F.zeros([2]), 0, i32([0, 0, 0]), tensor([1, 2])));
    throwsFrom('mseLoss', ShapeError, ['[2]', '[3]'], () => F.mseLoss(F.ones([2]), F.ones([3])));
    throwsFrom('crossEntropy', ShapeError, ['[2, 3]', '[3]', '[N, C]'], () => F.crossEntropy(F.ones([2, 3]), i32([1, 2, 0])));
  });
});

describe('bad axes', () => {
  test('out-of-range and non-integer axes name the op and the rank', () => {
    throwsFrom('sum', IndexError, ['axis 2', 'rank 2', '[-2, 1]'], () => F.sum(F.ones([2, 3]), { axis: 2 }));
    throwsFrom('sum', IndexError, ['axis -3'], () => F.ones([2, 3]).sum({ axis: [0, -3] }));
    throwsFrom('mean', IndexError, ['axis 0.5'], () => F.mean(F.ones([2, 3]), { axis: 0.5 }));
    throwsFrom('max', IndexError, ['rank 0', 'no axes'], () => F.max(tensor(1), { axis: 0 }));
    throwsFrom('argmax', IndexError, ['axis 2'], () => F.argmax(F.ones([2, 3]), { axis: 2 }));
    throwsFrom('softmax', IndexError, ['axis 2'], () => F.softmax(F.ones([2, 3]), 2));
    throwsFrom('logSoftmax', IndexError, ['axis -3'], () => F.ones([2, 3]).logSoftmax(-3));
    throwsFrom('logsumexp', IndexError, ['axis 5'], () => F.logsumexp(F.ones([2, 3]), { axis: 5 }));
    throwsFrom('flip', IndexError, ['axis 3'], () => F.flip(F.ones([2, 3]), 3));
    throwsFrom('unsqueeze', IndexError, ['axis 3', 'rank 3'], () => F.unsqueeze(F.ones([2, 3]), 3));
    throwsFrom('transpose', IndexError, ['axis 2'], () => F.transpose(F.ones([2, 3]), 0, 2));
    throwsFrom('movedim', IndexError, ['axis 5'], () => F.ones([2, 3]).movedim(0, 5));
    throwsFrom('select', IndexError, ['axis 2'], () => F.select(F.ones([2, 3]), 2, 0));
    throwsFrom('concat', IndexError, ['axis 2'], () => F.concat([F.ones([2, 3])], 2));
    throwsFrom('stack', IndexError, ['axis 4', 'rank 3'], () => F.stack([F.ones([2, 3])], 4));
    throwsFrom('split', IndexError, ['axis 2'], () => F.split(F.ones([2, 3]), 1, 2));
    throwsFrom('gather', IndexError, ['axis 2'], () => F.gather(F.ones([2, 3]), 2, i32([[0]])));
  });

  test('repeated axes, non-permutations, inverted ranges, equal diagonal axes', () => {
    throwsFrom('sum', IndexError, ['[1,-1]', 'repeats'], () => F.sum(F.ones([2, 3]), { axis: [1, -1] }));
    throwsFrom('permute', ShapeError, ['[0]', 'rank 2'], () => F.permute(F.ones([2, 3]), [0]));
    throwsFrom('permute', IndexError, ['[0,0]', 'not a permutation'], () => F.ones([2, 3]).permute([0, 0]));
    throwsFrom('flatten', IndexError, ['startDim 2', 'endDim 1', '[2, 3, 4]'], () => F.flatten(F.ones([2, 3, 4]), 2, 1));
    throwsFrom('diagonal', IndexError, ['both 1'], () => F.diagonal(F.ones([2, 3]), 0, 1, -1));
  });
});

describe('wrong dtypes', () => {
  test('indices must be int32', () => {
    throwsFrom('gather', DTypeError, ['float32', '[1, 2]', 'int32'], () => F.gather(F.ones([2, 2]), 0, tensor([[0, 1]])));
    throwsFrom('indexSelect', DTypeError, ['float64', 'int32'], () => F.indexSelect(F.ones([2, 2]), 0, tensor([0], { dtype: 'float64' })));
    throwsFrom('scatterAdd', DTypeError, ['bool'], () => F.scatterAdd(F.ones([2]), 0, tensor([true]), tensor([1])));
    throwsFrom('crossEntropy', DTypeError, ['float32', 'int32'], () => F.crossEntropy(F.ones([2, 3]), tensor([1, 2])));
  });

  test('unknown dtype names, random values of a non-float dtype', () => {
    throwsFrom('tensor', DTypeError, ['"float16"', 'float32'], () => tensor([1], { dtype: loose('float16') }));
    throwsFrom('cast', DTypeError, ['"float16"'], () => F.cast(F.ones([2]), loose('float16')));
    throwsFrom('zeros', DTypeError, ['"int8"'], () => F.zeros([2], { dtype: loose('int8') }));
    throwsFrom('full', DTypeError, ['"int8"'], () => F.full([2], 1, { dtype: loose('int8') }));
    throwsFrom('arange', DTypeError, ['"int8"'], () => F.arange(3, undefined, 1, { dtype: loose('int8') }));
    throwsFrom('linspace', DTypeError, ['"int8"'], () => F.linspace(0, 1, 2, { dtype: loose('int8') }));
    throwsFrom('eye', DTypeError, ['"int8"'], () => F.eye(2, 2, { dtype: loose('int8') }));
    throwsFrom('rand', DTypeError, ['int32', 'float'], () => F.rand([2], { seed: 0, dtype: 'int32' }));
    throwsFrom('randn', DTypeError, ['bool'], () => F.randn([2], { seed: 0, dtype: 'bool' }));
  });
});

describe('non-finite, negative or fractional sizes', () => {
  test('creation ops reject bad shapes', () => {
    throwsFrom('zeros', ArgumentError, ['[-1]', 'non-negative integer'], () => F.zeros([-1]));
    throwsFrom('full', ArgumentError, ['[-1]', 'non-negative integer'], () => F.full([-1], 2));
    throwsFrom('ones', ArgumentError, ['[NaN]'], () => F.ones([NaN]));
    throwsFrom('full', ArgumentError, ['[2, Infinity]'], () => F.full([2, Infinity], 1));
    throwsFrom('zeros', ArgumentError, ['[2.5]'], () => F.zeros([2.5]));
    throwsFrom('zeros', ArgumentError, ['not an array'], () => F.zeros(loose(3)));
    throwsFrom('rand', ArgumentError, ['[-1]'], () => F.rand([-1], { seed: 0 }));
    throwsFrom('randn', ArgumentError, ['[Infinity]'], () => F.randn([Infinity], { seed: 0 }));
    throwsFrom('eye', ArgumentError, ['-1'], () => F.eye(-1));
    throwsFrom('eye', ArgumentError, ['NaN'], () => F.eye(2, NaN));
    throwsFrom('tensor', ArgumentError, ['[-2]'], () => tensor([1, 2], { shape: [-2] }));
  });

  test('ranges, reshape, tile, split, pad, slice reject bad amounts', () => {
    throwsFrom('arange', ArgumentError, ['Infinity', 'finite'], () => F.arange(Infinity));
    throwsFrom('arange', ArgumentError, ['NaN'], () => F.arange(0, NaN));
    throwsFrom('arange', ArgumentError, ['step 0'], () => F.arange(0, 3, 0));
    throwsFrom('linspace', ArgumentError, ['num -1'], () => F.linspace(0, 1, -1));
    throwsFrom('linspace', ArgumentError, ['num 2.5'], () => F.linspace(0, 1, 2.5));
    throwsFrom('reshape', ArgumentError, ['[-2, -3]', 'invalid dimension -2'], () => F.reshape(F.ones([6]), [-2, -3]));
    throwsFrom('reshape', ArgumentError, ['NaN'], () => F.ones([6]).reshape([NaN]));
    throwsFrom('tile', ArgumentError, ['[-1]'], () => F.tile(F.ones([2]), [-1]));
    throwsFrom('split', ArgumentError, ['chunk size 0'], () => F.split(F.ones([5]), 0));
    throwsFrom('pad', ArgumentError, ['[[0.5,0]]', 'whole numbers'], () => F.pad(F.ones([2]), [[0.5, 0]]));
    throwsFrom('slice', ArgumentError, ['step 0'], () => F.slice(F.ones([3]), [[0, 3, 0]]));
    throwsFrom('slice', ArgumentError, ['0.5'], () => F.slice(F.ones([3]), [[0.5, 2]]));
  });
});

describe('ragged or malformed nested arrays', () => {
  test('rows of different lengths, scalars among rows, arrays among scalars, non-numbers', () => {
    throwsFrom('tensor', ArgumentError, ['ragged', '[1]', 'length 1', '[2, 2]'], () => tensor(loose([[1, 2], [3]])));
    throwsFrom('tensor', ArgumentError, ['ragged', '[1]', 'scalar'], () => tensor(loose([[1, 2], 3])));
    throwsFrom('tensor', ArgumentError, ['[1]', 'ragged nesting'], () => tensor(loose([1, [2]])));
    throwsFrom('tensor', ArgumentError, ['[1][1]'], () => tensor(loose([[[1], [2]], [[3], 4]])));
    throwsFrom('tensor', ArgumentError, ['[0]', '"a"'], () => tensor(loose(['a'])));
    throwsFrom('tensor', ArgumentError, ['[1]', 'undefined'], () => tensor(loose([1, undefined])));
  });

  test('ragged arrays passed where a tensor is expected', () => {
    throwsFrom('add', ArgumentError, ['ragged'], () => F.add(F.ones([2]), loose([[1], [2, 3]])));
    throwsFrom('matmul', ArgumentError, ['ragged'], () => F.ones([2, 2]).matmul(loose([[1, 2], [3]])));
    throwsFrom('gather', ArgumentError, ['"a"'], () => F.gather(F.ones([2]), 0, loose(['a'])));
    throwsFrom('sum', ArgumentError, ['object with keys x'], () => F.sum(loose({ x: 1 })));
    throwsFrom('logicalAnd', ArgumentError, ['undefined'], () => F.logicalAnd(true, loose(undefined)));
  });
});

describe('out-of-range indices', () => {
  const t = tensor([[1, 2], [3, 4]]);
  test('gather, indexSelect, scatterAdd, crossEntropy name the index, the axis size and the shapes', () => {
    throwsFrom('gather', IndexError, ['index 2', 'size 2', '[2, 2]', '[-2, 1]'], () => F.gather(t, 1, i32([[0, 2], [0, 0]])));
    throwsFrom('gather', IndexError, ['index -3'], () => t.gather(1, i32([[0, -3], [0, 0]])));
    throwsFrom('gather', IndexError, ['index 2'], () => F.gather(F.zeros([2, 2]), 1, i32([[0, 2], [0, 0]])));
    throwsFrom('indexSelect', IndexError, ['index 3', '[3, 2]'], () => F.indexSelect(F.ones([3, 2]), 0, i32([0, 3])));
    throwsFrom('indexSelect', IndexError, ['index -4'], () => F.arange(3).indexSelect(0, i32([-4])));
    throwsFrom('scatterAdd', IndexError, ['index 3', '[3]'], () => F.scatterAdd(F.zeros([3]), 0, i32([3]), tensor([1])));
    throwsFrom('crossEntropy', IndexError, ['3', '[2, 3]'], () => F.crossEntropy(F.ones([2, 3]), i32([1, 3])));
  });

  test('indices computed lazily are checked when the value is computed', () => {
    const computed = i32([[0, 1], [1, 0]]).add(1); // holds a 2
    throwsFrom('gather', IndexError, ['index 2', 'size 2'], () => F.gather(t, 1, computed));
  });

  test('select and integer slice specs', () => {
    throwsFrom('select', IndexError, ['index 3', 'axis 0', '[3]', '[-3, 2]'], () => F.select(F.ones([3]), 0, 3));
    throwsFrom('select', IndexError, ['index -3', '[2, 2]'], () => t.select(1, -3));
    throwsFrom('select', IndexError, ['index 1.5'], () => F.select(F.ones([3]), 0, 1.5));
    throwsFrom('slice', IndexError, ['index -4', '[3]'], () => F.slice(F.ones([3]), [-4]));
    throwsFrom('slice', IndexError, ['index 2', 'axis 1', '[2, 2]'], () => t.slice([null, 2]));
    throwsFrom('slice', IndexError, ['2 specs', '[3]'], () => F.slice(F.ones([3]), [null, null]));
  });
});

describe('reading and other misuse', () => {
  test('item() on a tensor without exactly one element', () => {
    throwsFrom('item', ArgumentError, ['[2]', '2 elements', 'toArray'], () => F.ones([2]).item());
    throwsFrom('item', ArgumentError, ['[0]'], () => F.ones([0]).item());
    throwsFrom('item', ArgumentError, ['[2, 3]'], () => F.ones([2, 3]).sum({ axis: 0 }).reshape([3, 1]).expand([3, 2]).transpose().item());
  });

  test('rand and randn need an explicit integer seed', () => {
    throwsFrom('rand', ArgumentError, ['seed', 'rand([2, 3], {seed: 0})'], () => loose<(s: number[]) => F.Tensor>(F.rand)([2]));
    throwsFrom('rand', ArgumentError, ['seed'], () => F.rand([2], loose({})));
    throwsFrom('rand', ArgumentError, ['seed'], () => F.rand([2], { seed: 0.5 }));
    throwsFrom('randn', ArgumentError, ['seed'], () => loose<(s: number[]) => F.Tensor>(F.randn)([2]));
  });

  test('reductions with nothing to reduce, degrees of freedom, empty lists, bad einsum specs, unknown backends', () => {
    throwsFrom('max', ShapeError, ['[0]', 'empty'], () => F.max(F.ones([0])));
    throwsFrom('argmax', ShapeError, ['[0]', 'empty'], () => F.argmax(F.ones([0])));
    throwsFrom('var', ArgumentError, ['correction 1', 'correction: 0'], () => F.variance(F.ones([1])));
    throwsFrom('concat', ArgumentError, ['at least one'], () => F.concat([]));
    throwsFrom('stack', ArgumentError, ['at least one'], () => F.stack([]));
    throwsFrom('einsum', ArgumentError, ['2 operands', '1 were given'], () => F.einsum('i,i', F.ones([2])));
    throwsFrom('einsum', ArgumentError, ["'i1'", 'letters'], () => F.einsum('i1', F.ones([2])));
    throwsFrom('einsum', ArgumentError, ["'j'", 'no input'], () => F.einsum('i->j', F.ones([2])));
    throwsFrom('setBackend', ArgumentError, ["'nope'", 'interp'], () => F.setBackend('nope'));
  });

  test('a failed op leaves the library usable', () => {
    assert.throws(() => F.add(F.ones([2]), F.ones([3])), ShapeError);
    assert.deepEqual(F.add(F.ones([2]), F.ones([2])).toArray(), [2, 2]);
    assert.throws(() => F.gather(tensor([1, 2]), 0, i32([1]).add(5)).toArray(), IndexError);
    assert.deepEqual(F.gather(tensor([1, 2]), 0, i32([1])).toArray(), [2]);
  });
});

describe('messages stay short and name what was passed', () => {
  test('describeValue: tensors by dtype and shape, objects by keys, long arrays cut', () => {
    assert.equal(describeValue(F.ones([3, 4])), 'Tensor float32[3, 4]');
    assert.equal(describeValue({ a: 1, b: 2 }), 'object with keys a, b');
    assert.equal(describeValue([1, -1]), '[1,-1]');
    assert.equal(describeValue('float16'), '"float16"');
    assert.equal(describeValue(1n), '1n');
    assert.equal(describeValue([F.ones([2]), 3]), '[Tensor float32[2],3]');
    const long = describeValue(Array.from({ length: 100000 }, (_, i) => i));
    assert.ok(long.length <= 100 && long.includes('100000 items'), long);
    assert.ok(describeValue('x'.repeat(10000)).length <= 100);
    assert.ok(describeValue(new Float32Array(1e6)).length <= 100);
  });

  test('bad arguments name the op and the argument, never a TypeError', () => {
    const x = F.ones([2, 3]);
    throwsFrom('reshape', ArgumentError, ['undefined', 'list'], () => x.reshape(loose(undefined)));
    throwsFrom('permute', ArgumentError, ['3'], () => x.permute(loose(3)));
    throwsFrom('tensor', ArgumentError, ['1n', 'bigint'], () => tensor(loose([1n])));
    throwsFrom('tensor', ArgumentError, ['[0]', 'undefined'], () => tensor(loose([undefined])));
    throwsFrom('add', ArgumentError, ['"1"', 'string'], () => x.add(loose('1')));
    throwsFrom('add', ArgumentError, ['object with no keys'], () => x.add(loose({})));
    throwsFrom('mul', ArgumentError, ['object with keys shape'], () => F.mul(loose({ shape: 3 }), x));
    throwsFrom('exp', ArgumentError, ['null'], () => F.exp(loose(null)));
    throwsFrom('full', ArgumentError, ['"1"'], () => F.full([2], loose('1')));
  });

  test('a message about a deep graph is short (it used to be the graph as JSON)', () => {
    let t = F.ones([3]);
    for (let i = 0; i < 40; i++) t = t.mul(1.5).add(t.sin());
    for (const body of [() => F.pad(t, loose([[t, 0]])), () => F.vmap((v: F.Tensor) => v, { randomness: loose(t) }), () => F.sum(t, loose({ axis: t }))]) {
      assert.throws(body, (error: unknown) => error instanceof FunctsError && error.message.length < 300 && error.message.includes('Tensor float32[3]'));
    }
  });
});

describe('tensor() of tensors', () => {
  const x = tensor([[1.5, -2], [3, 4.25]]);
  test('returns the tensor (cast to a dtype, reshaped to a shape) as jnp.asarray does', () => {
    assert.deepEqual(tensor(x).toArray(), [[1.5, -2], [3, 4.25]]);
    assert.deepEqual(tensor(x, { dtype: 'int32' }).toArray(), [[1, -2], [3, 4]]);
    assert.equal(tensor(x, { dtype: 'float64' }).dtype, 'float64');
    assert.deepEqual(tensor(x, { shape: [4] }).toArray(), [1.5, -2, 3, 4.25]);
    throwsFrom('tensor', ShapeError, ['[2, 2]', '[3]'], () => tensor(x, { shape: [3] }));
  });

  test('nested arrays of tensors are stacked', () => {
    const y = x.mul(2);
    assert.deepEqual(tensor([x, y]).toArray(), F.stack([x, y]).toArray());
    assert.deepEqual(tensor([[1, 2], x.select(0, 1)]).toArray(), [[1, 2], [3, 4.25]]);
    assert.deepEqual(tensor([x.sum(), 7], { dtype: 'float64' }).toArray(), [6.75, 7]);
    throwsFrom('stack', ShapeError, ['[2, 2]', '[2]'], () => tensor([x, tensor([1, 2])]));
  });

  test('under grad, tensor(t) stays traced; a deep traced graph converts at once', () => {
    const g = F.grad((t: F.Tensor) => tensor(t).square().sum())(tensor([1, 2]));
    assert.deepEqual(g.toArray(), [2, 4]);
    const h = F.grad((t: F.Tensor) => tensor([t, t.mul(3)]).sum())(tensor(2));
    assert.equal(h.item(), 4);
    const deep = F.grad((t: F.Tensor) => {
      let u = t;
      for (let i = 0; i < 30; i++) u = u.mul(1.01).add(u.sin().mul(0.01));
      return tensor(u).sum();
    });
    const [fromTensor, direct] = [deep(tensor([0.5])), F.grad((t: F.Tensor) => {
      let u = t;
      for (let i = 0; i < 30; i++) u = u.mul(1.01).add(u.sin().mul(0.01));
      return u.sum();
    })(tensor([0.5]))];
    assert.deepEqual(fromTensor.toArray(), direct.toArray());
  });
});

describe('sizes no array can hold', () => {
  test('throw a ShapeError naming the op, the shape and the bytes', () => {
    throwsFrom('zeros', ShapeError, ['[1000000, 1000000]', 'TiB'], () => F.zeros([1e6, 1e6]).add(1));
    throwsFrom('randn', ShapeError, ['[65536, 32768]', '8 GiB'], () => F.randn([65536, 32768], { seed: 0 }));
    // A lazy broadcast that large is fine until it has to be stored: computing it fails there.
    throwsFrom('add', ShapeError, ['[65536, 32768]', '8 GiB'], () => F.randn([65536, 1], { seed: 1 }).add(F.randn([1, 32768], { seed: 2 })).dataSync());
    throwsFrom('expand', ShapeError, ['[4, 1073741824]', '4 GiB'], () => F.ones([1, 1], { dtype: 'bool' }).expand([4, 2 ** 30]).dataSync());
  });

  test('a lazy value larger than any array is fine where it is only fused into a smaller result', () => {
    const big = F.ones([65536, 1]).add(F.ones([1, 32768]));
    assert.equal(big.select(0, 5).sum().item(), 32768 * 2);
  });

  test('an allocation the engine refuses is a ShapeError with the bytes', () => {
    throwsFrom('allocate', ShapeError, ['float64', 'TiB'], () => allocate('float64', 2 ** 40));
  });
});

describe('axes and indices are integers', () => {
  const x = tensor([[1, 2, 3], [4, 5, 6]]);
  test('a non-integer axis or index says so, not "out of range"', () => {
    for (const [op, body] of [
      ['select', () => x.select(0, 1.5)],
      ['sum', () => x.sum({ axis: 1.5 })],
      ['sum', () => x.sum({ axis: loose('1') })],
      ['mean', () => x.mean([0, loose('1')])],
      ['softmax', () => x.softmax(0.5)],
      ['argmax', () => x.argmax({ axis: loose('0') })],
    ] as const) {
      throwsFrom(op, IndexError, ['must be an integer'], body);
      assert.throws(body, (error: Error) => !error.message.includes('out of range'));
    }
  });

  test('a bare axis is {axis} for every reduction (as NumPy and PyTorch)', () => {
    const y = tensor([[1, -2, 3], [0.5, 5, -6]]);
    const reductions = ['sum', 'mean', 'prod', 'max', 'min', 'argmax', 'argmin', 'var', 'std', 'logsumexp', 'softmax', 'logSoftmax'] as const;
    for (const name of reductions) {
      for (const axis of [0, 1, -1]) {
        const bare = (y[name] as (a: number) => F.Tensor).call(y, axis);
        const withOptions = (y[name] as (a: { axis: number }) => F.Tensor).call(y, { axis });
        assert.deepEqual(bare.toArray(), withOptions.toArray(), `${name}(${axis})`);
      }
    }
    assert.deepEqual(y.sum(1).toArray(), [2, -0.5]);
    assert.deepEqual(y.sum([0, 1]).toArray(), y.sum().toArray());
    assert.deepEqual(y.max([1]).toArray(), [3, 5]);
    assert.deepEqual(F.mean(y, 0).toArray(), [0.75, 1.5, -1.5]);
  });

  test('anything else in the place of the axis throws, never a silent full sum', () => {
    throwsFrom('sum', ArgumentError, ['"all"', 'no argument'], () => x.sum(loose('all')));
    throwsFrom('mean', ArgumentError, ['null'], () => x.mean(loose(null)));
    throwsFrom('softmax', ArgumentError, ['true'], () => x.softmax(loose(true)));
  });
});

describe('values that do not fit the dtype', () => {
  test('int32 refuses values out of its range and truncates fractions toward zero (as PyTorch)', () => {
    throwsFrom('tensor', DTypeError, ['10000000000', 'int32'], () => tensor([1e10], { dtype: 'int32' }));
    throwsFrom('tensor', DTypeError, ['-2147483649'], () => tensor([0, -(2 ** 31) - 1], { dtype: 'int32' }));
    throwsFrom('tensor', DTypeError, ['NaN'], () => tensor([NaN], { dtype: 'int32' }));
    throwsFrom('tensor', DTypeError, ['Infinity'], () => tensor(new Float64Array([Infinity]), { dtype: 'int32' }));
    throwsFrom('full', DTypeError, ['3000000000'], () => F.full([2], 3e9, { dtype: 'int32' }));
    assert.deepEqual(tensor([1.7, -1.7, 2.5, 2 ** 31 - 1, -(2 ** 31)], { dtype: 'int32' }).toArray(), [1, -1, 2, 2 ** 31 - 1, -(2 ** 31)]);
    throwsFrom('add', DTypeError, ['3000000000', 'int32'], () => i32([1]).add(3e9));
    throwsFrom('mul', DTypeError, ['-3000000000'], () => F.mul(-3e9, i32([1])));
    assert.deepEqual(i32([1]).add(2 ** 31 - 2).toArray(), [2 ** 31 - 1]);
    assert.equal(i32([1]).add(3e9 + 0.5).dtype, 'float32');
  });
});
