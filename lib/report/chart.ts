// The perplexity-vs-sparsity figure: a vega-lite spec built from the results, compiled
// and rendered to SVG by vega without a browser.
//
// Top row: perplexity on an axis fitted to the data (unstructured levels as lines; N:M
// patterns in a panel of their own, one marker per method side by side, since they all
// share one sparsity). Bottom row: the same cells relative to the dense model, cut at
// ZOOM_CAP x dense (cells above it left out), so the low-sparsity range where methods
// differ is readable.
import { fittedScale, type YScale } from './chart-scale';
import { fmt } from './format';
import { modelName } from './model-name';
import { renderVegaLiteSvg } from './vega-render';
import type { SweepResults } from './types';

/** Font family written into the SVG; png.ts ships the matching font file. */
export const CHART_FONT = 'DejaVu Sans';

/** The close-up row shows cells up to this multiple of the dense perplexity. */
export const ZOOM_CAP = 3;

export interface ChartPoint {
  method: string;
  pattern: string;
  sparsity: number;
  perplexity: number;
  /** perplexity / dense perplexity (null when the dense perplexity is not usable). */
  relative: number | null;
}

const usable = (y: number | null | undefined): y is number => typeof y === 'number' && Number.isFinite(y) && y > 0;

/** Cells that can be placed on a log axis; the others are listed under the figure. */
export function chartPoints(r: SweepResults): { points: ChartPoint[]; omitted: string[] } {
  const points: ChartPoint[] = [];
  const omitted: string[] = [];
  const dense = usable(r.dense.perplexity) ? r.dense.perplexity : null;
  for (const c of r.cells) {
    if (c.status !== 'ok') continue;
    const x = c.sparsity ?? c.level;
    const y = c.perplexity;
    if (!usable(y) || !Number.isFinite(x)) {
      omitted.push(`${c.method} ${c.pattern === 'unstructured' ? '' : c.pattern + ' '}at ${c.level} (perplexity ${y})`);
      continue;
    }
    points.push({ method: c.method, pattern: c.pattern, sparsity: x, perplexity: y, relative: dense && y / dense });
  }
  return { points, omitted };
}

interface Row {
  field: 'perplexity' | 'relative';
  title: string;
  scale: YScale;
  /** Where the dense model sits on this row's axis, and its label. */
  rule: { value: number; label: string } | null;
  xDomain: [number, number];
  points: ChartPoint[];
  height: number;
  panelTitles: [string, string];
}

const axisTitle = (what: string, s: YScale) => `${what} (${s.type} scale)`;

/** The close-up row: relative perplexity up to ZOOM_CAP, over the sparsities that reach it. */
function zoomRow(points: ChartPoint[]): Row | null {
  const rel = points.filter((p) => p.relative !== null);
  const inside = rel.filter((p) => p.relative! <= ZOOM_CAP);
  if (inside.length === 0) return null;
  const lineXs = inside.filter((p) => p.pattern === 'unstructured').map((p) => p.sparsity);
  const xMax = lineXs.length ? Math.min(1, Math.max(...lineXs) + 0.05) : 1;
  const scale = fittedScale([1, ...inside.map((p) => p.relative!)]);
  return {
    field: 'relative',
    title: axisTitle("Perplexity / dense", scale),
    scale,
    rule: { value: 1, label: 'dense = 1' },
    xDomain: [0, xMax],
    // Only the cells inside the cut: a mark far outside its panel is not drawn at all
    // (clipping it crashed the PNG rasterizer), and lines end at their last such cell.
    points: inside,
    height: 270,
    panelTitles: [`Close-up: relative to dense, cells up to ${ZOOM_CAP}× its perplexity`, 'N:M, relative'],
  };
}

function rows(r: SweepResults, points: ChartPoint[]): Row[] {
  const dense = usable(r.dense.perplexity) ? r.dense.perplexity : null;
  const values = [...(dense ? [dense] : []), ...points.map((p) => p.perplexity)];
  const scale = fittedScale(values.length ? values : [1]);
  const top: Row = {
    field: 'perplexity',
    title: axisTitle('Perplexity', scale),
    scale,
    rule: dense ? { value: dense, label: `dense ${fmt.perplexity(dense)}` } : null,
    xDomain: [0, 1],
    points,
    height: 320,
    panelTitles: ['Unstructured sparsity', 'N:M patterns'],
  };
  const zoom = zoomRow(points);
  return zoom ? [top, zoom] : [top];
}

/** One panel: the dense rule, then lines (unstructured) or side-by-side markers (N:M). */
function panel(row: Row, kind: 'lines' | 'nm', methods: string[], nmWidth: number): Record<string, unknown> {
  const y = { field: row.field, type: 'quantitative', title: row.title, scale: row.scale };
  const color = { field: 'method', type: 'nominal', title: 'Method', scale: { domain: methods } };
  const layer: Record<string, unknown>[] = [];
  if (row.rule) {
    const values = [{ [row.field]: row.rule.value, label: row.rule.label }];
    layer.push({
      data: { values },
      mark: { type: 'rule', strokeDash: [6, 4], color: '#555', strokeWidth: 1.5 },
      encoding: { y },
    });
    if (kind === 'lines') {
      layer.push({
        data: { values },
        mark: { type: 'text', align: 'left', baseline: 'bottom', dx: 4, dy: -3, color: '#333', fontSize: 12 },
        encoding: { y, x: { value: 0 }, text: { field: 'label' } },
      });
    }
  }
  const points = row.points.filter((p) => (kind === 'lines') === (p.pattern === 'unstructured'));
  if (kind === 'lines') {
    layer.push({
      data: { values: points },
      mark: { type: 'line', point: { filled: true, size: 50 }, strokeWidth: 2 },
      encoding: {
        x: {
          field: 'sparsity',
          type: 'quantitative',
          title: 'Achieved sparsity (fraction of pruned weights that are zero)',
          scale: { domain: row.xDomain, nice: false },
          axis: { format: '.0%', tickCount: 10 },
        },
        y,
        color,
      },
    });
  } else {
    const patterns = [...new Set(points.map((p) => p.pattern))];
    layer.push({
      data: { values: points },
      mark: { type: 'point', shape: 'diamond', filled: true, size: 120, stroke: '#222', strokeWidth: 0.8 },
      encoding: {
        x: { field: 'pattern', type: 'nominal', title: 'Pattern', sort: patterns, axis: { labelAngle: 0 } },
        // One slot per method inside each pattern's band, so no marker hides another.
        xOffset: { field: 'method', type: 'nominal', scale: { domain: methods } },
        y,
        color,
      },
    });
  }
  return {
    width: kind === 'lines' ? 560 : nmWidth,
    height: row.height,
    title: { text: row.panelTitles[kind === 'lines' ? 0 : 1], fontSize: 13, anchor: 'start' },
    layer,
  };
}

/** The vega-lite specification of the figure (plain JSON). */
export function chartSpec(r: SweepResults): Record<string, unknown> {
  const { points } = chartPoints(r);
  const methods = [...new Set(r.cells.map((c) => c.method))];
  const hasLines = points.some((p) => p.pattern === 'unstructured');
  const patterns = new Set(points.filter((p) => p.pattern !== 'unstructured').map((p) => p.pattern));
  const nmWidth = Math.max(110, patterns.size * Math.max(60, methods.length * 22));
  const kinds: ('lines' | 'nm')[] = [...(hasLines || patterns.size === 0 ? ['lines' as const] : []), ...(patterns.size ? ['nm' as const] : [])];
  return {
    background: 'white',
    padding: 12,
    title: { text: `Perplexity against sparsity: ${modelName(r)}`, fontSize: 15 },
    config: {
      font: CHART_FONT,
      axis: { labelFontSize: 12, titleFontSize: 13, titlePadding: 10 },
      legend: { labelFontSize: 12, titleFontSize: 13, labelLimit: 260 },
    },
    vconcat: rows(r, points).map((row) => ({
      hconcat: kinds.map((k) => panel(row, k, methods, nmWidth)),
    })),
    resolve: { scale: { color: 'shared' } },
  };
}

/** Renders the figure to an SVG document (no browser, no network). */
export function renderChartSvg(r: SweepResults): Promise<string> {
  return renderVegaLiteSvg(chartSpec(r));
}
