// What the fine-tuning tests share: the tiny Llama of the pruning tests pruned by Wanda
// (HF), random token ids to train on, and a direct check of a written model's zeros.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { FinetuneOptions } from '../../lib/finetune';
import { loadModel } from '../../lib/formats/load';
import { prune } from '../../lib/prune/run';
import { inOutputLayout, isZero, tempDir } from '../prune/helpers';
import { linearNames, tinyPrune, writeCalibTokens, writeTinyModel } from '../prune/tiny';

export interface TinySetup {
  dir: string;
  dense: string;
  pruned: string;
  tokens: string;
}

export async function tinySetup(): Promise<TinySetup> {
  const dir = tempDir('shears-finetune-');
  const dense = writeTinyModel(path.join(dir, 'dense'));
  const tokens = writeCalibTokens(path.join(dir, 'tokens.json'), 2048, 5);
  const pruned = path.join(dir, 'pruned');
  await prune(tinyPrune(dense, tokens, pruned));
  return { dir, dense, pruned, tokens };
}

export const tinyFinetune = (s: TinySetup, out: string, extra: Partial<FinetuneOptions> = {}): FinetuneOptions => ({
  model: s.pruned,
  dataTokens: s.tokens,
  calibSamples: 16,
  seqLen: 16,
  steps: 12,
  lr: 1e-2,
  batch: 2,
  out,
  ...extra,
});

/**
 * Reads both models back and checks, for every linear layer, that each weight zero in
 * `input` is zero in `output` and that the zero counts are equal; returns the pruned
 * weights counted and how many kept weights changed.
 */
export async function directMaskCheck(input: string, output: string): Promise<{ pruned: number; changed: number }> {
  const a = await loadModel(input);
  const b = await loadModel(output);
  try {
    let pruned = 0;
    let changed = 0;
    for (const name of linearNames()) {
      const before = inOutputLayout(a, b, name);
      const after = b.tensors.get(name)!;
      for (let i = 0; i < before.data.length; ++i) {
        const z0 = isZero(before, i);
        const z1 = isZero(after, i);
        if (z0 !== z1) throw new Error(`${name}[${i}]: zero before ${z0}, after ${z1}`);
        if (z0) ++pruned;
        else if (before.data[i] !== after.data[i] || before.dtype !== after.dtype) ++changed;
      }
    }
    return { pruned, changed };
  } finally {
    a.close();
    b.close();
  }
}

export const readJson = <T>(file: string): T => JSON.parse(fs.readFileSync(file, 'utf8')) as T;
