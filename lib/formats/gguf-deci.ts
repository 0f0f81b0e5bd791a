// Removed sublayers in llama.cpp's 'deci' architecture. llama.cpp's own representation
// (src/models/deci.cpp): head_count[i] = 0 is a block without attention (no attn_norm,
// q/k/v/o), feed_forward_length[i] = 0 one without MLP (no ffn_norm, gate/up/down).
// Two cases it gets wrong, so shears writes a zero sublayer there instead, exact because
// its output is 0 (zero o / down projection), and lists those blocks in its own keys:
//   - a block with attention but feed_forward_length 0: deci.cpp `continue`s before
//     `inpL = cur`, dropping the attention output; and on the last block the output rows
//     are never selected. Zero MLP: width 1, zero gate/up/down.
//   - block 0 without attention: llama.cpp takes the head size from block 0's head count
//     (0 -> head size 0 for every block). Zero attention: 1 head, zero q/k/v/o.
// The reader drops the zero sublayers the keys list (after checking they are zero).
import { blockShapes } from '../model/shapes';
import { BlockShape, ModelConfig } from '../model/types';

/** Blocks whose attention / MLP is a zero stand-in for a removed one (uint32 arrays of block indices). */
export const ZERO_ATTENTION_KEY = 'shears.zero_attention_blocks';
export const ZERO_MLP_KEY = 'shears.zero_mlp_blocks';

/** One block as written in a deci GGUF: its widths, and which sublayers are zero stand-ins. */
export interface DeciBlock extends BlockShape {
  zeroAttention: boolean;
  zeroMlp: boolean;
}

/** The widths each block is written with (stand-ins where llama.cpp needs them). */
export function deciBlocks(c: ModelConfig): DeciBlock[] {
  const shapes = blockShapes(c);
  return shapes.map((b, i) => {
    const zeroAttention = i === 0 && b.numHeads === 0;
    const heads = zeroAttention ? 1 : b.numHeads;
    const zeroMlp = b.intermediateSize === 0 && ((b.numHeads > 0 && !zeroAttention) || i === shapes.length - 1);
    return {
      numHeads: heads,
      // llama.cpp reads n_head_kv > 0 with n_head = 0 as an attention block: 0 for a removed one.
      numKvHeads: zeroAttention ? 1 : b.numHeads === 0 ? 0 : b.numKvHeads,
      intermediateSize: zeroMlp ? 1 : b.intermediateSize,
      zeroAttention,
      zeroMlp,
    };
  });
}

/** Canonical tensors of a zero stand-in, with their shapes (norm weights are ones, the rest zeros). */
export function zeroSublayer(c: ModelConfig, block: number, which: 'attention' | 'mlp'): { name: string; shape: number[]; ones: boolean }[] {
  const p = `blocks.${block}.`;
  const h = c.hiddenSize;
  const d = c.headDim;
  if (which === 'attention')
    return [
      { name: `${p}attn_norm.weight`, shape: [h], ones: true },
      { name: `${p}attn.q.weight`, shape: [d, h], ones: false },
      { name: `${p}attn.k.weight`, shape: [d, h], ones: false },
      { name: `${p}attn.v.weight`, shape: [d, h], ones: false },
      { name: `${p}attn.o.weight`, shape: [h, d], ones: false },
    ];
  return [
    { name: `${p}mlp_norm.weight`, shape: [h], ones: true },
    { name: `${p}mlp.gate.weight`, shape: [1, h], ones: false },
    { name: `${p}mlp.up.weight`, shape: [1, h], ones: false },
    { name: `${p}mlp.down.weight`, shape: [h, 1], ones: false },
  ];
}
