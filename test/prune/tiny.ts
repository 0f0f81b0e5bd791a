// A tiny random Llama written as an HF folder by the formats tests' own encoder, and
// calibration token ids for it (random, seeded): everything a prune() run needs
// without ../shared. The MLP down projections are scaled by 1/4 so that matrices
// differ in scale (a global threshold then prunes them unevenly).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { CalibrationSet, windowsFromStream } from '../../lib/calibration/sample';
import type { PruneOptions } from '../../lib/prune/run';

import {
  buildLlama2cLegacy,
  buildLlama2cTokenizer,
  llamaConfig,
  llamaTensors,
  rng,
  StDType,
  TinyLlamaSpec,
  writeHFDir,
} from '../formats/fixtures';

export const SPEC: TinyLlamaSpec = { hidden: 16, heads: 4, kvHeads: 2, inter: 24, layers: 3, vocab: 32 };

/** Canonical names of the linear layers prune() selects by default. */
export function linearNames(layers = SPEC.layers): string[] {
  const parts = ['attn.q', 'attn.k', 'attn.v', 'attn.o', 'mlp.gate', 'mlp.up', 'mlp.down'];
  return Array.from({ length: layers }, (_, i) => parts.map((p) => `blocks.${i}.${p}.weight`)).flat();
}

export function writeTinyModel(dir: string, dtype: StDType = 'F32', seed = 1): string {
  const tensors = llamaTensors(SPEC, dtype, seed);
  if (dtype === 'F32')
    for (const t of tensors) if (t.name.endsWith('down_proj.weight')) (t.data as Float32Array).forEach((v, i, a) => (a[i] = v / 4));
  writeHFDir(dir, llamaConfig(SPEC), tensors);
  return dir;
}

/** A JSON file of `n` random token ids in [0, vocab). */
export function writeCalibTokens(file: string, n = 512, seed = 3): string {
  const r = rng(seed);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(Array.from({ length: n }, () => Math.floor(r() * SPEC.vocab))));
  return file;
}

/**
 * The tiny model in `dir` and 4 calibration windows of 16 of its random tokens (contiguous,
 * seeded): what the calibration-pass tests run on. `calibration()` draws a fresh set.
 */
export function tinyCalibrated(dir: string): { model: string; calibration: () => CalibrationSet } {
  const model = writeTinyModel(path.join(dir, 'tiny'));
  const ids = JSON.parse(fs.readFileSync(writeCalibTokens(path.join(dir, 'calib.json')), 'utf8')) as number[];
  return { model, calibration: () => windowsFromStream(ids, { samples: 4, seqLen: 16, sampling: 'contiguous', seed: 0 }, 'calib.json') };
}

/** The same shapes as a llama2.c checkpoint (uniform random weights) with a tokenizer beside it; returns the .bin. */
export function writeTinyLlama2c(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'model.bin');
  fs.writeFileSync(file, buildLlama2cLegacy(SPEC, 64));
  fs.writeFileSync(path.join(dir, `tok${SPEC.vocab}.bin`), buildLlama2cTokenizer(SPEC.vocab));
  return file;
}

/** prune() options for the tiny model: Wanda at 0.5 on 4 calibration sequences of 16 tokens. */
export const tinyPrune = (model: string, calibTokens: string, out: string, extra: Partial<PruneOptions> = {}): PruneOptions => ({
  model,
  method: 'wanda',
  sparsity: 0.5,
  calibTokens,
  calibSamples: 4,
  seqLen: 16,
  out,
  ...extra,
});
