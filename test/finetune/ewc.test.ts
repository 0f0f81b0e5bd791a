// EWC in finetune(): the empirical Fisher diagonal (the gradient pass in accumulate mode) against one built from
// lossAndGradients by hand, a huge lambda keeping the weights near the anchor (the input
// model), and lambda 0 giving exactly the plain fine-tune.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { lossAndGradients } from '../../lib/backward/gradients';
import { windowsFromStream } from '../../lib/calibration/sample';
import { finetune } from '../../lib/finetune';
import { empiricalFisher } from '../../lib/finetune/fisher';
import { loadModel } from '../../lib/formats/load';
import { linearNames } from '../prune/tiny';
import { TinySetup, tinyFinetune, tinySetup } from './tiny-setup';

let s: TinySetup;
beforeAll(async () => {
  s = await tinySetup();
}, 60_000);

/** Mean |w_out - w_in| over the kept weights of the linear layers. */
async function meanDrift(input: string, output: string): Promise<number> {
  const a = await loadModel(input);
  const b = await loadModel(output);
  try {
    let sum = 0;
    let n = 0;
    for (const name of linearNames()) {
      const x = a.tensors.get(name)!.data;
      const y = b.tensors.get(name)!.data;
      for (let i = 0; i < x.length; ++i)
        if (x[i] !== 0) {
          sum += Math.abs(y[i] - x[i]);
          ++n;
        }
    }
    return sum / n;
  } finally {
    a.close();
    b.close();
  }
}

describe('EWC', () => {
  it('F is the mean over sequences of the squared per-sequence gradient', async () => {
    const model = await loadModel(s.pruned);
    try {
      const ids = JSON.parse(fs.readFileSync(s.tokens, 'utf8')) as number[];
      const set = windowsFromStream(ids, { samples: 3, seqLen: 16, sampling: 'contiguous', seed: 0 }, 'tokens');
      const f = await empiricalFisher(model, set);
      expect(f.sequences).toBe(3);
      const name = 'blocks.1.mlp.up.weight';
      const want = new Float64Array(f.sumSq.get(name)!.length);
      for (let k = 0; k < 3; ++k) {
        const g = (await lossAndGradients(model, set.tokens.subarray(k * 16, (k + 1) * 16), { batch: 1, seq: 16 })).grads.get(name)!;
        g.forEach((x, i) => (want[i] += (x * x) / 3));
      }
      const got = f.sumSq.get(name)!.map((x) => x * f.scale);
      let err = 0;
      let max = 0;
      want.forEach((w, i) => {
        err = Math.max(err, Math.abs(got[i] - w));
        max = Math.max(max, w);
      });
      expect(max).toBeGreaterThan(0);
      expect(err / max).toBeLessThan(1e-5);
      // the weight matrices of the blocks (the gradient pass's accumulate mode), not embeddings or norms
      expect([...f.sumSq.keys()].sort()).toEqual([...linearNames()].sort());
      expect(f.meanLoss).toBeGreaterThan(0);
    } finally {
      model.close();
    }
  });

  it('a huge lambda keeps the weights near the anchor; lambda 0 is exactly plain fine-tuning', async () => {
    const plainOut = path.join(s.dir, 'plain');
    const plain = await finetune(tinyFinetune(s, plainOut, { steps: 20 }));
    const zeroOut = path.join(s.dir, 'ewc0');
    const zero = await finetune(tinyFinetune(s, zeroOut, { steps: 20, ewcLambda: 0, ewcTokens: s.tokens }));
    expect(zero.losses).toEqual(plain.losses);
    expect(fs.readFileSync(path.join(zeroOut, 'model.safetensors')).equals(fs.readFileSync(path.join(plainOut, 'model.safetensors')))).toBe(true);
    expect(zero.ewc).toMatchObject({ lambda: 0, penalty_after: 0 });

    const hugeOut = path.join(s.dir, 'ewc-huge');
    const huge = await finetune(tinyFinetune(s, hugeOut, { steps: 20, ewcLambda: 1e9, ewcTokens: s.tokens }));
    expect(huge.mask.preserved).toBe(true);
    expect(huge.ewc!.fisher_mean).toBeGreaterThan(0);
    const drift = { plain: await meanDrift(s.pruned, plainOut), huge: await meanDrift(s.pruned, hugeOut) };
    // plain AdamW moves the weights by up to lr a step (20 steps of 0.01: measured mean 0.049);
    // the pull keeps EWC within a few lr of the anchor
    expect(drift.plain).toBeGreaterThan(0.02);
    expect(drift.huge).toBeLessThan(drift.plain / 4);
  });
});
