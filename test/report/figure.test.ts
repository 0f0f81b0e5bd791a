// The figure's axes fit the data, N:M markers of different methods do not overlap, and
// titles name the model, not its absolute path (issue 9, items 16-18).
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chartSpec, renderChartSvg, svgToPng, writeReport } from '../../lib/report';
import { fittedScale } from '../../lib/report/chart-scale';
import { modelBaseName, modelName } from '../../lib/report/model-name';
import type { SweepCell, SweepResults } from '../../lib/report/types';
import { okCell as cell } from './fixture';
import { markdownTables } from './parse';

// Shaped like the demo: methods close together up to 60%, apart by orders past it.
function demoLike(): SweepResults {
  const cells: SweepCell[] = [];
  const ppl: Record<string, number[]> = {
    magnitude: [31, 33, 40, 90, 3000],
    wanda: [30.5, 31.5, 35, 60, 900],
    sparsegpt: [30.4, 31, 33, 45, 400],
  };
  const levels = [0.1, 0.3, 0.5, 0.7, 0.9];
  for (const [m, ys] of Object.entries(ppl)) {
    ys.forEach((y, i) => cells.push(cell(m, 'unstructured', levels[i], y)));
    cells.push(cell(m, '2:4', 0.5, ys[2] * 1.3));
    cells.push(cell(m, '4:8', 0.5, ys[2] * 1.2));
  }
  return { model: '/home/someone/models/demo-model/', dense: { perplexity: 30 }, settings: {}, cells };
}

type Spec = { vconcat: { hconcat: { layer: { encoding?: Record<string, { scale?: { type?: string; domain?: number[] }; field?: string }> }[] }[] }[]; title: { text: string } };

test('fittedScale: log over a wide range, linear over a narrow one, padded around the data', () => {
  const wide = fittedScale([30, 3000]);
  expect(wide.type).toBe('log');
  expect(wide.domain[0]).toBeLessThan(30);
  expect(wide.domain[0]).toBeGreaterThan(20); // starts near the data, not at a fixed 10
  expect(wide.domain[1]).toBeGreaterThan(3000);
  const narrow = fittedScale([30, 45]);
  expect(narrow.type).toBe('linear');
  expect(narrow.domain[0]).toBeGreaterThan(28);
  expect(narrow.domain[0]).toBeLessThan(30);
  expect(narrow.domain[1]).toBeGreaterThan(45);
  const flat = fittedScale([12, 12]);
  expect(flat.domain[0]).toBeLessThan(12);
  expect(flat.domain[1]).toBeGreaterThan(12);
});

test('the figure has a fitted top row and a relative-to-dense close-up', () => {
  const spec = chartSpec(demoLike()) as unknown as Spec;
  expect(spec.vconcat).toHaveLength(2);
  const yOf = (row: number) => spec.vconcat[row].hconcat[0].layer.find((l) => l.encoding?.x)!.encoding!.y;
  const top = yOf(0);
  expect(top.field).toBe('perplexity');
  expect(top.scale!.domain![0]).toBeGreaterThan(20); // near the data, not at a fixed 10
  expect(top.scale!.domain![0]).toBeLessThan(30);
  const close = yOf(1);
  expect(close.field).toBe('relative');
  // Up to 3x dense: the 10%-50% levels where the methods differ fill the panel.
  expect(close.scale!.type).toBe('linear');
  expect(close.scale!.domain![1]).toBeLessThan(3.5);
  expect(close.scale!.domain![0]).toBeLessThan(1.02);
});

test('N:M markers of different methods sit at different x positions', async () => {
  const svg = await renderChartSvg(demoLike());
  const marks = [...svg.matchAll(/<path aria-label="([^"]*Pattern: 2:4[^"]*)"[^>]*transform="translate\(([-\d.]+),/g)];
  // Three methods, in the fitted panel and in the close-up.
  expect(marks.length).toBe(6);
  const top = marks.slice(0, 3).map((m) => Number(m[2]));
  expect(new Set(top).size).toBe(3);
  expect(Math.min(...top.slice(1).map((x, i) => Math.abs(x - top[i])))).toBeGreaterThan(5);
});

test('titles show the model name; the dense row shows sparsity 0', async () => {
  expect(modelBaseName('/a/b/demo-model/')).toBe('demo-model');
  expect(modelBaseName('/a/b/tiny.Q8.gguf')).toBe('tiny.Q8');
  expect(modelName({ model: '/x/y', settings: { model_name: 'Llama 7B' } })).toBe('Llama 7B');
  const r = demoLike();
  expect((chartSpec(r) as unknown as Spec).title.text).toBe('Perplexity against sparsity: demo-model');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'shears-figure-'));
  try {
    await writeReport(r, dir);
    const md = await fs.readFile(path.join(dir, 'report.md'), 'utf8');
    expect(md.split('\n')[0]).toBe('# Pruning sweep: demo-model');
    const html = await fs.readFile(path.join(dir, 'report.html'), 'utf8');
    expect(html).toContain('<h1>Pruning sweep: demo-model</h1>');
    const magnitude = markdownTables(md).find((t) => t.heading === 'magnitude')!;
    expect(magnitude.rows[0][0]).toBe('0 (dense)');
    expect(magnitude.rows[0][2]).toBe('0 (not pruned)');
    // The full path is still recorded, in the settings table.
    const settings = markdownTables(md).find((t) => t.heading === 'Settings')!;
    expect(settings.rows.find((x) => x[0] === 'model')![1]).toBe(r.model);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('a line leaving the close-up ends at its last cell inside it, and the PNG renders', async () => {
  // One level inside 3x dense, one far above, a 2:4 cell above: marks far outside a
  // clipped panel used to abort the process in the PNG rasterizer.
  const r: SweepResults = {
    model: 'm',
    dense: { perplexity: 10 },
    settings: {},
    cells: [cell('magnitude', 'unstructured', 0.2, 12), cell('magnitude', 'unstructured', 0.6, 80), cell('magnitude', '2:4', 0.5, 40)],
  };
  const svg = await renderChartSvg(r);
  expect(svgToPng(svg).length).toBeGreaterThan(1000);
  const lines = [...svg.matchAll(/aria-roledescription="line mark"[^>]*d="([^"]*)"/g)].map((m) => m[1]);
  expect(lines).toHaveLength(2);
  expect(lines[0].split('L')).toHaveLength(2); // fitted panel: both levels
  expect(lines[1]).not.toContain('L'); // close-up: the 20% cell alone
});
