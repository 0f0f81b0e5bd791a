// The tiny models the gradient checks run on (reference vs finite differences, native
// vs reference): every family and variant the backward pass must handle, each small
// enough that the float64 reference and finite differences take well under a second.
import { blockShapes, withBlockShapes } from '../../lib/model/shapes';
import { Tensor } from '../../lib/model/types';
import { RefModel } from '../support/reference-forward';
import { randomModel, RandomModelSpec } from '../forward/random-model';

/** Keeps the first n rows of a matrix or vector (f32). */
function firstRows(t: Tensor, n: number): Tensor {
  const cols = t.shape.length === 2 ? t.shape[1] : 1;
  return { ...t, shape: t.shape.length === 2 ? [n, cols] : [n], data: t.data.slice(0, n * cols) };
}

/** Keeps the first n columns of a matrix (f32). */
function firstCols(t: Tensor, n: number): Tensor {
  const [rows, cols] = t.shape;
  return { ...t, shape: [rows, n], data: Float32Array.from({ length: rows * n }, (_, i) => t.data[Math.floor(i / n) * cols + (i % n)]) };
}

/**
 * Block i keeps its first `kvGroups` KV heads (with the query heads that read them) and
 * its first `channels` MLP channels; 0 removes the sublayer with its norm, as
 * structured pruning does.
 */
export function narrowBlock(m: RefModel, i: number, kvGroups: number, channels: number): RefModel {
  const shapes = blockShapes(m.config);
  const s = shapes[i];
  const hd = m.config.headDim;
  const qRows = kvGroups * (s.numHeads / s.numKvHeads) * hd;
  const kvRows = kvGroups * hd;
  const tensors = new Map<string, Tensor>();
  for (const [name, t] of m.tensors) {
    const hit = new RegExp(`^blocks\\.${i}\\.(.+)\\.(weight|bias)$`).exec(name);
    const part = hit?.[1];
    let out: Tensor | null = t;
    if (part && (part === 'attn_norm' || part.startsWith('attn.')) && kvGroups === 0) out = null;
    else if (part && (part === 'mlp_norm' || part.startsWith('mlp.')) && channels === 0) out = null;
    else if (part === 'attn.q') out = firstRows(t, qRows);
    else if (part === 'attn.k' || part === 'attn.v') out = firstRows(t, kvRows);
    else if (part === 'attn.o' && hit![2] === 'weight') out = firstCols(t, qRows);
    else if (part === 'mlp.gate' || part === 'mlp.up' || part === 'mlp.fc1') out = firstRows(t, channels);
    else if ((part === 'mlp.down' || part === 'mlp.fc2') && hit![2] === 'weight') out = firstCols(t, channels);
    if (out) tensors.set(name, out);
  }
  shapes[i] = { numHeads: qRows / hd, numKvHeads: kvGroups, intermediateSize: channels };
  return { config: withBlockShapes(m.config, shapes), tensors };
}

export interface GradCase {
  name: string;
  build: () => RefModel;
}

/** The random models both gradient checks use (the native check adds its own variants of them). */
export const GRAD_SPECS = {
  llamaGqa: { architecture: 'llama', hidden: 16, heads: 4, kvHeads: 2, intermediate: 24, tied: false, seed: 1 },
  llamaRotateHalf: {
    architecture: 'llama',
    hidden: 24,
    heads: 4,
    kvHeads: 1,
    intermediate: 20,
    ropeLayout: 'rotate_half',
    ropeDim: 4,
    ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContextLength: 8 },
    tied: true,
    seed: 2,
  },
  qwen2: { architecture: 'llama', family: 'qwen2', qkvBias: true, ropeLayout: 'rotate_half', hidden: 16, heads: 4, kvHeads: 2, intermediate: 24, seed: 3 },
  optPreNorm: { architecture: 'opt', hidden: 16, intermediate: 24, seed: 4 },
  optPostNorm: { architecture: 'opt', hidden: 16, intermediate: 24, preNorm: false, seed: 5 },
  gpt2: { architecture: 'gpt2', hidden: 16, intermediate: 24, seed: 6 },
  gpt2ExactGelu: { architecture: 'gpt2', hidden: 16, intermediate: 24, activation: 'gelu', seed: 7 },
} satisfies Record<string, RandomModelSpec>;

const spec = (name: string, s: RandomModelSpec): GradCase => ({ name, build: () => randomModel(s) });

export const GRAD_CASES: GradCase[] = [
  spec('llama: GQA, interleaved RoPE, untied head', GRAD_SPECS.llamaGqa),
  spec('llama: rotate-half RoPE, partial rotary dim, Llama-3 scaling, tied head', GRAD_SPECS.llamaRotateHalf),
  spec('qwen2: q/k/v biases, rotate-half RoPE', GRAD_SPECS.qwen2),
  spec('OPT pre-norm: ReLU, learned positions (offset 2), tied head', GRAD_SPECS.optPreNorm),
  spec('OPT post-norm (do_layer_norm_before = false)', GRAD_SPECS.optPostNorm),
  spec('GPT-2: GELU-tanh, learned positions', GRAD_SPECS.gpt2),
  spec('GPT-2 shape with exact GELU', GRAD_SPECS.gpt2ExactGelu),
  {
    name: 'llama, per-block widths: no attention / no MLP / narrower',
    build: () => {
      let m: RefModel = randomModel({ architecture: 'llama', hidden: 16, heads: 4, kvHeads: 2, intermediate: 24, layers: 3, tied: false, seed: 8 });
      m = narrowBlock(m, 0, 0, 24);
      m = narrowBlock(m, 1, 2, 0);
      return narrowBlock(m, 2, 1, 10);
    },
  },
  {
    name: 'OPT post-norm, per-block widths: no MLP / narrower',
    build: () => narrowBlock(narrowBlock(randomModel({ architecture: 'opt', hidden: 16, intermediate: 24, preNorm: false, seed: 9 }), 0, 4, 0), 1, 2, 8),
  },
];
