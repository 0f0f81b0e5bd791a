// Learned masks over a whole tiny model, block by block (lib/queries/learn-mask-model.ts):
// exact sparsity in every gated matrix, the pruned copies zero exactly where the masks
// prune, the dense model untouched, the same masks twice, N:M with the repair.
import { ForwardModel } from '../../lib/forward/model';
import { learnMasksSequentially } from '../../lib/queries/learn-mask-model';
import { QuerySequence } from '../../lib/queries';
import { Mask } from '../../lib/tensor';
import { GRAD_SPECS } from '../backward/gradcheck-models';
import { model } from '../backward/native-helpers';
import { rng } from '../support/random';

const kept = (m: Mask, i: number) => (m.bits[i >> 3] >> (i & 7)) & 1;

function sequences(vocab: number): QuerySequence[] {
  const r = rng(71);
  return [7, 9, 6, 8].map((L, i) => ({ ids: Int32Array.from({ length: L }, () => Math.floor(r() * vocab)), answerStart: 3 + (i % 2) }));
}

describe('learnMasksSequentially', () => {
  const m = model(GRAD_SPECS.llamaGqa);
  const fm = new ForwardModel(m);
  const seqs = sequences(m.config.vocabSize);
  const o = { sparsity: 0.5, steps: 8, batchSequences: 2 };

  test('per row 50% in every linear layer of every block, zeros exactly there, the dense model untouched, deterministic', async () => {
    const before = new Map([...m.tensors].map(([k, t]) => [k, Float32Array.from(t.data as Float32Array)]));
    const a = await learnMasksSequentially(fm, seqs, o);
    const b = await learnMasksSequentially(fm, seqs, o);
    expect(a.masks.size).toBe(7 * m.config.numLayers);
    expect(a.blocks.map((x) => x.block)).toEqual(Array.from({ length: m.config.numLayers }, (_, i) => i));
    for (const [name, mask] of a.masks) {
      expect(Array.from(mask.prunedPerRow)).toEqual(new Array(mask.rows).fill(Math.floor(mask.cols / 2)));
      expect(b.masks.get(name)).toEqual(mask);
      const pruned = a.model.tensor(name).data, dense = before.get(name)!;
      for (let i = 0; i < dense.length; i++) expect(pruned[i]).toBe(kept(mask, i) ? dense[i] : 0);
    }
    for (const [k, t] of m.tensors) expect(Buffer.from((t.data as Float32Array).buffer).equals(Buffer.from(before.get(k)!.buffer))).toBe(true);
  });

  test('2:4 with the repair: two of every four kept, the kept weights moved', async () => {
    const r = await learnMasksSequentially(fm, seqs, { ...o, selection: { pattern: { n: 2, m: 4 } }, repair: true });
    let moved = 0;
    for (const [name, mask] of r.masks) {
      for (let g = 0; g < (mask.rows * mask.cols) / 4; ++g) expect([0, 1, 2, 3].reduce((s, j) => s + kept(mask, 4 * g + j), 0)).toBe(2);
      const pruned = r.model.tensor(name).data, dense = m.tensors.get(name)!.data;
      for (let i = 0; i < dense.length; i++) if (kept(mask, i) && pruned[i] !== dense[i]) ++moved;
    }
    expect(moved).toBeGreaterThan(0);
  });

  test('no sequence, an abort', async () => {
    await expect(learnMasksSequentially(fm, [], o)).rejects.toThrow(/at least one calibration sequence/);
    const ac = new AbortController();
    ac.abort(new Error('stopped'));
    await expect(learnMasksSequentially(fm, seqs, { ...o, signal: ac.signal })).rejects.toThrow('stopped');
  });
});
