// Pruning the shared llama2.c models with every implemented method, at 50% unstructured
// and 2:4, through prune(): the written model is loaded back and checked against the
// sparsity protocol (shared/notes/protocols.md) weight by weight.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { perplexity } from '../../lib/eval/perplexity';
import { loadModel } from '../../lib/formats/load';
import { ForwardModel } from '../../lib/forward/model';
import { LoadedModel, Tensor } from '../../lib/model/types';
import { selectLayers } from '../../lib/prune/layers';
import { prune, PruneOptions } from '../../lib/prune/run';
import { loadTokenizer } from '../../lib/tokenizer/load';
import { bitsEqual } from '../formats/helpers';
import { describeShared, sharedPath } from '../support/shared-data';
import { countZeros, inOutputLayout, isZero, minZerosPerGroup, tempDir, zerosInTile, zerosPerRow } from './helpers';

const C4 = () => sharedPath('text', 'c4', 'c4-en-train.00000-of-01024.head1000.jsonl');
const MODELS = [
  { label: 'stories260K', file: () => sharedPath('models', 'stories260K', 'stories260K.bin') },
  { label: 'BabyLlama', file: () => sharedPath('models', 'babyllama-tok105', 'model5000.bin') },
];

interface Case {
  label: string;
  method: string;
  granularity?: 'row' | 'matrix';
  pattern?: string;
  /** What exact sparsity means for this case. */
  group: 'row' | 'matrix' | 'tile' | '2:4';
  extra?: Partial<PruneOptions>;
}

const CASES: Case[] = [
  { label: 'magnitude 50% (per matrix)', method: 'magnitude', group: 'matrix' },
  { label: 'magnitude 50% per row', method: 'magnitude', granularity: 'row', group: 'row' },
  { label: 'wanda 50% (per row)', method: 'wanda', group: 'row' },
  { label: 'sparsegpt 50% (per 128-column tile)', method: 'sparsegpt', group: 'tile' },
  // Per row inside each 128-column block: floor(64) + floor(22) = floor(0.5 * 172) for the 172-wide down.
  { label: 'sparsegpt 50% per row', method: 'sparsegpt', granularity: 'row', group: 'row' },
  { label: 'sparsegpt 50% (float32 statistic)', method: 'sparsegpt', group: 'tile', extra: { hessianPrecision: 'f32' } },
  { label: 'wanda 50% per matrix', method: 'wanda', granularity: 'matrix', group: 'matrix' },
  { label: 'magnitude 2:4', method: 'magnitude', pattern: '2:4', group: '2:4' },
  { label: 'wanda 2:4', method: 'wanda', pattern: '2:4', group: '2:4' },
  { label: 'sparsegpt 2:4', method: 'sparsegpt', pattern: '2:4', group: '2:4' },
];

/** SparseGPT's column blocks (the reference code's 128). */
const BLOCK = 128;

function expectExactSparsity(name: string, t: Tensor, c: Case): void {
  const [rows, cols] = t.shape;
  const where = `${name} (${c.label})`;
  if (c.group === 'row') {
    const want = Math.floor(0.5 * cols);
    const bad = zerosPerRow(t).findIndex((z) => z !== want);
    if (bad >= 0) throw new Error(`${where}: row ${bad} has ${zerosPerRow(t)[bad]} zeros, expected ${want}`);
  } else if (c.group === 'matrix') {
    expect({ where, zeros: countZeros(t) }).toEqual({ where, zeros: Math.floor(0.5 * rows * cols) });
  } else if (c.group === 'tile') {
    // floor(s * rows * width) of every tile of 128 columns (the last one narrower).
    for (let c0 = 0; c0 < cols; c0 += BLOCK) {
      const w = Math.min(BLOCK, cols - c0);
      expect({ where, c0, zeros: zerosInTile(t, c0, w) }).toEqual({ where, c0, zeros: Math.floor(0.5 * rows * w) });
    }
  } else {
    // Every group of 4 along a row keeps at most 2 (weights that were 0 count as pruned).
    expect({ where, minZeros: minZerosPerGroup(t, 4) >= 2 }).toEqual({ where, minZeros: true });
  }
}

describeShared.each(MODELS)('prune $label', ({ file }) => {
  let input: LoadedModel;
  let pruned: string[];
  let tokens: number[];

  beforeAll(async () => {
    input = await loadModel(file());
    pruned = selectLayers(input.config, input.tensors).blocks.flat().map((l) => l.name);
    const tok = await loadTokenizer(input.tokenizer, { vocabSize: input.config.vocabSize });
    tokens = tok.encode(fs.readFileSync(sharedPath('text', 'tinystories', 'tinystories_val.txt'), 'utf8').slice(0, 4000), { bos: true });
  });
  afterAll(() => input?.close());

  test('the model has no zero weights to start with (so exact counts are meaningful)', () => {
    for (const n of pruned) expect({ n, zeros: countZeros(input.tensors.get(n)!) }).toEqual({ n, zeros: 0 });
    expect(pruned.length).toBe(7 * input.config.numLayers);
  });

  test.each(CASES)('$label: exact sparsity, untouched rest, finite perplexity', async (c) => {
    const out = path.join(tempDir(), 'out');
    const opts: PruneOptions = { model: file(), method: c.method, out, granularity: c.granularity, ...c.extra };
    if (c.pattern) opts.pattern = c.pattern;
    else opts.sparsity = 0.5;
    if (c.method !== 'magnitude') Object.assign(opts, { calib: C4(), calibSamples: 4, seqLen: 64 });
    const report = await prune(opts);
    expect(report.layers.map((l) => l.name).sort()).toEqual([...pruned].sort());
    expect(report.achieved_sparsity).toBeCloseTo(0.5, 10);

    const m = await loadModel(out);
    try {
      expect([...m.tensors.keys()].sort()).toEqual([...input.tensors.keys()].sort());
      for (const [name, u] of m.tensors) {
        const t = inOutputLayout(input, m, name);
        expect({ name, shape: u.shape, dtype: u.dtype }).toEqual({ name, shape: t.shape, dtype: t.dtype });
        if (!pruned.includes(name)) {
          // Embeddings, norms (and the tied LM head): bit-identical.
          expect({ name, same: bitsEqual(u.data, t.data) }).toEqual({ name, same: true });
          continue;
        }
        expectExactSparsity(name, u, c);
        const layer = report.layers.find((l) => l.name === name)!;
        expect({ name, pruned: layer.pruned }).toEqual({ name, pruned: countZeros(u) });
        if (c.method !== 'sparsegpt') {
          // No reconstruction: every kept weight is the input's, bit for bit.
          let changed = 0;
          for (let i = 0; i < u.data.length; i++) if (!isZero(u, i) && u.data[i] !== t.data[i]) changed++;
          expect({ name, changed }).toEqual({ name, changed: 0 });
        }
      }
      const r = await perplexity(new ForwardModel(m), tokens, { seqLen: 64, maxWindows: 3 });
      expect(r.windows).toBe(3);
      expect(Number.isFinite(r.perplexity)).toBe(true);
      expect(r.perplexity).toBeGreaterThan(1);
    } finally {
      m.close();
    }
  });
});

describeShared('prune a GGUF input (stories260K.gguf)', () => {
  test.each([
    { label: 'to GGUF (tokenizer kept)', out: 'p.gguf', tokenizer: 'kept', dtype: undefined },
    { label: 'to HF (tokenizer converted)', out: 'p', tokenizer: 'converted', dtype: undefined },
    { label: 'to GGUF as f16', out: 'p16.gguf', tokenizer: 'kept', dtype: 'f16' as const },
    { label: 'to HF as bf16', out: 'pbf16', tokenizer: 'converted', dtype: 'bf16' as const },
  ])('wanda 50% $label: exact per row, the rest untouched', async ({ out, tokenizer, dtype }) => {
    const file = sharedPath('models', 'stories260K', 'stories260K.gguf');
    const target = path.join(tempDir(), out);
    const report = await prune({ model: file, method: 'wanda', sparsity: 0.5, calib: C4(), calibSamples: 4, seqLen: 64, out: target, dtype });
    expect(report.output.tokenizer).toBe(tokenizer);
    const a = await loadModel(file);
    const b = await loadModel(target);
    try {
      expect(b.tokenizer.kind).not.toBe('none');
      expect([...b.tensors.keys()].sort()).toEqual([...a.tensors.keys()].sort());
      for (const [name, u] of b.tensors) {
        // GGUF keeps 1-D tensors (norms) in f32, as llama.cpp does.
        if (u.shape.length === 2) expect({ name, dtype: u.dtype }).toEqual({ name, dtype: dtype ?? 'f32' });
        const layer = report.layers.find((l) => l.name === name);
        if (layer) {
          const rows = new Set(zerosPerRow(u));
          expect({ name, rows }).toEqual({ name, rows: new Set([u.shape[1] / 2]) });
        } else if (!dtype) {
          expect({ name, same: bitsEqual(inOutputLayout(a, b, name).data, u.data) }).toEqual({ name, same: true });
        }
      }
      expect(report.layers).toHaveLength(35);
    } finally {
      a.close();
      b.close();
    }
  });
});
