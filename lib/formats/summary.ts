// The facts `shears info` shows about a loaded model.
import { blockShapes } from '../model/shapes';
import { LoadedModel, TensorDType } from '../model/types';
import { numelOf } from './model';

export interface ModelSummary {
  path: string;
  format: string;
  architecture: string;
  family: string;
  parameters: number;
  layers: number;
  hidden: number;
  intermediate: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  contextLength: number;
  norm: string;
  activation: string;
  positions: string;
  ropeLayout?: string;
  ropeTheta?: number;
  ropeScaling?: string;
  tiedEmbeddings: boolean;
  /** Tensor count per dtype. */
  dtypes: Partial<Record<TensorDType, number>>;
  /** GGUF: tensor count per stored type (Q8_0 is dequantized to f32 on load). */
  storedTypes?: Record<string, number>;
  tensors: number;
  tokenizer: string;
  tokenizerDetail?: string;
  sourceVersion?: string;
  /** GGUF: the llama.cpp architecture of the file (llama, qwen2, deci, gpt2). */
  ggufArchitecture?: string;
  /**
   * Every block's widths, when blocks differ or lost a sublayer (structured pruning):
   * intermediate, heads, kvHeads are then the largest; 0 = the sublayer was removed.
   */
  blocks?: { block: number; heads: number; kvHeads: number; intermediate: number }[];
}

export function summarizeModel(m: LoadedModel): ModelSummary {
  const c = m.config;
  const dtypes: Partial<Record<TensorDType, number>> = {};
  let parameters = 0;
  for (const t of m.tensors.values()) {
    dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
    parameters += numelOf(t.shape);
  }
  const tok = m.tokenizer;
  const detail =
    tok.kind === 'llama2c' ? tok.path : tok.kind === 'hf' ? tok.tokenizerJsonPath : tok.kind === 'gguf-llama' ? `${tok.tokens.length} tokens` : tok.reason;
  const version =
    m.format === 'gguf' ? `GGUF v${String(m.meta.ggufVersion)}` : m.format === 'llama2c' ? `llama2.c ${m.meta.llama2cVersion === 1 ? 'version 1' : 'legacy'}` : undefined;
  const s: ModelSummary = {
    path: m.path,
    format: m.format,
    architecture: c.architecture,
    family: c.family,
    parameters,
    layers: c.numLayers,
    hidden: c.hiddenSize,
    intermediate: c.intermediateSize,
    heads: c.numHeads,
    kvHeads: c.numKvHeads,
    headDim: c.headDim,
    vocab: c.vocabSize,
    contextLength: c.contextLength,
    norm: c.norm,
    activation: c.activation,
    positions: c.rope ? 'rope' : `learned (offset ${c.positionOffset})`,
    tiedEmbeddings: c.tiedEmbeddings,
    dtypes,
    tensors: m.tensors.size,
    tokenizer: tok.kind,
    tokenizerDetail: detail,
  };
  if (c.rope) {
    s.ropeLayout = c.rope.layout;
    s.ropeTheta = c.rope.theta;
    if (c.rope.scaling) s.ropeScaling = `llama3 x${c.rope.scaling.factor}`;
  }
  if (version) s.sourceVersion = version;
  if (typeof m.meta.ggufArchitecture === 'string') s.ggufArchitecture = m.meta.ggufArchitecture;
  if (c.blocks) s.blocks = blockShapes(c).map((b, block) => ({ block, heads: b.numHeads, kvHeads: b.numKvHeads, intermediate: b.intermediateSize }));
  const stored = m.meta.sourceTensorTypes as Record<string, string> | undefined;
  if (stored) {
    s.storedTypes = {};
    for (const t of Object.values(stored)) s.storedTypes[t] = (s.storedTypes[t] ?? 0) + 1;
  }
  return s;
}
