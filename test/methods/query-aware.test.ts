// prune --method query-aware end to end on a tiny Llama that reads text: exact sparsity
// for every pattern and prior, the distillation that keeps every pruned weight at zero
// and lowers KL(dense || pruned) on the environment, the same bits for the same seed, a
// planted important weight set that magnitude loses and query-aware keeps, typed
// refusals before any work, and a stop that leaves nothing behind.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { ArgumentRangeError } from '../../lib/errors';
import { loadModel } from '../../lib/formats/load';
import { PruneReport } from '../../lib/prune/report';
import { prune, PruneOptions } from '../../lib/prune/run';
import { checkSweepOptions } from '../../lib/sweep/options';
import { sweep } from '../../lib/sweep/run';
import { runCli } from '../support/cli';
import { countZeros, expectStopLeavesNothing, minZerosPerGroup, tempDir, zerosPerRow } from '../prune/helpers';
import { writeTinyDense, writeTinyPlanted } from '../queries/tiny-text-model';

const LINEARS = ['attn.q', 'attn.k', 'attn.v', 'attn.o', 'mlp.gate', 'mlp.up', 'mlp.down'].flatMap((p) => [0, 1].map((b) => `blocks.${b}.${p}.weight`));
const QUERIES = [
  'Once upon a time there was a little cat.',
  'The dog ran to the park to play.',
  'Where is the red ball?',
  'She liked to read books with her mom.',
  'Tom found a shiny stone by the river.',
  'Why is the sky blue?',
  'The bird sang a happy song in the tree.',
  'Lily wanted to bake a cake for her friend.',
  'What did the little boy see at night?',
  'The sun was warm and the grass was green.',
  'A big bear lived in the forest.',
  'Can you help me find my toy?',
];

let dir: string;
let dense: string;
let queries: string;
beforeAll(() => {
  dir = tempDir('shears-qa-');
  dense = writeTinyDense(path.join(dir, 'dense'));
  queries = path.join(dir, 'queries.txt');
  fs.writeFileSync(queries, `${QUERIES.join('\n')}\n`);
});

const qaRun = (out: string, extra: Partial<PruneOptions> = {}): PruneOptions => ({
  model: dense,
  method: 'query-aware',
  sparsity: 0.5,
  calib: queries,
  calibSamples: 8,
  seqLen: 16,
  generateTokens: 8,
  steps: 6,
  lr: 1e-2,
  out: path.join(dir, out),
  ...extra,
});

async function tensorsOf(out: string, names: readonly string[] = LINEARS) {
  const m = await loadModel(path.join(dir, out));
  try {
    return new Map(names.map((n) => [n, { ...m.tensors.get(n)!, data: m.tensors.get(n)!.data.slice() }]));
  } finally {
    m.close();
  }
}

describe('prune --method query-aware', () => {
  let base: PruneReport;
  beforeAll(async () => {
    base = await prune(qaRun('base'));
  }, 120_000);

  it('calibrates on the environment, prunes at exactly 50% per matrix and distils with the mask held', async () => {
    expect(base.method).toBe('query-aware');
    expect(base.achieved_sparsity).toBe(0.5);
    for (const l of base.layers) expect(l.pruned).toBe(l.shape[0] * l.shape[1] * 0.5);
    expect(base.calibration!.notes.join(' ')).toMatch(/query environment: 12 queries, each followed by up to 8 greedy tokens/);
    const r = base.recovery!;
    expect(r).toMatchObject({ objective: 'kl', steps: 6, lr: 1e-2, batch: 4, mask_preserved: true });
    expect(r.losses).toHaveLength(6);
    expect(r.loss_after).toBeLessThan(r.loss_before);
    expect(r.pruned_weights).toBe(base.layers.reduce((a, l) => a + l.pruned, 0));
    for (const [, t] of await tensorsOf('base')) expect(countZeros(t)).toBe(t.data.length / 2);
  });

  it('--distill: auto trains a small model jointly; blockwise one block at a time: the same masks, a lower KL than before', async () => {
    expect(base.notes.join(' ')).toMatch(/distillation auto/);
    expect(base.recovery!.method).toMatch(/distillation \(joint\)/);
    const joint = await prune(qaRun('joint', { distill: 'joint' }));
    expect(joint.recovery!.losses).toEqual(base.recovery!.losses);
    const blockwise = await prune(qaRun('blockwise', { distill: 'blockwise' }));
    expect(blockwise.recovery!.method).toMatch(/distillation \(blockwise\)/);
    expect(blockwise.recovery!.losses).toHaveLength(6);
    expect(blockwise.recovery!.loss_after).toBeLessThan(blockwise.recovery!.loss_before);
    const a = await tensorsOf('base');
    for (const [n, t] of await tensorsOf('blockwise')) for (let i = 0; i < t.data.length; i++) expect(t.data[i] === 0).toBe(a.get(n)!.data[i] === 0);
  }, 60_000);

  it('is repeatable: the same options give the same bits', async () => {
    await prune(qaRun('again'));
    const a = await tensorsOf('base');
    const b = await tensorsOf('again');
    for (const [n, t] of a) expect(Buffer.from(b.get(n)!.data.buffer).equals(Buffer.from(t.data.buffer))).toBe(true);
  }, 60_000);

  it('sampled continuations (--temperature, --top-k, --seed): said in the report, repeatable for a seed', async () => {
    const a = await prune(qaRun('sampled-a', { temperature: 1, topK: 20, seed: 3, steps: 0 }));
    expect(a.calibration!.notes.join(' ')).toMatch(/up to 8 sampled \(temperature 1, top-k 20, seed 3\) tokens/);
    await prune(qaRun('sampled-b', { temperature: 1, topK: 20, seed: 3, steps: 0 }));
    const x = await tensorsOf('sampled-a');
    for (const [n, t] of await tensorsOf('sampled-b')) expect(Buffer.from(t.data.buffer).equals(Buffer.from(x.get(n)!.data.buffer))).toBe(true);
    await expect(prune(qaRun('sampled-bad', { temperature: -1 }))).rejects.toThrow(/--temperature/);
    await expect(prune({ ...qaRun('sampled-bad'), method: 'wanda', steps: undefined, lr: undefined, generateTokens: undefined, temperature: 1 })).rejects.toThrow(/--temperature apply to query-aware/);
  }, 60_000);

  it('--steps 0 keeps the repaired weights; the distillation moves only the kept ones', async () => {
    const r = await prune(qaRun('no-learning', { steps: 0 }));
    expect(r.recovery).toBeUndefined();
    const before = await tensorsOf('no-learning');
    const after = await tensorsOf('base');
    let moved = 0;
    for (const [n, t] of before)
      for (let i = 0; i < t.data.length; i++) {
        expect(after.get(n)!.data[i] === 0).toBe(t.data[i] === 0);
        if (after.get(n)!.data[i] !== t.data[i]) moved++;
      }
    expect(moved).toBeGreaterThan(0);
  }, 60_000);

  it('every prior and pattern: exact per row (wanda, magnitude), N:M, and the sensitivity allocation at the same mean', async () => {
    for (const prior of ['wanda', 'magnitude'] as const) {
      await prune(qaRun(`row-${prior}`, { prior, steps: 0 }));
      for (const [, t] of await tensorsOf(`row-${prior}`)) expect(new Set(zerosPerRow(t))).toEqual(new Set([t.shape[1] / 2]));
    }
    await prune(qaRun('nm', { sparsity: undefined, pattern: '2:4', steps: 2 }));
    for (const [, t] of await tensorsOf('nm')) {
      expect(minZerosPerGroup(t, 4)).toBe(2);
      expect(countZeros(t)).toBe(t.data.length / 2);
    }
    const alloc = await prune(qaRun('alloc', { allocation: 'sensitivity', steps: 0, repair: 'none', prior: 'wanda' }));
    // Each row prunes floor(s_b x its length) weights: rows of 16 and 24 round a block's share down by up to 1/16.
    const total = alloc.layers.reduce((a, l) => a + l.shape[0] * l.shape[1], 0);
    const mean = alloc.layers.reduce((a, l) => a + l.pruned, 0) / total;
    expect(mean).toBeLessThanOrEqual(0.5);
    expect(mean).toBeGreaterThan(0.5 - 1 / 16);
    expect(new Set(alloc.layers.map((l) => l.sparsity)).size).toBeGreaterThan(1);
    expect(alloc.notes.join(' ')).toMatch(/--allocation sensitivity: per-block sparsities/);
  }, 120_000);

  it('--structure: removes whole units on the environment (FLAP form), then distils the narrowed model', async () => {
    const r = await prune(qaRun('structured', { structure: 'channels', sparsity: 0.25, uniform: true }));
    expect(r.pattern).toBe('structured (channels)');
    expect(r.structured!.parameters.after).toBeLessThan(r.structured!.parameters.before);
    expect(r.recovery).toMatchObject({ objective: 'kl', steps: 6, mask_preserved: true, pruned_weights: 0 });
    expect(r.recovery!.loss_after).toBeLessThan(r.recovery!.loss_before);
    const m = await loadModel(path.join(dir, 'structured'));
    try {
      expect(m.tensors.get('blocks.0.mlp.down.weight')!.shape[1]).toBeLessThan(24);
    } finally {
      m.close();
    }
    await expect(prune(qaRun('structured-bad', { structure: 'channels', sparsity: 0.25, repair: 'none' }))).rejects.toThrow(/--allocation and --repair do not apply/);
  }, 60_000);

  it('finds a planted important weight set that magnitude pruning removes', async () => {
    const channels = [3, 11, 17];
    const planted = writeTinyPlanted(path.join(dir, 'planted'), { channels, activation: 16, weight: 0.4 });
    const down = 'blocks.0.mlp.down.weight';
    const keptInChannels = async (out: string) => {
      const t = (await tensorsOf(out, [down])).get(down)!;
      const [rows, cols] = t.shape;
      let kept = 0;
      for (let r = 0; r < rows; r++) for (const c of channels) kept += t.data[r * cols + c] !== 0 ? 1 : 0;
      return kept / (rows * channels.length);
    };
    await prune({ model: planted, method: 'magnitude', sparsity: 0.5, out: path.join(dir, 'planted-magnitude') });
    await prune(qaRun('planted-qa', { model: planted, steps: 0 }));
    await prune(qaRun('planted-qa-wanda', { model: planted, steps: 0, prior: 'wanda' }));
    expect(await keptInChannels('planted-magnitude')).toBeLessThan(0.1);
    expect(await keptInChannels('planted-qa')).toBeGreaterThan(0.9);
    expect(await keptInChannels('planted-qa-wanda')).toBeGreaterThan(0.9);
  }, 120_000);
});

describe('prune --method query-aware refusals and stops', () => {
  it('refuses options that do not apply, before any work', async () => {
    const out = path.join(dir, 'refused');
    await expect(prune(qaRun('refused', { queries }))).rejects.toThrow(/learns from the queries of --calib.*--queries do not apply/);
    await expect(prune(qaRun('refused', { calib: undefined, calibTokens: queries }))).rejects.toThrow(ArgumentRangeError);
    await expect(prune(qaRun('refused', { generateTokens: -1 }))).rejects.toThrow(/--generate-tokens/);
    await expect(prune(qaRun('refused', { steps: 1.5 }))).rejects.toThrow(/--steps/);
    await expect(prune(qaRun('refused', { sparsity: undefined, pattern: '2:4', allocation: 'sensitivity' }))).rejects.toThrow(/N:M pattern fixes every row/);
    await expect(prune(qaRun('refused', { prior: 'bogus' as never }))).rejects.toThrow(/--prior must be one of/);
    await expect(prune({ ...qaRun('refused'), method: 'wanda', steps: undefined, lr: undefined })).rejects.toThrow(/--generate-tokens apply to query-aware, not to wanda/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('sweep needs the queries as text for query-aware', () => {
    expect(() => checkSweepOptions({ model: dense, out: path.join(dir, 'sweep'), methods: ['wanda', 'query-aware'], calibTokens: queries })).toThrow(
      /query-aware learns from your queries: give them as text with --calib/,
    );
  });

  it('sweep runs the learning methods: query-aware distils on the environment, ewc recovers on the calibration windows', async () => {
    const evalText = path.join(dir, 'eval.txt');
    fs.writeFileSync(evalText, QUERIES.slice().reverse().join(' '));
    const { results } = await sweep({ model: dense, methods: ['query-aware', 'ewc'], levels: [0.5], calib: queries, calibSamples: 4, seqLen: 16, eval: evalText, evalSeqLen: 16, out: path.join(dir, 'sweep-learning') });
    for (const method of ['query-aware', 'ewc']) {
      const cell = results.cells.find((c) => c.method === method)!;
      expect(cell).toMatchObject({ status: 'ok', sparsity: 0.5 });
      expect((cell.notes as string[]).join(' ')).toMatch(method === 'ewc' ? /recovered on the calibration windows: 20 steps/ : /distilled on the query environment of --calib: 100 steps .*mask preserved/);
    }
  }, 120_000);

  it('the CLI: the options, the distillation line of the summary', async () => {
    const out = path.join(dir, 'cli');
    const r = await runCli(['prune', '--model', dense, '--method', 'query-aware', '--sparsity', '0.5', '--calib', queries, '--calib-samples', '4', '--seq-len', '16', '--generate-tokens', '4', '--steps', '2', '--lr', '0.01', '--prior', 'wanda', '--repair', 'sparsegpt', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/distilled on 4 environment windows: 2 steps \(lr 0\.01\), KL\(dense \|\| pruned\) \d+\.\d+ -> \d+\.\d+, mask preserved/);
    const units = await runCli(['prune', '--model', dense, '--method', 'query-aware', '--structure', 'channels', '--uniform', '--sparsity', '0.25', '--calib', queries, '--calib-samples', '4', '--seq-len', '16', '--steps', '2', '--out', path.join(dir, 'cli-units')]);
    expect(units.code).toBe(0);
    expect(units.out).toMatch(/removed channels with query-aware: .*\n.*\ndistilled on 4 environment windows: 2 steps/);
    const bad = await runCli(['prune', '--model', dense, '--method', 'query-aware', '--sparsity', '0.5', '--calib', queries, '--prior', 'nope', '--out', path.join(dir, 'cli-bad')]);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/--prior/);
  });

  it('a stop during the distillation leaves no output and no scratch', () => expectStopLeavesNothing(qaRun('stopped'), 'recover', dir));
});
