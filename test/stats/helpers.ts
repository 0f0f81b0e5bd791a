// Shared by the importance-file tests: the tiny model's Wanda masks with the statistics
// gathered in memory (the `--stats once` path), the masks of a written model, and
// imatrix files built by hand in llama.cpp's layout (from the documented format, with
// the formats tests' own GGUF builder: not shears' writers).
import * as fs from 'node:fs';

import { CalibrationSet } from '../../lib/calibration/sample';
import { loadModel } from '../../lib/formats/load';
import { LoadedModel } from '../../lib/model/types';
import { blockLinears } from '../../lib/prune/layers';
import { wanda } from '../../lib/strategies';
import { DenseStats, gatherDenseStats, pruneWithDenseStats } from '../../lib/sweep/stats-once';
import { buildGGUF, GgufKV } from '../formats/fixtures';
import { isZero } from '../prune/helpers';

/** Zero masks ('1' pruned) of every block linear weight, by canonical name. */
export function masksOf(m: LoadedModel): Map<string, string> {
  const out = new Map<string, string>();
  for (let b = 0; b < m.config.numLayers; b++)
    for (const l of blockLinears(m.config, m.tensors, b)) {
      const t = m.tensors.get(l.name)!;
      out.set(l.name, Array.from({ length: t.data.length }, (_, i) => (isZero(t, i) ? '1' : '0')).join(''));
    }
  return out;
}

export async function withModel<T>(file: string, fn: (m: LoadedModel) => Promise<T> | T): Promise<T> {
  const m = await loadModel(file);
  try {
    return await fn(m);
  } finally {
    m.close();
  }
}

/** The dense statistics in memory and the Wanda masks they give at `sparsity` (the --stats once path). */
export async function inMemoryWanda(model: string, cal: CalibrationSet, sparsity = 0.5): Promise<{ stats: DenseStats; masks: Map<string, string> }> {
  return withModel(model, async (m) => {
    const stats = await gatherDenseStats(m, cal, { methods: [wanda()] });
    await pruneWithDenseStats(m, wanda(), stats, { sparsity });
    return { stats, masks: masksOf(m) };
  });
}

/** One imatrix entry as llama.cpp collects it: sum over tokens of x^2 per column, and the tokens. */
export interface HandEntry {
  name: string;
  sumSq: ArrayLike<number>;
  tokens: number;
}

const i32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
};

/**
 * A legacy .dat as llama.cpp's save_imatrix_legacy writes it: per entry the name, ncall =
 * ceil(tokens / chunkSize), values (sum / tokens) x ncall; then the chunk count and the dataset.
 */
export function handDat(file: string, entries: HandEntry[], chunkSize: number, dataset = 'calib.txt'): void {
  const parts: Buffer[] = [i32(entries.length)];
  let chunks = 0;
  for (const e of entries) {
    const ncall = Math.ceil(e.tokens / chunkSize);
    chunks = Math.max(chunks, ncall);
    parts.push(i32(Buffer.byteLength(e.name)), Buffer.from(e.name), i32(ncall), i32(e.sumSq.length));
    parts.push(Buffer.from(Float32Array.from(e.sumSq, (v) => (v / e.tokens) * ncall).buffer));
  }
  parts.push(i32(chunks), i32(Buffer.byteLength(dataset)), Buffer.from(dataset));
  fs.writeFileSync(file, Buffer.concat(parts));
}

/**
 * A GGUF imatrix as llama.cpp's save_imatrix writes it: general.type, imatrix.datasets,
 * chunk_count, chunk_size; NAME.in_sum2 (ne [cols, 1]) and NAME.counts (ne [1, 1]) per entry, F32.
 */
export function handGGUF(file: string, entries: HandEntry[], chunkSize: number, extra: { kvs?: GgufKV[]; dataset?: string } = {}): void {
  const kvs: GgufKV[] = [
    { key: 'general.type', type: 8, value: 'imatrix' },
    { key: 'imatrix.datasets', type: 9, itemType: 8, value: [extra.dataset ?? 'calib.txt'] },
    { key: 'imatrix.chunk_count', type: 4, value: Math.max(...entries.map((e) => Math.ceil(e.tokens / chunkSize))) },
    { key: 'imatrix.chunk_size', type: 4, value: chunkSize },
    ...(extra.kvs ?? []),
  ];
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : 1));
  const tensors = sorted.flatMap((e) => [
    { name: `${e.name}.in_sum2`, ne: [e.sumSq.length, 1], type: 0, data: new Uint8Array(Float32Array.from(e.sumSq).buffer) },
    { name: `${e.name}.counts`, ne: [1, 1], type: 0, data: new Uint8Array(Float32Array.of(e.tokens).buffer) },
  ]);
  fs.writeFileSync(file, buildGGUF(kvs, tensors));
}

/** llama.cpp's names of the tiny Llama's linear layers and the block capture each reads. */
export const LLAMA_CPP_PARTS: [string, string, 'attnIn' | 'oIn' | 'mlpIn' | 'downIn'][] = [
  ['attn_q', 'attn.q', 'attnIn'],
  ['attn_k', 'attn.k', 'attnIn'],
  ['attn_v', 'attn.v', 'attnIn'],
  ['attn_output', 'attn.o', 'oIn'],
  ['ffn_gate', 'mlp.gate', 'mlpIn'],
  ['ffn_up', 'mlp.up', 'mlpIn'],
  ['ffn_down', 'mlp.down', 'downIn'],
];

/** The in-memory statistics as llama.cpp entries (every linear weight of every block). */
export function llamaCppEntries(stats: DenseStats): HandEntry[] {
  return stats.blocks.flatMap((b, i) =>
    LLAMA_CPP_PARTS.map(([g, , input]) => {
      const c = b.get(input)!.columns!;
      return { name: `blk.${i}.${g}.weight`, sumSq: c.sumSq, tokens: c.count };
    }),
  );
}
