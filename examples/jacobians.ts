/**
 * Jacobians by reverse mode (jacrev: one vjp per output) and forward mode (jacfwd: one jvp
 * per input), both vectorized with vmap. For a tall function (few inputs, many outputs)
 * forward mode needs fewer passes; for a wide one (many inputs, few outputs) reverse mode
 * does. Both give the same matrix, checked here against each other and finite differences.
 * Run: npm run example -- jacobians   (FUNCTS_QUICK=1 for the small test size)
 */
import { jacfwd, jacrev, jit, randn, realize, type Tensor } from '../src/index.js';
import { assertAllClose, numericalJacobian } from '../src/testing/index.js';

const QUICK = process.env.FUNCTS_QUICK === '1';
const [FEW, MANY] = QUICK ? [4, 64] : [8, 1024];
const REPEATS = QUICK ? 2 : 10;

/** A small network from `inputs` to `outputs` values through a hidden layer of 32. */
function network(inputs: number, outputs: number, seed: number): (x: Tensor) => Tensor {
  const w1 = randn([32, inputs], { seed }).mul(1 / Math.sqrt(inputs)).realize();
  const w2 = randn([outputs, 32], { seed: seed + 1 }).mul(1 / Math.sqrt(32)).realize();
  return (x: Tensor) => w2.matmul(w1.matmul(x).tanh()).sin();
}

function time(f: (x: Tensor) => unknown, x: Tensor): number {
  realize(f(x)); // the first call traces and compiles
  const started = performance.now();
  for (let i = 0; i < REPEATS; i++) realize(f(x));
  return (performance.now() - started) / REPEATS;
}

for (const [shape, inputs, outputs] of [['tall', FEW, MANY], ['wide', MANY, FEW]] as const) {
  const f = network(inputs, outputs, shape === 'tall' ? 1 : 3);
  const x = randn([inputs], { seed: 5 });
  const rev = jit(jacrev(f));
  const fwd = jit(jacfwd(f));
  const J = rev(x);
  assertAllClose(J, fwd(x), { rtol: 1e-4, atol: 1e-5 });
  assertAllClose(J, numericalJacobian(f, x.cast('float64')), { rtol: 1e-3, atol: 1e-4 });
  const [revMs, fwdMs] = [time(rev, x), time(fwd, x)];
  console.log(`${shape} f: R^${inputs} -> R^${outputs}: jacrev ${revMs.toFixed(2)} ms, jacfwd ${fwdMs.toFixed(2)} ms (${revMs < fwdMs ? 'jacrev' : 'jacfwd'} wins; expected ${shape === 'tall' ? 'jacfwd' : 'jacrev'})`);
}
console.log('ok: jacrev and jacfwd agree with each other and with finite differences on tall and wide functions');
