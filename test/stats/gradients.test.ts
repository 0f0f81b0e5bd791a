// `shears stats --gradients` then `prune --stats FILE` with the gradient methods: the file
// holds the gradient pass's moments exactly (sum, sum of squares, sequences, per pruned
// linear layer, F32 [out, in]), whether they were accumulated in memory or in scratch
// pages, and pruning from it gives the same masks as the gradient pass in memory.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { lossAndGradients } from '../../lib/backward/gradients';
import { CalibrationSet } from '../../lib/calibration/sample';
import { prune } from '../../lib/prune/run';
import { MappedFile } from '../../lib/formats/mapped';
import { openImportance } from '../../lib/stats/importance';
import { readSafetensors, TensorOut, writeSafetensors } from '../../lib/stats/safetensors-f64';
import { stats } from '../../lib/stats/run';
import { GradientMoments } from '../../lib/methods/gradient-moments';
import { runCli } from '../support/cli';
import { tempDir } from '../prune/helpers';
import { tinyCalibrated, writeCalibTokens } from '../prune/tiny';
import { masksOf, withModel } from './helpers';

let dir: string;
let model: string;
let calibTokens: string;
let calibration: () => CalibrationSet;
const calib = () => ({ calibTokens, calibSamples: 4, seqLen: 16, calibSampling: 'contiguous' as const });
const leftovers = () => fs.readdirSync(dir).filter((f) => f.startsWith('.shears-tmp'));

beforeAll(() => {
  dir = tempDir('shears-stats-grad-');
  ({ model, calibration } = tinyCalibrated(dir));
  calibTokens = writeCalibTokens(path.join(dir, 'calib.json'));
});

test('the file holds the moments of every linear layer exactly, in memory or in scratch pages (budget 0)', async () => {
  const inMemory = path.join(dir, 'mem.safetensors');
  const mapped = path.join(dir, 'mapped.safetensors');
  const r = await stats({ model, ...calib(), gradients: true, out: inMemory });
  expect(r.gradients).toEqual({ layers: 21, sequences: 4 });
  await stats({ model, ...calib(), gradients: true, gradientMemoryBudget: 0, out: mapped });
  expect(leftovers()).toEqual([]);
  // Reference: each sequence's whole gradients, added with GradientMoments.add.
  const cal = calibration();
  const ref = await withModel(model, async (m) => {
    const acc = new Map<string, GradientMoments>();
    for (let s = 0; s < cal.samples; s++) {
      const { grads } = await lossAndGradients(m, cal.tokens.subarray(s * cal.seqLen, (s + 1) * cal.seqLen), { batch: 1, seq: cal.seqLen });
      for (const [name, g] of grads) {
        if (!/^blocks\.\d+\.(attn|mlp)\./.test(name) || m.tensors.get(name)!.shape.length !== 2) continue;
        if (!acc.has(name)) acc.set(name, new GradientMoments(g.length, { sum: true, sumSq: true }));
        await acc.get(name)!.add(g);
      }
    }
    return acc;
  });
  expect(ref.size).toBe(21);
  for (const file of [inMemory, mapped]) {
    const src = openImportance(file);
    try {
      expect(src.metadata.statistics).toBe('activations,gradients');
      expect(src.provides).toContain('gradient');
      expect([...src.gradients.keys()].sort()).toEqual([...ref.keys()].sort());
      for (const [name, m] of ref) {
        const e = src.gradients.get(name)!;
        expect(e.count).toBe(4);
        expect(e.shape).toEqual(await withModel(model, (mm) => mm.tensors.get(name)!.shape));
        expect(Buffer.from(e.read('sum').buffer).equals(Buffer.from(m.sum!.buffer))).toBe(true);
        expect(Buffer.from(e.read('sumSq').buffer).equals(Buffer.from(m.sumSq!.buffer))).toBe(true);
      }
    } finally {
      src.close();
    }
  }
});

describe.each(['fisher', 'gradient', 'gradient-sensitive'])('%s', (method) => {
  test('prune --stats FILE gives the same masks as the gradient pass in memory', async () => {
    const file = path.join(dir, `g-${method}.safetensors`);
    await stats({ model, ...calib(), gradients: true, out: file });
    const fromFile = path.join(dir, `file-${method}`);
    const inMemory = path.join(dir, `mem-${method}`);
    const report = await prune({ model, method, sparsity: 0.5, stats: file, out: fromFile });
    expect(report.statistics_file).toMatchObject({ path: file, protocol: 'once' });
    await prune({ model, method, sparsity: 0.5, ...calib(), out: inMemory });
    const a = await withModel(fromFile, masksOf);
    const b = await withModel(inMemory, masksOf);
    expect(a.size).toBe(21);
    for (const [n, m] of b) expect(`${n} ${a.get(n)}`).toBe(`${n} ${m}`);
    // Half of each row pruned (the methods compare per row).
    const ones = [...a.values()].reduce((s, m) => s + [...m].filter((c) => c === '1').length, 0);
    const total = [...a.values()].reduce((s, m) => s + m.length, 0);
    expect(ones / total).toBeCloseTo(0.5, 2);
  });
});

test('--gradients is refused for an imatrix output, before anything is loaded', async () => {
  await expect(stats({ model, ...calib(), gradients: true, out: path.join(dir, 'x.gguf') })).rejects.toThrow(/--gradients .*give --out FILE\.safetensors/);
  expect(fs.existsSync(path.join(dir, 'x.gguf'))).toBe(false);
});

test('from the CLI: stats --gradients --gradient-budget 0 (scratch pages), then prune --method fisher --stats FILE', async () => {
  const file = path.join(dir, 'cli.safetensors');
  const common = ['--model', model, '--calib-tokens', calibTokens, '--calib-samples', '4', '--seq-len', '16', '--calib-sampling', 'contiguous'];
  const s = await runCli(['stats', ...common, '--gradients', '--gradient-budget', '0', '--out', file]);
  expect(s.code).toBe(0);
  expect(s.err).toMatch(/sequence 4\/4 gradients/);
  expect(s.out).toMatch(/wrote the input statistics of 21 linear layers \(64 calibration tokens, shears\) and their gradient moments over 4 sequences/);
  expect(leftovers()).toEqual([]);
  const p = await runCli(['prune', '--model', model, '--method', 'fisher', '--sparsity', '0.5', '--stats', file, '--out', path.join(dir, 'cli-pruned'), '--json']);
  expect(p.code).toBe(0);
  expect(JSON.parse(p.out).statistics_file.path).toBe(file);
  const bad = await runCli(['stats', ...common, '--gradients', '--gradient-budget', 'x', '--out', path.join(dir, 'bad.safetensors')]);
  expect(bad.code).not.toBe(0);
  expect(bad.err).toMatch(/--gradient-budget expects an integer/);
});

describe('a file whose gradient moments are damaged', () => {
  // The good file's tensors, rewritten with one change.
  let good: { tensors: TensorOut[]; metadata: Record<string, string> };
  beforeAll(async () => {
    const file = path.join(dir, 'good.safetensors');
    await stats({ model, ...calib(), gradients: true, out: file });
    const f = MappedFile.open(file);
    try {
      const { tensors, metadata } = readSafetensors(f);
      good = { tensors: [...tensors.values()].map((t) => ({ name: t.name, shape: t.shape, data: t.read() })), metadata };
    } finally {
      f.close();
    }
  });
  const variant = (name: string, change: (ts: TensorOut[]) => TensorOut[]) => {
    const file = path.join(dir, name);
    const fd = fs.openSync(file, 'w');
    try {
      writeSafetensors(fd, change(good.tensors.map((t) => ({ ...t }))), good.metadata);
    } finally {
      fs.closeSync(fd);
    }
    return file;
  };
  const K = 'blocks.0.mlp.down.grad';
  const fisher = (stats: string) => prune({ model, method: 'fisher', sparsity: 0.5, stats, out: path.join(dir, `o-${path.basename(stats, '.safetensors')}`) });

  test('a layer without its count, or with F64 sums: a FormatError naming the key and the file', async () => {
    await expect(fisher(variant('nocount.safetensors', (ts) => ts.filter((t) => t.name !== `${K}.count`)))).rejects.toThrow(
      new RegExp(`nocount\\.safetensors.*${K.replace(/\./g, '\\.')} needs sum, sum_sq and count`),
    );
    await expect(
      fisher(variant('f64.safetensors', (ts) => ts.map((t) => (t.name === `${K}.sum_sq` ? { ...t, data: Float64Array.from(t.data) } : t)))),
    ).rejects.toThrow(/blocks\.0\.mlp\.down\.grad\.sum_sq must be F32/);
  });

  test("moments of another shape than the model's weight: E_STATS_MODEL; a non-finite value: a FormatError, nothing written", async () => {
    const swapped = variant('swapped.safetensors', (ts) => ts.map((t) => (t.name.startsWith(`${K}.sum`) ? { ...t, shape: [...t.shape].reverse() } : t)));
    const e = (await fisher(swapped).catch((x: unknown) => x)) as Error & { code: string };
    expect(e.code).toBe('E_STATS_MODEL');
    expect(e.message).toMatch(/gradient moments of blocks\.0\.mlp\.down\.weight have shape/);
    const nan = variant('nan.safetensors', (ts) =>
      ts.map((t) => (t.name === `${K}.sum_sq` ? { ...t, data: Float32Array.from(t.data, (v, i) => (i === 3 ? NaN : v)) } : t)),
    );
    await expect(fisher(nan)).rejects.toThrow(/blocks\.0\.mlp\.down\.grad\.sum_sq: value 3 is NaN/);
    expect(fs.existsSync(path.join(dir, 'o-nan'))).toBe(false);
    expect(leftovers()).toEqual([]);
  });
});
