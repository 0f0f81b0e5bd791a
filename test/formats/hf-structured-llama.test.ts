// Structurally pruned Llama-family models written as stock Hugging Face models and read
// back: reduced widths and explicit head_dim in config.json, the bias flags (and zero
// biases) that bias compensation needs, the family switches that keep the stock classes
// loading them, and the same forward pass before and after.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { ForwardModel } from '../../lib/forward/model';
import { loadModel } from '../../lib/formats/load';
import { writeHF } from '../../lib/formats/write-hf';
import { perplexity } from '../../lib/eval/perplexity';
import { LoadedModel, Tensor } from '../../lib/model/types';
import { randomModel } from '../forward/random-model';
import { rng } from '../support/random';
import { expectSameTensors, tempDir } from './helpers';
import { addBias, asLoaded, dropBlock, keepChannels, keepKvGroups, Reducible } from './hf-structured-slice';

const DEMO = path.resolve(__dirname, '..', '..', 'assets', 'demo-model');

async function logitsOf(m: Reducible, tokens: number[]): Promise<Float32Array> {
  const f = new ForwardModel(m, { backend: 'cpu' });
  return f.logits(await f.forward(tokens, 1, tokens.length));
}

function tokens(n: number, vocab: number, seed = 5): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.floor(r() * vocab));
}

const readConfig = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
const copyOf = (m: { config: LoadedModel['config']; tensors: Map<string, Tensor> }): Reducible => ({ config: { ...m.config }, tensors: new Map(m.tensors) });

/** Writes `m`, reads it back, and checks that the logits are unchanged; returns config.json and the read model. */
async function roundTrip(m: Reducible, family?: string, meta?: Record<string, unknown>) {
  const out = path.join(tempDir('shears-hf-structured-'), 'out');
  await writeHF(asLoaded(m, family, meta), out, { tokenizer: false });
  const back = await loadModel(out);
  const ids = tokens(12, m.config.vocabSize);
  expect(Array.from(await logitsOf(back, ids))).toEqual(Array.from(await logitsOf(m, ids)));
  return { config: readConfig(out), back, out };
}

const tiny = (extra: Parameters<typeof randomModel>[0] = { architecture: 'llama' }) =>
  copyOf(randomModel({ hidden: 32, heads: 4, kvHeads: 2, intermediate: 40, layers: 2, ropeLayout: 'rotate_half', ...extra }));

describe('HF output of structurally pruned Llama models', () => {
  test('demo model without a KV group, 3/4 of its MLP and its last block: config, tensors and perplexity survive the round trip', async () => {
    const demo = await loadModel(DEMO);
    try {
      const m = dropBlock(keepChannels(keepKvGroups(copyOf(demo), 1), 384), 3);
      const out = path.join(tempDir('shears-hf-structured-'), 'demo-pruned');
      await writeHF({ ...asLoaded(m, 'llama', demo.meta), path: demo.path, tokenizer: demo.tokenizer }, out);
      const cfg = readConfig(out);
      expect(cfg).toMatchObject({
        model_type: 'llama',
        architectures: ['LlamaForCausalLM'],
        hidden_size: 256,
        num_attention_heads: 2,
        num_key_value_heads: 1,
        head_dim: 64, // 256 / 2 would be 128: the explicit head_dim is what keeps the heads' size
        intermediate_size: 384,
        num_hidden_layers: 3,
        attention_bias: false,
        mlp_bias: false,
      });
      expect(fs.existsSync(path.join(out, 'tokenizer.json'))).toBe(true);
      const back = await loadModel(out);
      try {
        expect(back.config).toMatchObject({ numHeads: 2, numKvHeads: 1, headDim: 64, intermediateSize: 384, numLayers: 3 });
        expect(back.config.blocks).toBeUndefined();
        expectSameTensors({ ...asLoaded(m) }, back);
        const ids = tokens(2 * 64, m.config.vocabSize);
        const before = await perplexity(new ForwardModel(m, { backend: 'cpu' }), ids, { seqLen: 64 });
        const after = await perplexity(new ForwardModel(back, { backend: 'cpu' }), ids, { seqLen: 64 });
        expect(after.perplexity).toBe(before.perplexity);
        const dense = await perplexity(new ForwardModel(demo, { backend: 'cpu' }), ids, { seqLen: 64 });
        expect(after.perplexity).not.toBe(dense.perplexity); // the reduction took effect
      } finally {
        back.close();
      }
    } finally {
      demo.close();
    }
  });

  test('o and down biases from bias compensation: attention_bias and mlp_bias, the other biases written as zeros', async () => {
    const m = keepChannels(keepKvGroups(tiny(), 1), 24);
    addBias(m, 'blocks.0.attn.o.bias', 32, 1);
    addBias(m, 'blocks.1.mlp.down.bias', 32, 2);
    const { config, back } = await roundTrip(m);
    expect(config).toMatchObject({ model_type: 'llama', attention_bias: true, mlp_bias: true, head_dim: 8, num_attention_heads: 2, intermediate_size: 24 });
    for (let i = 0; i < 2; i++)
      for (const [b, n] of [['attn.q', 16], ['attn.k', 8], ['attn.v', 8], ['attn.o', 32], ['mlp.gate', 24], ['mlp.up', 24], ['mlp.down', 32]] as const) {
        const t = back.tensors.get(`blocks.${i}.${b}.bias`);
        expect({ name: `blocks.${i}.${b}.bias`, shape: t?.shape }).toEqual({ name: `blocks.${i}.${b}.bias`, shape: [n] });
        const own = m.tensors.get(`blocks.${i}.${b}.bias`);
        expect(Array.from(t!.data)).toEqual(own ? Array.from(own.data) : new Array(n).fill(0));
      }
    back.close();
  });

  test('a Qwen2 model with an o bias is written as Llama (Qwen2 has no o_proj bias); with q/k/v biases alone it stays Qwen2', async () => {
    const qwen = () => keepKvGroups(tiny({ architecture: 'llama', family: 'qwen2', qkvBias: true }), 1);
    const withO = addBias(qwen(), 'blocks.1.attn.o.bias', 32, 3);
    const a = await roundTrip(withO, 'qwen2');
    expect(a.config).toMatchObject({ model_type: 'llama', architectures: ['LlamaForCausalLM'], attention_bias: true, mlp_bias: false });
    expect(a.back.config.family).toBe('llama');
    a.back.close();
    const b = await roundTrip(qwen(), 'qwen2');
    expect(b.config).toMatchObject({ model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'], head_dim: 8, num_attention_heads: 2, num_key_value_heads: 1 });
    expect(b.config).not.toHaveProperty('attention_bias');
    expect(b.back.tensors.has('blocks.0.attn.o.bias')).toBe(false);
    b.back.close();
  });

  test('a Mistral model with a down bias is written as Llama with mlp_bias; one with a sliding window is refused, writing nothing', async () => {
    const mistral = () => addBias(keepChannels(tiny({ architecture: 'llama', family: 'mistral' }), 16), 'blocks.0.mlp.down.bias', 32, 4);
    const a = await roundTrip(mistral(), 'mistral', { hfConfig: { model_type: 'mistral', sliding_window: null } });
    expect(a.config).toMatchObject({ model_type: 'llama', attention_bias: false, mlp_bias: true, intermediate_size: 16 });
    expect(a.back.tensors.has('blocks.0.attn.q.bias')).toBe(false);
    a.back.close();
    const dir = tempDir('shears-hf-structured-');
    const out = path.join(dir, 'out');
    const windowed = asLoaded(mistral(), 'mistral', { hfConfig: { model_type: 'mistral', sliding_window: 64 } });
    await expect(writeHF(windowed, out, { tokenizer: false })).rejects.toMatchObject({ code: 'E_HF_STRUCTURE', message: expect.stringMatching(/sliding-window attention \(64 tokens\)/) });
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  test('a Llama whose remaining heads do not divide the hidden size: Mistral without a window; with an o bias, refused', async () => {
    const mha = () => keepKvGroups(tiny({ architecture: 'llama', kvHeads: 4 }), 3); // 3 heads of 8, hidden 32
    const { config, back } = await roundTrip(mha());
    expect(config).toMatchObject({ model_type: 'mistral', architectures: ['MistralForCausalLM'], num_attention_heads: 3, head_dim: 8, sliding_window: null });
    back.close();
    const dir = tempDir('shears-hf-structured-');
    const err = await writeHF(asLoaded(addBias(mha(), 'blocks.0.attn.o.bias', 32, 6)), path.join(dir, 'out'), { tokenizer: false }).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'E_HF_STRUCTURE', message: expect.stringMatching(/3 attention heads, which do not divide its hidden size 32/) });
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  test('per-block widths that are all equal are written as the model-wide ones', async () => {
    const m = keepChannels(keepChannels(tiny(), 24, 0), 24, 1);
    // Widths listed per block (all equal), with a model-wide intermediateSize left stale.
    const listed = { ...m, config: { ...m.config, intermediateSize: 40, blocks: [0, 1].map(() => ({ numHeads: 4, numKvHeads: 2, intermediateSize: 24 })) } };
    const { config, back } = await roundTrip(listed);
    expect(config).toMatchObject({ intermediate_size: 24, num_attention_heads: 4, num_key_value_heads: 2 });
    expect(back.config.blocks).toBeUndefined();
    back.close();
  });

  test('a Mistral or Llama model without biases keeps its family, with the explicit head_dim of its remaining heads', async () => {
    for (const family of ['mistral', 'llama']) {
      const { config, back } = await roundTrip(keepKvGroups(tiny({ architecture: 'llama', family }), 1), family);
      expect(config).toMatchObject({ model_type: family, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 8, hidden_size: 32 });
      expect([...back.tensors.keys()].some((n) => n.endsWith('.bias'))).toBe(false);
      back.close();
    }
  });
});
