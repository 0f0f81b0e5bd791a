// `--stats once` runs the pipeline's own calibration pass (recompute off): the outlier
// threshold and the Hessian precision mean the same there, and block 0 (which sees the
// same inputs either way) gets exactly the statistics, and so the pruned weights, of the
// sequential pipeline.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { CalibrationSet } from '../../lib/calibration/sample';
import { loadModel } from '../../lib/formats/load';
import { HessianPrecision } from '../../lib/methods/hessian';
import { LoadedModel } from '../../lib/model/types';
import { runPipeline } from '../../lib/prune/pipeline';
import { Strategy, sparsegpt, wanda } from '../../lib/strategies';
import { gatherDenseStats, pruneWithDenseStats } from '../../lib/sweep/stats-once';
import { runCli } from '../support/cli';
import { tempDir } from '../prune/helpers';
import { SPEC, tinyCalibrated, writeCalibTokens } from '../prune/tiny';

let model: string;
let calibration: () => CalibrationSet;
beforeAll(() => ({ model, calibration } = tinyCalibrated(tempDir())));

/** SHA-256 of each block-0 linear weight's bytes, by name. */
const block0 = (m: LoadedModel) =>
  Object.fromEntries(
    [...m.tensors.entries()]
      .filter(([n]) => n.startsWith('blocks.0.') && /\.(attn\.[qkvo]|mlp\.\w+)\.weight$/.test(n))
      .map(([n, t]) => [n, createHash('sha256').update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)).digest('hex')]),
  );

async function withModel<T>(fn: (m: LoadedModel) => Promise<T>): Promise<T> {
  const m = await loadModel(model);
  try {
    return await fn(m);
  } finally {
    m.close();
  }
}

/** Block 0 pruned once with the dense statistics and once by the pipeline (block 0 only). */
async function bothWays(strategy: () => Strategy, settings: { activationThreshold?: number; hessianPrecision?: HessianPrecision }) {
  const once = await withModel(async (m) => {
    const stats = await gatherDenseStats(m, calibration(), { methods: [strategy()], ...settings });
    const { layers } = await pruneWithDenseStats(m, strategy(), stats, { sparsity: 0.5 });
    return { stats, layers: layers.filter((l) => l.name.startsWith('blocks.0.')), weights: block0(m) };
  });
  const pipeline = await withModel(async (m) => {
    const r = await runPipeline(m, { strategy: strategy(), sparsity: 0.5, include: ['blocks.0.**'], calibration: calibration(), ...settings });
    return { layers: r.layers, weights: block0(m) };
  });
  return { once, pipeline };
}

describe('--stats once and the pipeline share the calibration pass', () => {
  test('the activation threshold reaches the --stats once statistics (outlier columns as the pipeline counts them)', async () => {
    const low = await bothWays(wanda, { activationThreshold: 0.5 });
    const dflt = await bothWays(wanda, {});
    for (const b of low.once.stats.blocks) for (const s of b.values()) expect(s.columns!.threshold).toBe(0.5);
    for (const b of dflt.once.stats.blocks) for (const s of b.values()) expect(s.columns!.threshold).toBe(6);
    const outliers = (ls: { outlierColumns?: number; tokens?: number }[]) => ls.map((l) => [l.tokens, l.outlierColumns]);
    expect(outliers(low.once.layers)).toEqual(outliers(low.pipeline.layers));
    expect(outliers(dflt.once.layers)).toEqual(outliers(dflt.pipeline.layers));
    // More columns exceed 0.5 than 6 in the tiny model: the threshold is not ignored.
    const total = (ls: { outlierColumns?: number }[]) => ls.reduce((s, l) => s + l.outlierColumns!, 0);
    expect(total(low.once.layers)).toBeGreaterThan(total(dflt.once.layers));
    expect(low.once.layers[0].tokens).toBe(4 * 16);
  });

  test.each(['f32', 'f64'] as const)('the Hessian precision %s reaches --stats once: block 0 pruned exactly as the pipeline prunes it', async (precision) => {
    const r = await bothWays(() => sparsegpt(), { hessianPrecision: precision });
    for (const b of r.once.stats.blocks)
      for (const s of b.values()) {
        expect(s.hessian!.precision).toBe(precision);
        expect(s.hessian!.sum.constructor.name).toBe(precision === 'f32' ? 'Float32Array' : 'Float64Array');
        expect(s.hessian!.count).toBe(4 * 16);
      }
    expect(Object.keys(r.once.weights)).toHaveLength(7);
    expect(r.once.weights).toEqual(r.pipeline.weights);
    expect(r.once.layers.map((l) => l.pruned)).toEqual(r.pipeline.layers.map((l) => l.pruned));
  });

  test('f32 and f64 statistics give different reconstructions (the precision is not ignored)', async () => {
    const f32 = await bothWays(() => sparsegpt(), { hessianPrecision: 'f32' });
    const f64 = await bothWays(() => sparsegpt(), { hessianPrecision: 'f64' });
    expect(f32.once.weights).not.toEqual(f64.once.weights);
  });

  test('every block of the model gets statistics', async () => {
    const stats = await withModel((m) => gatherDenseStats(m, calibration(), { methods: [wanda()] }));
    expect(stats.blocks).toHaveLength(SPEC.layers);
    for (const b of stats.blocks) expect([...b.keys()].sort()).toEqual(['attnIn', 'downIn', 'mlpIn', 'oIn']);
  });
});

test('shears sweep --stats once --hessian-precision f32 --activation-threshold 0.5: accepted and part of the settings a resume must match', async () => {
  const dir = tempDir();
  const tokens = writeCalibTokens(path.join(dir, 'tokens.json'));
  const out = path.join(dir, 'sweep');
  const args = ['sweep', '--model', model, '--methods', 'sparsegpt', '--levels', '0.5', '--calib-tokens', tokens, '--calib-samples', '4', '--seq-len', '16'];
  const rest = ['--eval-tokens', tokens, '--eval-seq-len', '16', '--max-windows', '2', '--stats', 'once', '--out', out];
  const r = await runCli([...args, ...rest, '--hessian-precision', 'f32', '--activation-threshold', '0.5']);
  expect(r.err).not.toMatch(/^shears:/m);
  expect(r.code).toBe(0);
  const saved = JSON.parse(fs.readFileSync(path.join(out, 'sweep.json'), 'utf8'));
  expect(JSON.stringify(saved)).toMatch(/"hessian_precision":"f32".*"activation_threshold":0.5/);
  const bad = await runCli([...args, ...rest, '--force', '--activation-threshold', '-1']);
  expect(bad.code).not.toBe(0);
  expect(bad.err).toMatch(/--activation-threshold must be a finite number >= 0, got -1/);
});
