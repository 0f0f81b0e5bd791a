// The held-out query measures (lib/eval/held-out.ts) against a plain float64 reference
// of the same definitions (reference forward pass, softmax, KL, argmax), over all
// predicted positions and over the answer positions; a model against itself; tiling.
import { heldOutMeasures, PositionMeasures } from '../../lib/eval/held-out';
import { ForwardModel } from '../../lib/forward';
import { shearsAddon } from '../../lib/native/addon';
import { QuerySequence } from '../../lib/queries';
import { refForward, refLogits, RefModel } from '../support/reference-forward';
import { randomModel, rng } from '../forward/random-model';

interface RefSums {
  n: number;
  nllD: number;
  nllP: number;
  kl: number;
  agree: number;
}

function logSoftmax(z: Float64Array): Float64Array {
  let m = -Infinity;
  for (const v of z) m = Math.max(m, v);
  let s = 0;
  for (const v of z) s += Math.exp(v - m);
  const lse = m + Math.log(s);
  return z.map((v) => v - lse);
}

const argmax = (z: Float64Array) => z.reduce((best, v, j) => (v > z[best] ? j : best), 0);

/** Every definition of docs/queries.md, in float64, position by position. */
function reference(dense: RefModel, pruned: RefModel, seqs: QuerySequence[]): { all: RefSums; answer: RefSums } {
  const all: RefSums = { n: 0, nllD: 0, nllP: 0, kl: 0, agree: 0 };
  const answer: RefSums = { ...all };
  const V = dense.config.vocabSize;
  for (const { ids, answerStart } of seqs) {
    const L = ids.length;
    const zd = refLogits(dense, refForward(dense, Array.from(ids), 1, L), L);
    const zp = refLogits(pruned, refForward(pruned, Array.from(ids), 1, L), L);
    for (let t = 0; t < L - 1; t++) {
      const a = logSoftmax(zd.subarray(t * V, (t + 1) * V));
      const b = logSoftmax(zp.subarray(t * V, (t + 1) * V));
      let kl = 0;
      for (let j = 0; j < V; j++) kl += Math.exp(a[j]) * (a[j] - b[j]);
      for (const s of t + 1 >= answerStart ? [all, answer] : [all]) {
        s.n += 1;
        s.nllD -= a[ids[t + 1]];
        s.nllP -= b[ids[t + 1]];
        s.kl += kl;
        s.agree += argmax(a) === argmax(b) ? 1 : 0;
      }
    }
  }
  return { all, answer };
}

function expectClose(m: PositionMeasures, r: RefSums): void {
  expect(m.positions).toBe(r.n);
  const close = (got: number, want: number) => expect(Math.abs(got - want)).toBeLessThan(1e-4 * Math.max(1, Math.abs(want)));
  close(m.dense.meanNll, r.nllD / r.n);
  close(m.pruned.meanNll, r.nllP / r.n);
  close(m.loss, (r.nllP - r.nllD) / r.n);
  close(m.dense.perplexity, Math.exp(r.nllD / r.n));
  close(m.kl, r.kl / r.n);
  expect(m.top1Agreement).toBe(r.agree / r.n);
}

function sequences(vocab: number, seed: number): QuerySequence[] {
  const r = rng(seed);
  return [
    [7, 3],
    [12, 5],
    [1, 1],
    [20, 9],
  ].map(([len, q]) => ({ ids: Int32Array.from({ length: len }, () => Math.floor(r() * vocab)), answerStart: q }));
}

const dense = randomModel({ architecture: 'llama', heads: 4, kvHeads: 2, vocab: 61, seed: 51 });
// The "pruned" model: the dense one with half its block weights (every other entry) zeroed.
const pruned = randomModel({ architecture: 'llama', heads: 4, kvHeads: 2, vocab: 61, seed: 51 });
for (const [name, t] of pruned.tensors)
  if (/^blocks\.\d+\.(attn|mlp)\.\w+\.weight$/.test(name)) (t.data as Float32Array).forEach((_, i, a) => (a[i] = i % 2 ? 0 : a[i]));

test('all and answer positions match the float64 reference of every measure', async () => {
  const seqs = sequences(61, 3);
  const m = await heldOutMeasures(new ForwardModel(dense), new ForwardModel(pruned), seqs);
  const r = reference(dense, pruned, seqs);
  expect(m.sequences).toBe(4);
  expect(m.all.positions).toBe(6 + 11 + 0 + 19);
  expect(m.answer!.positions).toBe(4 + 7 + 0 + 11);
  expectClose(m.all, r.all);
  expectClose(m.answer!, r.answer);
  expect(m.all.kl).toBeGreaterThan(0);
  expect(m.all.top1Agreement).toBeLessThan(1);
});

test('a model against itself: KL 0, top-1 1, loss 0; the same bits for 1 and 2 threads; tiles change only rounding', async () => {
  const fm = new ForwardModel(dense);
  const seqs = sequences(61, 4);
  const self = await heldOutMeasures(fm, fm, seqs);
  expect(self.all.kl).toBe(0);
  expect(self.all.top1Agreement).toBe(1);
  expect(self.all.loss).toBe(0);
  expect(self.answer!.kl).toBe(0);
  const threads = shearsAddon().threads();
  try {
    shearsAddon().setThreads(1);
    const one = await heldOutMeasures(fm, new ForwardModel(pruned), seqs);
    shearsAddon().setThreads(2);
    const two = await heldOutMeasures(fm, new ForwardModel(pruned), seqs);
    expect({ ...two, seconds: 0 }).toEqual({ ...one, seconds: 0 });
  } finally {
    shearsAddon().setThreads(threads);
  }
  // One row per tile: the logits matmul blocks rows differently, so only the last bits move.
  const wide = await heldOutMeasures(fm, new ForwardModel(pruned), seqs);
  const narrow = await heldOutMeasures(fm, new ForwardModel(pruned), seqs, { tileBytes: 1 });
  expect(narrow.all.positions).toBe(wide.all.positions);
  expect(narrow.all.top1Agreement).toBe(wide.all.top1Agreement);
  expect(Math.abs(narrow.all.kl - wide.all.kl)).toBeLessThan(1e-6 * wide.all.kl);
  expect(narrow.all.loss).toBe(wide.all.loss);
});

test('no answer positions: answer is null; bad sequences and vocabularies are typed errors', async () => {
  const fm = new ForwardModel(dense);
  const seqs = sequences(61, 5).map((s) => ({ ...s, answerStart: s.ids.length }));
  expect((await heldOutMeasures(fm, fm, seqs)).answer).toBeNull();
  await expect(heldOutMeasures(fm, fm, [{ ids: Int32Array.of(1, 2, 3), answerStart: 0 }])).rejects.toMatchObject({ code: 'E_RANGE' });
  await expect(heldOutMeasures(fm, fm, [{ ids: Int32Array.of(4), answerStart: 1 }])).rejects.toThrow(/no predicted position/);
  const other = new ForwardModel(randomModel({ architecture: 'llama', heads: 4, kvHeads: 2, vocab: 60, seed: 51 }));
  await expect(heldOutMeasures(fm, other, seqs)).rejects.toMatchObject({ code: 'E_MODEL_MISMATCH' });
  const ac = new AbortController();
  ac.abort(new Error('halt'));
  await expect(heldOutMeasures(fm, fm, seqs, { signal: ac.signal })).rejects.toThrow('halt');
});
