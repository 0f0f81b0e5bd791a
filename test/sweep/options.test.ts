import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { ArgumentRangeError, FormatError, NotImplementedError } from '../../lib/errors';
import { METHODS } from '../../lib/methods/registry';
import { sweep } from '../../lib/sweep/run';
import { checkSweepOptions, DEFAULT_LEVELS, parseLevels, sweepCells } from '../../lib/sweep/options';

const base = { model: __filename, methods: ['magnitude'], eval: __filename, out: '/tmp/x' };

describe('sweep options', () => {
  test('default levels are 0.01, 0.05, 0.1 ... 0.9, 0.95, 0.99', () => {
    expect(DEFAULT_LEVELS).toEqual([0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]);
    expect(checkSweepOptions(base).levels).toEqual(DEFAULT_LEVELS);
  });
  test('a method option refused at some of the patterns only gives NA cells there; refused at every pattern, an error', async () => {
    const withPermute = { ...base, methods: ['wanda', 'ria'], calib: __filename, levels: [0.5], permute: true };
    const checked = checkSweepOptions({ ...withPermute, patterns: ['unstructured', '2:4'] });
    expect(checked.cells.filter((c) => c.method === 'ria').map((c) => c.pattern)).toEqual(['unstructured', '2:4']);
    expect(() => checkSweepOptions({ ...withPermute, patterns: ['unstructured'] })).toThrow(/--permute/);
    expect(() => checkSweepOptions({ ...base, methods: ['kmeans'], calib: __filename, bits: 99, patterns: ['unstructured', '2:4'] })).toThrow(/--bits/);
    // The refused cell itself: NA with the method's reason, the others computed.
    const demo = path.join(__dirname, '..', '..', 'assets', 'demo-model');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-sweep-refusal-'));
    try {
      const evalText = path.join(dir, 'eval.txt');
      fs.writeFileSync(evalText, fs.readFileSync(path.join(demo, 'eval.txt'), 'utf8').slice(0, 10_000));
      const { results } = await sweep({ model: demo, methods: ['ria'], levels: [0.5], patterns: ['unstructured', '2:4'], permute: true, calib: path.join(demo, 'calib.txt'), calibSamples: 4, seqLen: 64, eval: evalText, maxWindows: 1, out: path.join(dir, 's') });
      const [unstructured, nm] = results.cells;
      expect(unstructured).toMatchObject({ status: 'na', pattern: 'unstructured', reason: expect.stringMatching(/--permute/) });
      expect(unstructured.error).toBe(false); // "does not apply", not a failure for --resume to retry
      expect(nm).toMatchObject({ status: 'ok', pattern: '2:4' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
  test('levels: parsed, de-duplicated, each in [0, 1)', () => {
    expect(parseLevels('0.1, 0.5,0.1,0')).toEqual([0.1, 0.5, 0]);
    expect(() => parseLevels('0.1,1')).toThrow(/level/);
    expect(() => parseLevels('0.1,abc')).toThrow(/'abc' is not a number/);
  });
  test('an N:M pattern is one cell at its own sparsity, not one per level', () => {
    const cells = sweepCells(['magnitude', 'wanda'], ['unstructured', '2:4', '1:4'], [0.1, 0.5]);
    expect(cells.map((c) => `${c.method} ${c.pattern} ${c.level}`)).toEqual([
      'magnitude unstructured 0.1',
      'magnitude unstructured 0.5',
      'magnitude 2:4 0.5',
      'magnitude 1:4 0.75',
      'wanda unstructured 0.1',
      'wanda unstructured 0.5',
      'wanda 2:4 0.5',
      'wanda 1:4 0.75',
    ]);
    expect(checkSweepOptions({ ...base, patterns: ['2:4'], levels: [] }).cells).toHaveLength(1);
  });
  test('structured methods take the levels only: a sweep with N:M patterns gives them no N:M cell', () => {
    const cells = sweepCells(['wanda', 'flap'], ['unstructured', '2:4'], [0.3], new Set(['flap']));
    expect(cells.map((c) => `${c.method} ${c.pattern} ${c.level}`)).toEqual(['wanda unstructured 0.3', 'wanda 2:4 0.5', 'flap unstructured 0.3']);
  });
  test('bad arguments fail before any work, naming the problem', () => {
    expect(() => checkSweepOptions({ ...base, methods: ['wanda'] })).toThrow(/wanda need calibration data/);
    expect(() => checkSweepOptions({ ...base, methods: [] })).toThrow(ArgumentRangeError);
    expect(() => checkSweepOptions({ ...base, methods: ['nope'] })).toThrow(/unknown method 'nope'/);
    // A method still planned, while one is (each lands as a plugin).
    const planned = METHODS.find((m) => !m.implemented)?.name;
    if (planned) expect(() => checkSweepOptions({ ...base, methods: [planned] })).toThrow(NotImplementedError);
    expect(() => checkSweepOptions({ ...base, eval: undefined })).toThrow(/--eval/);
    expect(() => checkSweepOptions({ ...base, evalTokens: __filename })).toThrow(/exactly one of --eval/);
    expect(() => checkSweepOptions({ ...base, patterns: ['3:2'] })).toThrow();
    expect(() => checkSweepOptions({ ...base, queries: '/no/such/queries.txt' })).toThrow(/--queries \/no\/such\/queries.txt does not exist/);
    expect(() => checkSweepOptions({ ...base, maxWindows: 0 })).toThrow(/--max-windows/);
    expect(() => checkSweepOptions({ ...base, model: '/no/such/model.bin' })).toThrow(/--model \/no\/such\/model.bin does not exist/);
  });
  test('--stats: exact or once', () => {
    expect(() => checkSweepOptions({ ...base, stats: 'once' })).not.toThrow();
    expect(() => checkSweepOptions({ ...base, stats: 'twice' as 'once' })).toThrow(/--stats must be exact or once/);
  });
});

describe('sweep output folder', () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-sweep-opts-'))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a run that fails before any result does not block the next one', async () => {
    // This file is no model: loading fails after the folder was prepared.
    const o = { ...base, out: path.join(dir, 'out') };
    await expect(sweep(o)).rejects.toThrow(FormatError);
    await expect(sweep(o)).rejects.toThrow(FormatError);
    expect(fs.existsSync(path.join(o.out, 'results.json'))).toBe(false);
  });
  test('--out must be a folder', async () => {
    const f = path.join(dir, 'file');
    fs.writeFileSync(f, 'x');
    await expect(sweep({ ...base, out: f })).rejects.toThrow(/exists and is not a directory/);
  });
});
