// owl (Outlier Weighed Layerwise sparsity): the per-block outlier ratios and sparsities of
// prune --method owl against a plain TypeScript reference of the formulas (computed here
// from the dense model's per-column activation statistics, the pass `shears stats` runs),
// their mean at the target, each block pruned at exactly its own sparsity, the report's
// `allocation`, the same result twice, the clip, and refusals before any work.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { ArgumentRangeError } from '../../lib/errors';
import { loadModel } from '../../lib/formats/load';
import { toFloat32 } from '../../lib/kernels';
import { owlSparsities } from '../../lib/methods/owl-allocation';
import { drawCalibration } from '../../lib/prune/calibrate';
import { selectLayers } from '../../lib/prune/layers';
import { PruneReport } from '../../lib/prune/report';
import { prune } from '../../lib/prune/run';
import { sweep } from '../../lib/sweep/run';
import { gatherDenseStats } from '../../lib/sweep/stats-once';
import { runCli } from '../support/cli';
import { expectStopLeavesNothing, tempDir } from '../prune/helpers';
import { tinyPrune, writeCalibTokens, writeTinyModel } from '../prune/tiny';

const M = 5;
const LAMBDA = 0.08;

/** The reference: D_l = share of block l's weights with |W_ij| * ||X_j|| > M * the block's mean score; densities from D. */
async function reference(model: string, calib: string, target: number): Promise<{ ratio: number[]; sparsity: number[] }> {
  const m = await loadModel(model);
  try {
    const { set } = await drawCalibration(m, { calibTokens: calib, calibSamples: 4, seqLen: 16 });
    const dense = await gatherDenseStats(m, set, { methods: [] });
    const { blocks } = selectLayers(m.config, m.tensors);
    const ratio: number[] = [];
    for (let b = 0; b < blocks.length; b++) {
      const scores: number[] = [];
      for (const l of blocks[b]) {
        const t = m.tensors.get(l.name)!;
        const w = t.dtype === 'f32' ? (t.data as Float32Array) : await toFloat32(t.data as Uint16Array, t.dtype);
        const sumSq = dense.blocks[b].get(l.input)!.columns!.sumSq;
        const cols = t.shape[1];
        for (let i = 0; i < w.length; i++) scores.push(Math.fround(Math.abs(w[i]) * Math.fround(Math.sqrt(sumSq[i % cols]))));
      }
      const mean = scores.reduce((a, x) => a + x, 0) / scores.length;
      ratio.push(scores.filter((x) => x > M * mean).length / scores.length);
    }
    const lo = Math.min(...ratio);
    const hi = Math.max(...ratio);
    const normalized = ratio.map((d) => ((d - lo) / (hi - lo)) * 2 * LAMBDA);
    const mean = normalized.reduce((a, x) => a + x, 0) / normalized.length;
    return { ratio, sparsity: normalized.map((x) => 1 - (x - mean + (1 - target))) };
  } finally {
    m.close();
  }
}

describe('prune --method owl', () => {
  let dir: string;
  let dense: string;
  let calib: string;
  beforeAll(() => {
    dir = tempDir('shears-owl-');
    dense = writeTinyModel(path.join(dir, 'dense'));
    calib = writeCalibTokens(path.join(dir, 'calib.json'), 2048, 5);
  });
  const run = (out: string, extra: Record<string, unknown> = {}) => prune(tinyPrune(dense, calib, path.join(dir, out), { method: 'owl', ...extra }));

  it.each([0.5, 0.3])('matches the reference formulas at %f, the mean is the target, each block pruned at its sparsity', async (target) => {
    const out = `owl-${target}`;
    const report: PruneReport = await run(out, { sparsity: target });
    const ref = await reference(dense, calib, target);
    const a = report.allocation!;
    expect(a.method).toBe('owl');
    expect(a).toMatchObject({ base: 'wanda', m: M, lambda: LAMBDA, clipped_blocks: [] });
    const ratio = a.outlier_ratio as number[];
    expect(ratio).toHaveLength(3);
    ratio.forEach((d, i) => expect(d).toBeCloseTo(ref.ratio[i], 12));
    // The tiny model's blocks differ in their outliers: the allocation is not uniform.
    expect(Math.max(...ratio)).toBeGreaterThan(Math.min(...ratio));
    a.block_sparsity.forEach((s, i) => expect(s).toBeCloseTo(ref.sparsity[i], 12));
    expect(a.block_sparsity.reduce((x, y) => x + y, 0) / 3).toBeCloseTo(target, 12);
    expect(Math.max(...a.block_sparsity) - Math.min(...a.block_sparsity)).toBeCloseTo(2 * LAMBDA, 12);
    // Wanda compares per row: floor(s_b * cols) weights of every row of block b.
    for (const l of report.layers) {
      const s = a.block_sparsity[Number(/^blocks\.(\d+)\./.exec(l.name)![1])];
      expect(l.pruned).toBe(l.shape[0] * Math.floor(s * l.shape[1]));
    }
    const written = JSON.parse(fs.readFileSync(path.join(dir, out, 'prune-report.json'), 'utf8')) as PruneReport;
    expect(written.allocation).toEqual(JSON.parse(JSON.stringify(a)));
    expect(report.notes.join('\n')).toMatch(/owl \(--base wanda, M = 5, lambda = 0.08\): outlier ratios per block/);
    // Rows of 16 and 24 round each block's sparsity down: the warning says it is the block's own.
    expect(report.achieved_sparsity).toBeLessThan(target);
    expect(report.notes.join('\n')).toMatch(new RegExp(`is below the requested ${target}: each row prunes floor\\(its block's sparsity x its size\\) weights \\(the per-block sparsities average ${target}\\)`));
  }, 60_000);

  it('gives the same allocation and bytes twice; --base sparsegpt prunes each block at its sparsity', async () => {
    const a = await run('again-a');
    const b = await run('again-b');
    expect(b.allocation).toEqual(a.allocation);
    const read = (d: string) => fs.readFileSync(path.join(dir, d, 'model.safetensors'));
    expect(read('again-a').equals(read('again-b'))).toBe(true);
    const s = await run('sparsegpt', { base: 'sparsegpt' });
    expect(s.allocation!.block_sparsity).toEqual(a.allocation!.block_sparsity);
    expect(s.allocation!.base).toBe('sparsegpt');
    for (const l of s.layers) {
      const target = s.allocation!.block_sparsity[Number(/^blocks\.(\d+)\./.exec(l.name)![1])];
      expect(Math.abs(l.sparsity - target)).toBeLessThan(1 / l.shape[1]);
    }
  }, 60_000);

  it('the CLI: --base sparsegpt, the allocation in the report; --pattern exits 1 with nothing written', async () => {
    const base = ['prune', '--model', dense, '--method', 'owl', '--calib-tokens', calib, '--calib-samples', '4', '--seq-len', '16'];
    const ok = await runCli([...base, '--sparsity', '0.6', '--base', 'sparsegpt', '--out', path.join(dir, 'cli')]);
    expect(ok.code).toBe(0);
    const report = JSON.parse(fs.readFileSync(path.join(dir, 'cli', 'prune-report.json'), 'utf8')) as PruneReport;
    expect(report.allocation).toMatchObject({ method: 'owl', base: 'sparsegpt' });
    expect(report.allocation!.block_sparsity.reduce((a, b) => a + b, 0) / 3).toBeCloseTo(0.6, 12);
    expect(ok.out).toContain(`per-block sparsities (owl): ${report.allocation!.block_sparsity.map((x) => x.toFixed(3)).join(' ')}\n`);
    const bad = await runCli([...base, '--pattern', '2:4', '--out', path.join(dir, 'cli-nm')]);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/owl gives each block its own sparsity/);
    expect(fs.existsSync(path.join(dir, 'cli-nm'))).toBe(false);
  }, 60_000);

  it('a sweep cell records the allocation, the same as prune gives', async () => {
    const evalTokens = writeCalibTokens(path.join(dir, 'eval.json'), 256, 9);
    const { results } = await sweep({ model: dense, methods: ['owl'], levels: [0.5], calibTokens: calib, calibSamples: 4, seqLen: 16, evalTokens, evalSeqLen: 16, out: path.join(dir, 'sweep') });
    const cell = results.cells.find((c) => c.method === 'owl')!;
    expect(cell.status).toBe('ok');
    const pruned = await run('for-sweep');
    expect((cell as unknown as { allocation: { block_sparsity: number[] } }).allocation.block_sparsity).toEqual(pruned.allocation!.block_sparsity);
  }, 60_000);

  it('a stop while the outlier ratios are measured leaves no output and no scratch', () =>
    expectStopLeavesNothing(tinyPrune(dense, calib, path.join(dir, 'stopped'), { method: 'owl' }), 'allocate', dir));

  it('refuses N:M, global granularity, a foreign base or option and a target above 0.99 before any work', async () => {
    await expect(run('nm', { sparsity: undefined, pattern: '2:4' })).rejects.toThrow(/owl gives each block its own sparsity: an N:M pattern fixes every row/);
    await expect(run('global', { granularity: 'global' })).rejects.toThrow(ArgumentRangeError);
    await expect(run('magnitude', { base: 'magnitude' })).rejects.toThrow(/--base for owl must be one of wanda, sparsegpt, got 'magnitude'/);
    await expect(run('bits', { bits: 4 })).rejects.toThrow(/--bits \(kmeans\) applies to other methods, not to owl/);
    await expect(run('high', { sparsity: 0.995 })).rejects.toThrow(/within \[0, 0.99\]/);
    for (const d of ['nm', 'global', 'magnitude', 'bits', 'high']) expect(fs.existsSync(path.join(dir, d))).toBe(false);
  });
});

describe('owlSparsities', () => {
  it('is the reference normalization, with the mean weighted by block size', () => {
    const a = owlSparsities([0.01, 0.03, 0.02, 0.05], [1, 1, 1, 1], 0.6);
    // normalized: 0, 0.08, 0.04, 0.16 (mean 0.07) -> sparsities 0.6 - (n - 0.07)
    [0.67, 0.59, 0.63, 0.51].forEach((s, i) => expect(a.sparsity[i]).toBeCloseTo(s, 12));
    const w = owlSparsities([0.01, 0.05, null], [1, 3, 0], 0.5);
    expect(w.sparsity[2]).toBe(0.5);
    expect((w.sparsity[0] + 3 * w.sparsity[1]) / 4).toBeCloseTo(0.5, 12);
    expect(w.sparsity[0] - w.sparsity[1]).toBeCloseTo(0.16, 12);
  });

  it('clips to [0, 0.99] and moves the other blocks to keep the mean', () => {
    const low = owlSparsities([0, 0.1, 0.05, 0.02], [1, 1, 1, 1], 0.05);
    expect(low.clipped).toEqual([1]);
    expect(low.sparsity[1]).toBe(0);
    expect(low.sparsity.reduce((a, b) => a + b, 0) / 4).toBeCloseTo(0.05, 12);
    expect(Math.min(...low.sparsity)).toBeGreaterThanOrEqual(0);
    const high = owlSparsities([0, 0.1, 0.05, 0.02], [1, 1, 1, 1], 0.98);
    // 0.98 - (n - mean) = 1.048, 0.888, 0.968, 1.016: blocks 0 and 3 clip, the shift of the
    // others then takes block 2 over too, and block 1 carries the rest (0.95).
    expect(high.clipped).toEqual([0, 2, 3]);
    expect(high.sparsity[0]).toBe(0.99);
    expect(high.sparsity[1]).toBeCloseTo(0.95, 12);
    expect(high.sparsity.reduce((a, b) => a + b, 0) / 4).toBeCloseTo(0.98, 12);
    expect(Math.max(...high.sparsity)).toBeLessThanOrEqual(0.99);
  });

  it('gives every block the target when the ratios are equal', () => {
    expect(owlSparsities([0.02, 0.02], [5, 5], 0.4)).toEqual({ sparsity: [0.4, 0.4], clipped: [], uniform: true });
  });
});
