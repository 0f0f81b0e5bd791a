// Structurally reduced models built by hand for the HF writer tests: plain TypeScript
// slicing of rows and columns (independent of lib/prune/surgery.ts), keeping the first
// MLP channels, the first KV groups with their query heads, or dropping a block.
import { blockShapes, withBlockShapes } from '../../lib/model/shapes';
import { BlockShape, LoadedModel, ModelConfig, Tensor } from '../../lib/model/types';
import { rng } from '../support/random';

export interface Reducible {
  config: ModelConfig;
  tensors: Map<string, Tensor>;
}

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

/** `t` with only `rows` (of a matrix or a vector) and, for a matrix, only `cols`. */
function gather(t: Tensor, rows: number[] | null, cols: number[] | null): Tensor {
  const [r, c] = t.shape.length === 2 ? t.shape : [t.shape[0], 1];
  const keepR = rows ?? range(r);
  const keepC = cols ?? range(c);
  const data = t.dtype === 'f32' ? new Float32Array(keepR.length * keepC.length) : new Uint16Array(keepR.length * keepC.length);
  keepR.forEach((row, i) => keepC.forEach((col, j) => (data[i * keepC.length + j] = t.data[row * c + col])));
  return { name: t.name, dtype: t.dtype, shape: t.shape.length === 2 ? [keepR.length, keepC.length] : [keepR.length], data };
}

function update(m: Reducible, block: number, edits: Record<string, (t: Tensor) => Tensor>): void {
  for (const [suffix, edit] of Object.entries(edits)) {
    const name = `blocks.${block}.${suffix}`;
    const t = m.tensors.get(name);
    if (t) m.tensors.set(name, edit(t));
  }
}

function reshape(m: Reducible, block: number, change: Partial<BlockShape>): void {
  const shapes = blockShapes(m.config);
  shapes[block] = { ...shapes[block], ...change };
  m.config = withBlockShapes(m.config, shapes);
}

/** Keeps the first `k` MLP channels of `block` (every block when omitted). */
export function keepChannels(m: Reducible, k: number, block?: number): Reducible {
  const blocks = block === undefined ? range(m.config.numLayers) : [block];
  const keep = range(k);
  for (const i of blocks) {
    const rows = (t: Tensor) => gather(t, keep, null);
    const cols = (t: Tensor) => gather(t, null, keep);
    update(m, i, {
      'mlp.gate.weight': rows,
      'mlp.gate.bias': rows,
      'mlp.up.weight': rows,
      'mlp.up.bias': rows,
      'mlp.fc1.weight': rows,
      'mlp.fc1.bias': rows,
      'mlp.down.weight': cols,
      'mlp.fc2.weight': cols,
    });
    reshape(m, i, { intermediateSize: k });
  }
  return m;
}

/** Keeps the first `groups` KV heads of every block, with the query heads that read them. */
export function keepKvGroups(m: Reducible, groups: number): Reducible {
  const d = m.config.headDim;
  for (let i = 0; i < m.config.numLayers; i++) {
    const s = blockShapes(m.config)[i];
    const perGroup = s.numHeads / s.numKvHeads;
    const q = range(groups * perGroup * d);
    const kv = range(groups * d);
    update(m, i, {
      'attn.q.weight': (t) => gather(t, q, null),
      'attn.q.bias': (t) => gather(t, q, null),
      'attn.k.weight': (t) => gather(t, kv, null),
      'attn.k.bias': (t) => gather(t, kv, null),
      'attn.v.weight': (t) => gather(t, kv, null),
      'attn.v.bias': (t) => gather(t, kv, null),
      'attn.o.weight': (t) => gather(t, null, q),
    });
    reshape(m, i, { numHeads: groups * perGroup, numKvHeads: groups });
  }
  return m;
}

/** Removes block `drop`; later blocks move down by one. */
export function dropBlock(m: Reducible, drop: number): Reducible {
  const shapes = blockShapes(m.config).filter((_, i) => i !== drop);
  const out = new Map<string, Tensor>();
  for (const [name, t] of m.tensors) {
    const hit = /^blocks\.(\d+)\.(.+)$/.exec(name);
    const i = hit ? Number(hit[1]) : -1;
    if (i === drop) continue;
    const renamed = hit && i > drop ? `blocks.${i - 1}.${hit[2]}` : name;
    out.set(renamed, { ...t, name: renamed });
  }
  m.tensors = out;
  m.config = withBlockShapes(m.config, shapes);
  return m;
}

/** Adds a bias tensor (f32, small seeded values), as bias compensation would. */
export function addBias(m: Reducible, name: string, n: number, seed: number): Reducible {
  const r = rng(seed);
  const data = Float32Array.from({ length: n }, () => (r() - 0.5) * 0.2);
  m.tensors.set(name, { name, dtype: 'f32', shape: [n], data });
  return m;
}

/** An in-memory model as the writers take it. */
export function asLoaded(m: Reducible, family = m.config.family, meta: Record<string, unknown> = {}): LoadedModel {
  return {
    format: 'hf',
    path: '(in memory)',
    config: { ...m.config, family },
    tensors: m.tensors,
    tokenizer: { kind: 'none', reason: 'test model' },
    meta,
    close() {},
  };
}
