// Hugging Face Llama-family directories written by the test: config mapping, sharding,
// dtypes, zero-copy views and round trips through the writers.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { loadModel } from '../../lib/formats/load';
import { writeGGUF } from '../../lib/formats/write-gguf';
import { writeHF } from '../../lib/formats/write-hf';
import { LoadedModel } from '../../lib/model/types';
import { llamaConfig, llamaTensors, StTensor, TINY, writeHFDir, writeSafetensors } from './fixtures';
import { bitsEqual, expectSameTensors, refToRotateHalf, tempDir } from './helpers';

const CANON: Record<string, string> = {
  'model.embed_tokens.weight': 'embed.weight',
  'model.norm.weight': 'final_norm.weight',
  'lm_head.weight': 'lm_head.weight',
};
function canonical(hf: string): string {
  if (CANON[hf]) return CANON[hf];
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(hf)!;
  const map: Record<string, string> = {
    'input_layernorm.weight': 'attn_norm.weight',
    'post_attention_layernorm.weight': 'mlp_norm.weight',
    'mlp.gate_proj.weight': 'mlp.gate.weight',
    'mlp.up_proj.weight': 'mlp.up.weight',
    'mlp.down_proj.weight': 'mlp.down.weight',
  };
  const a = /^self_attn\.([qkvo])_proj\.(weight|bias)$/.exec(m[2]);
  return `blocks.${m[1]}.${a ? `attn.${a[1]}.${a[2]}` : map[m[2]]}`;
}

function expectMatchesSource(m: LoadedModel, src: StTensor[]): void {
  expect(m.tensors.size).toBe(src.length);
  for (const t of src) {
    const u = m.tensors.get(canonical(t.name));
    expect(u).toBeDefined();
    expect(u!.shape).toEqual(t.shape);
    expect(u!.dtype).toBe(t.dtype.toLowerCase());
    expect(bitsEqual(u!.data, t.data)).toBe(true);
  }
}

describe('Hugging Face Llama directories', () => {
  test('config mapping and zero-copy tensors (f32, one file)', async () => {
    const dir = path.join(tempDir(), 'llama');
    const tensors = llamaTensors(TINY, 'F32');
    writeHFDir(dir, llamaConfig(TINY), tensors);
    const m = await loadModel(dir);
    expect(m.format).toBe('hf');
    expect(m.config).toEqual({
      architecture: 'llama',
      family: 'llama',
      hiddenSize: 16,
      intermediateSize: 24,
      numLayers: 2,
      numHeads: 4,
      numKvHeads: 2,
      headDim: 4,
      vocabSize: 32,
      contextLength: 128,
      norm: 'rmsnorm',
      normEps: 1e-6,
      activation: 'silu',
      rope: { layout: 'rotate_half', theta: 500000, dim: 4 },
      positionOffset: 0,
      tiedEmbeddings: false,
      preNorm: true,
      bosTokenId: 1,
      eosTokenId: 2,
    });
    expectMatchesSource(m, tensors);
    const size = fs.statSync(path.join(dir, 'model.safetensors')).size;
    expect(m.tensors.get('embed.weight')!.data.buffer.byteLength).toBe(size); // a view of the mapping
    expect(m.tokenizer).toEqual({
      kind: 'hf',
      tokenizerJsonPath: path.join(dir, 'tokenizer.json'),
      tokenizerConfigPath: path.join(dir, 'tokenizer_config.json'),
    });
    m.close();
    expect(m.tensors.get('embed.weight')!.data.length).toBe(0); // detached: the mapping is released
  });

  test('sharded with an index loads the same tensors', async () => {
    const dir = path.join(tempDir(), 'sharded');
    const tensors = llamaTensors(TINY, 'F32', 5);
    writeHFDir(dir, llamaConfig(TINY), tensors, 3);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors')).length).toBe(3);
    const m = await loadModel(dir);
    expectMatchesSource(m, tensors);
    expect(m.meta.safetensorsFiles).toHaveLength(3);
    m.close();
  });

  test.each(['F16', 'BF16'] as const)('%s weights keep their dtype and bits', async (dt) => {
    const dir = path.join(tempDir(), dt);
    const tensors = llamaTensors(TINY, dt, 9);
    writeHFDir(dir, llamaConfig(TINY), tensors);
    const m = await loadModel(dir);
    expectMatchesSource(m, tensors);
    m.close();
  });

  test('unaligned safetensors data is copied into aligned arrays, same bits', async () => {
    const dir = path.join(tempDir(), 'unaligned');
    const tensors = llamaTensors(TINY, 'F32', 11);
    writeHFDir(dir, llamaConfig(TINY), tensors);
    expect(writeSafetensors(path.join(dir, 'model.safetensors'), tensors, 2) % 8).toBe(2);
    const m = await loadModel(dir);
    expectMatchesSource(m, tensors);
    expect(m.tensors.get('embed.weight')!.data.byteOffset).toBe(0); // its own aligned copy
    m.close();
  });

  test('tied embeddings, Llama-3 rope scaling, Mistral and Qwen2 (q/k/v biases)', async () => {
    const root = tempDir();
    const tied = { ...TINY, tied: true };
    writeHFDir(
      path.join(root, 'l3'),
      llamaConfig(tied, {
        rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
      }),
      llamaTensors(tied, 'F32'),
    );
    const l3 = await loadModel(path.join(root, 'l3'));
    expect(l3.config.tiedEmbeddings).toBe(true);
    expect(l3.tensors.has('lm_head.weight')).toBe(false);
    expect(l3.config.rope?.scaling).toEqual({ type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContextLength: 8192 });
    l3.close();

    writeHFDir(path.join(root, 'mistral'), llamaConfig(TINY, { model_type: 'mistral', sliding_window: 4096 }), llamaTensors(TINY, 'F32'));
    const mi = await loadModel(path.join(root, 'mistral'));
    expect(mi.config.family).toBe('mistral');
    mi.close();

    const q = { ...TINY, qkvBias: true };
    const qt = llamaTensors(q, 'BF16');
    writeHFDir(path.join(root, 'qwen2'), llamaConfig(q, { model_type: 'qwen2', rope_theta: 1000000 }), qt);
    const qw = await loadModel(path.join(root, 'qwen2'));
    expect(qw.config.family).toBe('qwen2');
    expect(qw.config.rope?.theta).toBe(1000000);
    expectMatchesSource(qw, qt);
    expect(qw.tensors.get('blocks.1.attn.k.bias')!.shape).toEqual([8]);
    // Qwen2 -> HF keeps the family and its biases
    await writeHF(qw, path.join(root, 'qwen2-out'));
    const back = await loadModel(path.join(root, 'qwen2-out'));
    expect(back.config).toEqual(qw.config);
    expectSameTensors(qw, back);
    back.close();
    qw.close();
  });

  test('missing tokenizer.json is flagged, not fatal', async () => {
    const dir = path.join(tempDir(), 'notok');
    writeHFDir(dir, llamaConfig(TINY), llamaTensors(TINY, 'F32'), 1, false);
    const m = await loadModel(dir);
    expect(m.tokenizer.kind).toBe('none');
    if (m.tokenizer.kind === 'none') expect(m.tokenizer.reason).toContain('tokenizer.json');
    m.close();
  });

  test.each(['F32', 'F16', 'BF16'] as const)('HF (%s) -> GGUF -> HF is bit-identical', async (dt) => {
    const root = tempDir();
    writeHFDir(path.join(root, 'a'), llamaConfig(TINY), llamaTensors(TINY, dt, 3));
    const a = await loadModel(path.join(root, 'a'));
    await writeGGUF(a, path.join(root, 'b.gguf'));
    const b = await loadModel(path.join(root, 'b.gguf'));
    expect(b.config.rope?.layout).toBe('interleaved');
    expect(b.tensors.get('blocks.0.attn.q.weight')!.dtype).toBe(dt.toLowerCase());
    expect(b.tensors.get('blocks.0.attn_norm.weight')!.dtype).toBe('f32'); // norms stay f32 in GGUF
    // GGUF holds Q/K interleaved: the TS reference brings them back to HF order
    const q = b.tensors.get('blocks.1.attn.q.weight')!.data;
    const k = b.tensors.get('blocks.1.attn.k.weight')!.data;
    expect(bitsEqual(refToRotateHalf(q, 4, 4), a.tensors.get('blocks.1.attn.q.weight')!.data)).toBe(true);
    expect(bitsEqual(refToRotateHalf(k, 2, 4), a.tensors.get('blocks.1.attn.k.weight')!.data)).toBe(true);
    expect(bitsEqual(q, a.tensors.get('blocks.1.attn.q.weight')!.data)).toBe(false);
    await writeHF(b, path.join(root, 'c'), { dtype: dt === 'F32' ? undefined : (dt.toLowerCase() as 'f16' | 'bf16') });
    const c = await loadModel(path.join(root, 'c'));
    expect(c.config.rope?.layout).toBe('rotate_half');
    expect(c.config).toEqual({ ...a.config, contextLength: a.config.contextLength });
    expectSameTensors(a, c);
    for (const m of [a, b, c]) m.close();
  });

  test('HF -> HF written config.json is transformers-style and round-trips the config', async () => {
    const root = tempDir();
    writeHFDir(path.join(root, 'a'), llamaConfig(TINY, { custom_field: 7 }), llamaTensors(TINY, 'F32'));
    const a = await loadModel(path.join(root, 'a'));
    await writeHF(a, path.join(root, 'b'), { dtype: 'bf16' });
    const cfg = JSON.parse(fs.readFileSync(path.join(root, 'b', 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({ architectures: ['LlamaForCausalLM'], model_type: 'llama', torch_dtype: 'bfloat16', num_key_value_heads: 2, custom_field: 7 });
    const b = await loadModel(path.join(root, 'b'));
    expect(b.config).toEqual(a.config);
    expect([...b.tensors.values()].every((t) => t.dtype === 'bf16')).toBe(true);
    a.close();
    b.close();
  });

  test('large outputs are sharded with an index that the reader accepts', async () => {
    const root = tempDir();
    writeHFDir(path.join(root, 'a'), llamaConfig(TINY), llamaTensors(TINY, 'F32'));
    const a = await loadModel(path.join(root, 'a'));
    await writeHF(a, path.join(root, 'b'), { maxShardBytes: 4096 });
    const files = fs.readdirSync(path.join(root, 'b')).filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));
    expect(files.length).toBeGreaterThan(2);
    const index = JSON.parse(fs.readFileSync(path.join(root, 'b', 'model.safetensors.index.json'), 'utf8'));
    expect(Object.keys(index.weight_map)).toHaveLength(a.tensors.size);
    expect(index.metadata.total_size).toBe([...a.tensors.values()].reduce((n, t) => n + t.data.byteLength, 0));
    const b = await loadModel(path.join(root, 'b'));
    expectSameTensors(a, b);
    a.close();
    b.close();
  });

  test('Qwen2 (q/k/v biases) -> GGUF (qwen2 architecture, rotate-half kept) -> HF is bit-identical', async () => {
    const root = tempDir();
    const q = { ...TINY, qkvBias: true };
    writeHFDir(path.join(root, 'a'), llamaConfig(q, { model_type: 'qwen2', rope_theta: 1000000 }), llamaTensors(q, 'F32'));
    const a = await loadModel(path.join(root, 'a'));
    await writeGGUF(a, path.join(root, 'b.gguf'));
    const b = await loadModel(path.join(root, 'b.gguf'));
    expect((b.meta.gguf as { key: string; value: unknown }[]).find((e) => e.key === 'general.architecture')?.value).toBe('qwen2');
    expect(b.config).toEqual(a.config); // family qwen2, rotate_half, theta 1e6
    expectSameTensors(a, b); // no permutation for qwen2
    await writeHF(b, path.join(root, 'c'));
    const c = await loadModel(path.join(root, 'c'));
    expect(c.config).toEqual(a.config);
    expectSameTensors(a, c);
    // A 'llama' with q/k/v biases but no o bias is written as qwen2 (Llama's attention_bias means all four).
    await writeHF({ ...a, config: { ...a.config, family: 'llama' } }, path.join(root, 'd'));
    expect(JSON.parse(fs.readFileSync(path.join(root, 'd', 'config.json'), 'utf8')).model_type).toBe('qwen2');
    for (const m of [a, b, c]) m.close();
  });
});
