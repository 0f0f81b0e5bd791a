// Names of the statistics in importance files: shears' own keys (<layer>.input.<stat>)
// and llama.cpp's imatrix tensor names, both mapped onto canonical weight names.
import { ggufFromCanonical, canonicalFromGGUF } from '../formats/gguf-names';
import type { Architecture } from '../model/types';

/** Per-column statistics of a linear layer's input, as shears files store them. */
export const INPUT_STATS = ['sum', 'sum_sq', 'outliers', 'count'] as const;
export type InputStat = (typeof INPUT_STATS)[number];

/** The key of statistic `stat` of the input of weight `weight` (blocks.0.attn.q.weight -> blocks.0.attn.q.input.sum_sq). */
export function inputKey(weight: string, stat: InputStat): string {
  return `${weight.replace(/\.weight$/, '')}.input.${stat}`;
}

/** Per-weight gradient statistics (F32 [out, in] sums, F64 [1] count), as shears files store them. */
export const GRAD_STATS = ['sum', 'sum_sq', 'count'] as const;
export type GradStat = (typeof GRAD_STATS)[number];

/** The key of gradient statistic `stat` of weight `weight` (blocks.0.attn.q.weight -> blocks.0.attn.q.grad.sum_sq). */
export function gradKey(weight: string, stat: GradStat): string {
  return `${weight.replace(/\.weight$/, '')}.grad.${stat}`;
}

/** The weight and statistic a shears key names: input statistics, or reserved groups (grad: the gradient statistics). */
export function parseKey(key: string): { weight: string; group: string; stat: string } | undefined {
  const m = /^(blocks\.\d+\.[a-z_]+\.[a-z0-9_]+)\.([a-z_]+)\.([a-z0-9_]+)$/.exec(key);
  return m ? { weight: `${m[1]}.weight`, group: m[2], stat: m[3] } : undefined;
}

/** llama.cpp's GGUF architecture naming used for a shears architecture (OPT has none: GPT-2's names). */
const namingOf = (arch: Architecture) => (arch === 'llama' ? 'llama' : 'gpt2');

/**
 * The imatrix tensor name of canonical weight `weight` (blocks.0.attn.q.weight ->
 * blk.0.attn_q.weight). GPT-2 and OPT: q/k/v share llama.cpp's fused blk.N.attn_qkv.weight.
 */
export function imatrixName(weight: string, arch: Architecture): string | undefined {
  const qkv = /^blocks\.(\d+)\.attn\.[qkv]\.weight$/.exec(weight);
  if (qkv && namingOf(arch) === 'gpt2') return `blk.${qkv[1]}.attn_qkv.weight`;
  return ggufFromCanonical(weight, namingOf(arch));
}

/** The canonical weights an imatrix tensor name stands for (three for a fused attn_qkv), or [] when none. */
export function weightsOfImatrixName(name: string, arch: Architecture): string[] {
  const qkv = /^blk\.(\d+)\.attn_qkv\.weight$/.exec(name);
  if (qkv && namingOf(arch) === 'gpt2') return ['q', 'k', 'v'].map((x) => `blocks.${qkv[1]}.attn.${x}.weight`);
  const c = canonicalFromGGUF(name, namingOf(arch));
  return c ? [c] : [];
}
