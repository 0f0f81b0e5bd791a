// GGUF tensor names <-> canonical names, per llama.cpp architecture, and which tensors
// llama.cpp's loader reads for each (src/models/{llama,deci,qwen2,gpt2}.cpp of the
// llama.cpp that node-llama-cpp 3.21.1 bundles; docs/gguf-structured.md).
import { RopeLayout } from '../model/types';

/** The GGUF architectures shears writes and reads. */
export type GGUFArch = 'llama' | 'qwen2' | 'deci' | 'gpt2';

/** Per architecture: the RoPE layout Q/K are stored in (null: learned positions) and the shears family read back. */
export const GGUF_ARCHES: Record<GGUFArch, { layout: RopeLayout | null; family: string }> = {
  llama: { layout: 'interleaved', family: 'llama' },
  deci: { layout: 'interleaved', family: 'llama' },
  qwen2: { layout: 'rotate_half', family: 'qwen2' },
  gpt2: { layout: null, family: 'gpt2' },
};

export function isGGUFArch(a: unknown): a is GGUFArch {
  return typeof a === 'string' && Object.prototype.hasOwnProperty.call(GGUF_ARCHES, a);
}

// Block tensors: GGUF name -> canonical name. GPT-2's fused attn_qkv is split/joined by
// the reader and writer (fusedQKV below), not mapped here.
const LLAMA_BLOCK: Record<string, string> = {
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
const GPT2_BLOCK: Record<string, string> = {
  attn_norm: 'attn_norm',
  attn_output: 'attn.o',
  ffn_norm: 'mlp_norm',
  ffn_up: 'mlp.fc1',
  ffn_down: 'mlp.fc2',
};
const LLAMA_TOP: Record<string, string> = { token_embd: 'embed', output_norm: 'final_norm', output: 'lm_head' };
const GPT2_TOP: Record<string, string> = { ...LLAMA_TOP, position_embd: 'pos_embed' };

const blockNames = (arch: GGUFArch) => (arch === 'gpt2' ? GPT2_BLOCK : LLAMA_BLOCK);
const topNames = (arch: GGUFArch) => (arch === 'gpt2' ? GPT2_TOP : LLAMA_TOP);

/** GGUF tensor name -> canonical name (undefined when `arch` has no such tensor). */
export function canonicalFromGGUF(name: string, arch: GGUFArch = 'llama'): string | undefined {
  const m = /^blk\.(\d+)\.([a-z_]+)\.(weight|bias)$/.exec(name);
  if (m) {
    const c = blockNames(arch)[m[2]];
    return c ? `blocks.${Number(m[1])}.${c}.${m[3]}` : undefined;
  }
  const t = /^([a-z_]+)\.(weight|bias)$/.exec(name);
  const c = t ? topNames(arch)[t[1]] : undefined;
  return c && t ? `${c}.${t[2]}` : undefined;
}

/** Canonical name -> GGUF tensor name for `arch` (undefined when it has none). */
export function ggufFromCanonical(name: string, arch: GGUFArch = 'llama'): string | undefined {
  const m = /^blocks\.(\d+)\.(.+)\.(weight|bias)$/.exec(name);
  if (m) {
    const g = Object.entries(blockNames(arch)).find(([, c]) => c === m[2]);
    return g ? `blk.${m[1]}.${g[0]}.${m[3]}` : undefined;
  }
  const t = /^(.+)\.(weight|bias)$/.exec(name);
  const g = t && Object.entries(topNames(arch)).find(([, c]) => c === t[1]);
  return g && t ? `${g[0]}.${t[2]}` : undefined;
}

/** Block index and part of GPT-2's fused blk.N.attn_qkv.{weight,bias}, else undefined. */
export function fusedQKV(name: string): { block: number; part: 'weight' | 'bias' } | undefined {
  const m = /^blk\.(\d+)\.attn_qkv\.(weight|bias)$/.exec(name);
  return m ? { block: Number(m[1]), part: m[2] as 'weight' | 'bias' } : undefined;
}

// The tensors llama.cpp's loader reads for each architecture, as canonical block-relative
// (or top-level) names. llama and deci: optional q/k/v/o and gate/up/down biases, no norm
// biases (RMSNorm); qwen2: q/k/v biases only; gpt2: every bias (all required).
const LLAMA_READS = new Set([
  'embed.weight', 'lm_head.weight', 'final_norm.weight',
  'attn_norm.weight', 'attn.q.weight', 'attn.k.weight', 'attn.v.weight', 'attn.o.weight',
  'attn.q.bias', 'attn.k.bias', 'attn.v.bias', 'attn.o.bias',
  'mlp_norm.weight', 'mlp.gate.weight', 'mlp.up.weight', 'mlp.down.weight', 'mlp.gate.bias', 'mlp.up.bias', 'mlp.down.bias',
]);
const QWEN2_READS = new Set([...LLAMA_READS].filter((n) => !['attn.o.bias', 'mlp.gate.bias', 'mlp.up.bias', 'mlp.down.bias'].includes(n)));
const GPT2_READS = new Set([
  'embed.weight', 'pos_embed.weight', 'lm_head.weight', 'final_norm.weight', 'final_norm.bias',
  'attn_norm.weight', 'attn_norm.bias', 'attn.q.weight', 'attn.k.weight', 'attn.v.weight', 'attn.q.bias', 'attn.k.bias', 'attn.v.bias',
  'attn.o.weight', 'attn.o.bias', 'mlp_norm.weight', 'mlp_norm.bias', 'mlp.fc1.weight', 'mlp.fc1.bias', 'mlp.fc2.weight', 'mlp.fc2.bias',
]);
const READS: Record<GGUFArch, Set<string>> = { llama: LLAMA_READS, deci: LLAMA_READS, qwen2: QWEN2_READS, gpt2: GPT2_READS };

/** Whether llama.cpp's `arch` loader reads canonical tensor `name`. */
export function llamaCppReads(arch: GGUFArch, name: string): boolean {
  return READS[arch].has(name.replace(/^blocks\.\d+\./, ''));
}

