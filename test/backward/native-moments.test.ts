// Accumulate mode of the backward (accumulateGradientMoments, native bwdMoments): the
// gradient moments of chosen block matrices added in place, one block's gradients held
// at a time, against lossAndGradients' gradients added with accumulateMoments.
import { accumulateGradientMoments, lossAndGradients, MomentAccumulators, MomentWorkspace } from '../../lib/backward/gradients';
import { ShapeError } from '../../lib/errors';
import { accumulateMoments, poolThreads, setPoolThreads } from '../../lib/kernels';
import { ForwardModel } from '../../lib/forward/model';
import { LoadedModel } from '../../lib/model/types';
import { model, randomTokens, withoutSublayer } from './native-helpers';

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Every block matrix of m (2-D block tensors), alternating sum only, sumSq only and both. */
function accumulators(m: LoadedModel): Map<string, MomentAccumulators> {
  const acc = new Map<string, MomentAccumulators>();
  let i = 0;
  for (const [name, t] of m.tensors) {
    if (!name.startsWith('blocks.') || t.shape.length !== 2) continue;
    const n = t.data.length;
    const kind = i++ % 3;
    acc.set(name, { sum: kind !== 1 ? new Float32Array(n) : undefined, sumSq: kind !== 0 ? new Float32Array(n) : undefined });
  }
  return acc;
}

function expectSameAccumulators(a: Map<string, MomentAccumulators>, b: Map<string, MomentAccumulators>): void {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  for (const [name, x] of a) {
    const y = b.get(name)!;
    for (const k of ['sum', 'sumSq'] as const) {
      expect([name, k, !!x[k]]).toEqual([name, k, !!y[k]]);
      if (x[k]) expect([name, k, sameBits(x[k]!, y[k]!)]).toEqual([name, k, true]);
    }
  }
}

const CASES: [string, () => LoadedModel][] = [
  ['llama', () => model({ architecture: 'llama', hidden: 16, heads: 4, kvHeads: 2, intermediate: 24, layers: 3, tied: false, seed: 1 })],
  ['opt, a block without attention', () => withoutSublayer(model({ architecture: 'opt', hidden: 16, intermediate: 24, layers: 3, seed: 4 }), 1, 'attention')],
  ['gpt2, a block without MLP', () => withoutSublayer(model({ architecture: 'gpt2', hidden: 16, intermediate: 24, layers: 3, seed: 6 }), 0, 'mlp')],
];

describe('accumulateGradientMoments', () => {
  for (const [family, make] of CASES)
    test(`${family}: the same bits as lossAndGradients' gradients added with accumulateMoments, over 3 calls`, async () => {
      const m = make();
      const batch = 2;
      const seq = 9;
      const mine = accumulators(m);
      const ref = accumulators(m);
      expect(mine.size).toBeGreaterThan(3);
      for (let s = 0; s < 3; s++) {
        const tokens = randomTokens(m.config.vocabSize, batch * seq, 20 + s);
        const loss = await accumulateGradientMoments(m, tokens, mine, { batch, seq });
        const r = await lossAndGradients(m, tokens, { batch, seq });
        expect(loss).toBe(r.loss);
        for (const [name, a] of ref) await accumulateMoments(r.grads.get(name)!, a);
      }
      expectSameAccumulators(mine, ref);
      // Gradients did arrive (not all zero).
      for (const a of mine.values()) expect((a.sum ?? a.sumSq)!.some((v) => v !== 0)).toBe(true);
    });

  test('a workspace kept across calls and models (grown as needed, holding garbage) gives the same bits as none', async () => {
    const workspace = new MomentWorkspace();
    for (const [, make] of CASES) {
      const m = make();
      const plain = accumulators(m);
      const reused = accumulators(m);
      for (let s = 0; s < 2; s++) {
        const tokens = randomTokens(m.config.vocabSize, 2 * 7, 40 + s);
        await accumulateGradientMoments(m, tokens, plain, { batch: 2, seq: 7 });
        const buffers = workspace.fit(new ForwardModel(m), Array.from({ length: m.config.numLayers }, (_, i) => new ForwardModel(m).blockSpec(i)), []);
        for (const b of buffers) b?.fill(Number.NaN);
        await accumulateGradientMoments(m, tokens, reused, { batch: 2, seq: 7, workspace });
        // Written by the call (a block's gradients), so the buffers were used.
        if (s > 0) expect(buffers.some((b) => b !== null && b.some((v) => !Number.isNaN(v)))).toBe(true);
      }
      expectSameAccumulators(reused, plain);
    }
  });

  test('the same bits with 1 and 2 threads, and with activations kept or recomputed', async () => {
    const m = model({ architecture: 'llama', hidden: 64, heads: 4, kvHeads: 2, intermediate: 176, vocab: 600, layers: 2, tied: true, seed: 12 });
    const batch = 2;
    const seq = 40;
    const tokens = randomTokens(m.config.vocabSize, batch * seq, 13);
    const before = poolThreads();
    const runs: Map<string, MomentAccumulators>[] = [];
    try {
      for (const [threads, keep] of [
        [1, undefined],
        [2, undefined],
        [2, 0],
      ] as const) {
        setPoolThreads(threads);
        const acc = accumulators(m);
        await accumulateGradientMoments(m, tokens, acc, { batch, seq, keepActivationBytes: keep });
        runs.push(acc);
      }
    } finally {
      setPoolThreads(before);
    }
    expectSameAccumulators(runs[0], runs[1]);
    expectSameAccumulators(runs[0], runs[2]);
  });

  test('refuses a weight that is not a block matrix, or an accumulator of the wrong size, before any work', async () => {
    const m = model({ architecture: 'llama', hidden: 16, heads: 4, kvHeads: 2, intermediate: 24, layers: 2, tied: false, seed: 3 });
    const tokens = randomTokens(m.config.vocabSize, 8, 1);
    const embed = new Float32Array(m.tensors.get('embed.weight')!.data.length);
    await expect(accumulateGradientMoments(m, tokens, new Map([['embed.weight', { sum: embed }]]), { batch: 1, seq: 8 })).rejects.toThrow(
      /embed\.weight is not a weight matrix of a block/,
    );
    const q = new Float32Array(3);
    await expect(accumulateGradientMoments(m, tokens, new Map([['blocks.0.attn.q.weight', { sumSq: q }]]), { batch: 1, seq: 8 })).rejects.toThrow(ShapeError);
    expect(q.every((v) => v === 0)).toBe(true);
    const gone = withoutSublayer(m, 1, 'mlp');
    await expect(
      accumulateGradientMoments(gone, tokens, new Map([['blocks.1.mlp.up.weight', { sum: new Float32Array(16 * 24) }]]), { batch: 1, seq: 8 }),
    ).rejects.toThrow(/not a weight matrix of a block/);
  });

  test('an aborted signal rejects with its reason', async () => {
    const m = model({ architecture: 'llama', hidden: 16, heads: 4, kvHeads: 2, intermediate: 24, layers: 2, tied: false, seed: 3 });
    const ctl = new AbortController();
    ctl.abort(new Error('stop here'));
    await expect(accumulateGradientMoments(m, randomTokens(m.config.vocabSize, 8, 1), accumulators(m), { batch: 1, seq: 8, signal: ctl.signal })).rejects.toThrow(
      'stop here',
    );
  });
});
