/**
 * SVG charts of a run, drawn by vega-lite (compiled to a vega spec) and rendered headless
 * by vega's View: for every workload and sweep, the figure of each system against the
 * swept parameter, log scales on both axes when the values span more than a decade.
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { ResultRow } from './stats.js';

export interface ChartSpec {
  /** File stem, e.g. "hessian-tanh-N". */
  name: string;
  title: string;
  spec: vl.TopLevelSpec;
  /** The systems drawn, one line each. */
  series: string[];
}

function spansDecade(xs: readonly number[]): boolean {
  const pos = xs.filter((x) => x > 0);
  return pos.length > 1 && Math.max(...pos) / Math.min(...pos) >= 10;
}

/** One chart per (workload, sweep) with at least two points for some system. */
export function chartSpecs(rows: readonly ResultRow[]): ChartSpec[] {
  const groups = new Map<string, { workload: string; sweep: string; rows: ResultRow[] }>();
  for (const r of rows) {
    if (!r.summary) continue;
    for (const sweep of r.sweeps) {
      const key = `${r.workload}-${sweep}`;
      const g = groups.get(key) ?? { workload: r.workload, sweep, rows: [] };
      g.rows.push(r);
      groups.set(key, g);
    }
  }
  const specs: ChartSpec[] = [];
  for (const [name, g] of groups) {
    const points = g.rows.map((r) => ({
      system: r.system,
      kind: r.kind,
      x: r.params[g.sweep],
      y: r.summary!.median,
      lo: r.summary!.q1,
      hi: r.summary!.q3,
    }));
    const xs = [...new Set(points.map((p) => p.x))];
    if (xs.length < 2) continue;
    const fixed = Object.entries(g.rows[0].params)
      .filter(([k]) => k !== g.sweep)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    const unit = g.rows[0].unit;
    const series = [...new Set(points.map((p) => p.system))];
    const xScale = spansDecade(xs) ? { type: 'log' as const, base: 2 } : { type: 'linear' as const };
    const yScale = spansDecade(points.map((p) => p.y)) ? { type: 'log' as const } : { type: 'linear' as const, zero: false };
    const x = { field: 'x', type: 'quantitative' as const, title: g.sweep, scale: xScale, axis: { values: xs } };
    const title = `${g.workload}: ${unit} against ${g.sweep}${fixed ? ` (${fixed})` : ''}`;
    specs.push({
      name,
      title,
      series,
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
        title,
        width: 480,
        height: 300,
        data: { values: points },
        layer: [
          {
            mark: { type: 'rule', opacity: 0.5 },
            encoding: { x, y: { field: 'lo', type: 'quantitative', scale: yScale }, y2: { field: 'hi' }, color: { field: 'system', type: 'nominal' } },
          },
          {
            mark: { type: 'line', point: true },
            encoding: {
              x,
              y: { field: 'y', type: 'quantitative', title: `${unit} (median; bars: interquartile range)`, scale: yScale },
              color: { field: 'system', type: 'nominal', title: 'system', legend: { labelLimit: 0 } },
              strokeDash: { field: 'kind', type: 'nominal', title: 'functs or peer', sort: ['functs', 'peer'] },
            },
          },
        ],
      },
    });
  }
  return specs;
}

/** The SVG text of a vega-lite spec, rendered without a browser. */
export async function renderSvg(spec: vl.TopLevelSpec): Promise<string> {
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}
