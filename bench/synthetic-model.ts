// A synthetic Llama-7B-shaped model for speed measurements (bench:structured): hidden
// 4096, 32 heads of 128, 8 (GQA) or 32 KV heads, MLP 11008, a few blocks, written as a
// Hugging Face folder (f16 safetensors, streamed to disk tensor by tensor) with the demo
// model's tokenizer, so its vocabulary is the demo's 2048 tokens. Weights are uniform
// random with standard deviation 1/sqrt(fan-in) (norms 1): sane activations, meaningless
// quality. Random values come from one prime-length chunk per fan-in read from a
// different offset per tensor, so rows differ without generating billions of numbers.
//   node dist/bench/synthetic-model.js OUT_DIR [--layers 8] [--kv-heads 8]
import * as fs from 'node:fs';
import * as path from 'node:path';

import { fromFloat32 } from '../lib/kernels';

const HIDDEN = 4096;
const HEADS = 32;
const HEAD_DIM = 128;
const MLP = 11008;
const CHUNK = 1_048_573; // prime: rows of 4096 or 11008 values never line up with it

export interface SyntheticOptions {
  layers: number;
  kvHeads: number;
}

interface Entry {
  name: string;
  shape: number[];
  /** Fan-in (its chunk's scale); 0: all ones (a norm weight). */
  fanIn: number;
}

function entries(o: SyntheticOptions, vocab: number): Entry[] {
  const kv = o.kvHeads * HEAD_DIM;
  const e: Entry[] = [{ name: 'model.embed_tokens.weight', shape: [vocab, HIDDEN], fanIn: HIDDEN }];
  for (let i = 0; i < o.layers; i++) {
    const p = `model.layers.${i}`;
    e.push(
      { name: `${p}.input_layernorm.weight`, shape: [HIDDEN], fanIn: 0 },
      { name: `${p}.self_attn.q_proj.weight`, shape: [HIDDEN, HIDDEN], fanIn: HIDDEN },
      { name: `${p}.self_attn.k_proj.weight`, shape: [kv, HIDDEN], fanIn: HIDDEN },
      { name: `${p}.self_attn.v_proj.weight`, shape: [kv, HIDDEN], fanIn: HIDDEN },
      { name: `${p}.self_attn.o_proj.weight`, shape: [HIDDEN, HIDDEN], fanIn: HIDDEN },
      { name: `${p}.post_attention_layernorm.weight`, shape: [HIDDEN], fanIn: 0 },
      { name: `${p}.mlp.gate_proj.weight`, shape: [MLP, HIDDEN], fanIn: HIDDEN },
      { name: `${p}.mlp.up_proj.weight`, shape: [MLP, HIDDEN], fanIn: HIDDEN },
      { name: `${p}.mlp.down_proj.weight`, shape: [HIDDEN, MLP], fanIn: MLP },
    );
  }
  e.push({ name: 'model.norm.weight', shape: [HIDDEN], fanIn: 0 }, { name: 'lm_head.weight', shape: [vocab, HIDDEN], fanIn: HIDDEN });
  return e;
}

/** Two copies of a chunk of f16 values, uniform in +-sqrt(3 / fanIn), so any CHUNK-long window is contiguous. */
async function chunk(fanIn: number, seed: number): Promise<Buffer> {
  const a = Math.sqrt(3 / fanIn);
  const f = new Float32Array(2 * CHUNK);
  let s = seed >>> 0;
  for (let i = 0; i < CHUNK; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    f[i] = (s / 2 ** 32 - 0.5) * 2 * a;
  }
  f.copyWithin(CHUNK, 0, CHUNK);
  const h = await fromFloat32(f, 'f16');
  return Buffer.from(h.buffer, h.byteOffset, h.byteLength);
}

/** Writes the model folder; returns its parameter count. */
export async function writeSyntheticModel(out: string, o: SyntheticOptions, tokenizerDir: string): Promise<number> {
  const tokConfig = JSON.parse(fs.readFileSync(path.join(tokenizerDir, 'config.json'), 'utf8')) as { vocab_size: number; bos_token_id: number; eos_token_id: number };
  const vocab = tokConfig.vocab_size;
  fs.mkdirSync(out, { recursive: true });
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(tokenizerDir, f), path.join(out, f));
  const config = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: vocab,
    hidden_size: HIDDEN,
    intermediate_size: MLP,
    num_hidden_layers: o.layers,
    num_attention_heads: HEADS,
    num_key_value_heads: o.kvHeads,
    head_dim: HEAD_DIM,
    hidden_act: 'silu',
    max_position_embeddings: 4096,
    rope_theta: 10000.0,
    rms_norm_eps: 1e-5,
    tie_word_embeddings: false,
    bos_token_id: tokConfig.bos_token_id,
    eos_token_id: tokConfig.eos_token_id,
    torch_dtype: 'float16',
  };
  fs.writeFileSync(path.join(out, 'config.json'), `${JSON.stringify(config, null, 1)}\n`);

  const list = entries(o, vocab);
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  let parameters = 0;
  for (const e of list) {
    const n = e.shape.reduce((x, y) => x * y, 1);
    header[e.name] = { dtype: 'F16', shape: e.shape, data_offsets: [offset, offset + 2 * n] };
    offset += 2 * n;
    parameters += n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const chunks = new Map<number, Buffer>();
  const ones = Buffer.from(new Uint16Array(HIDDEN).fill(0x3c00).buffer);
  const fd = fs.openSync(path.join(out, 'model.safetensors'), 'w');
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    fs.writeSync(fd, len);
    fs.writeSync(fd, json);
    for (const [i, e] of list.entries()) {
      if (e.fanIn === 0) {
        fs.writeSync(fd, ones);
        continue;
      }
      if (!chunks.has(e.fanIn)) chunks.set(e.fanIn, await chunk(e.fanIn, 17 + e.fanIn));
      const c = chunks.get(e.fanIn)!;
      let left = e.shape[0] * e.shape[1];
      let at = (i * 7919) % CHUNK;
      while (left > 0) {
        const take = Math.min(left, CHUNK);
        fs.writeSync(fd, c, 2 * at, 2 * take);
        left -= take;
        at = (at + take) % CHUNK;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return parameters;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const out = argv.find((a, i) => !a.startsWith('--') && !argv[i - 1]?.startsWith('--'));
  const opt = (k: string, d: number) => (argv.includes(k) ? Number(argv[argv.indexOf(k) + 1]) : d);
  const o = { layers: opt('--layers', 8), kvHeads: opt('--kv-heads', 8) };
  if (!out || !Number.isInteger(o.layers) || o.layers < 1 || ![1, 2, 4, 8, 16, 32].includes(o.kvHeads))
    throw new Error('usage: synthetic-model OUT_DIR [--layers N] [--kv-heads 8|32]');
  const root = path.basename(path.resolve(__dirname, '..')) === 'dist' ? path.resolve(__dirname, '..', '..') : path.resolve(__dirname, '..');
  const n = await writeSyntheticModel(out, o, path.join(root, 'assets', 'demo-model'));
  process.stdout.write(`${out}: ${n} parameters (f16), ${o.layers} blocks, ${o.kvHeads} KV heads\n`);
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`synthetic-model: ${(e as Error).message}\n`);
    process.exitCode = 1;
  });
}
