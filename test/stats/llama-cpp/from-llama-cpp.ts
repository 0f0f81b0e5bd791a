// The other direction of the imatrix cross-check (run.sh runs it): imatrix files made by
// llama.cpp's own llama-imatrix on the demo model (16 chunks of 128 tokens of calib.txt,
// BOS first in each chunk) against `shears stats` on the same windows (the text tokenized
// by shears): per-column means of x^2, counts, and the Wanda masks each file gives at 50%.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { loadModel } from '../../../lib/formats/load';
import { LoadedModel } from '../../../lib/model/types';
import { blockLinears } from '../../../lib/prune/layers';
import { prune } from '../../../lib/prune/run';
import { openImportance } from '../../../lib/stats/importance';
import { stats } from '../../../lib/stats/run';
import { loadTokenizer } from '../../../lib/tokenizer/load';

const model = path.join(__dirname, '../../../assets/demo-model');
const [L, K] = [128, 16];

/** llama-imatrix's chunks: the tokenized text cut into K windows of L, the first token of each replaced by BOS. */
async function llamaCppWindows(file: string): Promise<void> {
  const m = await loadModel(model);
  try {
    const ids = (await loadTokenizer(m.tokenizer, { vocabSize: m.config.vocabSize })).encode(fs.readFileSync(path.join(model, 'calib.txt'), 'utf8'), { bos: true });
    const windows = Array.from({ length: K }, (_, i) => [m.config.bosTokenId!, ...ids.slice(i * L + 1, (i + 1) * L)]).flat();
    fs.writeFileSync(file, JSON.stringify(windows));
  } finally {
    m.close();
  }
}

function meanSquares(file: string): Map<string, { count: number; means: number[] }> {
  const src = openImportance(file);
  try {
    return new Map([...src.layers('llama').byWeight].map(([w, e]) => {
      const s = e.read();
      return [w, { count: s.count, means: Array.from(s.sumSq, (v) => v / s.count) }];
    }));
  } finally {
    src.close();
  }
}

async function zeros(dir: string): Promise<boolean[]> {
  const m: LoadedModel = await loadModel(dir);
  try {
    return Array.from({ length: m.config.numLayers }, (_, b) => blockLinears(m.config, m.tensors, b)).flat().flatMap((l) => {
      const t = m.tensors.get(l.name)!;
      return Array.from(t.data as ArrayLike<number>, (v) => (t.dtype === 'f32' ? v === 0 : (v & 0x7fff) === 0));
    });
  } finally {
    m.close();
  }
}

async function main(work: string): Promise<void> {
  const tokens = path.join(work, 'llama-cpp-windows.json');
  await llamaCppWindows(tokens);
  const ours = path.join(work, 'shears-same-windows.gguf');
  fs.rmSync(ours, { force: true });
  await stats({ model, calibTokens: tokens, calibSamples: K, seqLen: L, calibSampling: 'contiguous', out: ours });
  const mine = meanSquares(ours);
  const masks: Record<string, boolean[]> = {};
  for (const f of ['llama-cpp.gguf', 'llama-cpp.dat', 'shears-same-windows.gguf']) {
    const file = path.join(work, f);
    if (f !== 'shears-same-windows.gguf') {
      const theirs = meanSquares(file);
      const rel = [...mine].flatMap(([w, a]) => a.means.map((x, j) => Math.abs(x - theirs.get(w)!.means[j]) / Math.max(x, 1e-12))).sort((p, q) => p - q);
      const counts = [...new Set([...theirs.values()].map((e) => e.count))];
      console.log(JSON.stringify({ file: f, entries: theirs.size, counts, median_rel_diff: rel[rel.length >> 1], p99_rel_diff: rel[Math.floor(rel.length * 0.99)], max_rel_diff: rel[rel.length - 1] }));
    }
    const out = path.join(work, `pruned-${f.replace('.', '-')}`);
    await prune({ model, method: 'wanda', sparsity: 0.5, stats: file, out, force: true });
    masks[f] = await zeros(out);
  }
  const differ = (a: boolean[], b: boolean[]) => a.filter((x, i) => x !== b[i]).length;
  console.log(JSON.stringify({ wanda_weights: masks['llama-cpp.gguf'].length, masks_differ_llama_cpp_gguf_vs_shears: differ(masks['llama-cpp.gguf'], masks['shears-same-windows.gguf']), masks_differ_llama_cpp_gguf_vs_dat: differ(masks['llama-cpp.gguf'], masks['llama-cpp.dat']) }));
}

main(process.argv[2]).catch((e) => {
  console.error(e);
  process.exit(1);
});
