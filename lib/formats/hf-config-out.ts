// ModelConfig -> Hugging Face config.json, and canonical -> HF tensor names.
import { Activation, ModelConfig, TensorDType } from '../model/types';
import { GPT2_LAYER, LLAMA_LAYER, OPT_LAYER } from './hf-config';
import { HFLayout } from './hf-structure';

const TORCH_DTYPE: Record<TensorDType, string> = { f32: 'float32', f16: 'float16', bf16: 'bfloat16' };
const LLAMA_CLASSES: Record<string, string> = { llama: 'LlamaForCausalLM', mistral: 'MistralForCausalLM', qwen2: 'Qwen2ForCausalLM' };

function hfActivation(a: Activation, gpt2: boolean): string {
  if (a === 'gelu_tanh') return gpt2 ? 'gelu_new' : 'gelu_pytorch_tanh';
  return a;
}

/**
 * config.json for a model laid out by hfLayout() (lib/formats/hf-structure.ts: family,
 * bias flags, the blocks' common widths). `source` (the input's own config.json, same
 * model_type) is the base, so fields shears does not model survive an HF -> HF conversion.
 * head_dim is always explicit: after heads are removed it differs from hidden / heads.
 */
export function configToHF(layout: HFLayout, dtype: TensorDType, source?: Record<string, unknown>): Record<string, unknown> {
  const c = layout.config;
  const tokens: Record<string, unknown> = {};
  if (c.bosTokenId !== undefined) tokens.bos_token_id = c.bosTokenId;
  if (c.eosTokenId !== undefined) tokens.eos_token_id = c.eosTokenId;
  let own: Record<string, unknown>;
  if (c.architecture === 'llama') {
    const family = layout.family;
    own = {
      architectures: [LLAMA_CLASSES[family]],
      model_type: family,
      hidden_size: c.hiddenSize,
      intermediate_size: c.intermediateSize,
      num_hidden_layers: c.numLayers,
      num_attention_heads: c.numHeads,
      num_key_value_heads: c.numKvHeads,
      head_dim: c.headDim,
      vocab_size: c.vocabSize,
      max_position_embeddings: c.contextLength,
      rms_norm_eps: c.normEps,
      rope_theta: c.rope!.theta,
      rope_scaling: c.rope!.scaling
        ? {
            rope_type: 'llama3',
            factor: c.rope!.scaling.factor,
            low_freq_factor: c.rope!.scaling.lowFreqFactor,
            high_freq_factor: c.rope!.scaling.highFreqFactor,
            original_max_position_embeddings: c.rope!.scaling.originalContextLength,
          }
        : null,
      hidden_act: hfActivation(c.activation, false),
      tie_word_embeddings: c.tiedEmbeddings,
      ...(family === 'llama' ? { attention_bias: layout.attentionBias, mlp_bias: layout.mlpBias } : {}),
      // MistralConfig's default window is 4096 tokens; shears attends to the whole context.
      ...(family === 'mistral' ? { sliding_window: source?.model_type === 'mistral' ? (source.sliding_window ?? null) : null } : {}),
      ...(c.rope!.dim !== c.headDim ? { partial_rotary_factor: c.rope!.dim / c.headDim } : {}),
    };
  } else if (c.architecture === 'opt') {
    own = {
      architectures: ['OPTForCausalLM'],
      model_type: 'opt',
      hidden_size: c.hiddenSize,
      word_embed_proj_dim: c.hiddenSize,
      ffn_dim: c.intermediateSize,
      num_hidden_layers: c.numLayers,
      num_attention_heads: c.numHeads,
      vocab_size: c.vocabSize,
      max_position_embeddings: c.contextLength,
      do_layer_norm_before: c.preNorm,
      activation_function: hfActivation(c.activation, false),
      enable_bias: true,
      layer_norm_elementwise_affine: true,
      tie_word_embeddings: c.tiedEmbeddings,
    };
  } else {
    own = {
      architectures: ['GPT2LMHeadModel'],
      model_type: 'gpt2',
      n_embd: c.hiddenSize,
      n_inner: c.intermediateSize,
      n_layer: c.numLayers,
      n_head: c.numHeads,
      vocab_size: c.vocabSize,
      n_positions: c.contextLength,
      n_ctx: c.contextLength,
      layer_norm_epsilon: c.normEps,
      activation_function: hfActivation(c.activation, true),
      tie_word_embeddings: c.tiedEmbeddings,
    };
  }
  const base = source && source.model_type === own.model_type ? source : {};
  return { ...base, ...own, ...tokens, torch_dtype: TORCH_DTYPE[dtype] };
}

function invert(table: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(table).map(([k, v]) => [v, k]));
}
const LLAMA_OUT = invert(LLAMA_LAYER);
const OPT_OUT = invert(OPT_LAYER);
const GPT2_OUT: Record<string, string> = {};
for (const [k, r] of Object.entries(GPT2_LAYER)) if (r.kind === 'direct' || r.kind === 'conv1d') GPT2_OUT[r.name] = k;

/** HF name of a canonical tensor (GPT-2 q/k/v are fused by the writer and not named here). */
export function hfNameFor(c: ModelConfig, name: string): string | undefined {
  const m = /^blocks\.(\d+)\.(.+)$/.exec(name);
  if (c.architecture === 'llama') {
    const top: Record<string, string> = { 'embed.weight': 'model.embed_tokens.weight', 'final_norm.weight': 'model.norm.weight', 'lm_head.weight': 'lm_head.weight' };
    if (!m) return top[name];
    return LLAMA_OUT[m[2]] && `model.layers.${m[1]}.${LLAMA_OUT[m[2]]}`;
  }
  if (c.architecture === 'opt') {
    const top: Record<string, string> = {
      'embed.weight': 'model.decoder.embed_tokens.weight',
      'pos_embed.weight': 'model.decoder.embed_positions.weight',
      'final_norm.weight': 'model.decoder.final_layer_norm.weight',
      'final_norm.bias': 'model.decoder.final_layer_norm.bias',
      'lm_head.weight': 'lm_head.weight',
    };
    if (!m) return top[name];
    return OPT_OUT[m[2]] && `model.decoder.layers.${m[1]}.${OPT_OUT[m[2]]}`;
  }
  const top: Record<string, string> = {
    'embed.weight': 'transformer.wte.weight',
    'pos_embed.weight': 'transformer.wpe.weight',
    'final_norm.weight': 'transformer.ln_f.weight',
    'final_norm.bias': 'transformer.ln_f.bias',
    'lm_head.weight': 'lm_head.weight',
  };
  if (!m) return top[name];
  return GPT2_OUT[m[2]] && `transformer.h.${m[1]}.${GPT2_OUT[m[2]]}`;
}
