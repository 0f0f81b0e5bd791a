// OPT and GPT-2 with MLP channels or blocks removed, written as stock Hugging Face
// models (ffn_dim / n_inner, num_hidden_layers / n_layer) and read back; heads removed
// from them cannot be described by their configs (no head_dim) and are refused.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { ForwardModel } from '../../lib/forward/model';
import { loadModel } from '../../lib/formats/load';
import { writeHF } from '../../lib/formats/write-hf';
import { randomModel } from '../forward/random-model';
import { expectSameTensors, tempDir } from './helpers';
import { asLoaded, dropBlock, keepChannels, keepKvGroups, Reducible } from './hf-structured-slice';

function model(architecture: 'opt' | 'gpt2'): Reducible {
  const m = randomModel({ architecture, hidden: 24, heads: 4, intermediate: 40, layers: 3, seed: 11 });
  return { config: { ...m.config }, tensors: new Map(m.tensors) };
}

async function logitsOf(m: Reducible, ids: number[]): Promise<number[]> {
  const f = new ForwardModel(m, { backend: 'cpu' });
  return Array.from(await f.logits(await f.forward(ids, 1, ids.length)));
}

describe('HF output of OPT and GPT-2 with MLP channels and blocks removed', () => {
  test.each([
    ['opt', { ffn_dim: 24, num_hidden_layers: 2, num_attention_heads: 4, hidden_size: 24 }],
    ['gpt2', { n_inner: 24, n_layer: 2, n_head: 4, n_embd: 24 }],
  ] as const)('%s: the reduced widths in config.json, the same tensors and logits after reading back', async (arch, expected) => {
    const m = dropBlock(keepChannels(model(arch), 24), 1);
    const out = path.join(tempDir('shears-hf-structured-'), 'out');
    await writeHF(asLoaded(m), out, { tokenizer: false });
    expect(JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'))).toMatchObject({ model_type: arch, ...expected });
    const back = await loadModel(out);
    try {
      expect(back.config).toMatchObject({ architecture: arch, intermediateSize: 24, numLayers: 2, numHeads: 4, headDim: 6 });
      expectSameTensors(asLoaded(m), back);
      const ids = [3, 1, 4, 1, 5, 9, 2, 6];
      expect(await logitsOf(back, ids)).toEqual(await logitsOf(m, ids));
    } finally {
      back.close();
    }
  });

  test.each(['opt', 'gpt2'] as const)('%s with heads removed is refused before anything is written, suggesting channels or .gguf', async (arch) => {
    const m = keepKvGroups(model(arch), 2); // 2 of 4 heads: head_dim 6, but 24 / 2 = 12 for transformers
    const dir = tempDir('shears-hf-structured-');
    const out = path.join(dir, 'out');
    const err = await writeHF(asLoaded(m), out, { tokenizer: false }).catch((e: Error) => e);
    expect(err).toMatchObject({ name: 'HFStructureError', code: 'E_HF_STRUCTURE' });
    expect((err as Error).message).toMatch(/no head_dim/);
    expect((err as Error).message).toMatch(/--structure channels/);
    expect((err as Error).message).toMatch(/\.gguf/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
