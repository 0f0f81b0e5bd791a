// `shears eval --reference DENSE --queries HELDOUT` end to end: on a tiny text model
// and its pruned copy, on the demo model against itself (KL 0, top-1 1), sampled
// continuations repeatable for a seed, and its refusals; `shears eval` without
// --reference keeps its perplexity.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { compareJson } from '../../lib/eval/held-out-report';
import { compareOnQueries } from '../../lib/eval/held-out-run';
import { runCli } from '../support/cli';
import { writeTinyDense, writeTinyPruned } from './tiny-text-model';

const DEMO = path.join(__dirname, '..', '..', 'assets', 'demo-model');
let dir: string;
let dense: string;
let pruned: string;
let queries: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-evalref-'));
  dense = writeTinyDense(path.join(dir, 'dense'));
  pruned = writeTinyPruned(path.join(dir, 'pruned'));
  queries = path.join(dir, 'held.txt');
  fs.writeFileSync(queries, 'Where is the house?\nThe old man said that he would come back.\nWhy?\n');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('the pruned tiny model against its dense reference: JSON with every measure, the same as the library', async () => {
  const r = await runCli(['eval', '--model', pruned, '--reference', dense, '--queries', queries, '--generate-tokens', '8', '--json']);
  expect(r.code).toBe(0);
  const j = JSON.parse(r.out);
  const lib = await compareOnQueries({ model: pruned, reference: dense, queries, generateTokens: 8 });
  expect(j.queries).toBe(3);
  expect(j.generated_tokens).toBe(lib.generated);
  expect(j.generated_tokens).toBeGreaterThan(0);
  expect(j.generated_tokens).toBeLessThanOrEqual(24);
  // The CLI prints the library's numbers (JSON round trip), timings aside.
  expect({ ...j, seconds: null }).toEqual(JSON.parse(JSON.stringify({ ...compareJson(lib), seconds: null })));
  for (const part of ['all', 'answer'] as const) {
    expect(Object.keys(j[part]).sort()).toEqual(['kl', 'loss', 'mean_nll_dense', 'mean_nll_pruned', 'perplexity_dense', 'perplexity_pruned', 'positions', 'top1_agreement']);
    expect(j[part].kl).toBe(lib[part]!.kl);
    expect(j[part].loss).toBeCloseTo(Math.log(j[part].perplexity_pruned) - Math.log(j[part].perplexity_dense), 10);
    expect(j[part].kl).toBeGreaterThan(0);
  }
  expect(j.answer.positions).toBe(j.generated_tokens);
  expect(j.all.positions).toBe(lib.all.positions);
  expect(j.sampling).toEqual({ temperature: 0, top_k: 0, seed: 0, greedy: true });
});

test('a GGUF copy of the pruned model gives the same numbers (to rounding); a stop mid-generation rejects with its reason', async () => {
  const gguf = path.join(dir, 'pruned.gguf');
  expect((await runCli(['convert', '--model', pruned, '--out', gguf])).code).toBe(0);
  const args = ['--reference', dense, '--queries', queries, '--generate-tokens', '6', '--json'];
  const hf = JSON.parse((await runCli(['eval', '--model', pruned, ...args])).out);
  const gg = JSON.parse((await runCli(['eval', '--model', gguf, ...args])).out);
  // The GGUF's attention rows are stored permuted (llama.cpp's rope layout): the same model, other rounding.
  for (const part of ['all', 'answer'] as const)
    for (const [k, v] of Object.entries(hf[part] as Record<string, number>)) expect(Math.abs(gg[part][k] - v)).toBeLessThan(1e-6 * Math.max(1, Math.abs(v)));
  const ac = new AbortController();
  const stages: string[] = [];
  const run = compareOnQueries({
    model: pruned,
    reference: dense,
    queries,
    generateTokens: 6,
    signal: ac.signal,
    onProgress: (label, done) => {
      stages.push(`${label} ${done}`);
      if (done === 1) ac.abort(new Error('stopped by the test'));
    },
  });
  await expect(run).rejects.toThrow('stopped by the test');
  expect(stages).toEqual(['generate 1']);
});

test('sampled continuations: the same numbers for the same seed, others for another seed', async () => {
  const args = ['eval', '--model', pruned, '--reference', dense, '--queries', queries, '--generate-tokens', '8', '--temperature', '1', '--top-k', '40', '--json'];
  const a = JSON.parse((await runCli([...args, '--seed', '1'])).out);
  const b = JSON.parse((await runCli([...args, '--seed', '1'])).out);
  const c = JSON.parse((await runCli([...args, '--seed', '2'])).out);
  expect(b.all).toEqual(a.all);
  expect(c.all).not.toEqual(a.all);
});

test('the demo model against itself on queries split from its queries.txt: KL 0, top-1 1, loss 0', async () => {
  const calib = path.join(dir, 'demo-calib.txt');
  const held = path.join(dir, 'demo-held.txt');
  expect((await runCli(['queries', 'split', '--data', path.join(DEMO, 'queries.txt'), '--held-out', '0.25', '--out-calib', calib, '--out-held-out', held])).code).toBe(0);
  const r = await runCli(['eval', '--model', DEMO, '--reference', DEMO, '--queries', held, '--generate-tokens', '4']);
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/^\d+ held-out queries, \d+ continuation tokens from the reference \(up to 4 per query, greedy\)/);
  expect(r.out).toMatch(/all positions \(\d+ positions\): perplexity [\d.]+ \(dense [\d.]+\), loss 0\.00000 nats, KL 0\.00000 nats, top-1 agreement 100\.00%/);
  expect(r.out).toMatch(/answer positions \(\d+ positions\): .*KL 0\.00000 nats, top-1 agreement 100\.00%/);
});

test('eval without --reference is the perplexity it was', async () => {
  const r = await runCli(['eval', '--model', DEMO, '--data', path.join(DEMO, 'eval.txt'), '--max-windows', '1', '--json']);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.out)).toMatchObject({ windows: 1, seq_len: 256 });
});

test('refusals: --reference without --queries, windows options with --reference, missing files, long queries, bad sampling', async () => {
  const run = (...a: string[]) => runCli(['eval', '--model', pruned, ...a]);
  expect((await run('--reference', dense)).err).toMatch(/--reference DENSE and --queries FILE go together/);
  expect((await run('--queries', queries)).err).toMatch(/go together/);
  expect((await run('--reference', dense, '--queries', queries, '--seq-len', '8')).err).toMatch(/--seq-len: for the perplexity of one model/);
  const missing = path.join(dir, 'none.txt');
  const m = await run('--reference', dense, '--queries', missing);
  expect(m.code).not.toBe(0);
  expect(m.err).toContain(`${missing}: cannot read calibration file (ENOENT)`);
  const long = path.join(dir, 'long.txt');
  fs.writeFileSync(long, `${Array.from({ length: 100 }, (_, i) => `w${i}`).join(' ')}\n`);
  expect((await run('--reference', dense, '--queries', long)).err).toMatch(/long\.txt: query 1 .* more than the model's context length 48/);
  expect((await run('--reference', dense, '--queries', queries, '--temperature', '-1')).err).toMatch(/--temperature/);
  expect((await run('--reference', path.join(dir, 'nomodel'), '--queries', queries)).code).not.toBe(0);
});

test('generate samples with --temperature and --seed, the same text for the same seed', async () => {
  const args = ['generate', '--model', DEMO, '--prompt', 'The man', '--max-tokens', '12', '--temperature', '0.9'];
  const a = await runCli([...args, '--seed', '3']);
  expect(a.code).toBe(0);
  expect((await runCli([...args, '--seed', '3'])).out).toBe(a.out);
  expect(a.out.startsWith('The man')).toBe(true);
});
