// OPT and GPT-2 Hugging Face directories written by the test. GPT-2's Conv1D weights
// ([in, out], c_attn fused) are checked against a plain TypeScript split/transpose.
import * as path from 'node:path';

import { loadModel } from '../../lib/formats/load';
import { writeHF } from '../../lib/formats/write-hf';
import { randomData, StDType, StTensor, writeHFDir } from './fixtures';
import { bitsEqual, expectSameTensors, tempDir } from './helpers';

const H = 12;
const HEADS = 3;
const FF = 20;
const V = 30;
const POS = 16;

function tensorsOf(spec: [string, number[]][], dtype: StDType): StTensor[] {
  return spec.map(([name, shape], i) => ({ name, dtype, shape, data: randomData(dtype, shape.reduce((a, b) => a * b, 1), 100 + i) }));
}

function optSpec(layers: number): [string, number[]][] {
  const s: [string, number[]][] = [
    ['model.decoder.embed_tokens.weight', [V, H]],
    ['model.decoder.embed_positions.weight', [POS + 2, H]],
    ['model.decoder.final_layer_norm.weight', [H]],
    ['model.decoder.final_layer_norm.bias', [H]],
  ];
  for (let i = 0; i < layers; i++) {
    const p = `model.decoder.layers.${i}.`;
    for (const x of ['q', 'k', 'v']) s.push([`${p}self_attn.${x}_proj.weight`, [H, H]], [`${p}self_attn.${x}_proj.bias`, [H]]);
    s.push([`${p}self_attn.out_proj.weight`, [H, H]], [`${p}self_attn.out_proj.bias`, [H]]);
    s.push([`${p}self_attn_layer_norm.weight`, [H]], [`${p}self_attn_layer_norm.bias`, [H]]);
    s.push([`${p}fc1.weight`, [FF, H]], [`${p}fc1.bias`, [FF]], [`${p}fc2.weight`, [H, FF]], [`${p}fc2.bias`, [H]]);
    s.push([`${p}final_layer_norm.weight`, [H]], [`${p}final_layer_norm.bias`, [H]]);
  }
  return s;
}

const optConfig = (extra: Record<string, unknown> = {}) => ({
  architectures: ['OPTForCausalLM'],
  model_type: 'opt',
  hidden_size: H,
  ffn_dim: FF,
  num_hidden_layers: 2,
  num_attention_heads: HEADS,
  vocab_size: V,
  max_position_embeddings: POS,
  word_embed_proj_dim: H,
  do_layer_norm_before: true,
  activation_function: 'relu',
  ...extra,
});

function gpt2Spec(layers: number): [string, number[]][] {
  // Hub GPT-2 checkpoints store GPT2Model names (no "transformer." prefix).
  const s: [string, number[]][] = [
    ['wte.weight', [V, H]],
    ['wpe.weight', [POS, H]],
    ['ln_f.weight', [H]],
    ['ln_f.bias', [H]],
  ];
  for (let i = 0; i < layers; i++) {
    const p = `h.${i}.`;
    s.push([`${p}ln_1.weight`, [H]], [`${p}ln_1.bias`, [H]], [`${p}ln_2.weight`, [H]], [`${p}ln_2.bias`, [H]]);
    s.push([`${p}attn.c_attn.weight`, [H, 3 * H]], [`${p}attn.c_attn.bias`, [3 * H]]);
    s.push([`${p}attn.c_proj.weight`, [H, H]], [`${p}attn.c_proj.bias`, [H]]);
    s.push([`${p}mlp.c_fc.weight`, [H, FF]], [`${p}mlp.c_fc.bias`, [FF]]);
    s.push([`${p}mlp.c_proj.weight`, [FF, H]], [`${p}mlp.c_proj.bias`, [H]]);
    s.push([`${p}attn.bias`, [1, 1, POS, POS]]); // old causal-mask buffer, ignored
  }
  return s;
}

const gpt2Config = {
  architectures: ['GPT2LMHeadModel'],
  model_type: 'gpt2',
  n_embd: H,
  n_layer: 2,
  n_head: HEADS,
  vocab_size: V,
  n_positions: POS,
  n_inner: FF,
  layer_norm_epsilon: 1e-5,
  activation_function: 'gelu_new',
};

/** Plain reference: columns [c0, c0 + n) of a row-major [rows, cols] matrix, transposed to [n, rows]. */
function refColsTransposed<T extends Float32Array | Uint16Array>(a: T, rows: number, cols: number, c0: number, n: number): T {
  const out = new (a.constructor as { new (n: number): T })(n * rows);
  for (let r = 0; r < rows; r++) for (let c = 0; c < n; c++) out[c * rows + r] = a[r * cols + c0 + c];
  return out;
}

describe('OPT', () => {
  test('config and tensors map onto the canonical model', async () => {
    const dir = path.join(tempDir(), 'opt');
    const ts = tensorsOf(optSpec(2), 'F16');
    writeHFDir(dir, optConfig(), ts);
    const m = await loadModel(dir);
    expect(m.config).toMatchObject({
      architecture: 'opt',
      family: 'opt',
      norm: 'layernorm',
      activation: 'relu',
      rope: null,
      positionOffset: 2,
      preNorm: true,
      tiedEmbeddings: true,
      contextLength: POS,
      numKvHeads: HEADS,
      headDim: H / HEADS,
      normEps: 1e-5,
    });
    const byName = new Map(ts.map((t) => [t.name, t]));
    const pairs: [string, string][] = [
      ['embed.weight', 'model.decoder.embed_tokens.weight'],
      ['pos_embed.weight', 'model.decoder.embed_positions.weight'],
      ['final_norm.bias', 'model.decoder.final_layer_norm.bias'],
      ['blocks.1.attn.o.weight', 'model.decoder.layers.1.self_attn.out_proj.weight'],
      ['blocks.1.attn.k.bias', 'model.decoder.layers.1.self_attn.k_proj.bias'],
      ['blocks.0.attn_norm.weight', 'model.decoder.layers.0.self_attn_layer_norm.weight'],
      ['blocks.0.mlp_norm.bias', 'model.decoder.layers.0.final_layer_norm.bias'],
      ['blocks.1.mlp.fc2.weight', 'model.decoder.layers.1.fc2.weight'],
    ];
    for (const [c, hf] of pairs) expect(bitsEqual(m.tensors.get(c)!.data, byName.get(hf)!.data)).toBe(true);
    expect(m.tensors.size).toBe(ts.length);
    // HF -> HF round trip
    await writeHF(m, path.join(path.dirname(dir), 'opt2'));
    const b = await loadModel(path.join(path.dirname(dir), 'opt2'));
    expect(b.config).toEqual(m.config);
    expectSameTensors(m, b);
    b.close();
    m.close();
  });

  test('do_layer_norm_before = false gives post-norm', async () => {
    const dir = path.join(tempDir(), 'opt');
    writeHFDir(dir, optConfig({ do_layer_norm_before: false }), tensorsOf(optSpec(2), 'F32'));
    const m = await loadModel(dir);
    expect(m.config.preNorm).toBe(false);
    m.close();
  });

  test('word_embed_proj_dim != hidden_size is a clear unsupported error naming config.json', async () => {
    const dir = path.join(tempDir(), 'opt');
    writeHFDir(dir, optConfig({ word_embed_proj_dim: 8 }), tensorsOf(optSpec(2), 'F32'));
    await expect(loadModel(dir)).rejects.toMatchObject({
      code: 'E_FORMAT',
      file: path.join(dir, 'config.json'),
      message: expect.stringContaining('word_embed_proj_dim 8'),
    });
  });
});

describe('GPT-2', () => {
  test('Conv1D weights are split and transposed exactly like the TS reference', async () => {
    const dir = path.join(tempDir(), 'gpt2');
    const ts = tensorsOf(gpt2Spec(2), 'F32');
    writeHFDir(dir, gpt2Config, ts);
    const m = await loadModel(dir);
    expect(m.config).toMatchObject({
      architecture: 'gpt2',
      activation: 'gelu_tanh',
      norm: 'layernorm',
      rope: null,
      positionOffset: 0,
      tiedEmbeddings: true,
      intermediateSize: FF,
    });
    const t = new Map(ts.map((x) => [x.name, x.data]));
    for (let i = 0; i < 2; i++) {
      const attn = t.get(`h.${i}.attn.c_attn.weight`)!;
      const bias = t.get(`h.${i}.attn.c_attn.bias`)!;
      ['q', 'k', 'v'].forEach((p, j) => {
        const w = m.tensors.get(`blocks.${i}.attn.${p}.weight`)!;
        expect(w.shape).toEqual([H, H]);
        expect(bitsEqual(w.data, refColsTransposed(attn, H, 3 * H, j * H, H))).toBe(true);
        expect(bitsEqual(m.tensors.get(`blocks.${i}.attn.${p}.bias`)!.data, bias.subarray(j * H, (j + 1) * H))).toBe(true);
      });
      const fc1 = m.tensors.get(`blocks.${i}.mlp.fc1.weight`)!;
      expect(fc1.shape).toEqual([FF, H]);
      expect(bitsEqual(fc1.data, refColsTransposed(t.get(`h.${i}.mlp.c_fc.weight`)!, H, FF, 0, FF))).toBe(true);
      const fc2 = m.tensors.get(`blocks.${i}.mlp.fc2.weight`)!;
      expect(fc2.shape).toEqual([H, FF]);
      expect(bitsEqual(fc2.data, refColsTransposed(t.get(`h.${i}.mlp.c_proj.weight`)!, FF, H, 0, H))).toBe(true);
      expect(bitsEqual(m.tensors.get(`blocks.${i}.attn.o.weight`)!.data, refColsTransposed(t.get(`h.${i}.attn.c_proj.weight`)!, H, H, 0, H))).toBe(true);
    }
    expect(bitsEqual(m.tensors.get('pos_embed.weight')!.data, t.get('wpe.weight')!)).toBe(true);
    m.close();
  });

  test.each(['F32', 'BF16'] as const)('GPT-2 (%s) HF -> HF fuses c_attn back: bit-identical after reload', async (dt) => {
    const root = tempDir();
    writeHFDir(path.join(root, 'a'), gpt2Config, tensorsOf(gpt2Spec(2), dt));
    const a = await loadModel(path.join(root, 'a'));
    await writeHF(a, path.join(root, 'b'));
    const b = await loadModel(path.join(root, 'b'));
    expect(b.config).toEqual(a.config);
    expectSameTensors(a, b);
    a.close();
    b.close();
  });
});
