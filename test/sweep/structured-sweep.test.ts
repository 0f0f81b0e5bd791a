// `sweep` with structured methods: each cell removes units from a pristine copy of the
// demo model; the cell records the structure, the achieved fraction of block parameters
// removed and the parameters left, and a method that cannot apply (bias on a model without
// biases) is an NA cell with its reason, as the seed's Table 3 shows it.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { sweep } from '../../lib/sweep/run';
import { summaryTable } from '../../lib/sweep/summary';

const DEMO = path.join(__dirname, '..', '..', 'assets', 'demo-model');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-structured-sweep-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('structured cells: quality against parameters removed, NA for bias without biases', async () => {
  const evalText = path.join(dir, 'eval-head.txt');
  fs.writeFileSync(evalText, fs.readFileSync(path.join(DEMO, 'eval.txt'), 'utf8').slice(0, 30_000));
  const { results } = await sweep({
    model: DEMO,
    methods: ['random', 'flap', 'bias'],
    structure: 'channels',
    uniform: true,
    levels: [0.1, 0.3],
    calib: path.join(DEMO, 'calib.txt'),
    calibSamples: 8,
    seqLen: 128,
    eval: evalText,
    maxWindows: 4,
    out: path.join(dir, 'sweep'),
  });
  const cell = (m: string, l: number) => results.cells.find((c) => c.method === m && c.level === l)!;
  for (const m of ['random', 'flap'])
    for (const l of [0.1, 0.3]) {
      const c = cell(m, l);
      expect(c.status).toBe('ok');
      expect(c.structure).toBe('channels');
      expect(Math.abs((c.sparsity as number) - l)).toBeLessThan(0.02);
      expect(c.parameters).toBeLessThan(c.parameters_before as number);
    }
  expect(cell('flap', 0.3).parameters).toBeLessThan(cell('flap', 0.1).parameters as number);
  expect(cell('flap', 0.3).perplexity!).toBeGreaterThan(cell('flap', 0.1).perplexity!);
  expect(cell('bias', 0.1)).toMatchObject({ status: 'na', reason: 'NA: the model has no biases' });
  expect(summaryTable(results)).toMatch(/flap channels/);
  // Structured methods have no N:M patterns.
  await expect(sweep({ model: DEMO, methods: ['flap'], patterns: ['2:4'], calib: path.join(DEMO, 'calib.txt'), eval: evalText, out: path.join(dir, 'nm') })).rejects.toThrow(/N:M patterns do not apply/);
});

test('bias on the OPT demo model: the report shows the neurons by firing probability, labels name the structure', async () => {
  const evalText = path.join(dir, 'eval-head-opt.txt');
  fs.writeFileSync(evalText, fs.readFileSync(path.join(DEMO, 'eval.txt'), 'utf8').slice(0, 20_000));
  const labels: string[] = [];
  const out = path.join(dir, 'opt-bias');
  const { results } = await sweep({
    model: path.join(__dirname, '..', '..', 'assets', 'demo-opt'),
    methods: ['bias'],
    structure: 'channels',
    levels: [0.1],
    calib: path.join(DEMO, 'calib.txt'),
    calibSamples: 8,
    seqLen: 64,
    eval: evalText,
    maxWindows: 2,
    out,
    onProgress: (p) => labels.push(p.label),
  });
  const h = results.cells[0].firing_probability_histogram as number[];
  expect(h).toHaveLength(10);
  expect(h.reduce((a, b) => a + b, 0)).toBe(4 * 1024); // every fc1 neuron of the 4 blocks
  const md = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
  expect(md).toContain('## Firing probability of the MLP neurons');
  expect(md).toContain(`| bias | ${h.join(' | ')} | 4096 |`);
  expect(fs.readFileSync(path.join(out, 'report.html'), 'utf8')).toContain('Firing probability of the MLP neurons');
  expect(labels.some((l) => l.startsWith('cell 1/1 bias channels 0.1'))).toBe(true);
  expect(labels.some((l) => / unstructured /.test(l))).toBe(false);
});
