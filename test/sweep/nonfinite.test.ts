// Non-finite perplexity in a sweep: the dense model's is a NonFiniteError naming the
// block where it appears (nothing can be compared with it); a cell's is a result (a
// diverged model), kept, with a note naming where the forward pass diverges.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { NonFiniteError } from '../../lib/errors';
import { loadModel } from '../../lib/formats/load';
import { ForwardModel } from '../../lib/forward/model';
import { SweepData } from '../../lib/sweep/data';
import { cellQuality, DenseReference } from '../../lib/sweep/quality';
import { sweep } from '../../lib/sweep/run';
import { llamaConfig, llamaTensors, writeHFDir } from '../formats/fixtures';
import { tempDir } from '../prune/helpers';
import { SPEC, writeCalibTokens } from '../prune/tiny';

let nanModel: string;
let tokens: string;
beforeAll(() => {
  const dir = tempDir();
  // A NaN in block 1's MLP down projection: block 0's output is finite, block 1's output is not.
  const tensors = llamaTensors(SPEC, 'F32', 1);
  (tensors.find((t) => t.name === 'model.layers.1.mlp.down_proj.weight')!.data as Float32Array)[0] = NaN;
  nanModel = path.join(dir, 'nan');
  writeHFDir(nanModel, llamaConfig(SPEC), tensors);
  tokens = writeCalibTokens(path.join(dir, 'tokens.json'), 64);
});

test('a sweep of a model whose dense perplexity is NaN stops with a NonFiniteError naming block 1', async () => {
  const out = path.join(tempDir(), 'sweep');
  const err = await sweep({ model: nanModel, methods: ['magnitude'], levels: [0.5], evalTokens: tokens, evalSeqLen: 16, out }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(NonFiniteError);
  expect((err as Error).message).toMatch(/perplexity .* is NaN: non-finite values first appear in the output of block 1/);
});

test("a cell's non-finite perplexity is kept as its result, with where it diverges", async () => {
  const m = await loadModel(nanModel);
  try {
    const fm = new ForwardModel(m);
    const ids = Int32Array.from(JSON.parse(fs.readFileSync(tokens, 'utf8')) as number[]);
    const windows = [0, 1, 2, 3].map((w) => ids.slice(w * 16, (w + 1) * 16));
    const base = { evalTokens: ids, evalSeqLen: 16, windows: 4, notes: [], timings: {}, queriesSource: 'test' };
    const dense = await DenseReference.create(fm, windows);
    for (const data of [
      { ...base, queries: windows, queriesAreWindows: true },
      { ...base, queries: windows.slice(0, 1), queriesAreWindows: false },
    ] as SweepData[]) {
      const q = await cellQuality(fm, data, dense);
      expect(q.perplexity).toBeNaN();
      expect(q.nonFinite).toBe('perplexity window 0 has mean NLL NaN: non-finite values first appear in the output of block 1 (of 3, counted from 0)');
    }
  } finally {
    m.close();
  }
});
