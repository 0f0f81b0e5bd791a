// variational-dropout as a pruning method on a tiny random Llama: exact sparsity per row and
// 2:4 through the pipeline, seeded determinism, which values the kept weights take, the log
// alpha histograms for the report, and prune end to end from the CLI.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { CalibrationSet } from '../../lib/calibration/sample';
import { loadModel } from '../../lib/formats/load';
import { methodInfo } from '../../lib/methods/registry';
import { variationalDropout } from '../../lib/methods/variational-dropout/strategy';
import { runPipeline } from '../../lib/prune/pipeline';
import { LoadedModel } from '../../lib/model/types';
import { runCli } from '../support/cli';
import { minZerosPerGroup, tempDir, zerosPerRow } from '../prune/helpers';
import { linearNames, SPEC, tinyCalibrated, writeCalibTokens } from '../prune/tiny';

let dir: string;
let model: string;
let calibration: () => CalibrationSet;
beforeAll(() => {
  dir = tempDir();
  ({ model, calibration } = tinyCalibrated(dir));
});

const quick = { steps: 30, batchRows: 32 };

async function pruned(o: Parameters<typeof variationalDropout>[0], sel: { sparsity?: number; pattern?: { n: number; m: number } }) {
  const m = await loadModel(model);
  const strategy = variationalDropout(o);
  const result = await runPipeline(m, { strategy, calibration: calibration(), ...sel });
  return { m, strategy, result };
}

const bytesOf = (m: LoadedModel) => linearNames().map((n) => Buffer.from(m.tensors.get(n)!.data.buffer.slice(0)).toString('base64'));

test('listed as implemented, a calibrated score method', () => {
  const info = methodInfo('variational-dropout');
  expect(info).toMatchObject({ implemented: true, kind: 'score', calibrated: true });
});

test('exact sparsity in every row at 50%, and 2:4', async () => {
  const half = await pruned(quick, { sparsity: 0.5 });
  try {
    for (const n of linearNames()) {
      const t = half.m.tensors.get(n)!;
      // Each row prunes floor(0.5 * cols) weights; a dense weight may already be zero, never here (random floats).
      expect(zerosPerRow(t)).toEqual(Array(t.shape[0]).fill(Math.floor(t.shape[1] / 2)));
    }
    expect(half.result.layers.map((l) => l.name)).toEqual(linearNames());
  } finally {
    half.m.close();
  }
  const nm = await pruned(quick, { pattern: { n: 2, m: 4 } });
  try {
    for (const n of linearNames()) expect(minZerosPerGroup(nm.m.tensors.get(n)!, 4)).toBeGreaterThanOrEqual(2);
  } finally {
    nm.m.close();
  }
});

test('seeded: two runs give the same weights; kept weights are the dense ones by default, theta with keep: theta', async () => {
  const a = await pruned(quick, { sparsity: 0.5 });
  const b = await pruned(quick, { sparsity: 0.5 });
  const theta = await pruned({ ...quick, keep: 'theta' }, { sparsity: 0.5 });
  const dense = await loadModel(model);
  try {
    expect(bytesOf(b.m)).toEqual(bytesOf(a.m));
    for (const n of linearNames()) {
      const d = dense.tensors.get(n)!.data, p = a.m.tensors.get(n)!.data, t = theta.m.tensors.get(n)!.data;
      let changed = 0;
      for (let i = 0; i < d.length; i++) {
        if (p[i] !== 0) expect(p[i]).toBe(d[i]);
        if (t[i] !== 0 && t[i] !== d[i]) changed++;
      }
      // Adam moves every theta on its first step (by the learning rate, 1e-4).
      expect(changed).toBeGreaterThan(0);
    }
  } finally {
    for (const m of [a.m, b.m, theta.m, dense]) m.close();
  }
});

test('the log alpha histograms: per block and overall, every weight counted once', async () => {
  const { m, strategy } = await pruned(quick, { sparsity: 0.5 });
  m.close();
  expect(strategy.layers.map((l) => l.block)).toEqual(linearNames().map((n) => Number(n.split('.')[1])));
  const notes = strategy.notes();
  expect(notes.filter((n) => /histogram, block \d/.test(n))).toHaveLength(SPEC.layers);
  const overall = notes.find((n) => n.includes('histogram, all layers'))!;
  const counts = [...overall.matchAll(/[)\]] (\d+)/g)].map((x) => Number(x[1]));
  expect(counts).toHaveLength(16);
  const total = strategy.layers.reduce((s, l) => s + l.rows * l.cols, 0);
  expect(counts.reduce((s, c) => s + c, 0)).toBe(total);
});

test('prune --method variational-dropout end to end, and --stats refused (it trains on the layer inputs)', async () => {
  const calib = writeCalibTokens(path.join(dir, 'cli-calib.json'));
  const out = path.join(dir, 'vd-out');
  const r = await runCli(['prune', '--model', model, '--method', 'variational-dropout', '--sparsity', '0.5', '--calib-tokens', calib, '--calib-samples', '4', '--seq-len', '16', '--out', out]);
  expect(r.code).toBe(0);
  const report = JSON.parse(fs.readFileSync(path.join(out, 'prune-report.json'), 'utf8'));
  expect(report.method).toBe('variational-dropout');
  const p = await loadModel(out);
  try {
    for (const n of linearNames()) {
      const t = p.tensors.get(n)!;
      expect(zerosPerRow(t)).toEqual(Array(t.shape[0]).fill(Math.floor(t.shape[1] / 2)));
    }
  } finally {
    p.close();
  }
  const stats = path.join(dir, 'stats.safetensors');
  expect((await runCli(['stats', '--model', model, '--calib-tokens', calib, '--calib-samples', '4', '--seq-len', '16', '--out', stats])).code).toBe(0);
  const s = await runCli(['prune', '--model', model, '--method', 'variational-dropout', '--sparsity', '0.5', '--stats', stats, '--out', path.join(dir, 'never')]);
  expect(s.code).not.toBe(0);
  expect(s.err).toMatch(/variational-dropout needs the statistic 'layerInputs'/);
  expect(fs.existsSync(path.join(dir, 'never'))).toBe(false);
});

test('scope block (default) reports the block output reconstruction; scope layer still prunes exactly, and refuses global', async () => {
  const block = await pruned(quick, { sparsity: 0.5 });
  block.m.close();
  expect(block.strategy.layers.every((l) => l.scope === 'block')).toBe(true);
  expect(block.strategy.notes().at(-1)).toMatch(/mean squared error per block output from/);
  expect(block.result.notes[0]).toMatch(/each block learned as a whole/);
  const layer = await pruned({ ...quick, scope: 'layer' }, { sparsity: 0.5 });
  try {
    for (const n of linearNames()) {
      const t = layer.m.tensors.get(n)!;
      expect(zerosPerRow(t)).toEqual(Array(t.shape[0]).fill(Math.floor(t.shape[1] / 2)));
    }
    expect(layer.strategy.layers.every((l) => l.scope === 'layer')).toBe(true);
    expect(layer.strategy.notes().at(-1)).toMatch(/mean squared error per layer from/);
  } finally {
    layer.m.close();
  }
  const m = await loadModel(model);
  try {
    await expect(runPipeline(m, { strategy: variationalDropout({ ...quick, scope: 'layer' }), calibration: calibration(), sparsity: 0.5, granularity: 'global' })).rejects.toThrow(/global granularity does not apply/);
    // Block by block, one threshold across each block's matrices.
    const g = await runPipeline(m, { strategy: variationalDropout(quick), calibration: calibration(), sparsity: 0.5, granularity: 'global' });
    expect(g.layers.reduce((a, l) => a + l.pruned, 0)).toBe(g.layers.reduce((a, l) => a + l.shape[0] * l.shape[1], 0) / 2);
  } finally {
    m.close();
  }
});

test('a stop during a block\'s training rejects with the reason', async () => {
  const m = await loadModel(model);
  const ac = new AbortController();
  try {
    const run = runPipeline(m, { strategy: variationalDropout({ steps: 1_000_000 }), calibration: calibration(), sparsity: 0.5, signal: ac.signal, onProgress: (p) => p.phase === 'pruning' && setTimeout(() => ac.abort(new Error('stop the training')), 20) });
    await expect(run).rejects.toThrow('stop the training');
  } finally {
    m.close();
  }
});
