// The one internal description every model format maps onto. Readers (lib/formats/)
// produce a LoadedModel; the forward pass (lib/forward/) and the pruning pipeline read
// it; writers turn it back into files. Tensor names are canonical (below), whatever
// the source format called them.
//
// Canonical tensor names (linear weights are [out, in], row-major):
//   embed.weight                    [vocab, hidden]
//   pos_embed.weight                [positions, hidden]          learned positions (OPT, GPT-2)
//   blocks.{i}.attn_norm.weight     [hidden]   (+ .bias for LayerNorm)
//   blocks.{i}.attn.{q,k,v,o}.weight  q: [heads*headDim, hidden], k/v: [kvHeads*headDim, hidden], o: [hidden, heads*headDim]
//   blocks.{i}.attn.{q,k,v,o}.bias    when the family has them (OPT, GPT-2; Qwen2 q/k/v)
//   blocks.{i}.mlp_norm.weight      [hidden]   (+ .bias)
//   blocks.{i}.mlp.{gate,up}.weight [intermediate, hidden]   Llama SwiGLU
//   blocks.{i}.mlp.down.weight      [hidden, intermediate]
//   blocks.{i}.mlp.fc1.weight/.bias [intermediate, hidden]   OPT, GPT-2
//   blocks.{i}.mlp.fc2.weight/.bias [hidden, intermediate]
//   final_norm.weight               [hidden]   (+ .bias)
//   lm_head.weight                  [vocab, hidden]   absent when tied to embed.weight
// Q/K rows are kept as the source stores them; config.rope.layout says which RoPE
// layout they are in (writers permute when the target format needs the other one).

export type Architecture = 'llama' | 'opt' | 'gpt2';
/**
 * Element type of weights, everywhere in shears (tensors, matrices, kernels, writers):
 * the one dtype type. f16/bf16 data are raw bits in a Uint16Array.
 */
export type DType = 'f32' | 'f16' | 'bf16';
export const DTYPES: readonly DType[] = ['f32', 'f16', 'bf16'];
/** DType under the name the model formats use. */
export type TensorDType = DType;
export type NormType = 'rmsnorm' | 'layernorm';
export type Activation = 'silu' | 'relu' | 'gelu' | 'gelu_tanh';
/** interleaved: pairs (2i, 2i+1) rotate together (GGUF, llama2.c); rotate_half: (i, i + d/2) (HF). */
export type RopeLayout = 'interleaved' | 'rotate_half';

export interface RopeScaling {
  /** Llama-3 style frequency scaling ("rope_type": "llama3"). */
  type: 'llama3';
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalContextLength: number;
}

export interface RopeConfig {
  layout: RopeLayout;
  theta: number;
  /** Rotated dimensions per head (usually headDim). */
  dim: number;
  scaling?: RopeScaling;
}

/**
 * One block's widths. Structured pruning makes them differ from block to block; a
 * sublayer it removed entirely has 0 (numHeads 0: no attention, its norm and q/k/v/o are
 * gone; intermediateSize 0: no MLP). headDim stays the model's: heads go whole.
 */
export interface BlockShape {
  numHeads: number;
  numKvHeads: number;
  intermediateSize: number;
}

export interface ModelConfig {
  architecture: Architecture;
  /** Family name as the source calls it (llama, mistral, qwen2, opt, gpt2). */
  family: string;
  hiddenSize: number;
  /** The widths of a block; per block, when they differ, in `blocks` (read them with blockShape()). */
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  /**
   * Per-block widths (numLayers entries) when blocks differ; absent: every block has
   * numHeads / numKvHeads / intermediateSize. lib/model/shapes.ts reads and checks them.
   */
  blocks?: BlockShape[];
  vocabSize: number;
  contextLength: number;
  norm: NormType;
  normEps: number;
  activation: Activation;
  /** null for learned absolute positions. */
  rope: RopeConfig | null;
  /** Learned positions: row of pos_embed used for position p is p + positionOffset (OPT: 2). */
  positionOffset: number;
  tiedEmbeddings: boolean;
  /** OPT's do_layer_norm_before (true for every OPT but 350m); pre-norm for the others. */
  preNorm: boolean;
  bosTokenId?: number;
  eosTokenId?: number;
}

/** A tensor as loaded: zero-copy view into a memory-mapped file where possible. */
export interface Tensor {
  name: string;
  dtype: DType;
  shape: number[];
  /** f32: Float32Array; f16/bf16: Uint16Array of raw bits. Length = product of shape. */
  data: Float32Array | Uint16Array;
}

/** Where a model's tokenizer comes from. lib/tokenizer turns it into a Tokenizer. */
export type TokenizerSource =
  | { kind: 'llama2c'; path: string }
  | {
      /** A SentencePiece-style vocabulary stored in a GGUF file (tokenizer.ggml.model = llama). */
      kind: 'gguf-llama';
      tokens: string[];
      scores: number[];
      tokenTypes?: number[];
      bos?: number;
      eos?: number;
      unk?: number;
      pad?: number;
      addBos?: boolean;
      addEos?: boolean;
    }
  | { kind: 'hf'; tokenizerJsonPath: string; tokenizerConfigPath?: string }
  | { kind: 'none'; reason: string };

export type ModelFormat = 'hf' | 'gguf' | 'llama2c';

export interface LoadedModel {
  format: ModelFormat;
  /** The path the user gave (directory or file). */
  path: string;
  config: ModelConfig;
  /** Canonical name -> tensor. */
  tensors: Map<string, Tensor>;
  tokenizer: TokenizerSource;
  /** Free-form facts for `shears info` (GGUF metadata keys, llama2.c version...). */
  meta: Record<string, unknown>;
  /** Releases the memory maps. Tensors must not be used afterwards. */
  close(): void;
}

/** GGUF metadata value types (GGUF spec names). */
export type GGUFScalarType =
  | 'uint8'
  | 'int8'
  | 'uint16'
  | 'int16'
  | 'uint32'
  | 'int32'
  | 'uint64'
  | 'int64'
  | 'float32'
  | 'float64'
  | 'bool'
  | 'string';

/** A GGUF array of strings as the reader returns it: decoded one at a time, on access. */
export interface GGUFStrings extends Iterable<string> {
  readonly length: number;
  get(index: number): string;
}

/** A GGUF numeric array as the reader returns it (bool: Uint8Array, nonzero is true). */
export type GGUFNumbers =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigUint64Array
  | BigInt64Array;

/** One GGUF metadata key/value as readers return it and writers take it. */
export interface GGUFEntry {
  key: string;
  type: GGUFScalarType | 'array';
  /** Element type when type is 'array'. */
  itemType?: GGUFScalarType;
  /**
   * number | bigint | boolean | string for scalars. Arrays: readers give GGUFNumbers or
   * GGUFStrings (views of the mapped file: valid until the model is closed); writers
   * also take plain JS arrays.
   */
  value: unknown;
}

/** What a writer needs to reproduce a tokenizer in another format (lib/tokenizer/artifacts.ts). */
export interface TokenizerArtifacts {
  /** File name -> content, written into an HF model directory (tokenizer.json, tokenizer_config.json...). */
  hfFiles: Record<string, string>;
  /** tokenizer.ggml.* entries for a GGUF file. */
  ggufEntries: GGUFEntry[];
}
