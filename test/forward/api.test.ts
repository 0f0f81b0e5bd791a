// Generation, logit comparison, weight overrides and input errors of the forward API.
import { argmaxRows, ForwardModel, generate, klTop1 } from '../../lib/forward';
import { refForward, refLogits, RefModel } from '../support/reference-forward';
import { makeTensor, randomModel, relErr, rng } from './random-model';

function refGreedy(m: RefModel, prompt: number[], steps: number): number[] {
  const ids = [...prompt];
  const out: number[] = [];
  const V = m.config.vocabSize;
  for (let s = 0; s < steps; ++s) {
    const h = refForward(m, ids, 1, ids.length);
    const H = m.config.hiddenSize;
    const z = refLogits(m, h.subarray((ids.length - 1) * H), 1);
    let best = 0;
    for (let v = 1; v < V; ++v) if (z[v] > z[best]) best = v;
    out.push(best);
    ids.push(best);
  }
  return out;
}

test('greedy generation matches the reference', async () => {
  const m = randomModel({ architecture: 'llama', heads: 4, kvHeads: 2, seed: 21 });
  const fm = new ForwardModel(m);
  const got = await generate(fm, [1, 5, 9], 8, { eos: null });
  expect(got).toEqual(refGreedy(m, [1, 5, 9], 8));
  expect(await generate(fm, [1, 5, 9], 8, { eos: null, cache: false })).toEqual(got);
  // Stops after the end-of-sequence id.
  const stop = await generate(fm, [1, 5, 9], 8, { eos: got[2] });
  expect(stop).toEqual(got.slice(0, got.indexOf(got[2]) + 1));
  await expect(generate(fm, [], 3)).rejects.toThrow(/at least one prompt token/);
});

test.each([
  ['llama GQA', { architecture: 'llama', heads: 4, kvHeads: 2, seed: 31 }],
  ['OPT learned positions', { architecture: 'opt', seed: 32 }],
  ['GPT-2', { architecture: 'gpt2', seed: 33 }],
] as const)('a KV cache fed in pieces gives the hidden states of one full pass (%s)', async (_n, spec) => {
  const m = randomModel({ ...spec });
  const fm = new ForwardModel(m);
  const r = rng(3);
  const seq = 11;
  const tokens = Array.from({ length: 2 * seq }, () => Math.floor(r() * m.config.vocabSize));
  const full = await fm.forward(tokens, 2, seq);
  const cache = fm.createCache(seq, 2);
  const H = m.config.hiddenSize;
  const pieces = [4, 1, 6];
  let at = 0;
  for (const n of pieces) {
    // Tokens at positions [at, at + n) of both sequences.
    const part = [...tokens.slice(at, at + n), ...tokens.slice(seq + at, seq + at + n)];
    const h = await fm.forwardCached(part, cache);
    const want = new Float32Array(2 * n * H);
    want.set(full.subarray(at * H, (at + n) * H), 0);
    want.set(full.subarray((seq + at) * H, (seq + at + n) * H), n * H);
    expect(relErr(h, want)).toBeLessThan(1e-5);
    at += n;
  }
  expect(cache.length).toBe(seq);
  await expect(fm.forwardCached([1, 2], cache)).rejects.toThrow(/has 0 left, 1 needed/);
});

test('klTop1 and argmaxRows match a direct computation', async () => {
  const r = rng(5);
  const rows = 7;
  const V = 300;
  const a = Float32Array.from({ length: rows * V }, () => r() * 8 - 4);
  const b = Float32Array.from(a, (x, i) => (i % 3 === 0 ? x + r() - 0.5 : x));
  b[3 * V + 17] = 50; // row 3's argmax moves
  const res = await klTop1(a, b, V);
  let agree = 0;
  for (let row = 0; row < rows; ++row) {
    const x = Array.from(a.subarray(row * V, (row + 1) * V));
    const y = Array.from(b.subarray(row * V, (row + 1) * V));
    const lse = (v: number[]) => Math.max(...v) + Math.log(v.reduce((s, t) => s + Math.exp(t - Math.max(...v)), 0));
    const la = lse(x);
    const lb = lse(y);
    let kl = 0;
    for (let j = 0; j < V; ++j) kl += Math.exp(x[j] - la) * (x[j] - la - (y[j] - lb));
    expect(res.kl[row]).toBeCloseTo(kl, 6);
    const ia = x.indexOf(Math.max(...x));
    const ib = y.indexOf(Math.max(...y));
    expect(res.argmaxA[row]).toBe(ia);
    expect(res.argmaxB[row]).toBe(ib);
    agree += ia === ib ? 1 : 0;
  }
  expect(res.top1Agreement).toBeCloseTo(agree / rows, 12);
  expect(agree).toBeLessThan(rows);
  expect(Array.from(await argmaxRows(a, V))).toEqual(Array.from(res.argmaxA));
  const same = await klTop1(a, a, V);
  expect(same.klMean).toBeCloseTo(0, 12);
  expect(same.top1Agreement).toBe(1);
});

test('setTensor swaps a block weight for the next call', async () => {
  const m = randomModel({ architecture: 'llama', seed: 22 });
  const fm = new ForwardModel(m);
  const tokens = [3, 1, 4, 1, 5];
  const before = await fm.forward(tokens, 1, 5);
  const name = 'blocks.1.mlp.down.weight';
  const old = m.tensors.get(name)!;
  const zero = makeTensor(name, old.shape, new Float32Array(old.data.length), 'f32');
  fm.setTensor(name, zero);
  const after = await fm.forward(tokens, 1, 5);
  expect(relErr(after, before)).toBeGreaterThan(1e-3);
  expect(relErr(after, refForward(m, tokens, 1, 5))).toBeLessThan(1e-4); // m shares the map
  expect(() => fm.setTensor(name, makeTensor(name, [2, 2], [0, 0, 0, 0], 'f32'))).toThrow(/new shape \[2, 2\] differs/);
});

test('bad inputs give errors naming the problem', async () => {
  const m = randomModel({ architecture: 'llama', seed: 23 });
  const fm = new ForwardModel(m);
  const h = await fm.embed([1, 2, 3], 1, 3);
  await expect(fm.runBlock(0, h, { batch: 1, seq: 4 })).rejects.toThrow(/hidden has 48 elements, expected 64/);
  await expect(fm.runBlock(2, h, { batch: 1, seq: 3 })).rejects.toThrow(/block index must be an integer in \[0, 2\)/);
  await expect(fm.runBlock(0, h, { batch: 1, seq: 3, capture: { oIn: new Float32Array(5) } })).rejects.toThrow(/capture.oIn has 5 elements/);
  await expect(fm.embed([1, 2], 1, 3)).rejects.toThrow(/tokens has 2 ids, expected batch\*seq = 3/);
  await expect(fm.embed([1, -2, 3], 1, 3)).rejects.toThrow(/token id -2 at position 1/);
  await expect(fm.nll(h, [1, 2, 99])).rejects.toThrow(/target 99 at row 2 is outside the vocabulary/);
  expect(() => fm.validate()).not.toThrow();
  const q = m.tensors.get('blocks.0.attn.q.weight')!;
  m.tensors.delete('blocks.0.attn.q.weight');
  await expect(fm.runBlock(0, h, { batch: 1, seq: 3 })).rejects.toThrow(/model has no tensor blocks.0.attn.q.weight/);
  expect(() => fm.validate()).toThrow(/model has no tensor blocks.0.attn.q.weight/);
  m.tensors.set('blocks.0.attn.q.weight', { ...q, shape: [8, 32] });
  await expect(fm.runBlock(0, h, { batch: 1, seq: 3 })).rejects.toThrow(/blocks.0.attn.q.weight has shape \[8, 32\], expected \[16, 16\]/);
  const opt = new ForwardModel(randomModel({ architecture: 'opt', context: 4, seed: 24 }));
  await expect(opt.embed([1, 2, 3, 4, 5], 1, 5)).rejects.toThrow(/needs learned positions up to 6, the table has 6 rows/);
});
