// Which weights a run prunes: --include/--exclude globs over canonical names, global
// granularity (one threshold), and Wanda with a constant statistic being magnitude.
import * as path from 'node:path';

import { ColumnStats } from '../../lib/kernels';
import { loadModel } from '../../lib/formats/load';
import { LoadedModel } from '../../lib/model/types';
import { globToRegExp, selectLayers } from '../../lib/prune/layers';
import { prune } from '../../lib/prune/run';
import { magnitude, wanda } from '../../lib/strategies';
import { matrix } from '../../lib/tensor';
import { randomModel, rng } from '../forward/random-model';
import { bitsEqual } from '../formats/helpers';
import { countZeros, isZero, tempDir } from './helpers';
import { linearNames, writeCalibTokens, writeTinyModel } from './tiny';

describe('globToRegExp', () => {
  const cases: [string, string, boolean][] = [
    ['blocks.*.mlp.*.weight', 'blocks.3.mlp.down.weight', true],
    ['blocks.*.mlp.*.weight', 'blocks.3.mlp.down.bias', false],
    ['blocks.*.weight', 'blocks.3.mlp.down.weight', false], // * stays within one part
    ['blocks.**.weight', 'blocks.3.mlp.down.weight', true], // ** crosses parts
    ['**.attn.?.weight', 'blocks.12.attn.q.weight', true],
    ['**.attn.?.weight', 'blocks.12.attn_norm.weight', false],
    ['blocks.1.**', 'blocks.1.attn.q.weight', true],
    ['blocks.1.**', 'blocks.10.attn.q.weight', false],
    ['blocks.1*.**', 'blocks.10.attn.q.weight', true],
    ['embed.weight', 'embedXweight', false], // dots are literal
    ['lm_head.weight', 'lm_head.weight', true],
    ['blocks.(0|1).mlp.up.weight', 'blocks.0.mlp.up.weight', false], // regex syntax is literal
  ];
  test.each(cases)('%s ~ %s: %s', (glob, name, want) => {
    expect(globToRegExp(glob).test(name)).toBe(want);
  });
});

describe('selectLayers', () => {
  const { config, tensors } = randomModel({ architecture: 'llama', layers: 3 });
  const names = (o: { include?: string[]; exclude?: string[] }) => {
    const s = selectLayers(config, tensors, o);
    return { blocks: s.blocks.flat().map((l) => l.name), extra: s.extra };
  };

  test('default: the 7 linear layers of every block, nothing else', () => {
    expect(names({})).toEqual({ blocks: linearNames(3), extra: [] });
  });
  test('include and exclude select exactly the matching tensors', () => {
    expect(names({ include: ['blocks.*.mlp.*.weight'], exclude: ['blocks.1.**'] })).toEqual({
      blocks: ['blocks.0.mlp.gate.weight', 'blocks.0.mlp.up.weight', 'blocks.0.mlp.down.weight', 'blocks.2.mlp.gate.weight', 'blocks.2.mlp.up.weight', 'blocks.2.mlp.down.weight'],
      extra: [],
    });
    expect(names({ exclude: ['**.attn.*.weight'] }).blocks).toEqual(linearNames(3).filter((n) => n.includes('.mlp.')));
    expect(names({ include: ['**.attn.?.weight', 'blocks.2.mlp.down.weight'] }).blocks).toEqual([
      ...[0, 1, 2].flatMap((b) => ['q', 'k', 'v', 'o'].map((p) => `blocks.${b}.attn.${p}.weight`)),
      'blocks.2.mlp.down.weight',
    ]);
  });
  test('the trailing .weight may be left out', () => {
    expect(names({ include: ['blocks.*.mlp.*'] }).blocks).toEqual(linearNames(3).filter((n) => n.includes('.mlp.')));
    expect(names({ include: ['blocks.0.attn.q', 'embed'] })).toEqual({ blocks: ['blocks.0.attn.q.weight'], extra: ['embed.weight'] });
    expect(names({ exclude: ['blocks.*.attn.*'] }).blocks).toEqual(linearNames(3).filter((n) => n.includes('.mlp.')));
    const opt = randomModel({ architecture: 'opt', layers: 1 });
    expect(selectLayers(opt.config, opt.tensors, { include: ['blocks.0.mlp.*'] }).blocks.flat().map((l) => l.name)).toEqual(['blocks.0.mlp.fc1.weight', 'blocks.0.mlp.fc2.weight']);
    expect(selectLayers(opt.config, opt.tensors, { include: ['**.bias'] })).toEqual({ blocks: [[]], extra: [] }); // biases are vectors
  });
  test('matrices outside the blocks only when an include names them; never vectors', () => {
    expect(names({ include: ['embed.weight', 'lm_head.weight', '**.attn_norm.weight'] })).toEqual({ blocks: [], extra: ['embed.weight', 'lm_head.weight'] });
    expect(names({ include: ['**'] }).extra).toEqual(['embed.weight', 'lm_head.weight']);
    expect(names({ include: ['nothing.matches'] })).toEqual({ blocks: [], extra: [] });
  });
});

describe('prune() with globs and global granularity (tiny model)', () => {
  let model: string;
  let calib: string;
  let input: LoadedModel;
  beforeAll(async () => {
    const dir = tempDir();
    model = writeTinyModel(path.join(dir, 'tiny'));
    calib = writeCalibTokens(path.join(dir, 'calib.json'));
    input = await loadModel(model);
  });
  afterAll(() => input.close());

  /** Runs prune() and returns the names of the tensors that changed, and the written model. */
  async function run(extra: Record<string, unknown>) {
    const out = path.join(tempDir(), 'out');
    const report = await prune({ model, method: 'magnitude', sparsity: 0.5, out, ...extra });
    const m = await loadModel(out);
    const changed = [...input.tensors.keys()].filter((n) => !bitsEqual(input.tensors.get(n)!.data, m.tensors.get(n)!.data)).sort();
    return { report, m, changed };
  }

  test.each(['magnitude', 'wanda', 'sparsegpt'])('%s: --include/--exclude prune exactly the selected matrices', async (method) => {
    const { report, m, changed } = await run({
      method,
      include: ['blocks.*.mlp.*', '**.attn.q.weight'],
      exclude: ['blocks.1.**'],
      calibTokens: calib,
      calibSamples: 4,
      seqLen: 16,
    });
    try {
      const want = [0, 2].flatMap((b) => ['attn.q', 'mlp.gate', 'mlp.up', 'mlp.down'].map((p) => `blocks.${b}.${p}.weight`));
      expect(report.layers.map((l) => l.name).sort()).toEqual([...want].sort());
      expect(changed).toEqual([...want].sort());
      for (const n of want) expect(countZeros(m.tensors.get(n)!)).toBe(report.layers.find((l) => l.name === n)!.pruned);
    } finally {
      m.close();
    }
  });

  test('only early blocks selected: later blocks are not run, and the masks match a full run', async () => {
    const events: number[] = [];
    const calibOpts = { method: 'wanda', calibTokens: calib, calibSamples: 4, seqLen: 16 };
    const part = await run({ ...calibOpts, include: ['blocks.0.**'], onProgress: (e: { stage: string; block?: number }) => e.stage === 'prune' && events.push(e.block!) });
    const full = await run(calibOpts);
    try {
      expect(new Set(events)).toEqual(new Set([1, 3])); // block 1 (1-based), then 'done' at the last block
      for (const n of linearNames().filter((x) => x.startsWith('blocks.0.')))
        expect({ n, same: bitsEqual(part.m.tensors.get(n)!.data, full.m.tensors.get(n)!.data) }).toEqual({ n, same: true });
      expect(part.changed).toEqual(linearNames().filter((x) => x.startsWith('blocks.0.')).sort());
    } finally {
      part.m.close();
      full.m.close();
    }
  });

  test('magnitude can prune an included embedding; calibrated methods refuse it', async () => {
    const { report, m, changed } = await run({ include: ['embed.weight'] });
    try {
      expect(changed).toEqual(['embed.weight']);
      expect(report.layers).toEqual([{ name: 'embed.weight', shape: [32, 16], pruned: 256, sparsity: 0.5 }]);
    } finally {
      m.close();
    }
    const out = path.join(tempDir(), 'out');
    await expect(prune({ model, method: 'wanda', sparsity: 0.5, include: ['embed.weight'], calibTokens: calib, seqLen: 16, out })).rejects.toThrow(
      /linear layers inside blocks only; --include named embed\.weight/,
    );
  });

  test('magnitude --granularity global: one threshold over all matrices, exact total count', async () => {
    const { report, m } = await run({ granularity: 'global', sparsity: 0.6 });
    try {
      const names = linearNames();
      let total = 0;
      let zeros = 0;
      let maxPruned = 0;
      let minKept = Infinity;
      for (const n of names) {
        const t = input.tensors.get(n)!;
        const u = m.tensors.get(n)!;
        total += t.data.length;
        zeros += countZeros(u);
        for (let i = 0; i < t.data.length; i++) {
          const a = Math.abs(t.data[i]);
          if (isZero(u, i)) maxPruned = Math.max(maxPruned, a);
          else minKept = Math.min(minKept, a);
        }
      }
      expect(zeros).toBe(Math.floor(0.6 * total));
      expect(maxPruned).toBeLessThanOrEqual(minKept);
      expect(report.granularity).toBe('global');
      expect(report.notes.join('\n')).toMatch(/one threshold across every selected matrix/);
      // The down projections are 4x smaller: one threshold prunes them harder.
      const sp = (n: string) => report.layers.find((l) => l.name === n)!.sparsity;
      expect(sp('blocks.0.mlp.down.weight')).toBeGreaterThan(0.9);
      expect(sp('blocks.0.mlp.up.weight')).toBeLessThan(0.6);
    } finally {
      m.close();
    }
  });

  test('wanda --granularity global: one threshold per block (the pipeline is sequential)', async () => {
    const { report, m } = await run({ method: 'wanda', granularity: 'global', calibTokens: calib, calibSamples: 4, seqLen: 16 });
    try {
      for (let b = 0; b < 3; b++) {
        const names = linearNames().filter((n) => n.startsWith(`blocks.${b}.`));
        const total = names.reduce((s, n) => s + input.tensors.get(n)!.data.length, 0);
        const zeros = names.reduce((s, n) => s + countZeros(m.tensors.get(n)!), 0);
        expect({ b, zeros }).toEqual({ b, zeros: Math.floor(0.5 * total) });
      }
      expect(report.notes.join('\n')).toMatch(/each block/);
    } finally {
      m.close();
    }
  });
});

describe('wanda with a constant statistic is magnitude per row', () => {
  const rows = 24;
  const cols = 40;
  const weights = () => {
    const r = rng(11);
    return Float32Array.from({ length: rows * cols }, () => r() * 2 - 1);
  };
  // 16 tokens of all-equal activations: every column's ||X_j|| is the same (4).
  async function constantStats(value: number): Promise<ColumnStats> {
    const s = new ColumnStats(cols);
    await s.add(new Float32Array(16 * cols).fill(value), 16);
    return s;
  }

  test.each([
    { label: '50% per row', sel: { sparsity: 0.5, granularity: 'row' as const } },
    { label: '30% per row', sel: { sparsity: 0.3, granularity: 'row' as const } },
    { label: '2:4', sel: { pattern: { n: 2, m: 4 } } },
  ])('$label: same mask and weights', async ({ sel }) => {
    const stats = await constantStats(1);
    expect(new Set(stats.l2Norms())).toEqual(new Set([4]));
    const a = matrix(weights(), rows, cols);
    const b = matrix(weights(), rows, cols);
    const ma = await wanda().prune(a, { columns: stats }, sel);
    const mb = await magnitude().prune(b, {}, { granularity: 'row', ...sel });
    expect(ma.pruned).toBe(mb.pruned);
    expect(bitsEqual(ma.bits, mb.bits)).toBe(true);
    expect(bitsEqual(a.data, b.data)).toBe(true);
    expect(ma.pruned).toBeGreaterThan(0);
  });

  test('a constant statistic of any size (norm 3) changes nothing either', async () => {
    // sqrt(16 * 0.5625) = 3: products |w| * 3 keep the order of |w| (no new ties for these values).
    const stats = await constantStats(0.75);
    expect(new Set(stats.l2Norms())).toEqual(new Set([3]));
    const a = matrix(weights(), rows, cols);
    const b = matrix(weights(), rows, cols);
    const ma = await wanda().prune(a, { columns: stats }, { sparsity: 0.5 });
    const mb = await magnitude().prune(b, {}, { sparsity: 0.5, granularity: 'row' });
    expect(bitsEqual(ma.bits, mb.bits)).toBe(true);
  });
});
