// A GGUF file's metadata -> ModelConfig, per architecture: llama and qwen2 (one width
// for all blocks), deci (per-layer width arrays, read as llama.cpp's get_key_or_arr
// does: a scalar for every layer or an array of block_count integers) and gpt2.
import { BlockShape, ModelConfig } from '../model/types';
import { GGUFFile } from './gguf';
import { GGUF_ARCHES, GGUFArch } from './gguf-names';
import { MappedFile } from './mapped';
import { ConfigFields } from './model';

/** The shortest decimal that is the same float32 (1e-5 rather than 9.99999974737875e-6). */
function shortestFloat32(x: number): number {
  for (let p = 1; p <= 9; p++) {
    const d = Number(x.toPrecision(p));
    if (Math.fround(d) === x) return d;
  }
  return x;
}

export function ggufNumber(f: MappedFile, g: GGUFFile, key: string, fallback?: number): number {
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

/** A per-layer width: one number for every layer, or an array of `layers` integers >= 0. */
function perLayer(f: MappedFile, g: GGUFFile, key: string, layers: number, fallback?: number[]): number[] {
  const e = g.byKey.get(key);
  if (e === undefined && fallback) return fallback;
  if (e?.type !== 'array') return new Array<number>(layers).fill(ggufNumber(f, g, key));
  const v = e.value;
  const ints = ['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'uint64', 'int64'];
  if (!ints.includes(e.itemType ?? '')) f.fail(`metadata ${key} is an array of ${e.itemType}, expected integers`);
  const a = Array.from(v as ArrayLike<number | bigint>, Number);
  if (a.length !== layers) f.fail(`metadata ${key} has ${a.length} entries for ${layers} blocks`);
  const bad = a.findIndex((x) => !Number.isSafeInteger(x) || x < 0 || x > 2 ** 30);
  if (bad >= 0) f.fail(`metadata ${key}[${bad}] = ${a[bad]} is not an integer in [0, 2^30]`);
  return a;
}

/** The GGUF keys of the config numbers, for error messages. */
export function ggufFields(arch: string): ConfigFields {
  return {
    hiddenSize: `${arch}.embedding_length`,
    intermediateSize: `${arch}.feed_forward_length`,
    numLayers: `${arch}.block_count`,
    numHeads: `${arch}.attention.head_count`,
    numKvHeads: `${arch}.attention.head_count_kv`,
    headDim: `${arch}.attention.key_length`,
    vocabSize: 'token_embd.weight rows',
    contextLength: `${arch}.context_length`,
    normEps: arch === 'gpt2' ? 'gpt2.attention.layer_norm_epsilon' : `${arch}.attention.layer_norm_rms_epsilon`,
    ropeTheta: `${arch}.rope.freq_base`,
    ropeDim: `${arch}.rope.dimension_count`,
    bosTokenId: 'tokenizer.ggml.bos_token_id',
    eosTokenId: 'tokenizer.ggml.eos_token_id',
  };
}

/**
 * The config `g` describes (vocabSize and tiedEmbeddings from its tensors). For deci,
 * `written` is every block's widths as the file states them (zero stand-ins included;
 * lib/formats/gguf-deci.ts): the caller turns stand-ins into removed sublayers.
 */
export function ggufConfig(f: MappedFile, g: GGUFFile, arch: GGUFArch, vocab: number, tied: boolean): { config: ModelConfig; written?: BlockShape[] } {
  const k = (s: string) => `${arch}.${s}`;
  const hidden = ggufNumber(f, g, k('embedding_length'));
  const layers = ggufNumber(f, g, k('block_count'));
  const common = {
    hiddenSize: hidden,
    numLayers: layers,
    vocabSize: vocab,
    contextLength: ggufNumber(f, g, k('context_length')),
    tiedEmbeddings: tied,
    preNorm: true,
  };
  if (arch === 'gpt2') {
    const heads = ggufNumber(f, g, k('attention.head_count'));
    return {
      config: {
        ...common,
        architecture: 'gpt2',
        family: 'gpt2',
        intermediateSize: ggufNumber(f, g, k('feed_forward_length')),
        numHeads: heads,
        numKvHeads: ggufNumber(f, g, k('attention.head_count_kv'), heads),
        headDim: hidden / heads,
        norm: 'layernorm',
        normEps: ggufNumber(f, g, k('attention.layer_norm_epsilon')),
        activation: 'gelu_tanh',
        rope: null,
        positionOffset: 0,
      },
    };
  }
  let heads: number[], kvHeads: number[], ff: number[];
  if (arch === 'deci') {
    // Bounded by the file: per-layer arrays of block_count entries are in it; scalar
    // widths give every block the same tensors (at least one each).
    if (![k('feed_forward_length'), k('attention.head_count')].some((key) => g.byKey.get(key)?.type === 'array') && layers > g.tensors.length)
      f.fail(`${k('block_count')} = ${layers}, but the model holds ${g.tensors.length} tensors`);
    ff = perLayer(f, g, k('feed_forward_length'), layers);
    heads = perLayer(f, g, k('attention.head_count'), layers);
    kvHeads = perLayer(f, g, k('attention.head_count_kv'), layers, heads);
    const linear = heads.findIndex((h, i) => h > 0 && kvHeads[i] === 0);
    if (linear >= 0) f.fail(`block ${linear} has ${heads[linear]} heads and no KV heads (deci "linear attention"), which shears does not run`);
  } else {
    heads = [ggufNumber(f, g, k('attention.head_count'))];
    kvHeads = [ggufNumber(f, g, k('attention.head_count_kv'), heads[0])];
    ff = [ggufNumber(f, g, k('feed_forward_length'))];
  }
  // llama.cpp: head size = hidden / block 0's heads unless key_length says otherwise.
  const headDim = ggufNumber(f, g, k('attention.key_length'), heads[0] > 0 ? hidden / heads[0] : NaN);
  if (Number.isNaN(headDim)) f.fail(`block 0 has no attention heads and ${k('attention.key_length')} is missing: the head size is unknown`);
  const written = heads.map((h, i) => ({ numHeads: h, numKvHeads: h === 0 ? 0 : kvHeads[i], intermediateSize: ff[i] }));
  const config: ModelConfig = {
    ...common,
    architecture: 'llama',
    family: GGUF_ARCHES[arch].family,
    intermediateSize: Math.max(...ff, 0),
    numHeads: Math.max(...heads, 0),
    numKvHeads: Math.max(...written.map((b) => b.numKvHeads), 0),
    headDim,
    norm: 'rmsnorm',
    normEps: ggufNumber(f, g, k('attention.layer_norm_rms_epsilon')),
    activation: 'silu',
    rope: {
      layout: GGUF_ARCHES[arch].layout!,
      theta: ggufNumber(f, g, k('rope.freq_base'), 10000),
      dim: ggufNumber(f, g, k('rope.dimension_count'), headDim),
    },
    positionOffset: 0,
  };
  return arch === 'deci' ? { config, written } : { config };
}

/** Per-block widths for a config: absent when every block has the same, non-zero widths. */
export function blocksOf(shapes: BlockShape[]): BlockShape[] | undefined {
  const b0 = shapes[0];
  if (!b0) return undefined;
  const same = shapes.every((b) => b.numHeads === b0.numHeads && b.numKvHeads === b0.numKvHeads && b.intermediateSize === b0.intermediateSize);
  return same && b0.numHeads > 0 && b0.intermediateSize > 0 ? undefined : shapes;
}
