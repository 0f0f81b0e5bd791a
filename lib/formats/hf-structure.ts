// How a model, structurally pruned or not, is written as a stock Hugging Face model: the
// config class that describes it (model_type), its bias flags, and the bias tensors that
// class creates but the model lacks (written as zeros: they change nothing). What no
// stock class loads is refused here, before any file is written. The transformers facts
// behind each rule, with their sources: docs/hf-structured.md.
import { FormatError, ShapeError, ShearsError } from '../errors';
import { blockShape, blockShapes, checkBlockShapes, uniformShapes, withBlockShapes } from '../model/shapes';
import { BlockShape, ModelConfig, Tensor } from '../model/types';
import { LLAMA_FAMILIES } from './hf-config';
import { checkTensors } from './model';

/** A model that no stock Hugging Face class can load as it is (per-block widths, heads removed from OPT...). */
export class HFStructureError extends ShearsError {
  constructor(message: string) {
    super(message, 'E_HF_STRUCTURE');
  }
}

export type HFFamily = 'llama' | 'mistral' | 'qwen2' | 'opt' | 'gpt2';

export interface HFLayout {
  /** The config to write: the blocks' common widths as the model-wide ones, no `blocks`. */
  config: ModelConfig;
  /** The model_type written (may differ from the source's: see familyFor). */
  family: HFFamily;
  /** Llama's attention_bias (q, k, v and o biases) and mlp_bias (gate, up and down biases). */
  attentionBias: boolean;
  mlpBias: boolean;
  /** Canonical bias tensors the stock class creates and the model lacks: written as zeros. */
  zeroBiases: { name: string; shape: number[] }[];
}

/** What the layout reads of a model (a LoadedModel, or a model being pruned). */
export interface HFLayoutSource {
  config: ModelConfig;
  tensors: Map<string, Tensor>;
  /** meta.hfConfig: the source's config.json, for its sliding window. */
  meta?: Record<string, unknown>;
}

const ATTN_BIASES = ['attn.q.bias', 'attn.k.bias', 'attn.v.bias', 'attn.o.bias'];
const GATED_MLP_BIASES = ['mlp.gate.bias', 'mlp.up.bias', 'mlp.down.bias'];
const FC_MLP_BIASES = ['mlp.fc1.bias', 'mlp.fc2.bias'];
const NORM_BIASES = ['attn_norm.bias', 'mlp_norm.bias'];
const SUGGEST = 'write a .gguf output instead (llama.cpp reads per-block widths)';

const widths = (b: BlockShape) => `${b.numHeads} heads, ${b.numKvHeads} KV heads, MLP ${b.intermediateSize}`;

/** The first blocks whose widths differ from block 0's, for the per-block refusal (bounded). */
function describeDifferences(shapes: BlockShape[]): string {
  const same = (a: BlockShape, b: BlockShape) => a.numHeads === b.numHeads && a.numKvHeads === b.numKvHeads && a.intermediateSize === b.intermediateSize;
  const differ = shapes.map((b, i) => [b, i] as const).filter(([b]) => !same(b, shapes[0]));
  const shown = differ.slice(0, 3).map(([b, i]) => `block ${i}: ${widths(b)}`);
  const more = differ.length > 3 ? `, and ${differ.length - 3} more blocks differ` : '';
  return `block 0: ${widths(shapes[0])}; ${shown.join('; ')}${more}`;
}

/** The bias tensors (canonical suffixes) the stock class of `family` creates in every block. */
function stockBiases(family: HFFamily, attentionBias: boolean, mlpBias: boolean): string[] {
  if (family === 'opt' || family === 'gpt2') return [...ATTN_BIASES, ...FC_MLP_BIASES, ...NORM_BIASES];
  if (family === 'qwen2') return ATTN_BIASES.slice(0, 3);
  if (family === 'mistral') return [];
  return [...(attentionBias ? ATTN_BIASES : []), ...(mlpBias ? GATED_MLP_BIASES : [])];
}

function biasShape(c: ModelConfig, suffix: string): number[] {
  const b = blockShape(c, 0);
  if (suffix === 'attn.q.bias') return [b.numHeads * c.headDim];
  if (suffix === 'attn.k.bias' || suffix === 'attn.v.bias') return [b.numKvHeads * c.headDim];
  if (suffix === 'mlp.gate.bias' || suffix === 'mlp.up.bias' || suffix === 'mlp.fc1.bias') return [b.intermediateSize];
  return [c.hiddenSize];
}

/** The sliding window of an HF source, when it has one shorter than its context. */
function slidingWindow(c: ModelConfig, meta?: Record<string, unknown>): number | undefined {
  const hf = meta?.hfConfig as Record<string, unknown> | undefined;
  if (!hf || hf.model_type !== c.family) return undefined;
  const w = hf.sliding_window;
  const used = c.family === 'mistral' || (c.family === 'qwen2' && hf.use_sliding_window === true);
  return used && typeof w === 'number' && w < c.contextLength ? w : undefined;
}

/**
 * The Llama-family class that holds the model's biases as they are. Llama's
 * attention_bias gives q, k, v and o biases, mlp_bias gate, up and down biases; Qwen2
 * has q/k/v biases and never an o or MLP bias; Mistral has none. So a Qwen2 or Mistral
 * whose bias compensation added an o or MLP bias is written as Llama (the same
 * computation: RMSNorm, SwiGLU, RoPE), and a Llama with q/k/v biases alone as Qwen2.
 * transformers 5's LlamaConfig refuses a hidden size that is not a multiple of the heads
 * (even with head_dim), which head removal easily makes: such a Llama without biases is
 * written as Mistral without a sliding window (the same computation).
 */
function llamaFamily(has: (suffix: string) => boolean, source: string, headsDivideHidden: boolean): { family: HFFamily; attentionBias: boolean; mlpBias: boolean } {
  const qkv = has('attn.q.bias') || has('attn.k.bias') || has('attn.v.bias');
  const o = has('attn.o.bias');
  const mlp = GATED_MLP_BIASES.some(has);
  const src = (LLAMA_FAMILIES.includes(source) ? source : 'llama') as HFFamily;
  if (!o && !mlp && (qkv || src === 'qwen2')) return { family: 'qwen2', attentionBias: false, mlpBias: false };
  if (!qkv && !o && !mlp) return { family: src === 'llama' && !headsDivideHidden ? 'mistral' : src, attentionBias: false, mlpBias: false };
  return { family: 'llama', attentionBias: qkv || o, mlpBias: mlp };
}

/** Checks that a stock class can load `model` and says how to write it; throws HFStructureError otherwise. */
export function hfLayout(model: HFLayoutSource): HFLayout {
  checkBlockShapes(model.config, 'the model to write');
  const shapes = blockShapes(model.config);
  if (!uniformShapes(model.config))
    throw new HFStructureError(
      `the blocks of this model have different widths (${describeDifferences(shapes)}); a Hugging Face config.json ` +
        `gives every block the same widths: prune with --uniform, or ${SUGGEST}`,
    );
  const config = withBlockShapes(model.config, shapes);
  const b = blockShape(config, 0);
  if (config.numLayers < 1) throw new HFStructureError(`the model has no blocks left; a Hugging Face model needs at least one`);
  if (b.numHeads === 0 || b.intermediateSize === 0)
    throw new HFStructureError(
      `every block has lost its ${b.numHeads === 0 ? 'attention' : 'MLP'}; the stock Hugging Face classes build both in every block: ${SUGGEST}`,
    );
  const arch = config.architecture;
  if ((arch === 'opt' || arch === 'gpt2') && (b.numHeads * config.headDim !== config.hiddenSize || b.numKvHeads !== b.numHeads)) {
    const name = arch === 'opt' ? 'OPT' : 'GPT-2';
    throw new HFStructureError(
      `${name} with attention heads removed (${b.numHeads} heads of ${config.headDim} left, hidden size ${config.hiddenSize}) cannot be ` +
        `written for Hugging Face: ${name}'s config has no head_dim and transformers derives it as hidden size / heads; ` +
        `prune with --structure channels, or ${SUGGEST}`,
    );
  }
  try {
    checkTensors('the model to write', config, model.tensors);
  } catch (e) {
    if (e instanceof FormatError) throw new ShapeError(e.message, { cause: e });
    throw e;
  }
  const has = (suffix: string) => Array.from({ length: config.numLayers }, (_, i) => `blocks.${i}.${suffix}`).some((n) => model.tensors.has(n));
  const divisible = config.hiddenSize % b.numHeads === 0;
  const chosen = arch === 'llama' ? llamaFamily(has, config.family, divisible) : { family: arch as HFFamily, attentionBias: false, mlpBias: false };
  if (chosen.family === 'llama' && !divisible)
    throw new HFStructureError(
      `this model keeps ${b.numHeads} attention heads, which do not divide its hidden size ${config.hiddenSize}, and has ` +
        `o or MLP biases (bias compensation) that only the stock Llama class holds; transformers 5's LlamaConfig refuses ` +
        `such a hidden size even with an explicit head_dim: keep a number of heads that divides ${config.hiddenSize}, ` +
        `prune without bias compensation, or ${SUGGEST}`,
    );
  const window = slidingWindow(config, model.meta);
  if (chosen.family !== config.family && window !== undefined)
    throw new HFStructureError(
      `this ${config.family} model uses sliding-window attention (${window} tokens), and its biases (from bias compensation) ` +
        `need the stock ${chosen.family} class, which has no sliding window; prune without bias compensation, or ${SUGGEST}`,
    );
  const zeroBiases: HFLayout['zeroBiases'] = [];
  const suffixes = stockBiases(chosen.family, chosen.attentionBias, chosen.mlpBias);
  for (let i = 0; i < config.numLayers; i++)
    for (const s of suffixes) if (!model.tensors.has(`blocks.${i}.${s}`)) zeroBiases.push({ name: `blocks.${i}.${s}`, shape: biasShape(config, s) });
  if (arch !== 'llama' && model.tensors.has('final_norm.weight') && !model.tensors.has('final_norm.bias'))
    zeroBiases.push({ name: 'final_norm.bias', shape: [config.hiddenSize] });
  return { config, ...chosen, zeroBiases };
}

/**
 * For a structured prune whose output is an HF directory: refuses, before any pruning,
 * what hfLayout would refuse after it whatever the scores (heads removed from OPT or
 * GPT-2; per-block widths, which a run without --uniform gives unless it removes whole
 * blocks only).
 */
export function checkHFStructuredRun(config: ModelConfig, o: { structure: 'channels' | 'heads' | 'width' | 'layers'; uniform: boolean }): void {
  const heads = o.structure === 'heads' || o.structure === 'width';
  if (heads && (config.architecture === 'opt' || config.architecture === 'gpt2')) {
    const name = config.architecture === 'opt' ? 'OPT' : 'GPT-2';
    throw new HFStructureError(
      `--structure ${o.structure} removes attention heads, and a Hugging Face ${name} config cannot describe fewer heads ` +
        `(no head_dim: transformers derives it as hidden size / heads): use --structure channels, or ${SUGGEST}`,
    );
  }
  if (o.structure !== 'layers' && !o.uniform)
    throw new HFStructureError(
      `--structure ${o.structure} without --uniform gives each block its own widths, and a Hugging Face config.json ` +
        `gives every block the same: add --uniform, or ${SUGGEST}`,
    );
}

/** `tensors` with the layout's zero biases added (in the dtype of the weights beside them). */
export function withZeroBiases(tensors: Map<string, Tensor>, layout: HFLayout): Map<string, Tensor> {
  if (layout.zeroBiases.length === 0) return tensors;
  const out = new Map(tensors);
  for (const { name, shape } of layout.zeroBiases) {
    const dtype = tensors.get(name.replace(/\.bias$/, '.weight'))?.dtype ?? 'f32';
    const data = dtype === 'f32' ? new Float32Array(shape[0]) : new Uint16Array(shape[0]);
    out.set(name, { name, dtype, shape, data });
  }
  return out;
}
