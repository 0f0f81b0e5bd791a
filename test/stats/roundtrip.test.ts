// `shears stats` then `prune --stats FILE`: the statistics written and read back give the
// same Wanda masks as pruning with the same statistics gathered in memory (the
// `--stats once` path), in every form (shears safetensors, llama.cpp .dat and .gguf);
// the file holds what the pass gathered, and the report says where the statistics came from.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { CalibrationSet } from '../../lib/calibration/sample';
import { prune } from '../../lib/prune/run';
import { openImportance } from '../../lib/stats/importance';
import { stats } from '../../lib/stats/run';
import { DenseStats, gatherDenseStats } from '../../lib/sweep/stats-once';
import { runCli } from '../support/cli';
import { tempDir } from '../prune/helpers';
import { tinyCalibrated, writeCalibTokens } from '../prune/tiny';
import { inMemoryWanda, masksOf, withModel } from './helpers';

let dir: string;
let model: string;
let calibTokens: string;
let calibration: () => CalibrationSet;
let memory: { stats: DenseStats; masks: Map<string, string> };
// The same windows tinyCalibrated draws: 4 contiguous windows of 16 tokens.
const calib = () => ({ calibTokens, calibSamples: 4, seqLen: 16, calibSampling: 'contiguous' as const });

beforeAll(async () => {
  dir = tempDir('shears-stats-');
  ({ model, calibration } = tinyCalibrated(dir));
  calibTokens = writeCalibTokens(path.join(dir, 'calib.json'));
  memory = await inMemoryWanda(model, calibration());
});

describe.each([
  ['shears safetensors', 'stats.safetensors'],
  ['llama.cpp legacy imatrix', 'imatrix.dat'],
  ['llama.cpp GGUF imatrix', 'imatrix.gguf'],
])('%s', (_label, name) => {
  test('written by shears stats and read back by prune --stats: the same Wanda masks as the statistics in memory', async () => {
    const file = path.join(dir, name);
    const r = await stats({ model, ...calib(), out: file });
    expect(r.layers).toBe(21);
    expect(r.tokens).toBe(64);
    const out = path.join(dir, `pruned-${name.replace('.', '-')}`);
    const report = await prune({ model, method: 'wanda', sparsity: 0.5, stats: file, out });
    expect(report.calibration).toBeNull();
    expect(report.statistics_file).toMatchObject({ path: file, protocol: 'once' });
    expect(report.notes.join('\n')).toContain('instead of a calibration pass');
    const masks = await withModel(out, masksOf);
    expect(masks.size).toBe(21);
    for (const [n, m] of memory.masks) expect(`${n} ${masks.get(n)}`).toBe(`${n} ${m}`);
  });
});

test('the shears file holds the pass exactly: sum, sum of squares, outlier counts and tokens of every layer input, and its provenance', async () => {
  const file = path.join(dir, 'exact.safetensors');
  await stats({ model, ...calib(), activationThreshold: 0.5, out: file });
  const src = openImportance(file);
  try {
    expect(src.form).toBe('shears');
    const exact = await withModel(model, async (m) => {
      return gatherDenseStats(m, calibration(), { methods: [], activationThreshold: 0.5 });
    });
    const { byWeight } = src.layers('llama');
    expect(byWeight.size).toBe(21);
    const input = { 'attn.q': 'attnIn', 'attn.k': 'attnIn', 'attn.v': 'attnIn', 'attn.o': 'oIn', 'mlp.gate': 'mlpIn', 'mlp.up': 'mlpIn', 'mlp.down': 'downIn' } as const;
    for (const [w, e] of byWeight) {
      const [, b, part] = /^blocks\.(\d+)\.(.+)\.weight$/.exec(w)!;
      const c = exact.blocks[Number(b)].get(input[part as keyof typeof input])!.columns!;
      const s = e.read();
      expect(Array.from(s.sumSq)).toEqual(Array.from(c.sumSq));
      expect(Array.from(s.sum!)).toEqual(Array.from(c.sum));
      expect(Array.from(s.outliers!)).toEqual(Array.from(c.exceed!));
      expect(s.count).toBe(64);
    }
    expect(src.metadata).toMatchObject({ format: 'shears-importance', format_version: '1', statistics: 'activations', tokens: '64' });
    expect(JSON.parse(src.metadata.calibration)).toMatchObject({ samples: 4, seq_len: 16, sampling: 'contiguous', activation_threshold: 0.5 });
  } finally {
    src.close();
  }
});

test('the CLI: shears stats writes the file, prune --stats uses it, and the report records the file and a matching checksum', async () => {
  const file = path.join(dir, 'cli.gguf');
  const s = await runCli(['stats', '--model', model, '--calib-tokens', calibTokens, '--calib-samples', '4', '--seq-len', '16', '--calib-sampling', 'contiguous', '--out', file]);
  expect(s.err).toContain('block 3/3 statistics');
  expect(s.code).toBe(0);
  expect(s.out).toContain('wrote the input statistics of 21 linear layers (64 calibration tokens, imatrix-gguf)');
  const out = path.join(dir, 'cli-pruned');
  const p = await runCli(['prune', '--model', model, '--method', 'wanda', '--sparsity', '0.5', '--stats', file, '--out', out, '--json']);
  expect(p.code).toBe(0);
  const report = JSON.parse(p.out);
  expect(report.statistics_file).toMatchObject({ form: 'imatrix-gguf', count_unit: 'tokens', model_checksum_matches: true, datasets: [path.resolve(calibTokens)] });
  expect(p.err).toContain('block 3/3 pruning');
  expect(fs.existsSync(out)).toBe(true);
});
