// `shears finetune` on the command line: a run with its per-step lines and summary, GGUF
// output that loads back, and the refusals (typed errors, nothing written).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { checkFinetuneOptions, finetune, FinetuneReport } from '../../lib/finetune';
import { loadModel } from '../../lib/formats/load';
import { prune } from '../../lib/prune/run';
import { runCli } from '../support/cli';
import { tempLeftovers } from '../prune/helpers';
import { tinyPrune, writeTinyLlama2c } from '../prune/tiny';
import { directMaskCheck, readJson, TinySetup, tinyFinetune, tinySetup } from './tiny-setup';

let s: TinySetup;
beforeAll(async () => {
  s = await tinySetup();
}, 60_000);

const base = (out: string) => ['finetune', '--model', s.pruned, '--data-tokens', s.tokens, '--calib-samples', '8', '--seq-len', '16', '--batch', '2', '--out', out];

describe('shears finetune', () => {
  it('prints a line per step and a summary; the report proves the mask', async () => {
    const out = path.join(s.dir, 'cli-out');
    const r = await runCli([...base(out), '--steps', '3', '--lr', '0.01']);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/\] step 1\/3, loss \d+\.\d+\n.*\] step 2\/3, loss \d+\.\d+\n.*\] step 3\/3, loss/);
    expect(r.out).toMatch(/fine-tuned 3 steps \(loss .* -> .*\); \d+ pruned weights held at zero, mask preserved in 21 matrices/);
    expect(readJson<FinetuneReport>(path.join(out, 'finetune-report.json')).mask.preserved).toBe(true);
  });

  it('writes GGUF that loads back with the same zeros (llama2.c input, tokenizer converted)', async () => {
    const l2c = writeTinyLlama2c(path.join(s.dir, 'l2c'));
    const ggufPruned = path.join(s.dir, 'l2c-pruned.gguf');
    await prune(tinyPrune(l2c, s.tokens, ggufPruned));
    const out = path.join(s.dir, 'l2c-tuned.gguf');
    const report = await finetune(tinyFinetune(s, out, { model: ggufPruned, steps: 3 }));
    expect(fs.existsSync(path.join(s.dir, 'l2c-tuned.finetune-report.json'))).toBe(true);
    expect(report.output).toMatchObject({ format: 'gguf', path: out });
    const m = await loadModel(out);
    m.close();
    expect((await directMaskCheck(ggufPruned, out)).pruned).toBe(report.mask.pruned_weights);
  });

  const refusals: [string, string[], RegExp][] = [
    ['steps 0', ['--steps', '0', '--lr', '0.01'], /--steps must be a positive integer, got 0/],
    ['lr 0', ['--steps', '2', '--lr', '0'], /--lr must be a finite number in \(0, 1\], got 0/],
    ['lr not finite', ['--steps', '2', '--lr', 'Infinity'], /--lr must be a finite number/],
    ['lr not a number', ['--steps', '2', '--lr', 'abc'], /--lr expects a number, got 'abc'/],
    ['ewc lambda without data', ['--steps', '2', '--lr', '0.01', '--ewc-lambda', '5'], /--ewc-lambda needs --ewc-data/],
    ['an evaluation window past the context', ['--steps', '1', '--lr', '0.01', '--eval', '__tokens__', '--eval-seq-len', '100000'], /--eval-seq-len 100000 exceeds the model's context length/],
    ['negative weight decay', ['--steps', '2', '--lr', '0.01', '--weight-decay', '-1'], /--weight-decay must be a finite number/],
  ];
  it.each(refusals)('refuses %s with a typed error, writing nothing', async (_label, args, message) => {
    const out = path.join(s.dir, 'refused');
    const r = await runCli([...base(out), ...args.map((a) => (a === '__tokens__' ? s.tokens : a))]);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(message);
    expect(fs.existsSync(out)).toBe(false);
    expect(tempLeftovers(s.dir)).toEqual([]);
  });

  it('refuses missing data, a missing model and an existing output, naming the file', async () => {
    const missing = path.join(s.dir, 'nope.txt');
    expect(() => checkFinetuneOptions({ ...tinyFinetune(s, path.join(s.dir, 'x')), dataTokens: undefined, data: missing })).toThrow(
      expect.objectContaining({ code: 'E_CALIBRATION', message: expect.stringContaining(missing) }),
    );
    expect(() => checkFinetuneOptions({ ...tinyFinetune(s, path.join(s.dir, 'x')), dataTokens: undefined })).toThrow(/exactly one of --data/);
    await expect(finetune(tinyFinetune(s, path.join(s.dir, 'y'), { model: path.join(s.dir, 'no-model') }))).rejects.toMatchObject({
      message: expect.stringContaining('no-model'),
    });
    expect(fs.existsSync(path.join(s.dir, 'y'))).toBe(false);
    const r = await runCli([...base(s.pruned.replace(/pruned$/, 'dense')), '--steps', '1', '--lr', '0.01']);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/already exists \(use --force to replace it\)/);
    // a checkpoint that would land on an existing path is refused before any work
    fs.mkdirSync(path.join(s.dir, 'z-step-000002'));
    await expect(finetune(tinyFinetune(s, path.join(s.dir, 'z'), { steps: 5, saveEvery: 2 }))).rejects.toThrow(/z-step-000002 already exists/);
    expect(fs.existsSync(path.join(s.dir, 'z'))).toBe(false);
    expect(tempLeftovers(s.dir)).toEqual([]);
  });

  it('a stop during training leaves no output', async () => {
    const out = path.join(s.dir, 'stopped');
    const ac = new AbortController();
    await expect(finetune(tinyFinetune(s, out, { steps: 50, signal: ac.signal, onStep: (k) => k === 2 && ac.abort() }))).rejects.toThrow();
    expect(fs.existsSync(out)).toBe(false);
    expect(tempLeftovers(s.dir)).toEqual([]);
  });
});
