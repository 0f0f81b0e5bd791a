// GGUF models of the llama and qwen2 architectures -> LoadedModel. F32/F16/BF16 tensors
// are zero-copy views of the mapping; Q8_0 is dequantized natively to float32.
// RoPE layout per architecture, as llama.cpp exports them: llama Q/K are interleaved
// (its converter permutes HF weights); qwen2 keeps HF's rotate-half ("NeoX") order.
import { FormatError, fromNative } from '../errors';
import { LoadedModel, ModelConfig, RopeLayout, TensorDType, TokenizerSource } from '../model/types';
import { filesNative } from '../native/files';
import { GGML_TYPES, GGUFFile, ggufValue, parseGGUF } from './gguf';
import { GGUFStringArray } from './gguf-strings';
import { MappedFile } from './mapped';
import { checkConfig, checkTensorShapes, ConfigFields, makeModel, TensorSet, withFiles } from './model';
import { inferLlama3 } from './rope-scaling';

/** Architectures read, with the RoPE layout their Q/K are stored in. */
export const GGUF_ARCHES: Record<string, { layout: RopeLayout; family: string }> = {
  llama: { layout: 'interleaved', family: 'llama' },
  qwen2: { layout: 'rotate_half', family: 'qwen2' },
};

const BLOCK_NAMES: Record<string, string> = {
  attn_norm: 'attn_norm',
  attn_q: 'attn.q',
  attn_k: 'attn.k',
  attn_v: 'attn.v',
  attn_output: 'attn.o',
  ffn_norm: 'mlp_norm',
  ffn_gate: 'mlp.gate',
  ffn_up: 'mlp.up',
  ffn_down: 'mlp.down',
};
const TOP_NAMES: Record<string, string> = {
  token_embd: 'embed',
  output_norm: 'final_norm',
  output: 'lm_head',
};

/** GGUF tensor name -> canonical name (undefined when not a llama tensor). */
export function canonicalFromGGUF(name: string): string | undefined {
  const m = /^blk\.(\d+)\.([a-z_]+)\.(weight|bias)$/.exec(name);
  if (m) return BLOCK_NAMES[m[2]] ? `blocks.${m[1]}.${BLOCK_NAMES[m[2]]}.${m[3]}` : undefined;
  const t = /^([a-z_]+)\.(weight|bias)$/.exec(name);
  if (t && TOP_NAMES[t[1]]) return `${TOP_NAMES[t[1]]}.${t[2]}`;
  return undefined;
}

/** Canonical name -> GGUF tensor name (llama architecture). */
export function ggufFromCanonical(name: string): string | undefined {
  const m = /^blocks\.(\d+)\.(.+)\.(weight|bias)$/.exec(name);
  if (m) {
    const g = Object.entries(BLOCK_NAMES).find(([, c]) => c === m[2]);
    return g ? `blk.${m[1]}.${g[0]}.${m[3]}` : undefined;
  }
  const t = /^(.+)\.(weight|bias)$/.exec(name);
  const g = t && Object.entries(TOP_NAMES).find(([, c]) => c === t[1]);
  return g && t ? `${g[0]}.${t[2]}` : undefined;
}

/** The shortest decimal that is the same float32 (1e-5 rather than 9.99999974737875e-6). */
function shortestFloat32(x: number): number {
  for (let p = 1; p <= 9; p++) {
    const d = Number(x.toPrecision(p));
    if (Math.fround(d) === x) return d;
  }
  return x;
}

function num(f: MappedFile, g: GGUFFile, key: string, fallback?: number): number {
  const e = g.byKey.get(key);
  if (e === undefined) {
    if (fallback === undefined) f.fail(`metadata ${key} is missing`);
    return fallback;
  }
  const v = e.value;
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (e.type === 'array' || typeof n !== 'number' || !Number.isFinite(n))
    f.fail(`metadata ${key} = ${e.type === 'array' ? '(an array)' : String(v)} is not a finite number`);
  return e.type === 'float32' ? shortestFloat32(n) : n;
}

/** Largest vocabulary decoded for a tokenizer (the largest real ones have about 256k tokens). */
export const MAX_GGUF_VOCAB = 1 << 21;

function ggufTokenizer(f: MappedFile, g: GGUFFile, vocab: number): TokenizerSource {
  const model = ggufValue(g, 'tokenizer.ggml.model');
  if (model === undefined) return { kind: 'none', reason: 'the GGUF file has no tokenizer.ggml.* metadata' };
  if (model !== 'llama')
    return { kind: 'none', reason: `GGUF tokenizer model '${String(model)}' is not supported (only SentencePiece-style 'llama')` };
  const tokens = ggufValue(g, 'tokenizer.ggml.tokens');
  const scores = ggufValue(g, 'tokenizer.ggml.scores');
  if (!(tokens instanceof GGUFStringArray)) return { kind: 'none', reason: 'tokenizer.ggml.tokens is missing or not a string array' };
  // llama.cpp takes the vocabulary size from this array and rejects an embedding of another size.
  if (tokens.length !== vocab) f.fail(`tokenizer.ggml.tokens has ${tokens.length} tokens but token_embd.weight has ${vocab} rows`);
  if (tokens.length > MAX_GGUF_VOCAB) f.fail(`tokenizer.ggml.tokens has ${tokens.length} tokens, more than the ${MAX_GGUF_VOCAB} supported`);
  const numbers = (v: unknown): number[] | undefined => {
    if (!ArrayBuffer.isView(v) || v instanceof DataView || v instanceof BigInt64Array || v instanceof BigUint64Array) return undefined;
    const a = v as unknown as ArrayLike<number>;
    return a.length === tokens.length ? Array.from(a) : undefined;
  };
  const scoreList = numbers(scores);
  if (!scoreList) return { kind: 'none', reason: 'tokenizer.ggml.scores is missing, not numeric, or does not match the tokens' };
  const opt = (k: string) => specialId(g, k, tokens.length);
  const flag = (k: string) => {
    const v = ggufValue(g, k);
    return typeof v === 'boolean' ? v : undefined;
  };
  return {
    kind: 'gguf-llama',
    tokens: tokens.toArray(),
    scores: scoreList,
    tokenTypes: numbers(ggufValue(g, 'tokenizer.ggml.token_type')),
    bos: opt('tokenizer.ggml.bos_token_id'),
    eos: opt('tokenizer.ggml.eos_token_id'),
    unk: opt('tokenizer.ggml.unknown_token_id'),
    pad: opt('tokenizer.ggml.padding_token_id'),
    addBos: flag('tokenizer.ggml.add_bos_token'),
    addEos: flag('tokenizer.ggml.add_eos_token'),
  };
}

/** A special token id; one outside the vocabulary is ignored, as llama.cpp does ("bad special token"). */
function specialId(g: GGUFFile, key: string, vocab: number): number | undefined {
  const v = ggufValue(g, key);
  const id = typeof v === 'number' || typeof v === 'bigint' ? Number(v) : NaN;
  return Number.isSafeInteger(id) && id >= 0 && id < vocab ? id : undefined;
}

/** The GGUF keys of the config numbers, for error messages. */
function ggufFields(arch: string): ConfigFields {
  return {
    hiddenSize: `${arch}.embedding_length`,
    intermediateSize: `${arch}.feed_forward_length`,
    numLayers: `${arch}.block_count`,
    numHeads: `${arch}.attention.head_count`,
    numKvHeads: `${arch}.attention.head_count_kv`,
    headDim: `${arch}.attention.key_length`,
    vocabSize: 'token_embd.weight rows',
    contextLength: `${arch}.context_length`,
    normEps: `${arch}.attention.layer_norm_rms_epsilon`,
    ropeTheta: `${arch}.rope.freq_base`,
    ropeDim: `${arch}.rope.dimension_count`,
    bosTokenId: 'tokenizer.ggml.bos_token_id',
    eosTokenId: 'tokenizer.ggml.eos_token_id',
  };
}

export async function readGGUF(file: string): Promise<LoadedModel> {
  const f: MappedFile = MappedFile.open(file);
  return withFiles([f], async () => {
    const g = parseGGUF(f);
    const arch = ggufValue(g, 'general.architecture');
    const kind = typeof arch === 'string' ? GGUF_ARCHES[arch] : undefined;
    if (!kind)
      f.fail(`unsupported architecture general.architecture = '${String(arch)}' (shears reads GGUF ${Object.keys(GGUF_ARCHES).map((a) => `'${a}'`).join(' and ')} models)`);
    const embd = g.tensors.find((t) => t.name === 'token_embd.weight');
    if (!embd) f.fail('missing tensor token_embd.weight');
    const hidden = num(f, g, `${arch}.embedding_length`);
    const heads = num(f, g, `${arch}.attention.head_count`);
    const headDim = num(f, g, `${arch}.attention.key_length`, hidden / heads);
    const vocab = embd.ne.length === 2 ? embd.ne[1] : 0;
    const config: ModelConfig = {
      architecture: 'llama',
      family: kind.family,
      hiddenSize: hidden,
      intermediateSize: num(f, g, `${arch}.feed_forward_length`),
      numLayers: num(f, g, `${arch}.block_count`),
      numHeads: heads,
      numKvHeads: num(f, g, `${arch}.attention.head_count_kv`, heads),
      headDim,
      vocabSize: vocab,
      contextLength: num(f, g, `${arch}.context_length`),
      norm: 'rmsnorm',
      normEps: num(f, g, `${arch}.attention.layer_norm_rms_epsilon`),
      activation: 'silu',
      rope: {
        layout: kind.layout,
        theta: num(f, g, `${arch}.rope.freq_base`, 10000),
        dim: num(f, g, `${arch}.rope.dimension_count`, headDim),
      },
      positionOffset: 0,
      tiedEmbeddings: !g.tensors.some((t) => t.name === 'output.weight'),
      preNorm: true,
    };
    const bos = specialId(g, 'tokenizer.ggml.bos_token_id', vocab);
    const eos = specialId(g, 'tokenizer.ggml.eos_token_id', vocab);
    if (bos !== undefined) config.bosTokenId = bos;
    if (eos !== undefined) config.eosTokenId = eos;
    const fields = ggufFields(String(arch));
    checkConfig(file, config, fields);
    // Names and shapes first: no tensor is viewed or dequantized for a file that cannot load.
    const shapes = new Map<string, number[]>();
    for (const t of g.tensors) {
      if (t.name === 'rope_freqs.weight') continue;
      const name = canonicalFromGGUF(t.name);
      if (!name) f.fail(`unexpected tensor ${t.name} for the ${arch} architecture`);
      shapes.set(name, [...t.ne].reverse());
    }
    checkTensorShapes(file, config, shapes, fields);
    const freqs = g.tensors.find((t) => t.name === 'rope_freqs.weight');
    if (freqs) {
      // Llama-3 scaling, stored as its per-frequency divisors: recover the parameters.
      if (freqs.type !== 0 || freqs.ne.length !== 1) f.fail('rope_freqs.weight must be a 1-D F32 tensor');
      const orig = ggufValue(g, `${arch}.rope.scaling.original_context_length`);
      const rope = config.rope!;
      const scaling = inferLlama3(file, rope.theta, rope.dim, f.tensorData('f32', freqs.offset, freqs.numel, 'tensor rope_freqs.weight') as Float32Array, orig === undefined ? undefined : Number(orig));
      if (scaling) rope.scaling = scaling;
    }
    const set = new TensorSet(file);
    const dtypes = new Map<number, TensorDType>([
      [0, 'f32'],
      [1, 'f16'],
      [30, 'bf16'],
    ]);
    for (const t of g.tensors) {
      if (t === freqs) continue;
      const name = canonicalFromGGUF(t.name);
      if (!name) f.fail(`unexpected tensor ${t.name} for the ${arch} architecture`);
      const shape = [...t.ne].reverse();
      const dt = dtypes.get(t.type);
      if (dt) {
        set.add(name, dt, shape, f.tensorData(dt, t.offset, t.numel, `tensor ${t.name}`));
      } else {
        // Q8_0 (the only other type parseGGUF accepts): dequantize to float32.
        const out = new Float32Array(t.numel);
        try {
          await filesNative().dequantQ8_0(f.bytes.subarray(t.offset, t.offset + t.nbytes), out);
        } catch (e) {
          throw new FormatError(file, `tensor ${t.name} (${GGML_TYPES[t.type].name}): ${fromNative(e).message}`);
        }
        set.add(name, 'f32', shape, out);
      }
    }
    return makeModel({
      format: 'gguf',
      path: file,
      config,
      tensors: set.map,
      tokenizer: ggufTokenizer(f, g, vocab),
      meta: {
        ggufVersion: g.version,
        alignment: g.alignment,
        gguf: g.entries,
        sourceTensorTypes: Object.fromEntries(g.tensors.map((t) => [t.name, GGML_TYPES[t.type].name])),
      },
      files: [f],
      fields,
    });
  });
}
