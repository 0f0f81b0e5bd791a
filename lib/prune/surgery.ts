// Structured surgery: removes MLP channels, attention heads and whole blocks from a model
// in memory. Every matrix that produces or consumes a removed unit loses the matching
// rows or columns (and bias entries) together, so the smaller model computes exactly
// what the original computes with those units' outputs set to zero; an optional bias
// delta (bias compensation: FLAP, `bias`) is added to the consuming layer's output bias.
// The per-block widths (ModelConfig.blocks) are updated with the tensors, so the forward
// pass, the writers and the reports see the new shapes at once.
//
// Units, in canonical names (lib/model/types.ts):
//   MLP channel c of block i: row c of mlp.gate/mlp.up (or mlp.fc1 and its bias) and
//     column c of mlp.down (or mlp.fc2).
//   query head h: rows h*d..(h+1)*d of attn.q (and bias), the same columns of attn.o;
//     KV head g: those rows of attn.k and attn.v (and biases). Query head h reads KV head
//     floor(h / (heads / kvHeads)); the kept heads must keep that map valid.
//   block i: every tensor blocks.i.*; later blocks are renumbered.
// The copies are native (gatherBytes); the sources (memory-mapped views) are not modified.
import { ArgumentRangeError, fromNative, ShapeError } from '../errors';
import { convertDType } from '../kernels';
import { blockShape, blockShapes, withBlockShapes } from '../model/shapes';
import { BlockShape, ModelConfig, Tensor } from '../model/types';
import { filesNative } from '../native/files';
import { DTYPE_BYTES } from '../formats/mapped';
import { bytesOf } from '../formats/tensor-out';

/** What surgery changes: a LoadedModel, or anything with a config and tensors. */
export interface SurgeryTarget {
  config: ModelConfig;
  tensors: Map<string, Tensor>;
}

/** The kept rows / columns of `t` (a matrix, or a vector when cols is 1) as a new tensor. */
async function gather(t: Tensor, rows: Int32Array | null, cols: Int32Array | null): Promise<Tensor> {
  const r = t.shape[0];
  const c = t.shape.length === 2 ? t.shape[1] : 1;
  const nr = rows ? rows.length : r;
  const nc = cols ? cols.length : c;
  const data = t.dtype === 'f32' ? new Float32Array(nr * nc) : new Uint16Array(nr * nc);
  try {
    await filesNative().gatherBytes(bytesOf(t.data), bytesOf(data), r, c, DTYPE_BYTES[t.dtype], rows, cols);
  } catch (e) {
    throw fromNative(e);
  }
  return { name: t.name, dtype: t.dtype, shape: t.shape.length === 2 ? [nr, nc] : [nr], data };
}

function sortedUnique(keep: readonly number[], limit: number, what: string): Int32Array {
  const out = Int32Array.from(keep).sort();
  out.forEach((v, i) => {
    if (!Number.isInteger(v) || v < 0 || v >= limit) throw new ArgumentRangeError(`${what}: index ${v} is outside [0, ${limit})`);
    if (i > 0 && out[i - 1] === v) throw new ArgumentRangeError(`${what}: index ${v} is listed twice`);
  });
  return out;
}

/** Rows of `units` consecutive groups of `size` rows each (a head's rows). */
function unitRows(units: Int32Array, size: number): Int32Array {
  const out = new Int32Array(units.length * size);
  units.forEach((u, k) => {
    for (let j = 0; j < size; j++) out[k * size + j] = u * size + j;
  });
  return out;
}

function setShape(m: SurgeryTarget, block: number, change: Partial<BlockShape>): void {
  const shapes = blockShapes(m.config);
  shapes[block] = { ...shapes[block], ...change };
  m.config = withBlockShapes(m.config, shapes);
}

/** Adds `delta` (one float per output) to the bias `name`, creating it (f32) when absent. */
export async function addToBias(m: SurgeryTarget, name: string, delta: Float32Array): Promise<void> {
  const old = m.tensors.get(name);
  let base: Float32Array;
  if (!old) base = new Float32Array(delta.length);
  else {
    if (old.data.length !== delta.length) throw new ShapeError(`${name} has ${old.data.length} entries, the compensation ${delta.length}`);
    base = old.dtype === 'f32' ? Float32Array.from(old.data as Float32Array) : ((await convertDType(old.data, old.dtype, 'f32')) as Float32Array);
  }
  for (let i = 0; i < delta.length; i++) base[i] += delta[i]; // one vector per block: cheap
  m.tensors.set(name, { name, dtype: 'f32', shape: [delta.length], data: base });
}

function checkBlock(m: SurgeryTarget, block: number): void {
  if (!Number.isInteger(block) || block < 0 || block >= m.config.numLayers)
    throw new ArgumentRangeError(`block ${block} is outside [0, ${m.config.numLayers})`);
}

/** The MLP tensor names of block i: producers (rows = channels) and the consumer (columns). */
export function mlpNames(m: SurgeryTarget, i: number): { producers: string[]; consumer: string; norm: string } {
  const p = `blocks.${i}.mlp`;
  const gated = m.tensors.has(`${p}.gate.weight`) || m.tensors.has(`${p}.up.weight`);
  return gated
    ? { producers: [`${p}.gate.weight`, `${p}.gate.bias`, `${p}.up.weight`, `${p}.up.bias`], consumer: `${p}.down`, norm: `blocks.${i}.mlp_norm` }
    : { producers: [`${p}.fc1.weight`, `${p}.fc1.bias`], consumer: `${p}.fc2`, norm: `blocks.${i}.mlp_norm` };
}

/**
 * Keeps MLP channels `keep` of block `block` (any order; an empty list removes the MLP
 * with its norm). `downBias`: added to the consumer's output bias (compensation).
 */
export async function keepChannels(m: SurgeryTarget, block: number, keep: readonly number[], o: { downBias?: Float32Array } = {}): Promise<void> {
  checkBlock(m, block);
  const width = blockShape(m.config, block).intermediateSize;
  const idx = sortedUnique(keep, width, `block ${block} MLP channels`);
  const { producers, consumer, norm } = mlpNames(m, block);
  const names = [...producers, `${consumer}.weight`];
  if (idx.length === 0) {
    // The whole MLP goes: its residual contribution is just the compensation, if any.
    if (o.downBias && o.downBias.some((x) => x !== 0))
      throw new ArgumentRangeError(`block ${block}: removing every MLP channel leaves no layer to hold the compensation bias`);
    for (const n of [...names, `${consumer}.bias`, `${norm}.weight`, `${norm}.bias`]) m.tensors.delete(n);
    setShape(m, block, { intermediateSize: 0 });
    return;
  }
  const next = new Map<string, Tensor>();
  for (const n of producers) {
    const t = m.tensors.get(n);
    if (t) next.set(n, await gather(t, idx, null));
  }
  const down = m.tensors.get(`${consumer}.weight`);
  if (!down) throw new ShapeError(`block ${block} has no ${consumer}.weight`);
  next.set(down.name, await gather(down, null, idx));
  for (const [n, t] of next) m.tensors.set(n, t);
  setShape(m, block, { intermediateSize: idx.length });
  if (o.downBias) await addToBias(m, `${consumer}.bias`, o.downBias);
}

/**
 * Keeps query heads `keepHeads` of block `block` and the KV heads they read. Under GQA
 * (kvHeads < heads) every kept KV head must keep the same number of query heads, so that
 * heads / kvHeads stays an integer and query head h still reads KV head h / ratio. An
 * empty list removes the attention with its norm. `oBias`: added to attn.o's bias.
 */
export async function keepHeads(m: SurgeryTarget, block: number, keepHeads: readonly number[], o: { oBias?: Float32Array } = {}): Promise<void> {
  checkBlock(m, block);
  const s = blockShape(m.config, block);
  const d = m.config.headDim;
  const heads = sortedUnique(keepHeads, s.numHeads, `block ${block} attention heads`);
  const p = `blocks.${block}.attn`;
  if (heads.length === 0) {
    if (o.oBias && o.oBias.some((x) => x !== 0))
      throw new ArgumentRangeError(`block ${block}: removing every head leaves no layer to hold the compensation bias`);
    for (const t of ['q', 'k', 'v', 'o']) for (const k of ['weight', 'bias']) m.tensors.delete(`${p}.${t}.${k}`);
    m.tensors.delete(`blocks.${block}.attn_norm.weight`);
    m.tensors.delete(`blocks.${block}.attn_norm.bias`);
    setShape(m, block, { numHeads: 0, numKvHeads: 0 });
    return;
  }
  const ratio = s.numHeads / s.numKvHeads;
  const perGroup = new Map<number, number>();
  for (const h of heads) perGroup.set(Math.floor(h / ratio), (perGroup.get(Math.floor(h / ratio)) ?? 0) + 1);
  const counts = [...perGroup.values()];
  if (counts.some((c) => c !== counts[0]))
    throw new ArgumentRangeError(
      `block ${block}: with ${s.numHeads} query heads over ${s.numKvHeads} KV heads, every kept KV head must keep the same number of query heads (kept: ${[...perGroup].map(([g, c]) => `KV ${g}: ${c}`).join(', ')})`,
    );
  const kv = Int32Array.from([...perGroup.keys()]).sort();
  const qRows = unitRows(heads, d);
  const kvRows = unitRows(kv, d);
  const next = new Map<string, Tensor>();
  const take = async (name: string, rows: Int32Array | null, cols: Int32Array | null) => {
    const t = m.tensors.get(name);
    if (t) next.set(name, await gather(t, rows, cols));
  };
  await take(`${p}.q.weight`, qRows, null);
  await take(`${p}.q.bias`, qRows, null);
  for (const t of ['k', 'v']) {
    await take(`${p}.${t}.weight`, kvRows, null);
    await take(`${p}.${t}.bias`, kvRows, null);
  }
  await take(`${p}.o.weight`, null, qRows);
  for (const [n, t] of next) m.tensors.set(n, t);
  setShape(m, block, { numHeads: heads.length, numKvHeads: kv.length });
  if (o.oBias) await addToBias(m, `${p}.o.bias`, o.oBias);
}

/** Keeps blocks `keep` (any order), renumbering the kept ones 0, 1, ... in order. */
export function keepBlocks(m: SurgeryTarget, keep: readonly number[]): void {
  const idx = sortedUnique(keep, m.config.numLayers, 'blocks');
  if (idx.length === 0) throw new ArgumentRangeError('removing every block leaves no model');
  const shapes = blockShapes(m.config);
  const renamed = new Map<string, Tensor>();
  for (const [name, t] of m.tensors) {
    const hit = /^blocks\.(\d+)\.(.*)$/.exec(name);
    if (!hit) {
      renamed.set(name, t);
      continue;
    }
    const to = idx.indexOf(Number(hit[1]));
    if (to < 0) continue;
    const n = `blocks.${to}.${hit[2]}`;
    renamed.set(n, { ...t, name: n });
  }
  m.tensors.clear();
  for (const [n, t] of renamed) m.tensors.set(n, t);
  m.config = withBlockShapes(m.config, Array.from(idx, (i) => shapes[i]));
}

/** Parameters of the block tensors (what structured sparsity is a fraction of). */
export function blockParameters(m: SurgeryTarget): number {
  let n = 0;
  for (const [name, t] of m.tensors) if (name.startsWith('blocks.')) n += t.data.length;
  return n;
}

/** Parameters and bytes of every tensor. */
export function modelSize(m: SurgeryTarget): { parameters: number; bytes: number } {
  let parameters = 0;
  let bytes = 0;
  for (const t of m.tensors.values()) {
    parameters += t.data.length;
    bytes += t.data.byteLength;
  }
  return { parameters, bytes };
}
