// The benchmark suite's pieces (bench/suite, bench/workloads): the checker, the comparison
// of runs, the charts, backend discovery and one workload end to end. Nothing here is timed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableBackends } from '../bench/suite/backends.js';
import { chartSpecs, renderSvg } from '../bench/suite/charts.js';
import { comparisonTable, terminalTable } from '../bench/suite/report.js';
import { bennySample } from '../bench/suite/sampler.js';
import { checkOutput, compareRuns, samplePositions, summarize, type ResultRow } from '../bench/suite/stats.js';
import type { Expected } from '../bench/suite/types.js';
import { hessianTanh } from '../bench/workloads/hessians.js';

const expected: Expected = { values: Float64Array.of(1, -2, 3.5, 0.25), positions: null, outputLength: 4, label: 'test values' };

test('the checker accepts an output within float32 rounding of its float64 expectation', () => {
  const r = checkOutput(Float32Array.from(expected.values), expected, 1e-5);
  assert.equal(r.ok, true, r.message);
  assert.equal(r.against, 'test values');
});

test('the checker rejects a wrong value, a NaN and a wrong length', () => {
  assert.equal(checkOutput(Float32Array.of(1, -2, 3.5, 0.26), expected, 1e-4).ok, false);
  assert.equal(checkOutput(Float32Array.of(1, NaN, 3.5, 0.25), expected, 1e-4).ok, false);
  assert.equal(checkOutput(Float32Array.of(1, -2, 3.5), expected, 1e-4).ok, false);
  assert.equal(checkOutput(Float32Array.of(1, -2, 3.5, 0.25, 9), expected, 1e-4).ok, false);
});

test('the checker reads only the expected positions of a sampled output', () => {
  const { rowIndices, positions } = samplePositions(10, 3, 4);
  assert.deepEqual(rowIndices, [0, 2, 5, 7]);
  const output = Float32Array.from({ length: 30 }, (_, i) => i);
  const values = Float64Array.from(positions, (p) => p);
  const sampled: Expected = { values, positions, outputLength: 30, label: 'sampled' };
  assert.equal(checkOutput(output, sampled, 1e-6).ok, true);
  output[positions[5]] += 1;
  assert.equal(checkOutput(output, sampled, 1e-6).ok, false);
});

function row(system: string, figures: number[], variant = 'n=1'): ResultRow {
  return { workload: 'w', variant, params: { n: Number(variant.slice(2)) }, sweeps: ['n'], system, kind: system.startsWith('functs') ? 'functs' : 'peer', method: 'm', unit: 'ops/s', figures, summary: summarize(figures), bennyRme: [], firstCallMs: 1, check: null };
}

test('compare flags a change beyond the noise and not one within it', () => {
  const old = [row('functs js', [100, 104, 96, 102, 98]), row('peer', [50, 60, 40, 55, 45]), row('gone', [1, 1, 1])];
  const now = [row('functs js', [130, 134, 126, 132, 128]), row('peer', [52, 62, 38, 58, 41]), row('added', [3, 3, 3])];
  const byName = new Map(compareRuns(old, now).map((c) => [c.system, c]));
  assert.equal(byName.get('functs js')?.verdict, 'faster');
  assert.equal(byName.get('peer')?.verdict, 'within noise');
  assert.equal(byName.get('added')?.verdict, 'new');
  assert.equal(byName.get('gone')?.verdict, 'gone');
  const slower = compareRuns(now, old).find((c) => c.system === 'functs js');
  assert.equal(slower?.verdict, 'slower');
  assert.match(comparisonTable(compareRuns(old, now)), /1 faster, 0 slower, 1 within noise, 1 new, 1 gone/);
});

test('compare does not call a small shift a change even when the spreads separate', () => {
  const old = [row('functs js', [100, 100.5, 99.5, 100.2])];
  const now = [row('functs js', [102, 102.5, 101.5, 102.2])];
  assert.equal(compareRuns(old, now)[0].verdict, 'within noise');
});

test('compare relative to a system of the same run cancels a change in the speed of the machine', () => {
  // The whole machine twice as fast: every system doubles, functs beside the hand loop does not change.
  const old = [row('functs js', [100, 104, 96, 102]), row('hand-loop', [50, 52, 48, 51])];
  const now = [row('functs js', [200, 208, 192, 204]), row('hand-loop', [100, 104, 96, 102])];
  assert.equal(compareRuns(old, now)[0].verdict, 'faster');
  const relative = compareRuns(old, now, 0.05, 'hand-loop');
  assert.equal(relative.length, 1);
  assert.equal(relative[0].verdict, 'within noise');
  // functs itself twice as fast on the same machine still shows.
  const better = [row('functs js', [200, 208, 192, 204]), row('hand-loop', [50, 52, 48, 51])];
  assert.equal(compareRuns(old, better, 0.05, 'hand-loop')[0].verdict, 'faster');
});

test('the table shows functs over each peer', () => {
  const text = terminalTable([row('functs wasm', [300, 310, 290]), row('hand-loop', [100, 100, 100])]);
  assert.match(text, /wasm 3\.00x/);
  assert.match(text, /3\.00x best peer \(hand-loop\)/);
});

test('the chart writer draws one series per system of a sweep, as SVG', async () => {
  const rows = [row('functs js', [10, 11, 9], 'n=64'), row('functs js', [20, 21, 19], 'n=1024'), row('hand-loop', [5, 6, 4], 'n=64'), row('hand-loop', [7, 8, 6], 'n=1024')];
  const specs = chartSpecs(rows);
  assert.equal(specs.length, 1);
  assert.deepEqual(specs[0].series, ['functs js', 'hand-loop']);
  const svg = await renderSvg(specs[0].spec);
  assert.match(svg, /^<svg/);
  for (const s of ['functs js', 'hand-loop']) assert.ok(svg.includes(`>${s}</text>`), `legend entry ${s}`);
  assert.ok(svg.includes('against n'), 'title names the swept parameter');
});

test('backend discovery finds the CPU backends and tolerates names not in this build', async () => {
  const { variants, skipped } = await availableBackends();
  const backends = variants.map((v) => v.backend);
  assert.ok(backends.includes('js') && backends.includes('wasm'), backends.join(', '));
  assert.ok(!backends.includes('interp'));
  for (const name of ['webgpu', 'gpujs']) assert.ok(backends.includes(name) || skipped.some((s) => s.startsWith(name)), name);
  const only = await availableBackends(['wasm']);
  assert.deepEqual([...new Set(only.variants.map((v) => v.backend))], ['wasm']);
});

test('a workload case: functs and the hand loop pass the check, and a wrong output does not', async () => {
  const { variants } = await availableBackends(['js']);
  const c = hessianTanh.cases({ quick: true, backends: variants })[0];
  const want = c.expected();
  for (const name of ['functs js', 'hand-loop']) {
    const system = c.systems.find((s) => s.system === name);
    assert.ok(system, name);
    const ready = await system.setup();
    assert.equal(checkOutput(ready.firstOutput, want, c.relTol).ok, true, name);
    assert.equal(checkOutput(await ready.run(), want, c.relTol).ok, true, name);
  }
  const other = hessianTanh.cases({ quick: true, backends: variants })[1];
  const wrong = await other.systems.find((s) => s.system === 'hand-loop')!.setup();
  // The same shape of output for other data is not accepted.
  const sameLength = wrong.firstOutput.subarray(0, want.outputLength);
  assert.equal(checkOutput(sameLength, want, c.relTol).ok, false);
});

test('a benny sample reports a positive time per run', async () => {
  let calls = 0;
  const s = await bennySample('count', () => calls++, { minSamples: 1, maxTime: 0.01, minTime: 0.001 });
  assert.ok(s.secondsPerOp > 0 && Number.isFinite(s.secondsPerOp));
  assert.ok(calls > 0);
});
