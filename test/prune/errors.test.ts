// Bad input to prune() and `shears prune`: a clear error naming the problem (and the
// file), thrown before any work where it can be, and nothing written.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { NotImplementedError, PatternError, SparsityError } from '../../lib/errors';
import { METHODS } from '../../lib/methods/registry';
import { prune, PruneOptions, PruneProgress } from '../../lib/prune/run';
import { sharedPath, testShared } from '../support/shared-data';
import { CLI, ensureCliBuilt, ROOT, tempDir, tempLeftovers } from './helpers';
import { writeCalibTokens, writeTinyModel } from './tiny';

let model: string;
let calib: string;
let shortCalib: string;
let blankText: string;
let noTextJsonl: string;
beforeAll(() => {
  const dir = tempDir();
  model = writeTinyModel(path.join(dir, 'tiny'));
  calib = writeCalibTokens(path.join(dir, 'calib.json'));
  shortCalib = writeCalibTokens(path.join(dir, 'short.json'), 10);
  blankText = path.join(dir, 'blank.txt');
  fs.writeFileSync(blankText, '\n  \n\t\n');
  noTextJsonl = path.join(dir, 'rows.jsonl');
  fs.writeFileSync(noTextJsonl, '{"id": 1}\n{"text": ""}\n{"messages": []}\n');
});

const PLANNED_EXAMPLE = METHODS.find((m) => !m.implemented)?.name;

interface Case {
  label: string;
  opts: () => Partial<PruneOptions>;
  error: RegExp;
  type?: new (...a: never[]) => Error;
  /** Thrown before the model is loaded (no progress event at all). */
  early?: boolean;
}

const cases: Case[] = [
  ...[-0.1, 1, 1.5, NaN].map((s) => ({
    label: `sparsity ${s}`,
    opts: () => ({ method: 'magnitude', sparsity: s }),
    error: new RegExp(`sparsity must be a number in \\[0, 1\\), got ${s}`),
    type: SparsityError,
    early: true,
  })),
  { label: 'no sparsity and no pattern', opts: () => ({ method: 'magnitude' }), error: /give --sparsity \(in \[0, 1\)\) or --pattern N:M/, early: true },
  ...['4:4', '5:4', '0:4', '2:40', '2-4'].map((p) => ({
    label: `pattern ${p}`,
    opts: () => ({ method: 'magnitude', pattern: p }),
    error: /pattern must (be N:M with integers 1 <= N < M <= 32|look like N:M)/,
    type: PatternError,
    early: true,
  })),
  { label: 'pattern contradicting sparsity', opts: () => ({ method: 'magnitude', pattern: '2:4', sparsity: 0.3 }), error: /--sparsity 0.3 contradicts --pattern 2:4/, early: true },
  { label: 'N:M with global granularity', opts: () => ({ method: 'magnitude', pattern: '2:4', granularity: 'global' }), error: /N:M pattern is per row/, early: true },
  { label: 'sparsegpt with global granularity', opts: () => ({ method: 'sparsegpt', sparsity: 0.5, granularity: 'global', calibTokens: calib, seqLen: 16 }), error: /global granularity does not apply/, early: true },
  { label: 'unknown granularity', opts: () => ({ method: 'magnitude', sparsity: 0.5, granularity: 'column' as never }), error: /granularity must be row, matrix or global, got 'column'/, early: true },
  { label: 'unknown method', opts: () => ({ method: 'nope', sparsity: 0.5 }), error: /unknown method 'nope' \(implemented: magnitude, wanda, sparsegpt/, early: true },
  // A method still planned, while one is (each lands as a plugin; then none is left to refuse).
  ...(PLANNED_EXAMPLE
    ? [{ label: 'planned method', opts: () => ({ method: PLANNED_EXAMPLE, sparsity: 0.5 }), error: new RegExp(`method '${PLANNED_EXAMPLE}' .* is not implemented yet`), type: NotImplementedError, early: true }]
    : []),
  ...['wanda', 'sparsegpt'].map((method) => ({
    label: `${method} without calibration`,
    opts: () => ({ method, sparsity: 0.5 }),
    error: new RegExp(`method ${method} needs calibration data: give --calib FILE or --calib-tokens IDS.json`),
    early: true,
  })),
  { label: 'both --calib and --calib-tokens', opts: () => ({ method: 'wanda', sparsity: 0.5, calib: blankText, calibTokens: calib }), error: /give --calib or --calib-tokens, not both/, early: true },
  { label: 'missing calibration file', opts: () => ({ method: 'wanda', sparsity: 0.5, calib: '/nonexistent/calib.txt' }), error: /calibration file \/nonexistent\/calib.txt does not exist/, early: true },
  { label: 'calibration text with no usable text', opts: () => ({ method: 'wanda', sparsity: 0.5, calib: blankText }), error: /blank\.txt: no usable text: the file is empty or blank/ },
  { label: 'calibration JSONL with no usable row', opts: () => ({ method: 'wanda', sparsity: 0.5, calib: noTextJsonl }), error: /rows\.jsonl: no usable text: no row has a non-empty "text" field or "messages"/ },
  { label: 'fewer calibration tokens than --seq-len', opts: () => ({ method: 'wanda', sparsity: 0.5, calibTokens: shortCalib, seqLen: 16 }), error: /short\.json has 10 tokens, fewer than one sequence of 16; use a shorter --seq-len or more data/ },
  { label: 'token ids outside the vocabulary', opts: () => ({ method: 'wanda', sparsity: 0.5, calibTokens: blankText, seqLen: 16 }), error: /blank\.txt: not valid JSON/ },
  { label: '--seq-len beyond the context length', opts: () => ({ method: 'wanda', sparsity: 0.5, calibTokens: calib, seqLen: 4096 }), error: /--seq-len 4096 exceeds the model's context length 128/ },
  ...(['calibSamples', 'seqLen', 'batch'] as const).map((k) => ({
    label: `${k} 0`,
    opts: () => ({ method: 'wanda', sparsity: 0.5, calibTokens: calib, [k]: 0 }),
    error: /must be a positive integer, got 0/,
    early: true,
  })),
  { label: '--include matching nothing', opts: () => ({ method: 'magnitude', sparsity: 0.5, include: ['blocks.*.mlp.w1.weight'] }), error: /--include blocks\.\*\.mlp\.w1\.weight leaves no matrix to prune in .*tiny \(names look like blocks\.0\.attn\.q\.weight/ },
  { label: '--include naming only vectors', opts: () => ({ method: 'magnitude', sparsity: 0.5, include: ['**.attn_norm.weight'] }), error: /leaves no matrix to prune/ },
  { label: '--exclude of everything', opts: () => ({ method: 'magnitude', sparsity: 0.5, exclude: ['blocks.**'] }), error: /--exclude blocks\.\*\* leaves no matrix to prune/ },
  { label: 'wanda with an included embedding', opts: () => ({ method: 'wanda', sparsity: 0.5, include: ['embed.weight'], calibTokens: shortCalib, seqLen: 16 }), error: /method wanda prunes linear layers inside blocks only; --include named embed\.weight/ },
  { label: 'a missing model', opts: () => ({ model: '/nonexistent/model.gguf', method: 'magnitude', sparsity: 0.5 }), error: /\/nonexistent\/model\.gguf/ },
];

describe('prune() rejects bad input and writes nothing', () => {
  test.each(cases)('$label', async (c) => {
    const folder = tempDir();
    const events: PruneProgress[] = [];
    const run = prune({ model, out: path.join(folder, 'out'), method: 'magnitude', ...c.opts(), onProgress: (e) => events.push(e) });
    await expect(run).rejects.toThrow(c.error);
    if (c.type) await expect(run).rejects.toBeInstanceOf(c.type);
    if (c.early) expect(events).toEqual([]);
    expect(fs.readdirSync(folder)).toEqual([]);
  });

  test('an output inside (or equal to) the input model folder', async () => {
    for (const out of [path.join(model, 'pruned'), model, path.join(model, 'x.gguf')]) {
      const before = fs.readdirSync(model).sort();
      await expect(prune({ model, out, method: 'magnitude', sparsity: 0.5, force: true })).rejects.toThrow(
        /refusing to write over or into the input model/,
      );
      expect(fs.readdirSync(model).sort()).toEqual(before);
    }
  });

  test('an output that is the input .gguf file itself', async () => {
    const folder = tempDir();
    const out = path.join(folder, 'a.gguf');
    fs.writeFileSync(out, 'not a model'); // refused before it is read, so any file will do
    await expect(prune({ model: out, out, method: 'magnitude', sparsity: 0.5, force: true })).rejects.toThrow(/refusing to write over or into the input model/);
    expect(fs.readFileSync(out, 'utf8')).toBe('not a model');
  });

  test('an existing output without --force is kept as it was', async () => {
    const folder = tempDir();
    const out = path.join(folder, 'out');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'keep.txt'), 'mine');
    const gguf = path.join(folder, 'x.gguf');
    fs.writeFileSync(gguf, 'old');
    const report = path.join(folder, 'y.prune-report.json');
    fs.writeFileSync(report, 'old report');
    await expect(prune({ model, out, method: 'magnitude', sparsity: 0.5 })).rejects.toThrow(/out already exists \(use --force to replace it\)/);
    await expect(prune({ model, out: gguf, method: 'magnitude', sparsity: 0.5 })).rejects.toThrow(/x\.gguf already exists/);
    await expect(prune({ model, out: path.join(folder, 'y.gguf'), method: 'magnitude', sparsity: 0.5 })).rejects.toThrow(
      /y\.prune-report\.json already exists/,
    );
    expect(fs.readdirSync(folder).sort()).toEqual(['out', 'x.gguf', 'y.prune-report.json']);
    expect(fs.readdirSync(out)).toEqual(['keep.txt']);
    expect(fs.readFileSync(gguf, 'utf8')).toBe('old');
  });

  testShared('calibration text shorter than one sequence names the file', async () => {
    const folder = tempDir();
    const text = path.join(folder, 'queries.txt');
    fs.writeFileSync(text, 'hello\nhi\n');
    const run = prune({ model: sharedPath('models', 'stories260K', 'stories260K.bin'), method: 'wanda', sparsity: 0.5, calib: text, seqLen: 64, out: path.join(folder, 'out') });
    await expect(run).rejects.toThrow(/queries\.txt \(all 2 documents packed\) has \d+ tokens, fewer than one sequence of 64/);
    expect(fs.readdirSync(folder)).toEqual(['queries.txt']);
  });
});

describe('shears prune (CLI)', () => {
  beforeAll(ensureCliBuilt);
  const run = (args: string[]) => spawnSync(process.execPath, [CLI, 'prune', ...args], { cwd: ROOT, encoding: 'utf8' });

  const cliCases: { label: string; args: () => string[]; error: RegExp }[] = [
    { label: '--sparsity 1.5', args: () => ['--method', 'magnitude', '--sparsity', '1.5'], error: /sparsity must be a number in \[0, 1\), got 1\.5/ },
    { label: '--sparsity -0.1', args: () => ['--method', 'magnitude', '--sparsity=-0.1'], error: /sparsity must be a number in \[0, 1\), got -0\.1/ },
    { label: '--sparsity abc', args: () => ['--method', 'magnitude', '--sparsity', 'abc'], error: /--sparsity expects a number, got 'abc'/ },
    { label: '--pattern 5:4', args: () => ['--method', 'magnitude', '--pattern', '5:4'], error: /pattern must be N:M with integers 1 <= N < M <= 32, got 5:4/ },
    { label: 'unknown method', args: () => ['--method', 'nope', '--sparsity', '0.5'], error: /unknown method 'nope'/ },
    ...(PLANNED_EXAMPLE
      ? [{ label: 'planned method', args: () => ['--method', PLANNED_EXAMPLE, '--sparsity', '0.5'], error: new RegExp(`method '${PLANNED_EXAMPLE}' .* is not implemented yet`) }]
      : []),
    { label: 'wanda without --calib', args: () => ['--method', 'wanda', '--sparsity', '0.5'], error: /method wanda needs calibration data/ },
    { label: 'blank --calib', args: () => ['--method', 'wanda', '--sparsity', '0.5', '--calib', blankText], error: /blank\.txt: no usable text/ },
    { label: 'too few calibration tokens', args: () => ['--method', 'sparsegpt', '--sparsity', '0.5', '--calib-tokens', shortCalib, '--seq-len', '16'], error: /short\.json has 10 tokens, fewer than one sequence of 16/ },
    { label: '--seq-len x', args: () => ['--method', 'wanda', '--sparsity', '0.5', '--calib-tokens', calib, '--seq-len', 'x'], error: /--seq-len expects an integer, got 'x'/ },
  ];

  test.each(cliCases)('$label: exit code 1, one shears: line, nothing written', ({ args, error }) => {
    const folder = tempDir();
    const r = run(['--model', model, '--out', path.join(folder, 'out'), ...args()]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    const last = r.stderr.trimEnd().split('\n').at(-1)!;
    expect(last).toMatch(/^shears: /);
    expect(last).toMatch(error);
    expect(fs.readdirSync(folder)).toEqual([]);
  });

  test('output inside the input model, and an existing output without --force', () => {
    const inside = run(['--model', model, '--out', path.join(model, 'sub'), '--method', 'magnitude', '--sparsity', '0.5']);
    expect(inside.status).toBe(1);
    expect(inside.stderr).toMatch(/^shears: .*sub: refusing to write over or into the input model/m);
    expect(fs.existsSync(path.join(model, 'sub'))).toBe(false);

    const folder = tempDir();
    fs.mkdirSync(path.join(folder, 'out'));
    const exists = run(['--model', model, '--out', path.join(folder, 'out'), '--method', 'magnitude', '--sparsity', '0.5']);
    expect(exists.status).toBe(1);
    expect(exists.stderr).toMatch(/^shears: .*out already exists \(use --force to replace it\)$/m);
    expect(fs.readdirSync(path.join(folder, 'out'))).toEqual([]);
    expect(tempLeftovers(folder)).toEqual([]);
  });

  test('shears methods --json: the plugins implemented (masking and structured), every planned one refused by prune()', async () => {
    const r = spawnSync(process.execPath, [CLI, 'methods', '--json'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(0);
    const rows = JSON.parse(r.stdout) as { name: string; implemented: boolean; calibrated: boolean }[];
    // The registry's plugins in their order (methods land one plugin at a time), these among them.
    const implemented = rows.filter((m) => m.implemented).map((m) => m.name);
    expect(implemented).toEqual(METHODS.filter((m) => m.implemented).map((m) => m.name));
    expect(implemented).toEqual(expect.arrayContaining(['magnitude', 'wanda', 'sparsegpt', 'ria', 'gradient', 'gradient-sensitive', 'fisher', 'ewc', 'variational-dropout', 'l1', 'random', 'wanda-sp', 'flap', 'block-influence', 'bias', 'query-aware']));
    expect(rows.find((m) => m.name === 'flap')).toMatchObject({ kind: 'structured', calibrated: true });
    expect(rows.find((m) => m.name === 'magnitude')!.calibrated).toBe(false);
    for (const m of rows.filter((x) => !x.implemented))
      await expect(prune({ model, method: m.name, sparsity: 0.5, out: path.join(tempDir(), 'o') })).rejects.toBeInstanceOf(NotImplementedError);
  });

  test('a good run exits 0, prints a summary and writes the model and report', () => {
    const folder = tempDir();
    const out = path.join(folder, 'out');
    const r = run(['--model', model, '--out', out, '--method', 'wanda', '--pattern', '2:4', '--calib-tokens', calib, '--seq-len', '16', '--calib-samples', '4', '--json']);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ method: 'wanda', pattern: '2:4', sparsity: 0.5 });
    expect(JSON.parse(fs.readFileSync(path.join(out, 'prune-report.json'), 'utf8'))).toEqual(report);
    expect(fs.readdirSync(folder)).toEqual(['out']);
  });

  testShared('Ctrl-C stops a run: exit code 130 (128 + SIGINT), a shears: line, nothing written', async () => {
    const folder = tempDir();
    const args = ['prune', '--model', sharedPath('models', 'stories260K', 'stories260K.bin'), '--method', 'sparsegpt', '--sparsity', '0.5'];
    args.push('--calib', sharedPath('text', 'c4', 'c4-en-train.00000-of-01024.head1000.jsonl'), '--calib-samples', '16', '--seq-len', '128');
    const child = spawn(process.execPath, [CLI, ...args, '--out', path.join(folder, 'out')], { cwd: ROOT });
    let err = '';
    let sent = false;
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (!sent && /block 2\/5/.test(err)) sent = child.kill('SIGINT');
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(sent).toBe(true);
    expect(code).toBe(130);
    expect(err).toMatch(/shears: stopping/);
    expect(err.trimEnd().split('\n').at(-1)).toMatch(/^shears: interrupted/);
    expect(fs.readdirSync(folder)).toEqual([]);
  });
});
