// The committed demo model: a Hugging Face Llama checkpoint whose safetensors header
// agrees with config.json (names, shapes, dtype, contiguous data) and which fits the
// repository's 8 MB budget.
import * as fs from 'node:fs';
import * as path from 'node:path';

const ASSETS = path.resolve(__dirname, '..', '..', 'assets', 'demo-model');

interface Config {
  architectures: string[];
  model_type: string;
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  max_position_embeddings: number;
  rope_theta: number;
  rms_norm_eps: number;
  tie_word_embeddings: boolean;
  torch_dtype: string;
  bos_token_id: number;
  eos_token_id: number;
}

interface Entry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

const config = JSON.parse(fs.readFileSync(path.join(ASSETS, 'config.json'), 'utf8')) as Config;
const metrics = JSON.parse(fs.readFileSync(path.join(ASSETS, 'metrics.json'), 'utf8')) as {
  parameters: number;
  validation_ppl: number;
  validation_unigram_ppl: number;
};

function readHeader(file: string): { header: Record<string, Entry>; dataBytes: number } {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const parsed = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, Entry>;
  delete parsed.__metadata__;
  return { header: parsed, dataBytes: buf.length - 8 - n };
}

function expectedShapes(c: Config): Map<string, number[]> {
  const d = c.hidden_size;
  const hd = d / c.num_attention_heads;
  const kv = c.num_key_value_heads * hd;
  const m = new Map<string, number[]>([
    ['model.embed_tokens.weight', [c.vocab_size, d]],
    ['model.norm.weight', [d]],
  ]);
  if (!c.tie_word_embeddings) m.set('lm_head.weight', [c.vocab_size, d]);
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `model.layers.${i}.`;
    m.set(`${p}self_attn.q_proj.weight`, [d, d]);
    m.set(`${p}self_attn.k_proj.weight`, [kv, d]);
    m.set(`${p}self_attn.v_proj.weight`, [kv, d]);
    m.set(`${p}self_attn.o_proj.weight`, [d, d]);
    m.set(`${p}mlp.gate_proj.weight`, [c.intermediate_size, d]);
    m.set(`${p}mlp.up_proj.weight`, [c.intermediate_size, d]);
    m.set(`${p}mlp.down_proj.weight`, [d, c.intermediate_size]);
    m.set(`${p}input_layernorm.weight`, [d]);
    m.set(`${p}post_attention_layernorm.weight`, [d]);
  }
  return m;
}

describe('assets/demo-model', () => {
  test('config.json describes a LlamaForCausalLM', () => {
    expect(config.architectures).toEqual(['LlamaForCausalLM']);
    expect(config.model_type).toBe('llama');
    expect(config.torch_dtype).toBe('float16');
    expect(config.hidden_size % config.num_attention_heads).toBe(0);
    expect(config.num_attention_heads % config.num_key_value_heads).toBe(0);
    expect(config.rope_theta).toBeGreaterThan(0);
    expect(config.rms_norm_eps).toBeGreaterThan(0);
    expect([config.bos_token_id, config.eos_token_id]).toEqual([1, 2]);
  });

  test('model.safetensors holds exactly the HF tensors, f16, contiguous', () => {
    const { header, dataBytes } = readHeader(path.join(ASSETS, 'model.safetensors'));
    const want = expectedShapes(config);
    expect(Object.keys(header).sort()).toEqual([...want.keys()].sort());
    const entries = Object.values(header).sort((a, b) => a.data_offsets[0] - b.data_offsets[0]);
    let offset = 0;
    let params = 0;
    for (const [name, e] of Object.entries(header)) {
      expect({ name, dtype: e.dtype, shape: e.shape }).toEqual({ name, dtype: 'F16', shape: want.get(name) });
    }
    for (const e of entries) {
      const count = e.shape.reduce((a, b) => a * b, 1);
      expect(e.data_offsets).toEqual([offset, offset + 2 * count]);
      offset += 2 * count;
      params += count;
    }
    expect(offset).toBe(dataBytes);
    expect(params).toBe(metrics.parameters);
  });

  test('fits the 8 MB repository budget', () => {
    const total = fs.readdirSync(ASSETS).reduce((n, f) => n + fs.statSync(path.join(ASSETS, f)).size, 0);
    expect(total).toBeLessThanOrEqual(8 * 1024 * 1024);
  });

  test('the model beats a unigram model on validation by a wide margin', () => {
    expect(metrics.validation_ppl * 3).toBeLessThan(metrics.validation_unigram_ppl);
  });
});
