// imatrix files made by llama.cpp's own llama-imatrix on the demo model (fixtures/README.md)
// drive wanda in shears: their per-column means of x^2 match `shears stats` on the same
// windows (llama-imatrix's chunks: the text cut into 16 windows of 128 tokens, BOS first
// in each) up to the differences of two float32 forward passes, and the masks they give
// differ from those of shears' own statistics on a handful of near-tied weights.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { loadModel } from '../../lib/formats/load';
import { prune } from '../../lib/prune/run';
import { openImportance } from '../../lib/stats/importance';
import { stats } from '../../lib/stats/run';
import { loadTokenizer } from '../../lib/tokenizer/load';
import { tempDir } from '../prune/helpers';
import { masksOf, withModel } from './helpers';

const model = path.join(__dirname, '../../assets/demo-model');
const fixture = (ext: string) => path.join(__dirname, 'fixtures', `demo-llama-imatrix.${ext}`);

/** Per canonical weight: count and the per-column means of x^2. */
function means(file: string): Map<string, { count: number; means: Float64Array }> {
  const src = openImportance(file);
  try {
    return new Map(
      [...src.layers('llama').byWeight].map(([w, e]) => {
        const s = e.read();
        return [w, { count: s.count, means: s.sumSq.map((v) => v / s.count) }];
      }),
    );
  } finally {
    src.close();
  }
}

let dir: string;
let ours: string;
beforeAll(async () => {
  dir = tempDir('shears-llama-cpp-imatrix-');
  const m = await loadModel(model);
  const ids = await loadTokenizer(m.tokenizer, { vocabSize: m.config.vocabSize })
    .then((t) => t.encode(fs.readFileSync(path.join(model, 'calib.txt'), 'utf8'), { bos: true }))
    .finally(() => m.close());
  const windows = Array.from({ length: 16 }, (_, i) => [m.config.bosTokenId!, ...ids.slice(i * 128 + 1, (i + 1) * 128)]).flat();
  const tokens = path.join(dir, 'windows.json');
  fs.writeFileSync(tokens, JSON.stringify(windows));
  ours = path.join(dir, 'shears.safetensors');
  await stats({ model, calibTokens: tokens, calibSamples: 16, seqLen: 128, calibSampling: 'contiguous', out: ours });
});

test.each([
  ['gguf', 2048],
  ['dat', 16],
])('llama.cpp %s: every linear layer, counts %d, means of x^2 as shears measures them (relative difference < 1e-3)', (ext, count) => {
  const theirs = means(fixture(ext));
  const mine = means(ours);
  expect(theirs.size).toBe(28);
  let worst = 0;
  for (const [w, a] of mine) {
    const b = theirs.get(w)!;
    expect(b.count).toBe(count);
    a.means.forEach((x, j) => (worst = Math.max(worst, Math.abs(x - b.means[j]) / x)));
  }
  expect(worst).toBeLessThan(1e-3);
});

test('wanda with llama.cpp imatrices: exact 50% sparsity, the same masks from the .gguf and the .dat, and within 1e-5 of the masks from shears stats', async () => {
  const masks: Record<string, Map<string, string>> = {};
  for (const [key, file] of [['gguf', fixture('gguf')], ['dat', fixture('dat')], ['shears', ours]]) {
    const out = path.join(dir, `pruned-${key}`);
    const r = await prune({ model, method: 'wanda', sparsity: 0.5, stats: file, out });
    expect(r.achieved_sparsity).toBe(0.5);
    masks[key] = await withModel(out, masksOf);
  }
  let differ = 0;
  let total = 0;
  for (const [n, a] of masks.gguf) {
    expect(masks.dat.get(n)).toBe(a);
    const b = masks.shears.get(n)!;
    total += a.length;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) differ++;
  }
  expect(total).toBe(2359296);
  expect(differ / total).toBeLessThan(1e-5);
});
