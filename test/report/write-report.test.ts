// writeReport() on a synthetic sweep: every file is written, and each is checked by
// reading it back with readers that do not share code with the writer.
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseResults, writeReport } from '../../lib/report';
import type { SweepCell, SweepResults } from '../../lib/report/types';
import { syntheticResults } from './fixture';
import { markdownTables, parseCsv, readPng } from './parse';

const NAMES = ['results.json', 'results.csv', 'perplexity.svg', 'perplexity.png', 'report.md', 'report.html'];

let root: string | undefined;
let dir: string;
let results: SweepResults;
let files: string[];
const read = (name: string) => fs.readFile(path.join(dir, name), 'utf8');

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'shears-report-'));
  dir = path.join(root, 'nested', 'out');
  results = syntheticResults();
  ({ files } = await writeReport(results, dir));
});

afterAll(async () => {
  if (root) await fs.rm(root, { recursive: true, force: true });
});

const methods = () => [...new Set(results.cells.map((c) => c.method))];
const near = (a: number, b: number, rel: number) => Math.abs(a - b) <= rel * Math.abs(b) + 1e-12;

test('writes every file, creating the folder, and leaves no temporary file', async () => {
  expect(files.map((f) => path.basename(f)).sort()).toEqual([...NAMES].sort());
  for (const f of files) expect(path.isAbsolute(f)).toBe(true);
  const listing = await fs.readdir(dir);
  expect(listing.sort()).toEqual([...NAMES].sort());
  for (const name of NAMES) expect((await fs.stat(path.join(dir, name))).size).toBeGreaterThan(100);
});

test('results.json round-trips the results object exactly', async () => {
  const text = await read('results.json');
  expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(results)));
  expect(parseResults(text)).toEqual(results);
});

test('results.csv has a header and one row per cell, numbers to 8 digits, NA reasons kept', async () => {
  const rows = parseCsv(await read('results.csv'));
  const [header, ...body] = rows;
  expect(body).toHaveLength(results.cells.length);
  const col = (name: string) => {
    const i = header.indexOf(name);
    expect(i).toBeGreaterThanOrEqual(0);
    return i;
  };
  results.cells.forEach((c, r) => {
    const row = body[r];
    expect(row).toHaveLength(header.length);
    expect(row[col('method')]).toBe(c.method);
    expect(row[col('pattern')]).toBe(c.pattern);
    expect(row[col('status')]).toBe(c.status);
    expect(Number(row[col('level')])).toBe(c.level);
    const numbers: [string, number | null | undefined][] = [
      ['sparsity', c.sparsity],
      ['perplexity', c.perplexity],
      ['kl', c.kl],
      ['top1_agreement', c.top1_agreement],
      ['total_seconds', c.timings?.total],
      ['prune_seconds', c.timings?.prune],
      ['calibrate_seconds', c.timings?.calibrate],
    ];
    for (const [name, v] of numbers) {
      const text = row[col(name)];
      if (v === null || v === undefined) expect(text).toBe('NA');
      else expect(near(Number(text), v, 1e-7)).toBe(true);
    }
    if (c.peak_rss_bytes === null) expect(row[col('peak_rss_bytes')]).toBe('NA');
    else expect(Number(row[col('peak_rss_bytes')])).toBe(c.peak_rss_bytes); // integers exact
    expect(row[col('reason')]).toBe(c.reason ?? '');
  });
});

function expectedLabels(method: string): string[] {
  const cells = results.cells.filter((c) => c.method === method);
  const un = cells.filter((c) => c.pattern === 'unstructured').sort((a, b) => a.level - b.level);
  const nm = cells.filter((c) => c.pattern !== 'unstructured');
  return [
    '0 (dense)',
    ...un.map((c) => `${Math.round(c.level * 100)}%`),
    ...nm.map((c) => `${c.pattern} (${Math.round(c.level * 100)}%)`),
  ];
}

function cellFor(method: string, label: string): SweepCell {
  const m = /^(\d+:\d+) \(/.exec(label);
  const found = results.cells.find(
    (c) =>
      c.method === method &&
      (m ? c.pattern === m[1] : c.pattern === 'unstructured' && `${Math.round(c.level * 100)}%` === label),
  );
  if (!found) throw new Error(`no cell for ${method} ${label}`);
  return found;
}

test('report.md has one table per method with the dense row and a row per level', async () => {
  const tables = markdownTables(await read('report.md'));
  for (const m of methods()) {
    const t = tables.filter((x) => x.heading === m);
    expect(t).toHaveLength(1);
    const [table] = t;
    expect(table.header).toEqual([
      'Level',
      'Perplexity',
      'Sparsity (achieved)',
      'KL (nats)',
      'Top-1 agreement',
      'Seconds',
    ]);
    expect(table.rows.map((r) => r[0])).toEqual(expectedLabels(m));
    expect(table.rows[0][1]).toBe(results.dense.perplexity.toFixed(2));
    for (const row of table.rows.slice(1)) {
      const c = cellFor(m, row[0]);
      if (c.status === 'na') {
        for (const v of row.slice(1)) expect(v).toBe(`NA (${c.reason})`);
      } else {
        expect(near(Number(row[1]), c.perplexity!, 0.005)).toBe(true);
        expect(Math.abs(Number(row[2].replace('%', '')) / 100 - c.sparsity!)).toBeLessThanOrEqual(5e-5 + 1e-12);
        expect(near(Number(row[3]), c.kl!, 0.005)).toBe(true);
        expect(Math.abs(Number(row[4].replace('%', '')) / 100 - c.top1_agreement!)).toBeLessThanOrEqual(5e-4 + 1e-12);
        expect(near(Number(row[5]), c.timings!.total, 0.01)).toBe(true);
      }
    }
  }
});

test('report.md: no empty cell anywhere, NA cells give reasons, summary tables present', async () => {
  const md = await read('report.md');
  const tables = markdownTables(md);
  expect(tables.length).toBe(methods().length + 3);
  for (const t of tables) {
    for (const row of t.rows) {
      expect(row).toHaveLength(t.header.length);
      for (const v of row) {
        expect(v).not.toBe('');
        if (v.startsWith('NA')) expect(v).toMatch(/^NA \(.+\)$/);
      }
    }
  }
  // The reason with a pipe is escaped in the Markdown source and survives.
  expect(md).toContain('NA (Hessian not positive definite \\| damping 0.01)');

  const timing = tables.find((t) => t.heading === 'Running time')!;
  expect(timing.rows.map((r) => r[0])).toEqual(methods());
  expect(timing.header[1]).toContain('50%');
  const magnitude = timing.rows[0];
  expect(magnitude[timing.header.indexOf('calibrate s')]).toBe('NA (phase not run)');
  // The last column sums the totals of the cells that ran.
  const sparsegptTotal = results.cells
    .filter((c) => c.method === 'sparsegpt' && c.status === 'ok')
    .map((c) => c.timings!.total)
    .reduce((a, b) => a + b, 0);
  expect(near(Number(timing.rows[2][timing.header.length - 1]), sparsegptTotal, 0.01)).toBe(true);

  const e2e = tables.find((t) => t.heading === 'End-to-end quality')!;
  expect(e2e.header).toEqual([
    'Method',
    'Perplexity @50%',
    'KL @50%',
    'Top-1 @50%',
    'Perplexity @2:4',
    'KL @2:4',
    'Top-1 @2:4',
  ]);
  expect(e2e.rows.map((r) => r[0])).toEqual(['dense (reference)', ...methods()]);
  for (const [i, m] of methods().entries()) {
    const at24 = results.cells.find((c) => c.method === m && c.pattern === '2:4')!;
    expect(near(Number(e2e.rows[i + 1][4]), at24.perplexity!, 0.005)).toBe(true);
  }

  const settings = tables.find((t) => t.heading === 'Settings')!;
  const byKey = Object.fromEntries(settings.rows.map(([k, v]) => [k, v]));
  expect(byKey.stats_mode).toBe('exact sequential');
  expect(byKey.seq_len).toBe('128');
  expect(byKey.model).toBe(results.model);
});

test('perplexity.svg has one line per method through its unstructured points', async () => {
  const svg = await read('perplexity.svg');
  expect(svg.startsWith('<svg')).toBe(true);
  const lines = [...svg.matchAll(/<path aria-label="([^"]*)"[^>]*aria-roledescription="line mark"[^>]*d="([^"]*)"/g)];
  const lineMethods = lines.map((l) => /Method: ([^;"]*)/.exec(l[1])![1]);
  // Each method has its line in the fitted panel and again in the relative close-up.
  expect([...lineMethods].sort()).toEqual([...methods(), ...methods()].sort());
  // The fitted panel's lines come first and go through every unstructured cell; the
  // close-up's only through the cells within 3x the dense perplexity.
  const seen = new Set<string>();
  for (const [i, l] of lines.entries()) {
    const m = lineMethods[i];
    const closeUp = seen.has(m);
    seen.add(m);
    const plotted = results.cells.filter(
      (c) =>
        c.method === m &&
        c.pattern === 'unstructured' &&
        c.status === 'ok' &&
        (!closeUp || c.perplexity! / results.dense.perplexity <= 3),
    ).length;
    expect(l[2].split('L').length).toBe(plotted);
  }
  // N:M cells are separate points, the dense level a rule, and the axes have titles.
  expect(svg).toContain('Pattern: 2:4');
  expect(svg).toContain('aria-roledescription="rule mark"');
  expect(svg).toContain('Perplexity (log scale)');
  expect(svg).toContain('Achieved sparsity');
});

test('perplexity.png is a valid PNG at twice the SVG size and is not blank', async () => {
  const svg = await read('perplexity.svg');
  const width = Number(/<svg[^>]* width="(\d+)"/.exec(svg)![1]);
  const height = Number(/<svg[^>]* height="(\d+)"/.exec(svg)![1]);
  const png = readPng(await fs.readFile(path.join(dir, 'perplexity.png')));
  expect([png.width, png.height]).toEqual([2 * width, 2 * height]);
  expect(png.bitDepth).toBe(8);
  expect(png.colorType).toBe(6); // RGBA
  expect(png.data.length).toBe(png.height * (1 + png.width * 4));
  // A blank image filters to a handful of byte values; a chart with text has many.
  expect(new Set(png.data).size).toBeGreaterThan(64);
});

test('report.html is self-contained and holds the same tables and the inline figure', async () => {
  const html = await read('report.html');
  expect(html).toMatch(/^<!DOCTYPE html>/);
  expect(html).toContain('<svg');
  expect(html).toContain('<style>');
  expect((html.match(/<table>/g) ?? []).length).toBe(methods().length + 3);
  for (const m of methods()) expect(html).toContain(`<h3>${m}</h3>`);
  for (const attr of html.matchAll(/\b(?:src|href)\s*=\s*["']([^"']*)["']/gi)) {
    expect(attr[1]).not.toMatch(/^(https?:)?\/\//i);
  }
  // url(#id) is a clip path inside the page; any other url( would be a request.
  expect(html).not.toMatch(/<script|<link|<img|@import|url\((?!#)/i);
  // NA reasons appear (HTML-escaped where needed).
  expect(html).toContain('NA (pattern not requested for this method)');
  expect(html).toContain('NA (Hessian not positive definite | damping 0.01)');
});
