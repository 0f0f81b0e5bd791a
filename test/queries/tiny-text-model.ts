// A tiny random Llama that reads text: the demo model's tokenizer (2048 tokens) over
// random weights (hidden 16, 2 blocks) and a short context, so that query files can be
// tokenized, continued and measured in milliseconds. `writeTinyPruned` writes the same
// model with the smaller half of every block matrix's entries set to zero.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { llamaConfig, llamaTensors, TinyLlamaSpec, writeHFDir } from '../formats/fixtures';

const DEMO = path.join(__dirname, '..', '..', 'assets', 'demo-model');
export const TEXT_SPEC: TinyLlamaSpec = { hidden: 16, heads: 4, kvHeads: 2, inter: 24, layers: 2, vocab: 2048 };

/**
 * A planted important set: block 0's MLP channels `channels` carry `activation` times
 * larger activations (their up_proj rows scaled up) and their down_proj columns hold
 * weights of one magnitude, `weight` < 1 times the median |w| of the matrix (signs kept).
 * Those down_proj weights are smaller than most of their neighbours (magnitude pruning
 * removes them) while their channels' contribution to the block's output is large: a
 * method that weighs each input column by its activations on the queries must keep them.
 */
export interface Planted {
  channels: number[];
  activation: number;
  weight: number;
}

function plant(tensors: ReturnType<typeof llamaTensors>, p: Planted): void {
  const { hidden, inter } = TEXT_SPEC;
  const up = tensors.find((t) => t.name === 'model.layers.0.mlp.up_proj.weight')!.data as Float32Array;
  const down = tensors.find((t) => t.name === 'model.layers.0.mlp.down_proj.weight')!.data as Float32Array;
  const median = Float32Array.from(down, Math.abs).sort()[down.length >> 1];
  for (const c of p.channels) {
    for (let j = 0; j < hidden; j++) up[c * hidden + j] *= p.activation;
    for (let r = 0; r < hidden; r++) down[r * inter + c] = Math.sign(down[r * inter + c]) * p.weight * median;
  }
}

function write(dir: string, context: number, prune: boolean, planted?: Planted): string {
  const tensors = llamaTensors(TEXT_SPEC, 'F32', 5);
  if (planted) plant(tensors, planted);
  if (prune)
    for (const t of tensors) {
      if (!/layers\.\d+\..*_proj\.weight$/.test(t.name)) continue;
      const d = t.data as Float32Array;
      const cut = Float32Array.from(d, Math.abs).sort()[Math.floor(d.length / 2)];
      d.forEach((v, i) => (d[i] = Math.abs(v) < cut ? 0 : v));
    }
  writeHFDir(dir, llamaConfig(TEXT_SPEC, { max_position_embeddings: context }), tensors, 1, false);
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(DEMO, f), path.join(dir, f));
  return dir;
}

export const writeTinyDense = (dir: string, context = 48): string => write(dir, context, false);
export const writeTinyPruned = (dir: string, context = 48): string => write(dir, context, true);
export const writeTinyPlanted = (dir: string, planted: Planted, context = 48): string => write(dir, context, false, planted);
