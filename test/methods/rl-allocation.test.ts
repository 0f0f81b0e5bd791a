// rl-allocation: the projection to the exact target, the policy's REINFORCE step, the
// episode windows; prune --method rl-allocation end to end on the tiny Llama (the
// per-block sparsities at the target's weighted mean and in bounds, the learning curve
// of the given number of episodes, the achieved per-layer sparsity, the chosen KL equal
// to the written model's measured KL, the same allocation for the same seed), typed
// refusals before any work, and one short run on the demo model.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { AllocationEvaluator } from '../../lib/allocation/evaluate';
import { matchCount, projectToTarget, rowwisePruned, weightedMean } from '../../lib/allocation/project';
import { GaussianPolicy, RunningBaseline, standardize } from '../../lib/allocation/policy';
import { windowSubset, windowsOf } from '../../lib/allocation/windows';
import { windowsFromStream } from '../../lib/calibration/sample';
import { ArgumentRangeError } from '../../lib/errors';
import { loadModel } from '../../lib/formats/load';
import { ForwardModel } from '../../lib/forward/model';
import { methodInfo } from '../../lib/methods/registry';
import { blockOf } from '../../lib/prune/pipeline';
import { PruneReport } from '../../lib/prune/report';
import { prune, PruneOptions } from '../../lib/prune/run';
import { DenseReference, queryQuality } from '../../lib/sweep/quality';
import { sweep } from '../../lib/sweep/run';
import { SeededRandom } from '../../lib/util/random';
import { runCli } from '../support/cli';
import { countZeros, expectStopLeavesNothing, tempDir } from '../prune/helpers';
import { tinyPrune, writeCalibTokens, writeTinyModel } from '../prune/tiny';

interface RlReport {
  block_sparsity: number[];
  block_parameters: number[];
  episodes: number;
  base: string;
  learning_curve: { episode: number; reward: number; kl: number; baseline: number; sparsity: number[]; pruned: number }[];
  uniform: { kl: number; pruned: number };
  policy_mean: { kl: number; sparsity: number[] };
  chosen: { from: string; kl: number };
  beats_uniform: boolean;
}

const DEMO = path.resolve(__dirname, '..', '..', 'assets', 'demo-model');

let dir: string;
let model: string;
let calib: string;
beforeAll(() => {
  dir = tempDir('shears-rl-');
  model = writeTinyModel(path.join(dir, 'tiny'));
  calib = writeCalibTokens(path.join(dir, 'calib.json'));
});

const rlRun = (out: string, extra: Partial<PruneOptions> = {}): PruneOptions => tinyPrune(model, calib, path.join(dir, out), { method: 'rl-allocation', episodes: 3, ...extra });

async function run(out: string, extra: Partial<PruneOptions> = {}): Promise<{ report: PruneReport; rl: RlReport }> {
  const report = await prune(rlRun(out, extra));
  return { report, rl: report.allocation as unknown as RlReport };
}

describe('projectToTarget', () => {
  test('the parameter-weighted mean is the target and every block stays within the bounds', () => {
    const P = [100, 300, 50, 0, 1000];
    for (const target of [0.1, 0.5, 0.7, 0.95])
      for (const proposal of [[0.9, 0.1, 0.5, 0.3, 0.2], [2, -1, 0.5, 0, 0.7], [target, target, target, target, target]]) {
        const s = projectToTarget(proposal, P, target);
        expect(Math.abs(weightedMean(s, P) - target)).toBeLessThan(1e-12);
        for (const x of s) expect(x >= 0 && x <= 0.99).toBe(true);
        expect(s[3]).toBe(0); // no parameters: nothing to prune
      }
  });

  test('a proposal already at the target stays; a shifted one keeps its shape', () => {
    expect(projectToTarget([0.4, 0.6], [10, 10], 0.5)).toEqual([0.4, 0.6]);
    const s = projectToTarget([0.5, 0.7, 0.6], [10, 10, 10], 0.5);
    expect(s[1] - s[0]).toBeCloseTo(0.2, 12);
    expect(s[2] - s[0]).toBeCloseTo(0.1, 12);
  });

  test('matchCount: the smallest common shift that removes at least the uniform count under per-row rounding', () => {
    const blocks = [[{ rows: 4, cols: 10 }], [{ rows: 2, cols: 7 }, { rows: 3, cols: 5 }], []];
    const P = [40, 29, 0];
    const exact = projectToTarget([0.43, 0.58, 0], P, 0.5);
    const count = rowwisePruned(blocks[0], 0.5) + rowwisePruned(blocks[1], 0.5);
    const s = matchCount(exact, blocks, count);
    const removed = rowwisePruned(blocks[0], s[0]) + rowwisePruned(blocks[1], s[1]);
    expect(removed).toBeGreaterThanOrEqual(count);
    expect(s[1] - s[0]).toBeCloseTo(exact[1] - exact[0], 12); // one common shift
    expect(s[2]).toBe(0);
    // A hair less shift removes fewer weights than asked.
    const less = [s[0] - 1e-9, s[1] - 1e-9];
    expect(rowwisePruned(blocks[0], less[0]) + rowwisePruned(blocks[1], less[1])).toBeLessThan(count);
  });

  test('bad input is refused', () => {
    expect(() => projectToTarget([0.5], [1, 2], 0.5)).toThrow(ArgumentRangeError);
    expect(() => projectToTarget([NaN, 0.5], [1, 2], 0.5)).toThrow(/finite/);
    expect(() => projectToTarget([0.5, 0.5], [0, 0], 0.5)).toThrow(/no block/);
  });
});

describe('the policy', () => {
  test('a sample that beats the baseline pulls the mean toward it, one that loses pushes it away', () => {
    const features = standardize([[0], [1], [2], [3]]);
    const z = [-0.03, -0.01, 0.01, 0.03]; // more sparsity at depth
    const toward = new GaussianPolicy(features);
    toward.update(z, 1);
    const away = new GaussianPolicy(features);
    away.update(z, -1);
    const m1 = toward.mean(), m2 = away.mean();
    expect(m1[3] - m1[0]).toBeGreaterThan(0);
    expect(m2[3] - m2[0]).toBeLessThan(0);
    // Natural gradient with lr 0.5: half of the noise's projection on the features' span (here all of it).
    expect(m1[3] - m1[0]).toBeCloseTo(0.5 * 0.06, 4);
  });

  test('samples are seeded; the baseline standardizes the advantage', () => {
    const p = new GaussianPolicy(standardize([[0], [1], [2]]));
    expect(p.sample(new SeededRandom(5), 0.05)).toEqual(p.sample(new SeededRandom(5), 0.05));
    expect(p.sample(new SeededRandom(5), 0.05)).not.toEqual(p.sample(new SeededRandom(6), 0.05));
    const b = new RunningBaseline(-1);
    expect(b.advantage(-0.5)).toBe(1); // the first deviation sets the scale
    expect(b.value).toBeCloseTo(-0.9, 12);
    expect(b.advantage(-10)).toBe(-3); // clipped
  });
});

test('windowSubset: a seeded subset of distinct windows, in order', () => {
  const stream = Array.from({ length: 400 }, (_, i) => i);
  const set = windowsFromStream(stream, { samples: 20, seqLen: 10, sampling: 'contiguous', seed: 0 }, 'ids');
  const a = windowSubset(set, 6, 1);
  expect(a.samples).toBe(6);
  const starts = windowsOf(a).map((w) => w[0]);
  expect(new Set(starts).size).toBe(6);
  expect([...starts].sort((x, y) => x - y)).toEqual(starts);
  expect(windowSubset(set, 6, 1).tokens).toEqual(a.tokens);
  expect(windowSubset(set, 6, 2).tokens).not.toEqual(a.tokens);
  expect(windowSubset(set, 20, 1)).toBe(set);
});

test('AllocationEvaluator: measures a pruned copy, the dense model untouched, the same KL twice; uniform is 0 KL at sparsity 0', async () => {
  const dense = await loadModel(model);
  try {
    const before = new Map([...dense.tensors].map(([k, t]) => [k, t.data.slice()]));
    const windows = windowsFromStream(JSON.parse(fs.readFileSync(calib, 'utf8')) as number[], { samples: 4, seqLen: 16, sampling: 'contiguous', seed: 0 }, 'calib');
    const ev = await AllocationEvaluator.create({ model: dense, windows, createStrategy: () => methodInfo('wanda').create!() });
    // q and o 16x16, k and v 8x16 (2 KV heads of 4), gate and up 24x16, down 16x24.
    expect(ev.blockParameters).toEqual([0, 1, 2].map(() => 256 + 128 + 128 + 256 + 3 * 384));
    const a = await ev.evaluate([0.3, 0.5, 0.7]);
    const b = await ev.evaluate([0.3, 0.5, 0.7]);
    expect(a.kl).toBeGreaterThan(0);
    expect(b.kl).toBe(a.kl);
    expect((await ev.evaluate([0, 0, 0])).kl).toBeCloseTo(0, 6);
    for (const [k, t] of dense.tensors) expect(t.data).toEqual(before.get(k));
  } finally {
    dense.close();
  }
});

describe('prune --method rl-allocation (tiny Llama)', () => {
  let first: { report: PruneReport; rl: RlReport };
  beforeAll(async () => {
    first = await run('rl-a', { seed: 7 });
  }, 60_000);

  test('per-block sparsities in bounds that remove at least the uniform run\'s weights (nominal mean within 1/cols), with the learning curve of every episode', () => {
    const { rl, report } = first;
    expect(rl.block_sparsity).toHaveLength(3);
    // Rows lose floor(s * cols): the agent's candidates are shifted to remove at least what uniform removes.
    const uniformPruned = report.layers.reduce((t, l) => t + l.shape[0] * Math.floor(0.5 * l.shape[1]), 0);
    const pruned = report.layers.reduce((t, l) => t + l.pruned, 0);
    expect(rl.uniform.pruned).toBe(uniformPruned);
    expect(pruned).toBeGreaterThanOrEqual(uniformPruned);
    expect(pruned - uniformPruned).toBeLessThanOrEqual(3 * 24); // at most one row step of each block's matrices
    expect(Math.abs(weightedMean(rl.block_sparsity, rl.block_parameters) - 0.5)).toBeLessThanOrEqual(1 / 16);
    for (const s of rl.block_sparsity) expect(s >= 0 && s <= 0.99).toBe(true);
    expect(rl.base).toBe('wanda');
    expect(rl.episodes).toBe(3);
    expect(rl.learning_curve.map((e) => e.episode)).toEqual([1, 2, 3]);
    for (const e of rl.learning_curve) {
      expect(e.reward).toBeCloseTo(-e.kl, 8);
      expect(Number.isFinite(e.baseline)).toBe(true);
      expect(e.pruned).toBeGreaterThanOrEqual(uniformPruned);
    }
    // The first baseline is the uniform allocation's reward; the chosen KL is the lowest measured.
    expect(rl.learning_curve[0].baseline).toBeCloseTo(-rl.uniform.kl, 8);
    const measured = [rl.uniform.kl, ...rl.learning_curve.map((e) => e.kl), rl.policy_mean.kl];
    expect(rl.chosen.kl).toBeCloseTo(Math.min(...measured), 8);
    expect(rl.beats_uniform).toBe(rl.chosen.kl < rl.uniform.kl);
    // Honest either way: no gain means the uniform allocation, and the note says so.
    const note = first.report.notes.find((n) => n.startsWith('rl-allocation (base'))!;
    if (rl.beats_uniform) expect(note).toMatch(/% lower\)$/);
    else {
      expect(rl.chosen.from).toBe('uniform');
      expect(rl.block_sparsity).toEqual([0.5, 0.5, 0.5]);
      expect(note).toMatch(/the agent found nothing better than uniform, so the allocation is uniform/);
    }
    expect(first.report.notes.some((n) => n.startsWith('rl-allocation (base wanda, 3 episodes, seed 7)'))).toBe(true);
  });

  test("each layer's achieved sparsity is its block's allocation (per row: floor(s * cols) of each row)", async () => {
    const { report, rl } = first;
    const out = await loadModel(path.join(dir, 'rl-a'));
    try {
      for (const l of report.layers) {
        const cols = l.shape[1];
        const expected = Math.floor(rl.block_sparsity[blockOf(l.name)] * cols) / cols;
        expect(l.sparsity).toBeCloseTo(expected, 12);
        expect(countZeros(out.tensors.get(l.name)!)).toBe(l.pruned);
      }
    } finally {
      out.close();
    }
  });

  test('the chosen KL is the KL of the written model on the calibration windows', async () => {
    const { rl } = first;
    const windows = windowsOf(windowsFromStream(JSON.parse(fs.readFileSync(calib, 'utf8')) as number[], { samples: 4, seqLen: 16, sampling: 'random', seed: 7 }, 'calib'));
    const dense = await loadModel(model);
    const pruned = await loadModel(path.join(dir, 'rl-a'));
    try {
      const ref = await DenseReference.create(new ForwardModel(dense), windows);
      const q = await queryQuality(new ForwardModel(pruned), ref, windows);
      expect(q.kl).toBeCloseTo(rl.chosen.kl, 6);
    } finally {
      dense.close();
      pruned.close();
    }
  });

  test('the same seed gives the same allocation and curve; another seed tries other sparsities', async () => {
    const again = await run('rl-b', { seed: 7 });
    expect(again.rl.block_sparsity).toEqual(first.rl.block_sparsity);
    expect(again.rl.learning_curve).toEqual(first.rl.learning_curve);
    const other = await run('rl-c', { seed: 8 });
    expect(other.rl.learning_curve.map((e) => e.sparsity)).not.toEqual(first.rl.learning_curve.map((e) => e.sparsity));
  }, 60_000);

  test('--base sparsegpt prunes each block at its allocation with SparseGPT', async () => {
    const { report, rl } = await run('rl-sgpt', { base: 'sparsegpt', episodes: 1 });
    expect(rl.base).toBe('sparsegpt');
    expect(rl.learning_curve).toHaveLength(1);
    // SparseGPT selects over block tiles (no per-row rounding): the nominal mean is the target exactly.
    expect(Math.abs(weightedMean(rl.block_sparsity, rl.block_parameters) - 0.5)).toBeLessThan(1e-12);
    // SparseGPT's default selection is per block tile of the matrix: the layer's sparsity is the block's within one row's rounding.
    for (const l of report.layers) expect(Math.abs(l.sparsity - rl.block_sparsity[blockOf(l.name)])).toBeLessThan(1 / l.shape[1]);
  }, 60_000);
});

describe('in the CLI, in a sweep, and stopped', () => {
  test('the CLI prunes and writes the allocation into the report', async () => {
    const out = path.join(dir, 'cli');
    const r = await runCli(['prune', '--model', model, '--method', 'rl-allocation', '--base', 'wanda', '--episodes', '2', '--sparsity', '0.5', '--calib-tokens', calib, '--calib-samples', '4', '--seq-len', '16', '--out', out]);
    expect(r.code).toBe(0);
    const report = JSON.parse(fs.readFileSync(path.join(out, 'prune-report.json'), 'utf8')) as { allocation: RlReport & { method: string } };
    expect(report.allocation.method).toBe('rl-allocation');
    expect(report.allocation.learning_curve).toHaveLength(2);
  });

  test('a sweep cell records the allocation and its learning curve', async () => {
    const evalTokens = writeCalibTokens(path.join(dir, 'eval.json'), 256, 9);
    const { results } = await sweep({ model, methods: ['rl-allocation'], levels: [0.5], episodes: 2, calibTokens: calib, calibSamples: 4, seqLen: 16, evalTokens, evalSeqLen: 16, out: path.join(dir, 'sweep') });
    const cell = results.cells.find((c) => c.method === 'rl-allocation')!;
    expect(cell.status).toBe('ok');
    const alloc = (cell as unknown as { allocation: RlReport }).allocation;
    expect(alloc.learning_curve).toHaveLength(2);
    expect(Math.abs(weightedMean(alloc.block_sparsity, alloc.block_parameters) - 0.5)).toBeLessThanOrEqual(1 / 16);
  }, 60_000);

  test('a stop during the episodes leaves no output and no scratch', () => expectStopLeavesNothing(rlRun('stopped'), 'allocate', dir));
});

describe('refusals before any work', () => {
  const refused: [string, Partial<PruneOptions>, RegExp][] = [
    ['zero episodes', { episodes: 0 }, /--episodes must be an integer in \[1, 1000\].*got 0/],
    ['negative episodes', { episodes: -2 }, /--episodes must be an integer.*got -2/],
    ['non-integer episodes', { episodes: 1.5 }, /--episodes must be an integer.*got 1\.5/],
    ['too many episodes', { episodes: 5000 }, /--episodes must be an integer in \[1, 1000\]/],
    ['an unknown base', { base: 'magnitude' }, /--base for rl-allocation must be one of wanda, sparsegpt, got 'magnitude'/],
    ['an N:M pattern', { sparsity: undefined, pattern: '2:4' }, /rl-allocation gives each block its own sparsity: an N:M pattern fixes every row/],
    ['global granularity', { granularity: 'global' }, /global granularity sets one threshold/],
    ["a granularity other than the base's", { granularity: 'matrix' }, /rl-allocation measures its episodes with --base wanda's own granularity \(row\): --granularity matrix is not supported/],
  ];
  test.each(refused)('%s', async (_label, extra, message) => {
    const out = path.join(dir, 'refused');
    await expect(prune(rlRun('refused', extra))).rejects.toThrow(message);
    await expect(prune(rlRun('refused', extra))).rejects.toBeInstanceOf(ArgumentRangeError);
    expect(fs.existsSync(out)).toBe(false);
  });

  test('--episodes on a method that does not take it is refused', async () => {
    await expect(prune(tinyPrune(model, calib, path.join(dir, 'refused'), { episodes: 4 }))).rejects.toThrow(/--episodes \(rl-allocation\) applies to other methods, not to wanda/);
  });

  test('the CLI refuses --episodes 0 and --episodes 2.5 with a message and exit code', async () => {
    const base = ['prune', '--model', model, '--method', 'rl-allocation', '--sparsity', '0.5', '--calib-tokens', calib, '--calib-samples', '4', '--seq-len', '16', '--out', path.join(dir, 'refused')];
    const zero = await runCli([...base, '--episodes', '0']);
    expect(zero.code).not.toBe(0);
    expect(zero.err).toMatch(/--episodes must be an integer in \[1, 1000\]/);
    const half = await runCli([...base, '--episodes', '2.5']);
    expect(half.code).not.toBe(0);
    expect(half.err).toMatch(/--episodes expects an integer, got '2.5'/);
    expect(fs.existsSync(path.join(dir, 'refused'))).toBe(false);
  });
});

test('the demo model: two episodes on its queries, the allocation at the target and its KL measured', async () => {
  const report = await prune({
    model: DEMO,
    method: 'rl-allocation',
    sparsity: 0.6,
    calib: path.join(DEMO, 'queries.txt'),
    calibSamples: 6,
    seqLen: 32,
    episodes: 2,
    out: path.join(dir, 'demo-rl'),
  });
  const rl = report.allocation as unknown as RlReport;
  expect(rl.block_sparsity).toHaveLength(4);
  expect(Math.abs(weightedMean(rl.block_sparsity, rl.block_parameters) - 0.6)).toBeLessThan(1 / 128);
  expect(report.layers.reduce((t, l) => t + l.pruned, 0)).toBeGreaterThanOrEqual(rl.uniform.pruned);
  expect(rl.learning_curve).toHaveLength(2);
  expect(rl.uniform.kl).toBeGreaterThan(0);
  expect(rl.chosen.kl).toBeLessThanOrEqual(rl.uniform.kl);
}, 120_000);
