// The public surface is the API and nothing else: the runtime exports of src/index.ts are
// exactly this list (an internal helper that leaks, or a public name that goes missing,
// fails here), and every op the README's "Arrays" section lists exists both as a function
// and as a Tensor method.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as F from '../src/index.js';

const expected = [
  // tensors, errors, backends
  'Tensor', 'asTensor', 'FunctsError', 'ShapeError', 'DTypeError', 'IndexError', 'ArgumentError', 'TransformError', 'DeviceError',
  'setBackend', 'withBackend', 'backendNames', 'setThreads', 'getThreads', 'initWebGPU', 'destroyWebGPU', 'explain', 'registerGpuJs', 'cacheInfo', 'clearCaches', 'setCacheLimits',
  // creation
  'tensor', 'full', 'zeros', 'ones', 'zerosLike', 'onesLike', 'arange', 'linspace', 'eye', 'rand', 'randn', 'random',
  // elementwise
  'cast', 'neg', 'reciprocal', 'sqrt', 'rsqrt', 'exp', 'log', 'log1p', 'expm1', 'sin', 'cos', 'tan', 'tanh', 'sigmoid',
  'relu', 'gelu', 'softplus', 'abs', 'sign', 'floor', 'ceil', 'round', 'square', 'add', 'sub', 'mul', 'div', 'pow',
  'maximum', 'minimum', 'clamp', 'where', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logicalAnd', 'logicalOr', 'logicalNot',
  'stopGradient',
  // reductions
  'sum', 'mean', 'prod', 'max', 'min', 'argmax', 'argmin', 'variance', 'std', 'logsumexp', 'softmax', 'logSoftmax',
  // movement
  'reshape', 'flatten', 'permute', 'transpose', 'moveaxis', 'movedim', 'expand', 'broadcastTo', 'squeeze', 'unsqueeze',
  'slice', 'select', 'pad', 'flip', 'concat', 'stack', 'split', 'tile', 'gather', 'indexSelect', 'scatterAdd',
  'diagonal', 'triu', 'tril',
  // linear algebra, losses
  'matmul', 'dot', 'outer', 'einsum', 'mseLoss', 'crossEntropy',
  'solve', 'triangularSolve', 'cholesky', 'choleskySolve', 'inv', 'det', 'slogdet', 'eigh', 'linalg',
  // pytrees
  'treeMap', 'treeFlatten', 'treeUnflatten', 'treeLeaves', 'treeStructure', 'realize',
  // modules
  'nn', 'optim', 'functionalCall', 'makeFunctional', 'makeFunctionalWithBuffers', 'combineStateForEnsemble', 'stackModuleState',
  'conv2d', 'maxPool2d', 'avgPool2d',
  // transforms
  'grad', 'gradAndValue', 'vjp', 'jvp', 'linearize', 'vmap', 'jacrev', 'jacfwd', 'hessian', 'makeGraph', 'Graph', 'jit',
];

test('src/index.ts exports exactly the public API', () => {
  const actual = Object.keys(F).sort();
  const leaked = actual.filter((name) => !expected.includes(name));
  const missing = expected.filter((name) => !actual.includes(name));
  assert.deepEqual({ leaked, missing }, { leaked: [], missing: [] });
  assert.equal(new Set(expected).size, expected.length, 'the expected list names something twice');
});

/** The op names in the README's "Arrays" bullets that list ops (not creation or reading). */
function documentedOps(): string[] {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('### Arrays'), readme.indexOf('### Transforms'));
  const bullets = section.split('\n- ').filter((b) => /^(Elementwise|Reductions|Movement|Linear algebra|Losses)\b/.test(b));
  assert.equal(bullets.length, 5, 'the README Arrays section lost one of its op lists');
  const names = new Set<string>();
  for (const bullet of bullets) {
    for (const [, raw] of bullet.matchAll(/`([^`]+)`/g)) {
      const span = raw.replace(/\s+/g, ' ').trim();
      // A span is a list of names (`add sub mul`) or a call (`einsum('...', a, b)`).
      const call = /^([a-z][A-Za-z0-9]*)\(/.exec(span);
      if (call) names.add(call[1]);
      else if (/^[a-z][A-Za-z0-9]*( [a-z][A-Za-z0-9]*)*$/.test(span)) span.split(' ').forEach((n) => names.add(n));
    }
  }
  // Words in those bullets that name an option, not an op.
  for (const option of ['correction']) names.delete(option);
  return [...names];
}

/** The function name of a method where they differ (`var` is a reserved word in JavaScript). */
const functionName: Record<string, string> = { var: 'variance' };

test('every op the README lists exists as a function and as a method', () => {
  const ops = documentedOps();
  assert.ok(ops.length > 80, `found only ${ops.length} documented ops; did the README's format change?`);
  const exports = F as unknown as Record<string, unknown>;
  const proto = F.Tensor.prototype as unknown as Record<string, unknown>;
  const noFunction = ops.filter((op) => typeof exports[functionName[op] ?? op] !== 'function');
  const noMethod = ops.filter((op) => typeof proto[op] !== 'function');
  assert.deepEqual({ noFunction, noMethod }, { noFunction: [], noMethod: [] });
});
