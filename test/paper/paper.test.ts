// `shears paper`: the eight tables from one call, each value measured or NA with its
// reason, cached sweeps reused by --resume, and refusals before any work.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { paper } from '../../lib/paper/run';
import { checkPaperOptions } from '../../lib/paper/plan';
import { ensureCliBuilt } from '../prune/helpers';
import { writeTinyDense } from '../queries/tiny-text-model';
import { runCli } from '../support/cli';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-paper-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let model: string;
let calib: string;
let evalText: string;
beforeAll(() => {
  ensureCliBuilt(); // Table 7 runs `shears prune` as child processes
  model = writeTinyDense(path.join(dir, 'dense'));
  calib = path.join(dir, 'queries.txt');
  fs.writeFileSync(calib, 'the cat sat on the mat\nthe dog ran in the park\na bird sang in the tree\nthe fish swam in the sea\n');
  evalText = path.join(dir, 'eval.txt');
  fs.writeFileSync(evalText, 'the cat ran in the tree and the dog sat on the mat. '.repeat(20));
}, 180_000); // a stale dist/ is rebuilt first (tsc: far longer than jest's 5 s default)

const base = () => ({ model, calib, eval: evalText, optModel: model, quick: true, methods: ['magnitude', 'wanda', 'l1'], calibSamples: 4, seqLen: 16, maxWindows: 2, budget: 4 });

test('every table, in markdown, HTML and JSON; NA with the reason where a value does not exist', async () => {
  const out = path.join(dir, 'paper');
  const labels: string[] = [];
  const r = await paper({ ...base(), out, onProgress: (l) => labels.push(l) });
  const ids = r.tables.map((t) => t.id);
  expect(ids).toEqual(['1', '2', '3', '4a', '4b', '4c', '5', '6', '7', '8']);
  const byId = (id: string) => r.tables.find((t) => t.id === id)!;
  // Tables 1-2: the dense row, then the quick levels.
  expect(byId('1').rows.map((x) => x[0])).toEqual(['0 (dense)', '10%', '30%', '50%', '70%', '90%']);
  for (const row of byId('2').rows.slice(1)) expect(Number(row[1])).toBeGreaterThan(0);
  // Table 3: bias on a model without biases.
  expect(byId('3').rows.slice(1).every((x) => x[1] === 'NA (NA: the model has no biases)')).toBe(true);
  // Table 4: the covered methods, with speed measured beside the dense model.
  expect(byId('4a').rows.map((x) => x[0])).toEqual(['dense', 'magnitude', 'wanda']);
  expect(byId('4a').rows[1][5]).toMatch(/^\d+(\.\d+)? \(\d+\.\d\dx\)$/);
  expect(byId('4c').rows.map((x) => x[0])).toEqual(['dense', 'l1 (channels)']);
  // Table 7: one process per method, each with its own peak memory.
  expect(byId('7').rows.map((x) => x[0])).toEqual(['magnitude', 'wanda', 'l1 (channels 20%)']);
  for (const row of byId('7').rows) expect(row[8]).toMatch(/MiB$/);
  // Table 5: the search's best formulas and the two baselines, with their KL.
  expect(byId('5').rows.map((x) => x[0])).toEqual(expect.arrayContaining(['#1', 'baseline magnitude', 'baseline wanda']));
  expect(Number(byId('5').rows[0][2])).toBeGreaterThanOrEqual(0);
  // Said either way: a winner that is a seed formula is named as one.
  expect(byId('5').caption).toMatch(/one of the known formulas the search starts from \(.+\): within this budget the search made nothing better\.|the search made it\./);
  // Table 8: dense first, then every covered cell.
  expect(byId('8').rows[0][0]).toBe('dense');
  expect(byId('8').rows.map((x) => x[0])).toContain('wanda 2:4');
  const md = fs.readFileSync(path.join(out, 'paper.md'), 'utf8');
  for (const id of ids) expect(md).toContain(`## Table ${id}:`);
  expect(md).not.toMatch(/\| +\|/); // no empty cell
  const html = fs.readFileSync(path.join(out, 'paper.html'), 'utf8');
  expect(html).toContain('<svg');
  expect(html).toContain('id="table-7"');
  const json = JSON.parse(fs.readFileSync(path.join(out, 'paper.json'), 'utf8'));
  expect(json.tables).toHaveLength(10);
  expect(labels.some((l) => l.startsWith('tables 1-2: '))).toBe(true);
  // No model is left behind by Table 7's runs: only their reports.
  expect(fs.readdirSync(path.join(out, 'runs')).every((f) => f.endsWith('.json'))).toBe(true);

  // A second call on the same folder: refused without --resume or --force ...
  await expect(paper({ ...base(), out })).rejects.toThrow(/already holds a paper run: use --resume/);
  // ... and with --resume nothing is computed again.
  const again: string[] = [];
  const resumed = await paper({ ...base(), out, resume: true, onProgress: (l) => again.push(l) });
  expect(again.filter((l) => /table 7: /.test(l))).toEqual([]);
  expect(resumed.tables.find((t) => t.id === '1')!.rows).toEqual(byId('1').rows);
}, 300_000);

test('refusals before any work', async () => {
  const out = path.join(dir, 'refused');
  expect(() => checkPaperOptions({ ...base(), out, budget: 0 })).toThrow(/--budget must be a positive integer/);
  expect(() => checkPaperOptions({ ...base(), out, eval: path.join(dir, 'missing.txt') })).toThrow(/--eval .*missing\.txt does not exist/);
  expect(() => checkPaperOptions({ ...base(), out, methods: ['no-such-method'] })).toThrow(/unknown method 'no-such-method'/);
  expect(() => checkPaperOptions({ ...base(), out, queue: 'localhost:6379' })).toThrow(/--queue expects redis:\/\/HOST:PORT/);
  // An interrupted run (its sweeps only) is refused as a finished one is.
  const interrupted = path.join(dir, 'interrupted');
  fs.mkdirSync(path.join(interrupted, 'sweeps', 'levels'), { recursive: true });
  expect(() => checkPaperOptions({ ...base(), out: interrupted })).toThrow(/already holds a paper run: use --resume/);
  expect(() => checkPaperOptions({ ...base(), out: interrupted, resume: true })).not.toThrow();
  const cli = await runCli(['paper', '--model', model, '--calib', calib, '--eval', evalText, '--out', out, '--budget', '0']);
  expect(cli.code).not.toBe(0);
  expect(cli.err).toMatch(/--budget must be a positive integer/);
  expect(fs.existsSync(out)).toBe(false);
});
