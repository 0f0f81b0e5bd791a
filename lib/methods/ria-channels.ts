// Moving an MLP's intermediate channels, in place: channel c is row c of the matrices
// that produce it (mlp.gate and mlp.up, or mlp.fc1, with their biases) and column c of
// the one that consumes it (mlp.down or mlp.fc2). Reordering all of them together leaves
// the block's function unchanged, so a permutation that suits the consumer's N:M
// selection is free there. Elements are moved, never converted (any dtype, bit-exact), by
// the native gather into a scratch copy that is then written back into the same buffer:
// whoever holds the tensors (the forward pass, the pipeline) sees the new order.
import { fromNative, ShapeError } from '../errors';
import { DTYPE_BYTES } from '../formats/mapped';
import { bytesOf } from '../formats/tensor-out';
import type { Tensor } from '../model/types';
import { filesNative } from '../native/files';

const CONSUMERS = ['mlp.down', 'mlp.fc2'];
const PRODUCERS = ['mlp.gate', 'mlp.up', 'mlp.fc1'];

/** The block and the matrix's part when `name` consumes an MLP's intermediate channels (blocks.3.mlp.down.weight), else undefined. */
export function mlpConsumer(name: string): { block: number; part: string } | undefined {
  const hit = /^blocks\.(\d+)\.(mlp\.[a-z0-9]+)\.weight$/.exec(name);
  return hit && CONSUMERS.includes(hit[2]) ? { block: Number(hit[1]), part: hit[2] } : undefined;
}

/** The same elements with rows (cols = 1 for a vector) or columns reordered: dst[i] = src[perm[i]]. */
async function gatherInPlace(t: Tensor, perm: Int32Array, along: 'rows' | 'cols'): Promise<void> {
  const rows = t.shape[0];
  const cols = t.shape.length === 2 ? t.shape[1] : 1;
  if ((along === 'rows' ? rows : cols) !== perm.length)
    throw new ShapeError(`${t.name} has ${along === 'rows' ? rows : cols} ${along}, the permutation ${perm.length} channels`);
  const copy = t.dtype === 'f32' ? new Float32Array(t.data.length) : new Uint16Array(t.data.length);
  try {
    await filesNative().gatherBytes(bytesOf(t.data), bytesOf(copy), rows, cols, DTYPE_BYTES[t.dtype], along === 'rows' ? perm : null, along === 'cols' ? perm : null);
  } catch (e) {
    throw fromNative(e);
  }
  t.data.set(copy);
}

/**
 * Reorders block `block`'s MLP channels in place (position k gets channel perm[k]): the
 * producers' rows and biases and the consumer's columns. Returns the tensors it changed.
 */
export async function permuteMlpChannels(tensors: Map<string, Tensor>, block: number, perm: Int32Array): Promise<string[]> {
  const seen = new Uint8Array(perm.length);
  for (const c of perm) {
    if (!(c >= 0 && c < perm.length) || seen[c]) throw new ShapeError(`not a permutation of ${perm.length} channels: channel ${c} is out of range or repeated`);
    seen[c] = 1;
  }
  const p = `blocks.${block}.`;
  const consumer = CONSUMERS.map((c) => tensors.get(`${p}${c}.weight`)).find((t) => t !== undefined);
  if (!consumer) throw new ShapeError(`block ${block} has no MLP down projection (${CONSUMERS.map((c) => `${p}${c}.weight`).join(' or ')})`);
  const rowTensors = PRODUCERS.flatMap((q) => [`${p}${q}.weight`, `${p}${q}.bias`]).flatMap((name) => tensors.get(name) ?? []);
  for (const t of rowTensors)
    if (t.shape[0] !== perm.length) throw new ShapeError(`${t.name} has ${t.shape[0]} rows, ${consumer.name} ${perm.length} columns`);
  await gatherInPlace(consumer, perm, 'cols');
  for (const t of rowTensors) await gatherInPlace(t, perm, 'rows');
  return [consumer.name, ...rowTensors.map((t) => t.name)];
}

/** Columns of a [rows, cols] float matrix reordered into a new array (the scores that follow the permuted channels). */
export async function permuteColumns(x: Float32Array, rows: number, cols: number, perm: Int32Array): Promise<Float32Array> {
  const out = new Float32Array(x.length);
  try {
    await filesNative().gatherBytes(bytesOf(x), bytesOf(out), rows, cols, 4, null, perm);
  } catch (e) {
    throw fromNative(e);
  }
  return out;
}
