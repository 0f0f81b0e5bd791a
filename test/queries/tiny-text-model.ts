// A tiny random Llama that reads text: the demo model's tokenizer (2048 tokens) over
// random weights (hidden 16, 2 blocks) and a short context, so that query files can be
// tokenized, continued and measured in milliseconds. `writeTinyPruned` writes the same
// model with the smaller half of every block matrix's entries set to zero.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { llamaConfig, llamaTensors, TinyLlamaSpec, writeHFDir } from '../formats/fixtures';

const DEMO = path.join(__dirname, '..', '..', 'assets', 'demo-model');
export const TEXT_SPEC: TinyLlamaSpec = { hidden: 16, heads: 4, kvHeads: 2, inter: 24, layers: 2, vocab: 2048 };

function write(dir: string, context: number, prune: boolean): string {
  const tensors = llamaTensors(TEXT_SPEC, 'F32', 5);
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
