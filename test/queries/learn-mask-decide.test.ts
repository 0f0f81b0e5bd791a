// From learned theta to a mask (lib/queries/learn-mask-decide.ts): the prior theta0, the
// exact sparsity of each selection pattern, the repair; and a tiny block where a planted
// set of weights matters, which the learned mask keeps and magnitude pruning does not.
import { ArgumentRangeError } from '../../lib/errors';
import { SelectionSpec, selectMask } from '../../lib/kernels';
import { HessianAccumulator } from '../../lib/methods/hessian';
import { learnBlockTheta } from '../../lib/queries/learn-mask';
import { decideMasks, thetaFromScore, THETA_PRIOR_DEFAULTS } from '../../lib/queries/learn-mask-decide';
import { Mask } from '../../lib/tensor';
import { GRAD_SPECS } from '../backward/gradcheck-models';
import { model } from '../backward/native-helpers';
import { rng } from '../support/random';
import { blockData, uniforms } from './learn-mask-block';

const kept = (m: Mask, i: number) => (m.bits[i >> 3] >> (i & 7)) & 1;

describe('thetaFromScore', () => {
  test('standardized log score around the offset; zeros and constants stay finite', () => {
    const t = thetaFromScore(Float32Array.from([1, Math.E, Math.E ** 2, Math.E ** 3]), { scale: 2 });
    const mean = t.reduce((a, v) => a + v, 0) / 4;
    const std = Math.sqrt(t.reduce((a, v) => a + (v - mean) ** 2, 0) / 4);
    expect(mean).toBeCloseTo(THETA_PRIOR_DEFAULTS.offset, 5);
    expect(std).toBeCloseTo(2, 5);
    expect(t[0]).toBeLessThan(t[1]);
    const z = thetaFromScore(Float32Array.from([0, 1, 4]));
    expect(z.every(Number.isFinite)).toBe(true);
    expect(z[0]).toBeLessThan(z[1]);
    expect(Array.from(thetaFromScore(new Float32Array(3).fill(5)))).toEqual([2, 2, 2]);
    expect(() => thetaFromScore(Float32Array.from([1, -1]))).toThrow(ArgumentRangeError);
    expect(() => thetaFromScore(Float32Array.from([1, NaN]))).toThrow(ArgumentRangeError);
  });
});

describe('decideMasks', () => {
  const rows = 8, cols = 16;
  const r = rng(51);
  const weight = () => ({ data: uniforms(rows * cols, r, -1, 1), dtype: 'f32' as const, rows, cols });
  const theta = uniforms(rows * cols, r, -3, 3);
  const CASES: [string, SelectionSpec, (m: Mask) => void][] = [
    ['per row 50%', { sparsity: 0.5 }, (m) => expect(Array.from(m.prunedPerRow)).toEqual(new Array(rows).fill(8))],
    ['per matrix 30%', { sparsity: 0.3, granularity: 'matrix' }, (m) => expect(m.pruned).toBe(Math.floor(0.3 * rows * cols))],
    ['2:4', { pattern: { n: 2, m: 4 } }, (m) => {
      for (let g = 0; g < (rows * cols) / 4; ++g) expect([0, 1, 2, 3].reduce((a, j) => a + kept(m, 4 * g + j), 0)).toBe(2);
    }],
  ];
  test.each(CASES)('%s: the exact count, lowest theta pruned, the weights zeroed exactly there', async (_n, spec, exact) => {
    const w = weight();
    const before = Float32Array.from(w.data);
    const masks = await decideMasks([{ name: 'blocks.0.mlp.up.weight', weight: w, theta }], spec);
    const m = masks.get('blocks.0.mlp.up.weight')!;
    exact(m);
    expect(m).toEqual(await selectMask(theta, rows, cols, spec));
    for (let i = 0; i < rows * cols; ++i) expect(w.data[i]).toBe(kept(m, i) ? before[i] : 0);
  });

  test('with the layer statistic: the same mask, the kept weights repaired (SparseGPT with the mask)', async () => {
    const w = weight();
    const before = Float32Array.from(w.data);
    const h = new HessianAccumulator(cols);
    await h.add(uniforms(32 * cols, r, -1, 1), 32);
    const m = (await decideMasks([{ name: 'q', weight: w, theta, hessian: h }], { sparsity: 0.5 })).get('q')!;
    expect(m).toEqual(await selectMask(theta, rows, cols, { sparsity: 0.5 }));
    let moved = 0;
    for (let i = 0; i < rows * cols; ++i) {
      if (!kept(m, i)) expect(w.data[i]).toBe(0);
      else if (w.data[i] !== before[i]) ++moved;
    }
    expect(moved).toBeGreaterThan(rows * cols * 0.25);
  });
});

describe('a planted set of weights that matters', () => {
  // A Llama block whose MLP norm weighs hidden dims 3 and 11 eight times the others: the
  // gate/up weights in those columns carry 8x the effect on the block's output, but are
  // the smallest in magnitude (0.55 against uniform [0.6, 1] elsewhere, random signs).
  // Magnitude pruning at 50% per row removes every one of them; the learned mask keeps
  // them, from an uninformative start (theta0 = 2 everywhere) and from the magnitude prior
  // itself (thetaFromScore(|W|), where they start lowest). The thresholds leave a margin
  // below what was measured while the defaults were chosen.
  const PLANTED = [3, 11];
  const CASES: [string, 'constant' | 'magnitude', number][] = [
    ['theta0 = 2', 'constant', 0.95],
    ['theta0 from the magnitude prior', 'magnitude', 0.9],
  ];
  test.each(CASES)('%s: the learned mask keeps the planted weights, magnitude pruning keeps none', async (_n, prior, least) => {
    const m = model(GRAD_SPECS.llamaGqa);
    const r = rng(61);
    const H = m.config.hiddenSize;
    const norm = m.tensors.get('blocks.0.mlp_norm.weight')!.data as Float32Array;
    norm.fill(1);
    for (const c of PLANTED) norm[c] = 8;
    const names = ['blocks.0.mlp.gate.weight', 'blocks.0.mlp.up.weight'];
    for (const name of names) {
      const w = m.tensors.get(name)!.data as Float32Array;
      for (let i = 0; i < w.length; ++i) {
        const mag = PLANTED.includes(i % H) ? 0.55 : 0.6 + 0.4 * r();
        w[i] = (r() < 0.5 ? -mag : mag) * 0.3;
      }
    }
    const abs = (name: string) => Float32Array.from(m.tensors.get(name)!.data as Float32Array, Math.abs);
    const theta0 = (name: string) => (prior === 'magnitude' ? thetaFromScore(abs(name)) : new Float32Array(abs(name).length).fill(2));
    const d = await blockData(m, names, 8, 8, 62, theta0);
    await learnBlockTheta(d, { sparsity: 0.5, steps: prior === 'magnitude' ? 200 : 150, batchSequences: 4, seed: 0 });
    for (const l of d.layers) {
      const learned = await selectMask(l.theta, l.rows, l.cols, { sparsity: 0.5 });
      const magnitude = await selectMask(abs(l.name), l.rows, l.cols, { sparsity: 0.5 });
      let plantedKept = 0, magnitudeKept = 0, planted = 0;
      for (let i = 0; i < l.rows * l.cols; ++i)
        if (PLANTED.includes(i % H)) {
          ++planted;
          plantedKept += kept(learned, i);
          magnitudeKept += kept(magnitude, i);
        }
      expect(magnitudeKept).toBe(0);
      expect(plantedKept).toBeGreaterThanOrEqual(Math.ceil(least * planted));
    }
  });
});
