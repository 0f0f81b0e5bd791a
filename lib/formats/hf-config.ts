// Hugging Face config.json -> ModelConfig, and HF tensor names -> canonical names, for
// the Llama family (llama, mistral, qwen2), OPT and GPT-2.
import { FormatError } from '../errors';
import { Activation, Architecture, ModelConfig, RopeScaling } from '../model/types';
import { ConfigFields, MAX_CONFIG_INT } from './model';

type Json = Record<string, unknown>;

export const LLAMA_FAMILIES = ['llama', 'mistral', 'qwen2'];

function numberField(file: string, c: Json, key: string, fallback?: number): number {
  const v = c[key];
  if (v === undefined || v === null) {
    if (fallback === undefined) throw new FormatError(file, `${key} is missing`);
    return fallback;
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new FormatError(file, `${key} must be a finite number, got ${JSON.stringify(v)}`);
  return v;
}

/** A count or size: a positive integer (1.5, -3, "32" and 1e300 are format errors naming the key). */
function intField(file: string, c: Json, key: string, fallback?: number): number {
  const v = numberField(file, c, key, fallback);
  if (!Number.isSafeInteger(v) || v < 1 || v > MAX_CONFIG_INT) throw new FormatError(file, `${key} must be a positive integer at most 2^30, got ${JSON.stringify(v)}`);
  return v;
}

/** A boolean flag; anything but true/false/absent is a format error. */
function boolField(file: string, c: Json, key: string): boolean | undefined {
  const v = c[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new FormatError(file, `${key} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function tokenId(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (Array.isArray(v) && typeof v[0] === 'number') return v[0];
  return undefined;
}

function activation(file: string, key: string, v: unknown): Activation {
  const map: Record<string, Activation> = {
    silu: 'silu',
    swish: 'silu',
    relu: 'relu',
    gelu: 'gelu',
    gelu_new: 'gelu_tanh',
    gelu_pytorch_tanh: 'gelu_tanh',
    gelu_fast: 'gelu_tanh',
  };
  const a = map[String(v)];
  if (!a) throw new FormatError(file, `${key} '${String(v)}' is not supported (silu, relu, gelu, gelu_new)`);
  return a;
}

function ropeScaling(file: string, v: unknown): RopeScaling | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new FormatError(file, `rope_scaling must be an object, got ${JSON.stringify(v).slice(0, 100)}`);
  const s = v as Json;
  const type = s.rope_type ?? s.type;
  if (type === 'default') return undefined;
  if (type !== 'llama3') throw new FormatError(file, `rope_scaling type '${String(type)}' is not supported (only 'llama3')`);
  return {
    type: 'llama3',
    factor: numberField(file, s, 'factor'),
    lowFreqFactor: numberField(file, s, 'low_freq_factor'),
    highFreqFactor: numberField(file, s, 'high_freq_factor'),
    originalContextLength: intField(file, s, 'original_max_position_embeddings'),
  };
}

function llamaConfig(file: string, c: Json, family: string): ModelConfig {
  const hidden = intField(file, c, 'hidden_size');
  const heads = intField(file, c, 'num_attention_heads');
  if (c.head_dim == null && hidden % heads !== 0)
    throw new FormatError(file, `hidden_size ${hidden} is not a multiple of num_attention_heads ${heads} (and there is no head_dim)`);
  const headDim = intField(file, c, 'head_dim', hidden / heads);
  const partial = numberField(file, c, 'partial_rotary_factor', 1);
  const config: ModelConfig = {
    architecture: 'llama',
    family,
    hiddenSize: hidden,
    intermediateSize: intField(file, c, 'intermediate_size'),
    numLayers: intField(file, c, 'num_hidden_layers'),
    numHeads: heads,
    numKvHeads: intField(file, c, 'num_key_value_heads', heads),
    headDim,
    vocabSize: intField(file, c, 'vocab_size'),
    contextLength: intField(file, c, 'max_position_embeddings', 2048),
    norm: 'rmsnorm',
    normEps: numberField(file, c, 'rms_norm_eps', 1e-6),
    activation: activation(file, 'hidden_act', c.hidden_act ?? 'silu'),
    rope: { layout: 'rotate_half', theta: numberField(file, c, 'rope_theta', 10000), dim: Math.round(headDim * partial) },
    positionOffset: 0,
    tiedEmbeddings: boolField(file, c, 'tie_word_embeddings') === true,
    preNorm: true,
  };
  const scaling = ropeScaling(file, c.rope_scaling);
  if (scaling) config.rope!.scaling = scaling;
  return config;
}

function optConfig(file: string, c: Json): ModelConfig {
  const hidden = intField(file, c, 'hidden_size');
  const proj = intField(file, c, 'word_embed_proj_dim', hidden);
  if (proj !== hidden)
    throw new FormatError(file, `word_embed_proj_dim ${proj} differs from hidden_size ${hidden} (OPT-350m style project_in/out is not supported)`);
  if (c.layer_norm_elementwise_affine === false) throw new FormatError(file, 'layer_norm_elementwise_affine = false is not supported');
  if (c.enable_bias === false) throw new FormatError(file, 'enable_bias = false is not supported');
  if (c._remove_final_layer_norm === true) throw new FormatError(file, '_remove_final_layer_norm = true is not supported');
  const heads = intField(file, c, 'num_attention_heads');
  return {
    architecture: 'opt',
    family: 'opt',
    hiddenSize: hidden,
    intermediateSize: intField(file, c, 'ffn_dim'),
    numLayers: intField(file, c, 'num_hidden_layers'),
    numHeads: heads,
    numKvHeads: heads,
    headDim: hidden / heads,
    vocabSize: intField(file, c, 'vocab_size'),
    contextLength: intField(file, c, 'max_position_embeddings'),
    norm: 'layernorm',
    normEps: 1e-5,
    activation: activation(file, 'activation_function', c.activation_function ?? 'relu'),
    rope: null,
    positionOffset: 2,
    tiedEmbeddings: boolField(file, c, 'tie_word_embeddings') !== false,
    preNorm: boolField(file, c, 'do_layer_norm_before') !== false,
  };
}

function gpt2Config(file: string, c: Json): ModelConfig {
  for (const k of ['scale_attn_by_inverse_layer_idx', 'reorder_and_upcast_attn'])
    if (c[k] === true) throw new FormatError(file, `${k} = true is not supported`);
  if (c.scale_attn_weights === false) throw new FormatError(file, 'scale_attn_weights = false is not supported');
  const hidden = intField(file, c, 'n_embd');
  const heads = intField(file, c, 'n_head');
  return {
    architecture: 'gpt2',
    family: 'gpt2',
    hiddenSize: hidden,
    intermediateSize: intField(file, c, 'n_inner', 4 * hidden),
    numLayers: intField(file, c, 'n_layer'),
    numHeads: heads,
    numKvHeads: heads,
    headDim: hidden / heads,
    vocabSize: intField(file, c, 'vocab_size'),
    contextLength: intField(file, c, 'n_positions'),
    norm: 'layernorm',
    normEps: numberField(file, c, 'layer_norm_epsilon', 1e-5),
    activation: activation(file, 'activation_function', c.activation_function ?? 'gelu_new'),
    rope: null,
    positionOffset: 0,
    tiedEmbeddings: boolField(file, c, 'tie_word_embeddings') !== false,
    preNorm: true,
  };
}

/** Maps a parsed config.json onto a ModelConfig; `file` names it in errors. */
export function configFromHF(file: string, c: Json): ModelConfig {
  const type = c.model_type;
  let config: ModelConfig;
  if (typeof type === 'string' && LLAMA_FAMILIES.includes(type)) config = llamaConfig(file, c, type);
  else if (type === 'opt') config = optConfig(file, c);
  else if (type === 'gpt2') config = gpt2Config(file, c);
  else {
    const arch = Array.isArray(c.architectures) ? ` (architectures: ${c.architectures.join(', ')})` : '';
    throw new FormatError(file, `unsupported model_type '${String(type)}'${arch}; shears reads llama, mistral, qwen2, opt and gpt2`);
  }
  const bos = tokenId(c.bos_token_id);
  const eos = tokenId(c.eos_token_id);
  if (bos !== undefined) config.bosTokenId = bos;
  if (eos !== undefined) config.eosTokenId = eos;
  return config;
}

/** What to do with one HF tensor. */
export type HFTensorRole =
  | { kind: 'direct'; name: string }
  /** GPT-2 Conv1D weight stored [in, out]: transpose into [out, in]. */
  | { kind: 'conv1d'; name: string }
  /** GPT-2 fused c_attn ([in, 3*out] weight or [3*out] bias): split into q, k, v. */
  | { kind: 'qkv'; layer: number; part: 'weight' | 'bias' }
  | { kind: 'ignore' };

export const LLAMA_LAYER: Record<string, string> = {
  'input_layernorm.weight': 'attn_norm.weight',
  'post_attention_layernorm.weight': 'mlp_norm.weight',
  'self_attn.q_proj.weight': 'attn.q.weight',
  'self_attn.k_proj.weight': 'attn.k.weight',
  'self_attn.v_proj.weight': 'attn.v.weight',
  'self_attn.o_proj.weight': 'attn.o.weight',
  'self_attn.q_proj.bias': 'attn.q.bias',
  'self_attn.k_proj.bias': 'attn.k.bias',
  'self_attn.v_proj.bias': 'attn.v.bias',
  'self_attn.o_proj.bias': 'attn.o.bias',
  'mlp.gate_proj.weight': 'mlp.gate.weight',
  'mlp.up_proj.weight': 'mlp.up.weight',
  'mlp.down_proj.weight': 'mlp.down.weight',
  // Llama's mlp_bias (and what bias compensation adds to down_proj).
  'mlp.gate_proj.bias': 'mlp.gate.bias',
  'mlp.up_proj.bias': 'mlp.up.bias',
  'mlp.down_proj.bias': 'mlp.down.bias',
};
export const OPT_LAYER: Record<string, string> = {};
for (const p of ['weight', 'bias']) {
  OPT_LAYER[`self_attn_layer_norm.${p}`] = `attn_norm.${p}`;
  OPT_LAYER[`final_layer_norm.${p}`] = `mlp_norm.${p}`;
  OPT_LAYER[`self_attn.q_proj.${p}`] = `attn.q.${p}`;
  OPT_LAYER[`self_attn.k_proj.${p}`] = `attn.k.${p}`;
  OPT_LAYER[`self_attn.v_proj.${p}`] = `attn.v.${p}`;
  OPT_LAYER[`self_attn.out_proj.${p}`] = `attn.o.${p}`;
  OPT_LAYER[`fc1.${p}`] = `mlp.fc1.${p}`;
  OPT_LAYER[`fc2.${p}`] = `mlp.fc2.${p}`;
}
export const GPT2_LAYER: Record<string, HFTensorRole> = {
  'ln_1.weight': { kind: 'direct', name: 'attn_norm.weight' },
  'ln_1.bias': { kind: 'direct', name: 'attn_norm.bias' },
  'ln_2.weight': { kind: 'direct', name: 'mlp_norm.weight' },
  'ln_2.bias': { kind: 'direct', name: 'mlp_norm.bias' },
  'attn.c_proj.weight': { kind: 'conv1d', name: 'attn.o.weight' },
  'attn.c_proj.bias': { kind: 'direct', name: 'attn.o.bias' },
  'mlp.c_fc.weight': { kind: 'conv1d', name: 'mlp.fc1.weight' },
  'mlp.c_fc.bias': { kind: 'direct', name: 'mlp.fc1.bias' },
  'mlp.c_proj.weight': { kind: 'conv1d', name: 'mlp.fc2.weight' },
  'mlp.c_proj.bias': { kind: 'direct', name: 'mlp.fc2.bias' },
  'attn.bias': { kind: 'ignore' }, // causal-mask buffers of old checkpoints
  'attn.masked_bias': { kind: 'ignore' },
};

/** The role of HF tensor `name` for `config`; undefined when the name is not expected. */
export function hfTensorRole(config: ModelConfig, name: string): HFTensorRole | undefined {
  const layered = (n: string, table: Record<string, string>): HFTensorRole | undefined => {
    const m = /^layers\.(\d+)\.(.+)$/.exec(n);
    if (!m) return undefined;
    const c = table[m[2]];
    return c ? { kind: 'direct', name: `blocks.${m[1]}.${c}` } : undefined;
  };
  const tiedHead = (): HFTensorRole => (config.tiedEmbeddings ? { kind: 'ignore' } : { kind: 'direct', name: 'lm_head.weight' });
  if (config.architecture === 'llama') {
    if (name === 'lm_head.weight') return tiedHead();
    const n = name.replace(/^model\./, '');
    if (n === 'embed_tokens.weight') return { kind: 'direct', name: 'embed.weight' };
    if (n === 'norm.weight') return { kind: 'direct', name: 'final_norm.weight' };
    if (/^layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/.test(n)) return { kind: 'ignore' };
    return layered(n, LLAMA_LAYER);
  }
  if (config.architecture === 'opt') {
    if (name === 'lm_head.weight') return tiedHead();
    const n = name.replace(/^model\./, '').replace(/^decoder\./, '');
    if (n === 'embed_tokens.weight') return { kind: 'direct', name: 'embed.weight' };
    if (n === 'embed_positions.weight') return { kind: 'direct', name: 'pos_embed.weight' };
    if (n === 'final_layer_norm.weight') return { kind: 'direct', name: 'final_norm.weight' };
    if (n === 'final_layer_norm.bias') return { kind: 'direct', name: 'final_norm.bias' };
    return layered(n, OPT_LAYER);
  }
  if (name === 'lm_head.weight') return tiedHead();
  const n = name.replace(/^transformer\./, '');
  if (n === 'wte.weight') return { kind: 'direct', name: 'embed.weight' };
  if (n === 'wpe.weight') return { kind: 'direct', name: 'pos_embed.weight' };
  if (n === 'ln_f.weight') return { kind: 'direct', name: 'final_norm.weight' };
  if (n === 'ln_f.bias') return { kind: 'direct', name: 'final_norm.bias' };
  const m = /^h\.(\d+)\.(.+)$/.exec(n);
  if (!m) return undefined;
  if (m[2] === 'attn.c_attn.weight') return { kind: 'qkv', layer: Number(m[1]), part: 'weight' };
  if (m[2] === 'attn.c_attn.bias') return { kind: 'qkv', layer: Number(m[1]), part: 'bias' };
  const r = GPT2_LAYER[m[2]];
  if (!r) return undefined;
  return r.kind === 'ignore' ? r : { kind: r.kind, name: `blocks.${m[1]}.${(r as { name: string }).name}` } as HFTensorRole;
}

/** Expected rows of pos_embed for learned-position families. */
export function positionRows(config: ModelConfig): number {
  return config.contextLength + config.positionOffset;
}

export const ARCHITECTURES: readonly Architecture[] = ['llama', 'opt', 'gpt2'];

/** What config.json calls the numbers of `config`, for error messages. */
export function hfConfigFields(config: ModelConfig): ConfigFields {
  const common = { bosTokenId: 'bos_token_id', eosTokenId: 'eos_token_id', vocabSize: 'vocab_size' };
  if (config.architecture === 'gpt2')
    return { ...common, hiddenSize: 'n_embd', intermediateSize: 'n_inner', numLayers: 'n_layer', numHeads: 'n_head', contextLength: 'n_positions', normEps: 'layer_norm_epsilon' };
  if (config.architecture === 'opt')
    return { ...common, hiddenSize: 'hidden_size', intermediateSize: 'ffn_dim', numLayers: 'num_hidden_layers', numHeads: 'num_attention_heads', contextLength: 'max_position_embeddings' };
  return {
    ...common,
    hiddenSize: 'hidden_size',
    intermediateSize: 'intermediate_size',
    numLayers: 'num_hidden_layers',
    numHeads: 'num_attention_heads',
    numKvHeads: 'num_key_value_heads',
    headDim: 'head_dim',
    contextLength: 'max_position_embeddings',
    normEps: 'rms_norm_eps',
    ropeTheta: 'rope_theta',
    ropeDim: 'head_dim x partial_rotary_factor',
  };
}
