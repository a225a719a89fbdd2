/**
 * What a run shows: the terminal table (each case, each system, its figure with spread,
 * functs' ratio to each peer, what it was checked against), the same as markdown for
 * bench/RESULTS.md, and the comparison with a saved run.
 */
import { fmt, type Comparison, type ResultRow } from './stats.js';

function figureCell(r: ResultRow): string {
  if (!r.summary) return r.check && !r.check.ok ? 'MISMATCH' : r.note?.startsWith('error') ? 'ERROR' : '-';
  const s = r.summary;
  return `${fmt(s.median)} (${fmt(s.min)}-${fmt(s.max)})`;
}

/** functs' ratios for a row: on a peer's row, each functs variant's median over this peer's; on a functs row, over the best peer. */
function ratioCell(r: ResultRow, caseRows: readonly ResultRow[]): string {
  if (!r.summary) return '';
  const functsRows = caseRows.filter((x) => x.kind === 'functs' && x.summary);
  if (r.kind === 'peer') {
    return functsRows.map((f) => `${f.system.replace(/^functs /, '')} ${(f.summary!.median / r.summary!.median).toFixed(2)}x`).join(', ');
  }
  const peers = caseRows.filter((x) => x.kind === 'peer' && x.summary);
  if (!peers.length) return '';
  const best = peers.reduce((a, b) => (b.summary!.median > a.summary!.median ? b : a));
  return `${(r.summary.median / best.summary!.median).toFixed(2)}x best peer (${best.system})`;
}

function checkCell(r: ResultRow): string {
  if (!r.check) return r.note ?? '';
  return `${r.check.ok ? 'ok' : 'MISMATCH'} ${r.check.maxAbsDiff.toExponential(1)}`;
}

export interface TableRow {
  cells: string[];
}

const HEADER = ['workload', 'size', 'system', 'figure: median (min-max)', 'unit', 'functs / peer', 'first call ms', 'functs plan', 'check'];

/** Kernels launched and bytes they move per run (functs rows), and the GB/s that makes at the median. */
function planCell(r: ResultRow): string {
  if (!r.plan) return '';
  const mb = r.plan.bytesMoved / 1e6;
  return `${r.plan.kernels} kernels, ${mb >= 10 ? mb.toFixed(0) : mb.toPrecision(2)} MB${r.plan.gbPerS !== undefined ? `, ${r.plan.gbPerS.toPrecision(2)} GB/s` : ''}`;
}

export function tableRows(rows: readonly ResultRow[]): string[][] {
  const byCase = new Map<string, ResultRow[]>();
  for (const r of rows) {
    const k = `${r.workload}|${r.variant}`;
    byCase.set(k, [...(byCase.get(k) ?? []), r]);
  }
  const out: string[][] = [];
  for (const caseRows of byCase.values()) {
    const sorted = [...caseRows].sort((a, b) => (b.summary?.median ?? -1) - (a.summary?.median ?? -1));
    for (const r of sorted) {
      out.push([r.workload, r.variant, r.system, figureCell(r), r.unit, ratioCell(r, caseRows), r.firstCallMs === null ? '-' : r.firstCallMs.toFixed(1), planCell(r), checkCell(r)]);
    }
  }
  return out;
}

export function terminalTable(rows: readonly ResultRow[]): string {
  const body = tableRows(rows);
  const widths = HEADER.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(HEADER), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export function markdownTable(rows: readonly ResultRow[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const body = tableRows(rows);
  return [`| ${HEADER.join(' | ')} |`, `|${HEADER.map(() => '---').join('|')}|`, ...body.map((b) => `| ${b.map(esc).join(' | ')} |`)].join('\n');
}

/** What was checked against what, one line per workload and expectation. */
export function checkSummary(rows: readonly ResultRow[]): string[] {
  const lines = new Map<string, { ok: number; bad: number; worst: number }>();
  for (const r of rows) {
    if (!r.check) continue;
    const k = `${r.workload}: against ${r.check.against.replace(/, \d+ of \d+ /, ', sampled ')}`;
    const e = lines.get(k) ?? { ok: 0, bad: 0, worst: 0 };
    if (r.check.ok) e.ok++;
    else e.bad++;
    e.worst = Math.max(e.worst, r.check.ok ? r.check.maxAbsDiff / r.check.tol : 0);
    lines.set(k, e);
  }
  return [...lines].map(([k, e]) => `${k}: ${e.ok} outputs passed${e.bad ? `, ${e.bad} FAILED (not timed)` : ''}; worst at ${(e.worst * 100).toFixed(1)}% of its tolerance`);
}

export function comparisonTable(comparisons: readonly Comparison[]): string {
  const header = ['workload', 'size', 'system', 'old', 'new', 'new/old', 'verdict'];
  const order = { faster: 0, slower: 1, 'within noise': 2, new: 3, gone: 4 } as const;
  const body = [...comparisons]
    .sort((a, b) => order[a.verdict] - order[b.verdict])
    .map((c) => [c.workload, c.variant, c.system, fmt(c.oldMedian), fmt(c.newMedian), c.ratio === null ? '-' : `${c.ratio.toFixed(2)}x`, c.verdict]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  const counts = Object.keys(order)
    .map((v) => `${comparisons.filter((c) => c.verdict === v).length} ${v}`)
    .join(', ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line), '', counts].join('\n');
}
