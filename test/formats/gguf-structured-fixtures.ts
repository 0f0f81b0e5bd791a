// Structurally smaller models for the GGUF tests, made by hand (not by lib/prune's
// surgery): block i keeps its first KV groups (with their query heads) and its first
// MLP channels; a width of 0 drops the sublayer's tensors. Plus a tiny GPT-2 HF folder.
import * as path from 'node:path';

import { withBlockShapes } from '../../lib/model/shapes';
import { BlockShape, LoadedModel, Tensor } from '../../lib/model/types';
import { llamaConfig, llamaTensors, randomData, StTensor, TinyLlamaSpec, writeHFDir } from './fixtures';

type Data = Float32Array | Uint16Array;

/** The first `rows` rows of a row-major [*, cols] matrix (or vector, cols = 1). */
function firstRows(d: Data, rows: number, cols: number): Data {
  return d.slice(0, rows * cols);
}

/** The first `keep` columns of a row-major [rows, cols] matrix. */
function firstCols(d: Data, rows: number, cols: number, keep: number): Data {
  const out = new (d.constructor as { new (n: number): Data })(rows * keep);
  for (let r = 0; r < rows; r++) out.set(d.subarray(r * cols, r * cols + keep), r * keep);
  return out;
}

/**
 * `model` cut to `shapes` (one per block). Each block's numHeads / numKvHeads must be in
 * the model's ratio (whole KV groups kept). The result's tensors are copies.
 */
export function sliceModel(model: LoadedModel, shapes: BlockShape[]): LoadedModel {
  const c = model.config;
  const hd = c.headDim;
  const tensors = new Map<string, Tensor>();
  const put = (name: string, shape: number[], data: Data) => tensors.set(name, { name, dtype: model.tensors.get(name)!.dtype, shape, data });
  for (const [name, t] of model.tensors) {
    const m = /^blocks\.(\d+)\.(.+)$/.exec(name);
    if (!m) {
      put(name, [...t.shape], t.data.slice());
      continue;
    }
    const b = shapes[Number(m[1])];
    const part = m[2];
    const cols = t.shape[1] ?? 1;
    if (/^attn/.test(part) && b.numHeads === 0) continue;
    if (/^mlp/.test(part) && b.intermediateSize === 0) continue;
    if (/^attn\.q\./.test(part)) put(name, [b.numHeads * hd, ...t.shape.slice(1)], firstRows(t.data, b.numHeads * hd, cols));
    else if (/^attn\.[kv]\./.test(part)) put(name, [b.numKvHeads * hd, ...t.shape.slice(1)], firstRows(t.data, b.numKvHeads * hd, cols));
    else if (part === 'attn.o.weight') put(name, [t.shape[0], b.numHeads * hd], firstCols(t.data, t.shape[0], t.shape[1], b.numHeads * hd));
    else if (/^mlp\.(gate|up|fc1)\./.test(part)) put(name, [b.intermediateSize, ...t.shape.slice(1)], firstRows(t.data, b.intermediateSize, cols));
    else if (/^mlp\.(down|fc2)\.weight$/.test(part)) put(name, [t.shape[0], b.intermediateSize], firstCols(t.data, t.shape[0], t.shape[1], b.intermediateSize));
    else put(name, [...t.shape], t.data.slice());
  }
  return { ...model, config: withBlockShapes(c, shapes), tensors, close: () => undefined };
}

/** A random Qwen2 HF folder (q/k/v biases), weights scaled by 1/4 (norms near 1). */
export function writeTinyQwen2(dir: string, s: TinyLlamaSpec = { hidden: 64, heads: 4, kvHeads: 2, inter: 96, layers: 3, vocab: 64, qkvBias: true }): string {
  const tensors = llamaTensors(s, 'F32', 900);
  for (const t of tensors) {
    const norm = /norm\.weight$/.test(t.name);
    (t.data as Float32Array).forEach((v, j, a) => (a[j] = norm ? 1 + v / 4 : v / 4));
  }
  writeHFDir(dir, llamaConfig(s, { architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2' }), tensors, 1, false);
  return path.resolve(dir);
}

/** A random GPT-2 HF folder (GPT2Model names, Conv1D [in, out] weights), scaled to keep activations moderate. */
export function writeTinyGPT2(dir: string, s = { hidden: 32, heads: 4, ff: 48, vocab: 40, positions: 64, layers: 2 }): string {
  const spec: [string, number[]][] = [
    ['wte.weight', [s.vocab, s.hidden]],
    ['wpe.weight', [s.positions, s.hidden]],
    ['ln_f.weight', [s.hidden]],
    ['ln_f.bias', [s.hidden]],
  ];
  for (let i = 0; i < s.layers; i++) {
    const p = `h.${i}.`;
    spec.push([`${p}ln_1.weight`, [s.hidden]], [`${p}ln_1.bias`, [s.hidden]], [`${p}ln_2.weight`, [s.hidden]], [`${p}ln_2.bias`, [s.hidden]]);
    spec.push([`${p}attn.c_attn.weight`, [s.hidden, 3 * s.hidden]], [`${p}attn.c_attn.bias`, [3 * s.hidden]]);
    spec.push([`${p}attn.c_proj.weight`, [s.hidden, s.hidden]], [`${p}attn.c_proj.bias`, [s.hidden]]);
    spec.push([`${p}mlp.c_fc.weight`, [s.hidden, s.ff]], [`${p}mlp.c_fc.bias`, [s.ff]]);
    spec.push([`${p}mlp.c_proj.weight`, [s.ff, s.hidden]], [`${p}mlp.c_proj.bias`, [s.hidden]]);
  }
  const tensors: StTensor[] = spec.map(([name, shape], i) => {
    const d = randomData('F32', shape.reduce((a, b) => a * b, 1), 500 + i) as Float32Array;
    // Norm weights near 1, everything else small.
    const norm = /ln_.*weight/.test(name);
    d.forEach((v, j) => (d[j] = norm ? 1 + v / 4 : v / 4));
    return { name, dtype: 'F32', shape, data: d };
  });
  writeHFDir(
    dir,
    {
      architectures: ['GPT2LMHeadModel'],
      model_type: 'gpt2',
      n_embd: s.hidden,
      n_layer: s.layers,
      n_head: s.heads,
      vocab_size: s.vocab,
      n_positions: s.positions,
      n_inner: s.ff,
      layer_norm_epsilon: 1e-5,
      activation_function: 'gelu_new',
    },
    tensors,
    1,
    false,
  );
  return path.resolve(dir);
}

/** A SentencePiece-style GGUF vocabulary of `n` tokens (what llama.cpp needs to load a model). */
export function plainVocabEntries(n: number) {
  return [
    { key: 'tokenizer.ggml.model', type: 'string' as const, value: 'llama' },
    { key: 'tokenizer.ggml.tokens', type: 'array' as const, itemType: 'string' as const, value: Array.from({ length: n }, (_, i) => `tok${i}`) },
    { key: 'tokenizer.ggml.scores', type: 'array' as const, itemType: 'float32' as const, value: Array.from({ length: n }, (_, i) => -i / 4) },
    { key: 'tokenizer.ggml.token_type', type: 'array' as const, itemType: 'int32' as const, value: Array.from({ length: n }, () => 1) },
  ];
}
