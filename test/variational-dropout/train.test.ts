// One layer's training (native vdTrainLayer through trainLayer): Adam's first step against
// its closed form, log alpha growing for weights that never affect the output (an input
// column that is always zero), seeded determinism, and the settings' checks.
import { vdSettings } from '../../lib/methods/variational-dropout/options';
import { trainLayer } from '../../lib/methods/variational-dropout/train';
import { rng } from '../support/random';

const rows = 512, inDim = 8, out = 6, zeroCol = 3;

function data(seed: number) {
  const r = rng(seed);
  const x = Float32Array.from({ length: rows * inDim }, (_, i) => (i % inDim === zeroCol ? 0 : r() * 2 - 1));
    // |w| <= 0.2: log alpha starts above the clip at -8 (-10 - log w^2 >= -6.8), where the KL has a gradient.
  const w = Float32Array.from({ length: out * inDim }, () => (r() * 2 - 1) * 0.2);
  return { x, w };
}

const columnMean = (a: Float32Array, col: number) => {
  let s = 0;
  for (let o = 0; o < out; o++) s += a[o * inDim + col];
  return s / out;
};

test("Adam's first step moves every parameter by its learning rate against the gradient's sign", async () => {
  const { x, w } = data(1);
  const s = vdSettings({ steps: 1, lrTheta: 1e-3, lrLogSigma2: 0.05, beta: 1 });
  const t = await trainLayer(x, rows, w, out, rows, s, 0);
  for (let o = 0; o < out; o++) {
    const k = o * inDim + zeroCol;
    // Column 3 only feels the KL: it raises log sigma^2 and shrinks |theta|.
    expect(t.logSigma2[k]).toBeCloseTo(-10 + 0.05, 5);
    expect(t.theta[k]).toBeCloseTo(w[k] - 1e-3 * Math.sign(w[k]), 6);
  }
  // Every other weight moved by exactly one learning rate too (|m / sqrt(v)| = 1 on step 1).
  for (let k = 0; k < out * inDim; k++) expect(Math.abs(t.logSigma2[k] + 10)).toBeCloseTo(0.05, 5);
});

test('log alpha grows for the weights of an input column that is always zero, and they are pruned first', async () => {
  const { x, w } = data(2);
  // The same layer and rows with column 3 alive: only the data term differs.
  const r = rng(9);
  const live = Float32Array.from(x, (v, i) => (i % inDim === zeroCol ? r() * 2 - 1 : v));
  // beta 0.01: on 6 outputs of unit-scale inputs the data term is small beside KL / 512 tokens;
  // this weighs it more, so that live weights keep a low log alpha.
  const s = vdSettings({ steps: 150, batchRows: 128, beta: 0.01 });
  const dead = await trainLayer(x, rows, w, out, rows, s, 0);
  const alive = await trainLayer(live, rows, w, out, rows, s, 0);
  for (let o = 0; o < out; o++) {
    const k = o * inDim + zeroCol;
    const initial = -10 - Math.log(w[k] * w[k] + 1e-8);
    expect(dead.logAlpha[k]).toBeGreaterThan(initial + 3);
    expect(dead.logAlpha[k]).toBeGreaterThan(alive.logAlpha[k] + 2);
  }
  // The dead column has the lowest score (-log alpha) of every row: it goes first.
  const t = dead;
  for (let o = 0; o < out; o++) {
    const row = t.score.subarray(o * inDim, (o + 1) * inDim);
    expect(row.indexOf(Math.min(...row))).toBe(zeroCol);
  }
  // The histogram counts every weight once.
  expect(t.histogram.reduce((a, b) => a + b, 0)).toBe(out * inDim);
});

test('seeded: the same seed gives the same bits, another seed other noise', async () => {
  const { x, w } = data(3);
  const s = vdSettings({ steps: 20, batchRows: 64 });
  const a = await trainLayer(x, rows, w, out, rows, s, 5);
  const b = await trainLayer(x, rows, w, out, rows, s, 5);
  const c = await trainLayer(x, rows, w, out, rows, s, 6);
  expect(Buffer.from(b.logSigma2.buffer).equals(Buffer.from(a.logSigma2.buffer))).toBe(true);
  expect(Buffer.from(b.theta.buffer).equals(Buffer.from(a.theta.buffer))).toBe(true);
  expect(Buffer.from(c.logSigma2.buffer).equals(Buffer.from(a.logSigma2.buffer))).toBe(false);
});

test('settings out of range are refused with a message naming them', () => {
  expect(() => vdSettings({ steps: -1 })).toThrow(/steps must be an integer/);
  expect(() => vdSettings({ beta: NaN })).toThrow(/beta must be a finite number/);
  expect(() => vdSettings({ warmup: 2 })).toThrow(/warmup must be in \[0, 1\]/);
  expect(() => vdSettings({ keep: 'both' as never })).toThrow(/keep must be 'theta' or 'dense'/);
  expect(() => vdSettings({ maxRows: 0 })).toThrow(/maxRows/);
  expect(vdSettings({ beta: undefined }).beta).toBe(1);
});
