// Small model files written by the tests themselves, with their own minimal encoders
// (independent of lib/formats), filled with seeded random values.
import * as fs from 'node:fs';
import * as path from 'node:path';

export type StDType = 'F32' | 'F16' | 'BF16';

import { rng } from '../support/random';

export { rng };

/** Random finite values: float32 in [-1, 1), or random finite f16 / bf16 bit patterns. */
export function randomData(dtype: StDType, n: number, seed: number): Float32Array | Uint16Array {
  const r = rng(seed);
  if (dtype === 'F32') {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = r() * 2 - 1;
    return a;
  }
  const a = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const sign = r() < 0.5 ? 0x8000 : 0;
    if (dtype === 'F16') a[i] = sign | ((5 + Math.floor(r() * 20)) << 10) | Math.floor(r() * 1024);
    else a[i] = sign | ((110 + Math.floor(r() * 20)) << 7) | Math.floor(r() * 128);
  }
  return a;
}

export interface StTensor {
  name: string;
  dtype: StDType;
  shape: number[];
  data: Float32Array | Uint16Array;
}

export function bufOf(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** A safetensors file; returns the data start. `misalign` puts the data start at 8k + misalign. */
export function writeSafetensors(file: string, tensors: StTensor[], misalign = 0): number {
  const header: Record<string, unknown> = {};
  let off = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.data.byteLength] };
    off += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((((misalign - 8 - json.length) % 8) + 8) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([len, Buffer.from(json), ...tensors.map((t) => bufOf(t.data))]));
  return 8 + json.length;
}

export interface TinyLlamaSpec {
  hidden: number;
  heads: number;
  kvHeads: number;
  inter: number;
  layers: number;
  vocab: number;
  tied?: boolean;
  qkvBias?: boolean;
}

export const TINY: TinyLlamaSpec = { hidden: 16, heads: 4, kvHeads: 2, inter: 24, layers: 2, vocab: 32 };

/** HF-named tensors of a random Llama-family model. */
export function llamaTensors(s: TinyLlamaSpec, dtype: StDType, seed = 1): StTensor[] {
  const hd = s.hidden / s.heads;
  const out: StTensor[] = [];
  let k = seed;
  const add = (name: string, shape: number[]) =>
    out.push({ name, dtype, shape, data: randomData(dtype, shape.reduce((a, b) => a * b, 1), k++) });
  add('model.embed_tokens.weight', [s.vocab, s.hidden]);
  for (let i = 0; i < s.layers; i++) {
    const p = `model.layers.${i}.`;
    add(`${p}input_layernorm.weight`, [s.hidden]);
    add(`${p}self_attn.q_proj.weight`, [s.heads * hd, s.hidden]);
    add(`${p}self_attn.k_proj.weight`, [s.kvHeads * hd, s.hidden]);
    add(`${p}self_attn.v_proj.weight`, [s.kvHeads * hd, s.hidden]);
    if (s.qkvBias) {
      add(`${p}self_attn.q_proj.bias`, [s.heads * hd]);
      add(`${p}self_attn.k_proj.bias`, [s.kvHeads * hd]);
      add(`${p}self_attn.v_proj.bias`, [s.kvHeads * hd]);
    }
    add(`${p}self_attn.o_proj.weight`, [s.hidden, s.heads * hd]);
    add(`${p}post_attention_layernorm.weight`, [s.hidden]);
    add(`${p}mlp.gate_proj.weight`, [s.inter, s.hidden]);
    add(`${p}mlp.up_proj.weight`, [s.inter, s.hidden]);
    add(`${p}mlp.down_proj.weight`, [s.hidden, s.inter]);
  }
  add('model.norm.weight', [s.hidden]);
  if (!s.tied) add('lm_head.weight', [s.vocab, s.hidden]);
  return out;
}

export function llamaConfig(s: TinyLlamaSpec, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: s.hidden,
    intermediate_size: s.inter,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    num_key_value_heads: s.kvHeads,
    vocab_size: s.vocab,
    max_position_embeddings: 128,
    rms_norm_eps: 1e-6,
    rope_theta: 500000,
    hidden_act: 'silu',
    tie_word_embeddings: !!s.tied,
    bos_token_id: 1,
    eos_token_id: 2,
    ...extra,
  };
}

/** Writes an HF directory; `shards` > 1 splits the tensors over that many files with an index. */
export function writeHFDir(dir: string, config: Record<string, unknown>, tensors: StTensor[], shards = 1, tokenizer = true): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  if (tokenizer) {
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify({ version: '1.0', model: { type: 'BPE', vocab: {}, merges: [] } }));
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<s>' }));
  }
  if (shards === 1) {
    writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
    return;
  }
  const map: Record<string, string> = {};
  const per = Math.ceil(tensors.length / shards);
  for (let s = 0; s < shards; s++) {
    const name = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
    const part = tensors.slice(s * per, (s + 1) * per);
    part.forEach((t) => (map[t.name] = name));
    writeSafetensors(path.join(dir, name), part);
  }
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: map }));
}

// ---- GGUF (minimal independent encoder) ----

export type GgufKV = { key: string; type: number; value: unknown; itemType?: number };

function ggufScalar(type: number, v: unknown): Buffer {
  const b = Buffer.alloc(8);
  switch (type) {
    case 0: b.writeUInt8(v as number); return b.subarray(0, 1);
    case 1: b.writeInt8(v as number); return b.subarray(0, 1);
    case 2: b.writeUInt16LE(v as number); return b.subarray(0, 2);
    case 3: b.writeInt16LE(v as number); return b.subarray(0, 2);
    case 4: b.writeUInt32LE(v as number); return b.subarray(0, 4);
    case 5: b.writeInt32LE(v as number); return b.subarray(0, 4);
    case 6: b.writeFloatLE(v as number); return b.subarray(0, 4);
    case 7: b.writeUInt8(v ? 1 : 0); return b.subarray(0, 1);
    case 8: return ggufString(v as string);
    case 10: b.writeBigUInt64LE(BigInt(v as bigint)); return b;
    case 11: b.writeBigInt64LE(BigInt(v as bigint)); return b;
    case 12: b.writeDoubleLE(v as number); return b;
  }
  throw new Error(`type ${type}`);
}

function ggufString(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const n = Buffer.alloc(8);
  n.writeBigUInt64LE(BigInt(b.length));
  return Buffer.concat([n, b]);
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}
function u64(v: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
}

export interface GgufTensorIn {
  name: string;
  /** ne order (innermost first). */
  ne: number[];
  type: number;
  data: Uint8Array;
  /** Override the offset written in the tensor info. */
  offset?: number;
}

function ggufKVBytes(kvs: GgufKV[]): Buffer[] {
  const parts: Buffer[] = [];
  for (const kv of kvs) {
    parts.push(ggufString(kv.key), u32(kv.type));
    if (kv.type === 9) {
      const arr = kv.value as unknown[];
      parts.push(u32(kv.itemType!), u64(arr.length), ...arr.map((v) => ggufScalar(kv.itemType!, v)));
    } else parts.push(ggufScalar(kv.type, kv.value));
  }
  return parts;
}

/** Tensor infos, and the data section (offsets relative to its start, 32-byte aligned). */
function ggufTensorParts(tensors: GgufTensorIn[]): { infos: Buffer[]; data: Buffer[] } {
  let off = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    offsets.push(off);
    off = Math.ceil((off + t.data.length) / 32) * 32;
  }
  const infos = tensors.map((t, i) =>
    Buffer.concat([ggufString(t.name), u32(t.ne.length), ...t.ne.map((d) => u64(d)), u32(t.type), u64(t.offset ?? offsets[i])]),
  );
  const data: Buffer[] = [];
  let pos = 0;
  tensors.forEach((t, i) => {
    if (offsets[i] > pos) data.push(Buffer.alloc(offsets[i] - pos));
    data.push(bufOf(t.data));
    pos = offsets[i] + t.data.length;
  });
  return { infos, data };
}

function pad32(n: number): Buffer {
  return Buffer.alloc(Math.ceil(n / 32) * 32 - n);
}

/** Builds a GGUF file: kvs, tensors with 32-byte alignment. */
export function buildGGUF(kvs: GgufKV[], tensors: GgufTensorIn[], version = 3): Buffer {
  const { infos, data } = ggufTensorParts(tensors);
  const head = Buffer.concat([Buffer.from('GGUF', 'latin1'), u32(version), u64(tensors.length), u64(kvs.length), ...ggufKVBytes(kvs), ...infos]);
  return Buffer.concat([head, pad32(head.length), ...data]);
}

/**
 * Writes a GGUF like buildGGUF with one more metadata entry at the end: a uint8 array of
 * `arrayBytes` zeros under `key` (or a string of that many NUL bytes), streamed in chunks
 * (a 300 MB file never sits in memory).
 */
export function writeGGUFWithBigArray(file: string, kvs: GgufKV[], tensors: GgufTensorIn[], key: string, arrayBytes: number, kind: 'uint8-array' | 'string' = 'uint8-array'): void {
  const { infos, data } = ggufTensorParts(tensors);
  const fd = fs.openSync(file, 'w');
  try {
    let pos = 0;
    const put = (b: Buffer) => {
      fs.writeSync(fd, b);
      pos += b.length;
    };
    put(Buffer.concat([Buffer.from('GGUF', 'latin1'), u32(3), u64(tensors.length), u64(kvs.length + 1), ...ggufKVBytes(kvs)]));
    put(Buffer.concat([ggufString(key), ...(kind === 'string' ? [u32(8)] : [u32(9), u32(0)]), u64(arrayBytes)]));
    const chunk = Buffer.alloc(8 * 2 ** 20);
    for (let left = arrayBytes; left > 0; left -= chunk.length) put(left >= chunk.length ? chunk : chunk.subarray(0, left));
    put(Buffer.concat(infos));
    put(pad32(pos));
    for (const d of data) put(d);
  } finally {
    fs.closeSync(fd);
  }
}

/** Metadata of a tiny llama GGUF. */
export function llamaKVs(s: TinyLlamaSpec, extra: GgufKV[] = []): GgufKV[] {
  return [
    { key: 'general.architecture', type: 8, value: 'llama' },
    { key: 'llama.embedding_length', type: 4, value: s.hidden },
    { key: 'llama.block_count', type: 4, value: s.layers },
    { key: 'llama.feed_forward_length', type: 4, value: s.inter },
    { key: 'llama.attention.head_count', type: 4, value: s.heads },
    { key: 'llama.attention.head_count_kv', type: 4, value: s.kvHeads },
    { key: 'llama.attention.layer_norm_rms_epsilon', type: 6, value: 1e-5 },
    { key: 'llama.context_length', type: 4, value: 64 },
    { key: 'llama.rope.freq_base', type: 6, value: 10000 },
    ...extra,
  ];
}

/** GGUF-named tensor list [name, shape as [out, in]] of a tiny llama. */
export function ggufLlamaNames(s: TinyLlamaSpec): [string, number[]][] {
  const hd = s.hidden / s.heads;
  const out: [string, number[]][] = [['token_embd.weight', [s.vocab, s.hidden]]];
  for (let i = 0; i < s.layers; i++) {
    out.push(
      [`blk.${i}.attn_norm.weight`, [s.hidden]],
      [`blk.${i}.attn_q.weight`, [s.heads * hd, s.hidden]],
      [`blk.${i}.attn_k.weight`, [s.kvHeads * hd, s.hidden]],
      [`blk.${i}.attn_v.weight`, [s.kvHeads * hd, s.hidden]],
      [`blk.${i}.attn_output.weight`, [s.hidden, s.heads * hd]],
      [`blk.${i}.ffn_norm.weight`, [s.hidden]],
      [`blk.${i}.ffn_gate.weight`, [s.inter, s.hidden]],
      [`blk.${i}.ffn_up.weight`, [s.inter, s.hidden]],
      [`blk.${i}.ffn_down.weight`, [s.hidden, s.inter]],
    );
  }
  out.push(['output_norm.weight', [s.hidden]]);
  return out;
}

/** The GGUF tensors of a tiny llama with random float32 data (`type` is written as given). */
export function tinyGGUFTensors(s: TinyLlamaSpec, type = 0): GgufTensorIn[] {
  return ggufLlamaNames(s).map(([name, shape], i) => {
    const d = randomData('F32', shape.reduce((a, b) => a * b, 1), i);
    return { name, ne: [...shape].reverse(), type, data: new Uint8Array(d.buffer) };
  });
}

/** llama2.c legacy checkpoint of a tiny model (shared classifier), random weights. */
export function buildLlama2cLegacy(s: TinyLlamaSpec, seqLen: number): Buffer {
  const hd = s.hidden / s.heads;
  const kv = s.kvHeads * hd;
  const L = s.layers;
  const n =
    s.vocab * s.hidden + L * s.hidden + L * s.hidden * s.hidden * 2 + L * kv * s.hidden * 2 + L * s.hidden + 3 * L * s.inter * s.hidden + s.hidden + seqLen * hd;
  const head = Buffer.alloc(28);
  [s.hidden, s.inter, L, s.heads, s.kvHeads, s.vocab, seqLen].forEach((v, i) => head.writeInt32LE(v, 4 * i));
  return Buffer.concat([head, bufOf(randomData('F32', n, 7))]);
}

/** llama2.c tokenizer file with `n` tokens. */
export function buildLlama2cTokenizer(n: number): Buffer {
  const parts: Buffer[] = [Buffer.alloc(4)];
  parts[0].writeInt32LE(4);
  for (let i = 0; i < n; i++) {
    const s = Buffer.from(`t${i % 100}`);
    const rec = Buffer.alloc(8);
    rec.writeFloatLE(-i, 0);
    rec.writeInt32LE(s.length, 4);
    parts.push(rec, s);
  }
  return Buffer.concat(parts);
}
