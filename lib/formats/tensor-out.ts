// Tensor data as a writer emits it: RoPE rows permuted when the target format uses the
// other layout, then converted to the output dtype. One tensor at a time, natively.
import { fromNative, NotImplementedError, ShapeError } from '../errors';
import { convertDType } from '../kernels';
import { blockShape } from '../model/shapes';
import { ModelConfig, RopeLayout, Tensor, TensorDType } from '../model/types';
import { filesNative } from '../native/files';
import { DTYPE_BYTES } from './mapped';

export function bytesOf(a: Float32Array | Uint16Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Heads whose rows must be permuted when `name` moves to `target` layout, or 0. */
export function ropeHeads(config: ModelConfig, name: string, target: RopeLayout): number {
  if (!config.rope || config.rope.layout === target) return 0;
  const m = /^blocks\.(\d+)\.attn\.([qk])\.(weight|bias)$/.exec(name);
  if (!m) return 0;
  if (config.rope.dim !== config.headDim)
    throw new NotImplementedError(`changing the RoPE layout of partially rotary heads (rope dim ${config.rope.dim} < head dim ${config.headDim}) is not supported`);
  const b = blockShape(config, Number(m[1])); // blocks may differ in heads
  return m[2] === 'q' ? b.numHeads : b.numKvHeads;
}

export async function permuteRope(t: Tensor, heads: number, headDim: number, toInterleaved: boolean): Promise<Float32Array | Uint16Array> {
  const rows = heads * headDim;
  if (t.shape[0] !== rows) throw new ShapeError(`${t.name} has ${t.shape[0]} rows, expected ${heads} heads x ${headDim}`);
  const out = t.dtype === 'f32' ? new Float32Array(t.data.length) : new Uint16Array(t.data.length);
  const rowBytes = (t.data.length / rows) * DTYPE_BYTES[t.dtype];
  try {
    await filesNative().permuteRopeRows(bytesOf(t.data), bytesOf(out), heads, headDim, rowBytes, toInterleaved);
  } catch (e) {
    throw fromNative(e);
  }
  return out;
}

/** The bytes to write for tensor `t` in `dtype`, with Q/K rows in `layout`. */
export async function outputBytes(config: ModelConfig, t: Tensor, dtype: TensorDType, layout: RopeLayout): Promise<Uint8Array> {
  let data = t.data;
  const heads = ropeHeads(config, t.name, layout);
  if (heads) data = await permuteRope(t, heads, config.headDim, layout === 'interleaved');
  if (dtype !== t.dtype) data = await convertDType(data, t.dtype, dtype);
  return bytesOf(data);
}
