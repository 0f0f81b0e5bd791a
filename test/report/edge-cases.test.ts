// Results the renderer must handle without inventing numbers: diverged models, methods
// without a 50% cell, sweeps without 2:4, hostile names, and malformed input.
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseResults, readResults, svgToPng, validateResults, writeReport } from '../../lib/report';
import { writeFileAtomic } from '../../lib/report/atomic';
import type { SweepCell, SweepResults } from '../../lib/report/types';
import { okCell, syntheticResults } from './fixture';
import { markdownTables } from './parse';

let root: string | undefined;
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'shears-report-edge-'));
});
afterAll(async () => {
  if (root) await fs.rm(root, { recursive: true, force: true });
});

test('a diverged cell (Infinity) round-trips through results.json and is not plotted', async () => {
  const r: SweepResults = {
    model: 'm',
    dense: { perplexity: 20 },
    settings: {},
    cells: [
      okCell('magnitude', 'unstructured', 0.3, 25),
      okCell('magnitude', 'unstructured', 0.6, 90),
      { ...okCell('magnitude', 'unstructured', 0.9, Infinity), kl: NaN },
    ],
  };
  const dir = path.join(root!, 'diverged');
  await writeReport(r, dir);
  const json = await fs.readFile(path.join(dir, 'results.json'), 'utf8');
  expect(JSON.parse(json).cells[2].perplexity).toBe('Infinity');
  const back = await readResults(path.join(dir, 'results.json'));
  expect(back.cells[2].perplexity).toBe(Infinity);
  expect(back.cells[2].kl).toBeNaN();
  const md = await fs.readFile(path.join(dir, 'report.md'), 'utf8');
  const row = markdownTables(md).find((t) => t.heading === 'magnitude')!.rows[3];
  expect(row[0]).toBe('90%');
  expect(row[1]).toBe('∞ (overflow)');
  expect(row[3]).toMatch(/^NA \(NaN/);
  expect(md).toContain('Not plotted (no finite positive perplexity): magnitude at 0.9');
  const svg = await fs.readFile(path.join(dir, 'perplexity.svg'), 'utf8');
  const line = /aria-roledescription="line mark"[^>]*d="([^"]*)"/.exec(svg)!;
  expect(line[1].split('L')).toHaveLength(2);
});

test('without a 50% cell or 2:4 the summary tables compare at the closest level and say so', async () => {
  const r: SweepResults = {
    model: 'm',
    dense: { perplexity: 20 },
    settings: { note: { nested: [1, 2] } },
    cells: [
      okCell('a', 'unstructured', 0.3, 25),
      okCell('a', 'unstructured', 0.6, 40),
      okCell('b', 'unstructured', 0.3, 24),
      okCell('c', '4:8', 0.5, 30), // only N:M: a point, no line, NA at 60%
    ],
  };
  const dir = path.join(root!, 'no50');
  await writeReport(r, dir);
  const tables = markdownTables(await fs.readFile(path.join(dir, 'report.md'), 'utf8'));
  const e2e = tables.find((t) => t.heading === 'End-to-end quality')!;
  expect(e2e.header).toEqual(['Method', 'Perplexity @60%', 'KL @60%', 'Top-1 @60%']);
  expect(e2e.rows.find((x) => x[0] === 'a')![1]).toBe('40.00');
  expect(e2e.rows.find((x) => x[0] === 'b')![1]).toBe('NA (not in sweep)');
  expect(e2e.rows.find((x) => x[0] === 'c')![1]).toBe('NA (not in sweep)');
  const timing = tables.find((t) => t.heading === 'Running time')!;
  expect(timing.header[1]).toBe('Total s (60% unstructured)');
  const settings = tables.find((t) => t.heading === 'Settings')!;
  expect(settings.rows.find((x) => x[0] === 'note')![1]).toBe('{"nested":[1,2]}');
  const svg = await fs.readFile(path.join(dir, 'perplexity.svg'), 'utf8');
  // Two methods with lines, each in the fitted panel and in the relative close-up.
  expect(svg.match(/aria-roledescription="line mark"/g)).toHaveLength(4);
  expect(svg).toContain('Pattern: 4:8');
});

test('names with markup are escaped in HTML and pipes in Markdown', async () => {
  const r: SweepResults = {
    model: '<img src="http://x">',
    dense: { perplexity: 10 },
    settings: { 'a|b': '<script>alert(1)</script>' },
    cells: [okCell('<script>m</script>', 'unstructured', 0.5, 12)],
  };
  const dir = path.join(root!, 'escape');
  await writeReport(r, dir);
  const html = await fs.readFile(path.join(dir, 'report.html'), 'utf8');
  expect(html).not.toMatch(/<script|<img/i);
  expect(html).toContain('&lt;script&gt;m&lt;/script&gt;');
  const md = await fs.readFile(path.join(dir, 'report.md'), 'utf8');
  expect(md).toContain('| a\\|b |');
});

test('the PNG is the same bytes when rendered again (fixed font, no system fonts)', async () => {
  const dir = path.join(root!, 'png');
  await writeReport(syntheticResults(), dir);
  const svg = await fs.readFile(path.join(dir, 'perplexity.svg'), 'utf8');
  const png = await fs.readFile(path.join(dir, 'perplexity.png'));
  expect(svgToPng(svg).equals(png)).toBe(true);
});

describe('malformed results give errors naming the problem', () => {
  const base = () => syntheticResults();
  const cases: [string, (r: SweepResults) => void, RegExp][] = [
    [
      'NA without reason',
      (r) => {
        r.cells[4].status = 'na';
        delete r.cells[4].reason;
      },
      /cells\[4\] \(magnitude\).*"reason"/,
    ],
    ['missing model', (r) => void ((r as { model?: string }).model = ''), /"model"/],
    ['bad pattern', (r) => void (r.cells[0].pattern = '4:2' as SweepCell['pattern']), /cells\[0\] \(magnitude\).*"4:2"/],
    ['level out of range', (r) => void (r.cells[1].level = 1.5), /cells\[1\].*"level"/],
    ['string metric', (r) => void ((r.cells[2] as Record<string, unknown>).kl = 'low'), /cells\[2\].*"kl"/],
    ['missing metric', (r) => void (r.cells[2].perplexity = null), /"perplexity" is required/],
    ['duplicate cell', (r) => void r.cells.push({ ...r.cells[0] }), /cells\[0\] and cells\[21\]/],
  ];
  test.each(cases)('%s', (_name, mutate, message) => {
    const r = base();
    mutate(r);
    expect(() => validateResults(r)).toThrow(message);
  });

  test('writeReport refuses before writing anything', async () => {
    const r = base();
    r.cells[0].status = 'broken' as 'ok';
    const dir = path.join(root!, 'refused');
    await expect(writeReport(r, dir)).rejects.toThrow(/"status"/);
    await expect(fs.stat(dir)).rejects.toThrow();
  });

  test('readResults names the file', async () => {
    const file = path.join(root!, 'bad.json');
    await fs.writeFile(file, '{"model": ');
    await expect(readResults(file)).rejects.toThrow(file);
    await expect(readResults(path.join(root!, 'missing.json'))).rejects.toThrow(/missing\.json/);
    expect(() => parseResults('{"model":"m","dense":{},"cells":[]}', 'x.json')).toThrow(
      /x\.json.*dense\.perplexity/,
    );
  });

  test('a failed atomic write names the file and leaves no temporary file', async () => {
    const dir = path.join(root!, 'atomic');
    await fs.mkdir(dir);
    const target = path.join(dir, 'sub'); // a directory: rename over it fails
    await fs.mkdir(target);
    await fs.writeFile(path.join(target, 'keep'), 'x');
    await expect(writeFileAtomic(target, 'data')).rejects.toThrow(target);
    expect((await fs.readdir(dir)).sort()).toEqual(['sub']);
  });
});
