// The architecture metadata a GGUF writer emits, under the keys llama.cpp reads for it
// (LLM_KV_* in llama-arch.cpp): llama/qwen2 one width for all blocks, deci per-layer
// int32 arrays (feed_forward_length, attention.head_count, attention.head_count_kv),
// gpt2 LayerNorm epsilon and no RoPE keys.
import { blockShape } from '../model/shapes';
import { GGUFEntry, ModelConfig } from '../model/types';
import { DeciBlock, ZERO_ATTENTION_KEY, ZERO_MLP_KEY } from './gguf-deci';
import { GGUFArch } from './gguf-names';

/** Keys under `<arch>.` that the writer regenerates from the config (a source file's values are dropped). */
export const SHAPE_KEY_SUFFIXES = [
  'context_length', 'embedding_length', 'block_count', 'feed_forward_length', 'attention.head_count', 'attention.head_count_kv',
  'attention.key_length', 'attention.value_length', 'attention.layer_norm_rms_epsilon', 'attention.layer_norm_epsilon',
  'rope.dimension_count', 'rope.freq_base', 'rope.scaling.original_context_length',
];

const u32 = (key: string, value: number): GGUFEntry => ({ key, type: 'uint32', value });
const i32s = (key: string, value: number[]): GGUFEntry => ({ key, type: 'array', itemType: 'int32', value });

/** Entries describing `c` as `arch` (`deci`: the per-layer widths as written, stand-ins included). */
export function archEntries(c: ModelConfig, arch: GGUFArch, deci?: DeciBlock[]): GGUFEntry[] {
  const b0 = blockShape(c, 0);
  const out: GGUFEntry[] = [
    u32(`${arch}.context_length`, c.contextLength),
    u32(`${arch}.embedding_length`, c.hiddenSize),
    u32(`${arch}.block_count`, c.numLayers),
  ];
  if (deci) {
    out.push(
      i32s(`${arch}.feed_forward_length`, deci.map((b) => b.intermediateSize)),
      i32s(`${arch}.attention.head_count`, deci.map((b) => b.numHeads)),
      i32s(`${arch}.attention.head_count_kv`, deci.map((b) => b.numKvHeads)),
    );
  } else {
    out.push(
      u32(`${arch}.feed_forward_length`, b0.intermediateSize),
      u32(`${arch}.attention.head_count`, b0.numHeads),
      u32(`${arch}.attention.head_count_kv`, b0.numKvHeads),
    );
  }
  if (arch === 'gpt2') {
    out.push({ key: 'gpt2.attention.layer_norm_epsilon', type: 'float32', value: c.normEps });
    return out;
  }
  const rope = c.rope!;
  out.push(
    u32(`${arch}.rope.dimension_count`, rope.dim),
    { key: `${arch}.rope.freq_base`, type: 'float32', value: rope.theta },
    { key: `${arch}.attention.layer_norm_rms_epsilon`, type: 'float32', value: c.normEps },
  );
  if (rope.scaling) out.push(u32(`${arch}.rope.scaling.original_context_length`, rope.scaling.originalContextLength));
  // llama.cpp's head size is hidden / block 0's heads unless given: always given for deci,
  // whose block 0 may be a one-head stand-in.
  if (deci || c.headDim * b0.numHeads !== c.hiddenSize) out.push(u32(`${arch}.attention.key_length`, c.headDim), u32(`${arch}.attention.value_length`, c.headDim));
  if (deci) {
    const zeroAttn = deci.flatMap((b, i) => (b.zeroAttention ? [i] : []));
    const zeroMlp = deci.flatMap((b, i) => (b.zeroMlp ? [i] : []));
    if (zeroAttn.length) out.push({ key: ZERO_ATTENTION_KEY, type: 'array', itemType: 'uint32', value: zeroAttn });
    if (zeroMlp.length) out.push({ key: ZERO_MLP_KEY, type: 'array', itemType: 'uint32', value: zeroMlp });
  }
  return out;
}
