// The perplexity-vs-sparsity figure: a vega-lite spec built from the results, compiled
// and rendered to SVG by vega without a browser.
import { fmt } from './format';
import { renderVegaLiteSvg } from './vega-render';
import type { SweepResults } from './types';

/** Font family written into the SVG; png.ts ships the matching font file. */
export const CHART_FONT = 'DejaVu Sans';

interface Point {
  method: string;
  pattern: string;
  sparsity: number;
  perplexity: number;
  marker: string;
}

const LINE_MARKER = 'unstructured (line)';
// Shapes for N:M patterns after the circle of the lines; they repeat past six patterns.
const NM_SHAPES = ['diamond', 'square', 'triangle-up', 'triangle-down', 'cross', 'triangle-right'];

/** Cells that can be placed on a log axis; the others are listed under the figure. */
export function chartPoints(r: SweepResults): { points: Point[]; omitted: string[] } {
  const points: Point[] = [];
  const omitted: string[] = [];
  for (const c of r.cells) {
    if (c.status !== 'ok') continue;
    const x = c.sparsity ?? c.level;
    const y = c.perplexity;
    if (y === null || !Number.isFinite(y) || y <= 0 || !Number.isFinite(x)) {
      omitted.push(`${c.method} ${c.pattern === 'unstructured' ? '' : c.pattern + ' '}at ${c.level} (perplexity ${y})`);
      continue;
    }
    const nm = c.pattern !== 'unstructured';
    points.push({
      method: c.method,
      pattern: c.pattern,
      sparsity: x,
      perplexity: y,
      marker: nm ? `${c.pattern} (point)` : LINE_MARKER,
    });
  }
  return { points, omitted };
}

/** The vega-lite specification of the figure (plain JSON). */
export function chartSpec(r: SweepResults): Record<string, unknown> {
  const { points } = chartPoints(r);
  const lines = points.filter((p) => p.marker === LINE_MARKER);
  const nm = points.filter((p) => p.marker !== LINE_MARKER);
  const nmMarkers = [...new Set(nm.map((p) => p.marker))];
  const methods = [...new Set(r.cells.map((c) => c.method))];
  const dense = [{ perplexity: r.dense.perplexity, label: `dense ${fmt.perplexity(r.dense.perplexity)}` }];
  const x = {
    field: 'sparsity',
    type: 'quantitative',
    title: 'Achieved sparsity (fraction of pruned weights that are zero)',
    scale: { domain: [0, 1] },
    axis: { format: '.0%', tickCount: 10 },
  };
  const y = {
    field: 'perplexity',
    type: 'quantitative',
    title: 'Perplexity (log scale)',
    scale: { type: 'log' },
  };
  const color = { field: 'method', type: 'nominal', title: 'Method', scale: { domain: methods } };
  const shape = {
    field: 'marker',
    type: 'nominal',
    title: 'Cells',
    scale: {
      domain: [LINE_MARKER, ...nmMarkers],
      range: ['circle', ...nmMarkers.map((_, i) => NM_SHAPES[i % NM_SHAPES.length])],
    },
  };
  const layer: Record<string, unknown>[] = [
    {
      data: { values: dense },
      mark: { type: 'rule', strokeDash: [6, 4], color: '#555', strokeWidth: 1.5 },
      encoding: { y },
    },
    {
      data: { values: dense },
      mark: { type: 'text', align: 'left', baseline: 'bottom', dx: 4, dy: -3, color: '#333', fontSize: 12 },
      encoding: { y, x: { value: 0 }, text: { field: 'label' } },
    },
  ];
  if (lines.length) {
    layer.push({
      data: { values: lines },
      mark: { type: 'line', point: { filled: true, size: 50 }, strokeWidth: 2 },
      encoding: { x, y, color, shape },
    });
  }
  if (nm.length) {
    layer.push({
      data: { values: nm },
      mark: { type: 'point', filled: true, size: 130, stroke: '#222', strokeWidth: 0.8, opacity: 0.9 },
      encoding: { x, y, color, shape },
    });
  }
  return {
    width: 620,
    height: 380,
    background: 'white',
    padding: 12,
    title: { text: `Perplexity against sparsity: ${r.model}`, fontSize: 15 },
    config: {
      font: CHART_FONT,
      axis: { labelFontSize: 12, titleFontSize: 13, titlePadding: 10 },
      legend: { labelFontSize: 12, titleFontSize: 13, labelLimit: 260 },
    },
    layer,
  };
}

/** Renders the figure to an SVG document (no browser, no network). */
export function renderChartSvg(r: SweepResults): Promise<string> {
  return renderVegaLiteSvg(chartSpec(r));
}
