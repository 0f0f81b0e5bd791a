// GGUF models of the llama, qwen2, deci and gpt2 architectures -> LoadedModel.
// F32/F16/BF16 tensors are zero-copy views of the mapping; Q8_0 is dequantized natively
// to float32. RoPE layout per architecture, as llama.cpp exports them: llama and deci
// Q/K are interleaved (its converter permutes HF weights); qwen2 keeps HF's rotate-half
// ("NeoX") order. deci: per-layer widths into config.blocks, zero stand-ins dropped
// (lib/formats/gguf-deci.ts); gpt2: the fused attn_qkv split into q, k, v (row views).
import { FormatError, fromNative } from '../errors';
import { BlockShape, LoadedModel, Tensor, TensorDType, TokenizerSource } from '../model/types';
import { filesNative } from '../native/files';
import { GGML_TYPES, GGUFFile, GGUFTensorInfo, ggufValue, parseGGUF } from './gguf';
import { blocksOf, ggufConfig, ggufFields } from './gguf-config';
import { ZERO_ATTENTION_KEY, ZERO_MLP_KEY, zeroSublayer } from './gguf-deci';
import { canonicalFromGGUF, fusedQKV, GGUF_ARCHES, GGUFArch, isGGUFArch } from './gguf-names';
import { GGUFStringArray } from './gguf-strings';
import { MappedFile } from './mapped';
import { checkConfig, checkTensorShapes, makeModel, TensorSet, withFiles } from './model';
import { inferLlama3 } from './rope-scaling';

export { canonicalFromGGUF, GGUF_ARCHES, ggufFromCanonical } from './gguf-names';

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

/** Blocks a deci file lists under `key` as zero stand-ins, each checked against its written widths. */
function standIns(f: MappedFile, g: GGUFFile, key: string, written: BlockShape[] | undefined, fits: (b: BlockShape) => boolean): Set<number> {
  const e = g.byKey.get(key);
  if (!e) return new Set();
  if (!written || e.type !== 'array' || e.itemType !== 'uint32') f.fail(`metadata ${key} must be a uint32 array in a deci file`);
  const out = new Set<number>();
  for (const i of Array.from(e.value as Uint32Array)) {
    if (i >= written.length || !fits(written[i])) f.fail(`metadata ${key} lists block ${i}, which is not a zero stand-in of the widths shears writes`);
    out.add(i);
  }
  return out;
}

/** Canonical tensors in the file: name -> [shape, GGUF tensor, first row] (GPT-2's attn_qkv gives three). */
type Source = { shape: number[]; info: GGUFTensorInfo; row0: number };

function canonicalTensors(f: MappedFile, g: GGUFFile, arch: GGUFArch, heads: (block: number) => [number, number], headDim: number): Map<string, Source> {
  const out = new Map<string, Source>();
  for (const t of g.tensors) {
    if (t.name === 'rope_freqs.weight' && arch !== 'gpt2') continue;
    const shape = [...t.ne].reverse();
    const qkv = arch === 'gpt2' ? fusedQKV(t.name) : undefined;
    if (qkv) {
      const [q, kv] = heads(qkv.block).map((h) => h * headDim);
      if (shape[0] !== q + 2 * kv) f.fail(`tensor ${t.name} has ${shape[0]} rows, expected ${q} + 2 x ${kv} (q, k, v)`);
      let row0 = 0;
      for (const [x, rows] of [['q', q], ['k', kv], ['v', kv]] as const) {
        out.set(`blocks.${qkv.block}.attn.${x}.${qkv.part}`, { shape: [rows, ...shape.slice(1)], info: t, row0 });
        row0 += rows;
      }
      continue;
    }
    const name = canonicalFromGGUF(t.name, arch);
    if (!name) f.fail(`unexpected tensor ${t.name} for the ${arch} architecture`);
    if (out.has(name)) f.fail(`tensor ${name} appears twice`);
    out.set(name, { shape, info: t, row0: 0 });
  }
  return out;
}

const DTYPES = new Map<number, TensorDType>([
  [0, 'f32'],
  [1, 'f16'],
  [30, 'bf16'],
]);

/** The elements of a tensor: a view of the mapping (F32/F16/BF16), or dequantized Q8_0. */
async function tensorElements(f: MappedFile, t: GGUFTensorInfo): Promise<{ dtype: TensorDType; data: Float32Array | Uint16Array }> {
  const dt = DTYPES.get(t.type);
  if (dt) return { dtype: dt, data: f.tensorData(dt, t.offset, t.numel, `tensor ${t.name}`) };
  // Q8_0 (the only other type parseGGUF accepts): dequantize to float32.
  const out = new Float32Array(t.numel);
  try {
    await filesNative().dequantQ8_0(f.bytes.subarray(t.offset, t.offset + t.nbytes), out);
  } catch (e) {
    throw new FormatError(f.path, `tensor ${t.name} (${GGML_TYPES[t.type].name}): ${fromNative(e).message}`);
  }
  return { dtype: 'f32', data: out };
}

/** Whether every element is zero (+0 or -0). */
function allZero(t: { dtype: TensorDType; data: Float32Array | Uint16Array }): boolean {
  if (t.dtype === 'f32') return t.data.every((v) => v === 0);
  return t.data.every((v) => (v & 0x7fff) === 0);
}

export async function readGGUF(file: string): Promise<LoadedModel> {
  const f: MappedFile = MappedFile.open(file);
  return withFiles([f], async () => {
    const g = parseGGUF(f);
    const arch = ggufValue(g, 'general.architecture');
    if (!isGGUFArch(arch))
      f.fail(`unsupported architecture general.architecture = '${String(arch)}' (shears reads GGUF ${Object.keys(GGUF_ARCHES).map((a) => `'${a}'`).join(', ')} models)`);
    const embd = g.tensors.find((t) => t.name === 'token_embd.weight');
    if (!embd) f.fail('missing tensor token_embd.weight');
    const vocab = embd.ne.length === 2 ? embd.ne[1] : 0;
    const { config, written } = ggufConfig(f, g, arch, vocab, !g.tensors.some((t) => t.name === 'output.weight'));
    const bos = specialId(g, 'tokenizer.ggml.bos_token_id', vocab);
    const eos = specialId(g, 'tokenizer.ggml.eos_token_id', vocab);
    if (bos !== undefined) config.bosTokenId = bos;
    if (eos !== undefined) config.eosTokenId = eos;
    // deci: zero stand-ins become removed sublayers (their tensors checked, then dropped).
    const zeroAttn = standIns(f, g, ZERO_ATTENTION_KEY, written, (b) => b.numHeads === 1 && b.numKvHeads === 1);
    const zeroMlp = standIns(f, g, ZERO_MLP_KEY, written, (b) => b.intermediateSize === 1);
    if (written) {
      const shapes = written.map((b, i) => ({
        numHeads: zeroAttn.has(i) ? 0 : b.numHeads,
        numKvHeads: zeroAttn.has(i) ? 0 : b.numKvHeads,
        intermediateSize: zeroMlp.has(i) ? 0 : b.intermediateSize,
      }));
      const blocks = blocksOf(shapes);
      if (blocks) config.blocks = blocks;
      config.numHeads = Math.max(0, ...shapes.map((b) => b.numHeads));
      config.numKvHeads = Math.max(0, ...shapes.map((b) => b.numKvHeads));
      config.intermediateSize = Math.max(0, ...shapes.map((b) => b.intermediateSize));
    }
    const fields = ggufFields(arch);
    checkConfig(file, config, fields);
    // Names and shapes first: no tensor is viewed or dequantized for a file that cannot load.
    const wide = (i: number): [number, number] => (written?.[i] ? [written[i].numHeads, written[i].numKvHeads] : [config.numHeads, config.numKvHeads]);
    const sources = canonicalTensors(f, g, arch, wide, config.headDim);
    const zeros = new Map<string, Source>();
    for (const [set, which] of [[zeroAttn, 'attention'], [zeroMlp, 'mlp']] as const)
      for (const i of set)
        for (const z of zeroSublayer(config, i, which)) {
          const s = sources.get(z.name);
          if (!s || s.shape.join() !== z.shape.join()) f.fail(`block ${i}: the zero stand-in ${which} must have ${z.name} of shape [${z.shape.join(', ')}]`);
          sources.delete(z.name);
          zeros.set(z.name, s);
        }
    const shapes = new Map([...sources].map(([n, s]) => [n, s.shape]));
    checkTensorShapes(file, config, shapes, fields);
    if (arch === 'gpt2') {
      const pos = shapes.get('pos_embed.weight');
      if (!pos) f.fail('missing tensor position_embd.weight');
      if (pos[0] !== config.contextLength) f.fail(`tensor position_embd.weight has ${pos[0]} rows, but gpt2.context_length is ${config.contextLength}`);
    }
    for (const [name, s] of zeros)
      if (!/norm/.test(name) && !allZero(await tensorElements(f, s.info)))
        f.fail(`tensor ${s.info.name} of a zero stand-in (listed in ${name.includes('attn') ? ZERO_ATTENTION_KEY : ZERO_MLP_KEY}) is not all zeros`);
    const freqs = g.tensors.find((t) => t.name === 'rope_freqs.weight');
    if (freqs && config.rope) {
      // Llama-3 scaling, stored as its per-frequency divisors: recover the parameters.
      if (freqs.type !== 0 || freqs.ne.length !== 1) f.fail('rope_freqs.weight must be a 1-D F32 tensor');
      const orig = ggufValue(g, `${arch}.rope.scaling.original_context_length`);
      const rope = config.rope;
      const scaling = inferLlama3(file, rope.theta, rope.dim, f.tensorData('f32', freqs.offset, freqs.numel, 'tensor rope_freqs.weight') as Float32Array, orig === undefined ? undefined : Number(orig));
      if (scaling) rope.scaling = scaling;
    }
    const set = new TensorSet(file);
    const elements = new Map<GGUFTensorInfo, { dtype: TensorDType; data: Float32Array | Uint16Array }>();
    for (const [name, s] of sources) {
      let e = elements.get(s.info);
      if (!e) elements.set(s.info, (e = await tensorElements(f, s.info)));
      const rowLen = s.shape.slice(1).reduce((a, b) => a * b, 1);
      const data = s.row0 === 0 && s.shape[0] * rowLen === e.data.length ? e.data : e.data.subarray(s.row0 * rowLen, (s.row0 + s.shape[0]) * rowLen);
      set.add(name, e.dtype, s.shape, data as Tensor['data']);
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
        ggufArchitecture: arch,
        sourceTensorTypes: Object.fromEntries(g.tensors.map((t) => [t.name, GGML_TYPES[t.type].name])),
      },
      files: [f],
      fields,
    });
  });
}
