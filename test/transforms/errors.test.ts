// The error cases of the transforms: each throws one of the exported error classes with a
// message that names the transform and the problem.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError, DTypeError, IndexError, ShapeError, TransformError, grad, gradAndValue, jacfwd, jacrev, jvp, linearize, rand, randn, tensor, vjp, vmap, type Tensor } from '../../src/index.js';

type ErrorClass = new (...args: never[]) => Error;

/** Asserts that `body` throws an instance of `cls` whose message matches every pattern. */
function throwsWith(body: () => unknown, cls: ErrorClass, ...patterns: RegExp[]): void {
  assert.throws(body, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    for (const p of patterns) assert.match((e as Error).message, p);
    return true;
  });
}

const x = tensor([1, 2, 3]);
const ints = tensor([1, 2, 3], { dtype: 'int32' });

describe('errors of grad, vjp, jvp and the Jacobians', () => {
  test('grad of a non-scalar output', () => {
    throwsWith(() => grad((t: Tensor) => t.sin())(x), ShapeError, /grad/, /scalar/, /\[3\]/, /jacrev|vjp/);
    throwsWith(() => gradAndValue((t: Tensor) => t.sin())(x), ShapeError, /gradAndValue/);
    // @ts-expect-error a function returning a list is not a scalar function, for the type checker too
    throwsWith(() => grad((t: Tensor) => [t.sum(), t.sum()])(x), ShapeError, /one scalar/);
  });

  test('grad of an integer output', () => {
    throwsWith(() => grad((t: Tensor) => t.sum().cast('int32'))(x), DTypeError, /int32/);
  });

  test('differentiating with respect to an int tensor', () => {
    throwsWith(() => grad((t: Tensor) => t.sum())(ints), DTypeError, /grad/, /int32/, /cast/);
    throwsWith(() => grad((a: Tensor, b: Tensor) => a.sum().add(b.sum()), { argnums: 1 })(x, ints), DTypeError, /argument 1/);
    throwsWith(() => vjp((t: Tensor) => t.sum(), [ints]), DTypeError, /vjp/);
    throwsWith(() => jvp((t: Tensor) => t.sum(), [ints], [ints]), DTypeError, /jvp/);
    throwsWith(() => jacrev((t: Tensor) => t.sum())(ints), DTypeError, /int32/);
    throwsWith(() => jacfwd((t: Tensor) => t.sum())(ints), DTypeError, /int32/);
    throwsWith(() => grad((p: { w: Tensor; n: Tensor }) => p.w.sum())({ w: x, n: ints }), DTypeError, /int32/);
  });

  test('int arguments outside argnums are fine', () => {
    const f = (a: Tensor, i: Tensor) => a.mul(i.cast('float32')).sum();
    assert.deepEqual(grad(f)(x, ints).toArray(), [1, 2, 3]);
  });

  test('argnums that point past the arguments', () => {
    throwsWith(() => grad((t: Tensor) => t.sum(), { argnums: 1 })(x), ArgumentError, /argnums/, /\[0, 0\]/);
    throwsWith(() => grad((t: Tensor) => t.sum(), { argnums: [0, 3] })(x), ArgumentError, /argnums/);
    throwsWith(() => jacrev((t: Tensor) => t, { argnums: 2 })(x), ArgumentError, /jacrev/);
  });

  test('tangents whose shapes or structure differ from the primals', () => {
    throwsWith(() => jvp((t: Tensor) => t.sin(), [x], [tensor([1, 2])]), ShapeError, /jvp/, /tangents/, /\[2\]/, /\[3\]/);
    throwsWith(() => jvp((t: Tensor) => t.sin(), [x], [tensor([[1, 2, 3]])]), ShapeError, /jvp/);
    // @ts-expect-error one tangent per primal, also by type
    throwsWith(() => jvp((t: Tensor) => t.sin(), [x], []), ArgumentError, /1 primals/);
    // @ts-expect-error the tangent's structure differs from the primal's
    throwsWith(() => jvp((p: { a: Tensor }) => p.a.sin(), [{ a: x }], [[x]]), ArgumentError, /structure/);
    const [, lin] = linearize((t: Tensor) => t.sin(), [x]);
    throwsWith(() => lin(tensor([1])), ShapeError, /tangents/);
    // @ts-expect-error linearize's jvpFn takes one tangent per primal
    throwsWith(() => lin(), ArgumentError, /linearize/);
  });

  test('cotangents whose shapes differ from the outputs', () => {
    const [, back] = vjp((t: Tensor) => t.sin(), [x]);
    throwsWith(() => back(tensor([1, 2])), ShapeError, /vjp/, /cotangents/);
    const [, back2] = vjp((t: Tensor) => [t.sin(), t.sum()], [x]);
    throwsWith(() => back2([x]), ArgumentError, /structure/);
  });

  test('hasAux with a function that does not return [output, aux]', () => {
    // @ts-expect-error hasAux asks for a function returning [output, aux]
    throwsWith(() => grad((t: Tensor) => t.sum(), { hasAux: true })(x), ArgumentError, /hasAux/);
    throwsWith(() => vjp(((t: Tensor) => [t, t, t]) as never, [x], { hasAux: true }), ArgumentError, /hasAux/);
  });
});

describe('errors of vmap', () => {
  const f = (a: Tensor, b: Tensor) => a.add(b);
  const A = randn([4, 3], { seed: 0 });

  test('inDims that do not match the arguments', () => {
    throwsWith(() => vmap(f, { inDims: [0] })(A, A), ArgumentError, /inDims/, /1 entries/, /2 arguments/);
    throwsWith(() => vmap(f, { inDims: [0, 0, 0] })(A, A), ArgumentError, /inDims/);
    throwsWith(() => vmap((p: { a: Tensor }) => p.a, { inDims: [{ b: 0 }] })({ a: A }), ArgumentError, /keys/);
    throwsWith(() => vmap((p: Tensor[]) => p[0], { inDims: [[0, 0]] })([A]), ArgumentError, /array/);
    throwsWith(() => vmap((a: Tensor, n: number) => a.mul(n), { inDims: [0, 0] })(A, 3), ArgumentError, /not a tensor/, /null/);
  });

  test('inDims that point past the rank of an argument', () => {
    throwsWith(() => vmap(f, { inDims: [2, 0] })(A, A), IndexError, /vmap/, /inDims/, /\[4, 3\]/);
    throwsWith(() => vmap(f, { inDims: [0, -3] })(A, A), IndexError, /vmap/);
    throwsWith(() => vmap((t: Tensor) => t)(tensor(1)), IndexError, /vmap/);
  });

  test('no mapped argument at all', () => {
    throwsWith(() => vmap(f, { inDims: null })(A, A), ArgumentError, /no argument is mapped/);
  });

  test('outDims that point past the rank of an output, or null for a batched output', () => {
    throwsWith(() => vmap((t: Tensor) => t.sum(), { outDims: 2 })(A), IndexError, /outDims/);
    throwsWith(() => vmap((t: Tensor) => t, { outDims: null })(A), ArgumentError, /outDims is null/);
  });

  test('mapped axes of different sizes', () => {
    throwsWith(() => vmap(f)(A, randn([5, 3], { seed: 1 })), ShapeError, /vmap/, /different sizes/, /\[4, 3\]/, /\[5, 3\]/);
    throwsWith(() => vmap(f, { inDims: [0, 1] })(A, A), ShapeError, /different sizes/);
  });

  test("randomness 'error' meeting a random op", () => {
    throwsWith(() => vmap((t: Tensor) => t.add(rand([3], { seed: 0 })))(A), TransformError, /rand/, /randomness/, /'different'/, /'same'/);
    throwsWith(() => vmap((t: Tensor) => t.add(randn([3], { seed: 0 })), { randomness: 'error' })(A), TransformError, /randn/);
    // Nested: the inner vmap allows randomness, the outer does not.
    throwsWith(() => vmap((r: Tensor) => vmap((t: Tensor) => t.add(rand([], { seed: 0 })), { randomness: 'different' })(r))(A), TransformError, /randomness/);
  });

  test('bad options', () => {
    throwsWith(() => vmap((t: Tensor) => t, { randomness: 'sometimes' as never }), ArgumentError, /randomness/);
    throwsWith(() => vmap((t: Tensor) => t, { chunkSize: 0 }), ArgumentError, /chunkSize/);
    throwsWith(() => vmap((t: Tensor) => t, { chunkSize: 1.5 }), ArgumentError, /chunkSize/);
  });
});
