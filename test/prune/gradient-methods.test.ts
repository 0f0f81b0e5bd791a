// The gradient methods (docs/gradient-methods.md): the per-weight score term against a
// plain reference, the native moments, and prune() end to end: the masks equal those of a
// reference built here from lossAndGradients per calibration sequence (S1 = sum G,
// S2 = sum G^2) and the same selection, at exact sparsity and under 2:4.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { lossAndGradients } from '../../lib/backward/gradients';
import { scratchBeside } from '../../lib/formats/atomic';
import { CalibrationSet } from '../../lib/calibration/sample';
import { loadModel } from '../../lib/formats/load';
import { accumulateMoments, computeScores, selectMask } from '../../lib/kernels';
import { runPipeline } from '../../lib/prune/pipeline';
import { selectLayers } from '../../lib/prune/layers';
import { fisher, gradient, gradientSensitive, Strategy, wanda } from '../../lib/strategies';
import { gatherDenseStats } from '../../lib/sweep/stats-once';
import { rng } from '../support/random';
import { tempDir } from './helpers';
import { tinyCalibrated } from './tiny';
import { runCli } from '../support/cli';

let model: string;
let calibration: () => CalibrationSet;
beforeAll(() => ({ model, calibration } = tinyCalibrated(tempDir())));

const randoms = (n: number, seed: number, scale = 1) => {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
};

test('per-weight score term: |W|^p * (actScale * a^q + scale * |F|^r), against a plain reference', async () => {
  const rows = 5, cols = 7;
  const w = randoms(rows * cols, 1);
  const f = randoms(rows * cols, 2);
  const a = Float32Array.from(randoms(cols, 3), Math.abs);
  const cases = [
    { p: 1, q: 0, actScale: 0, r: 1, c: 1 }, // gradient
    { p: 2, q: 0, actScale: 0, r: 1, c: 1 }, // fisher
    { p: 1, q: 1, actScale: 1, r: 0.5, c: 100 }, // gradient-sensitive
  ];
  for (const k of cases) {
    const got = await computeScores({ data: w, dtype: 'f32', rows, cols }, { p: k.p, q: k.q, act: k.q ? a : undefined, actScale: k.actScale, perWeight: { values: f, exponent: k.r, scale: k.c } });
    for (let i = 0; i < rows * cols; i++) {
      const j = i % cols;
      const ref = Math.abs(w[i]) ** k.p * (k.actScale * (k.q ? a[j] ** k.q : 1) + k.c * Math.abs(f[i]) ** k.r);
      expect(got[i]).toBeCloseTo(Math.fround(ref), 5);
    }
  }
  const bad = f.slice();
  bad[9] = NaN;
  await expect(computeScores({ data: w, dtype: 'f32', rows, cols }, { perWeight: { values: bad } })).rejects.toThrow(/per-weight statistic is not finite at row 1, column 2/);
  await expect(computeScores({ data: w, dtype: 'f32', rows, cols }, { perWeight: { values: f.subarray(1) } })).rejects.toThrow(/perWeight/);
});

test('accumulateMoments adds g and g^2', async () => {
  const g = randoms(100_003, 4);
  const sum = new Float32Array(g.length).fill(1);
  const sumSq = new Float32Array(g.length);
  await accumulateMoments(g, { sum, sumSq });
  await accumulateMoments(g, { sumSq });
  for (const i of [0, 1, 65_536, 100_002]) {
    expect(sum[i]).toBe(Math.fround(1 + g[i]));
    expect(sumSq[i]).toBe(Math.fround(Math.fround(g[i] * g[i]) + Math.fround(g[i] * g[i])));
  }
});

/** Reference masks: S1/S2 from lossAndGradients per sequence, scores and selection per layer. */
async function referenceMasks(method: 'gradient' | 'fisher' | 'gradient-sensitive', selection: { sparsity?: number; pattern?: { n: number; m: number } }) {
  const m = await loadModel(model);
  try {
    const cal = calibration();
    const layers = selectLayers(m.config, m.tensors).blocks.flat();
    const s1 = new Map(layers.map((l) => [l.name, new Float64Array(m.tensors.get(l.name)!.data.length)]));
    const s2 = new Map(layers.map((l) => [l.name, new Float64Array(m.tensors.get(l.name)!.data.length)]));
    for (let s = 0; s < cal.samples; s++) {
      const { grads } = await lossAndGradients(m, cal.tokens.subarray(s * cal.seqLen, (s + 1) * cal.seqLen), { batch: 1, seq: cal.seqLen });
      for (const l of layers) {
        const g = grads.get(l.name)!;
        const a = s1.get(l.name)!, b = s2.get(l.name)!;
        for (let i = 0; i < g.length; i++) {
          a[i] += g[i];
          b[i] += g[i] * g[i];
        }
      }
    }
    const dense = method === 'gradient-sensitive' ? await gatherDenseStats(m, cal, { methods: [wanda()] }) : undefined;
    const masks = new Map<string, Uint8Array>();
    for (const l of layers) {
      const t = m.tensors.get(l.name)!;
      const [rows, cols] = t.shape;
      const w = t.data as Float32Array;
      const xn = dense?.blocks[l.block].get(l.input)!.columns!.l2Norms();
      const scores = Float32Array.from(w, (v, i) => {
        const A = s1.get(l.name)![i], B = s2.get(l.name)![i];
        if (method === 'gradient') return Math.abs(v) * Math.abs(Math.fround(A));
        if (method === 'fisher') return v * v * Math.fround(B);
        return Math.abs(v) * (xn![i % cols] + 100 * Math.sqrt(Math.fround(B)));
      });
      const mask = await selectMask(scores, rows, cols, { ...selection, granularity: 'row' });
      masks.set(l.name, mask.bits);
    }
    return masks;
  } finally {
    m.close();
  }
}

describe.each([
  ['gradient', gradient],
  ['fisher', fisher],
  ['gradient-sensitive', () => gradientSensitive()],
] as [('gradient' | 'fisher' | 'gradient-sensitive'), () => Strategy][])('%s', (name, create) => {
  test.each([
    ['50%', { sparsity: 0.5 }],
    ['2:4', { pattern: { n: 2, m: 4 } }],
  ] as [string, { sparsity?: number; pattern?: { n: number; m: number } }][])('%s: exact sparsity, the masks of the reference', async (_label, selection) => {
    const m = await loadModel(model);
    try {
      const r = await runPipeline(m, { strategy: create(), ...selection, calibration: calibration() });
      expect(r.notes.join(' ')).toMatch(/one-shot/);
      for (const l of r.layers) expect(l.sparsity).toBe(0.5);
      const ref = await referenceMasks(name, selection);
      let differ = 0;
      for (const l of r.layers) {
        const t = m.tensors.get(l.name)!.data as Float32Array;
        const bits = ref.get(l.name)!;
        // Keep-masks: bit i set = weight i kept.
        for (let i = 0; i < t.length; i++) if ((t[i] !== 0) !== (((bits[i >> 3] >> (i & 7)) & 1) === 1)) differ++;
      }
      // Seeded inputs: the float32 sums here and in the native kernel round alike.
      expect(differ).toBe(0);
    } finally {
      m.close();
    }
  });
});

test('gradient-sensitive with --alpha 0 is Wanda (same masks on block 0, where both see the same inputs); --alpha < 0 refused', async () => {
  const masks = async (strategy: Strategy) => {
    const m = await loadModel(model);
    try {
      await runPipeline(m, { strategy, sparsity: 0.5, include: ['blocks.0.**'], calibration: calibration() });
      return [...m.tensors.entries()].filter(([n]) => n.startsWith('blocks.0.') && n.endsWith('.weight') && m.tensors.get(n)!.shape.length === 2).map(([n, t]) => [n, Array.from(t.data as Float32Array, (v) => (v === 0 ? 0 : 1)).join('')]);
    } finally {
      m.close();
    }
  };
  expect(await masks(gradientSensitive({ alpha: 0 }))).toEqual(await masks(wanda()));
  expect(await masks(gradientSensitive())).not.toEqual(await masks(wanda()));
  const r = await runCli(['prune', '--model', model, '--method', 'gradient-sensitive', '--alpha', '-1', '--sparsity', '0.5', '--calib-tokens', 'x.json', '--out', 'never']);
  expect(r.code).not.toBe(0);
  expect(r.err).toMatch(/--alpha must be a finite number >= 0, got -1/);
});

test('gradient moments in file-backed scratch pages (budget 0) give the same masks, and the pages are released after pruning', async () => {
  const run = async (o: { scratch?: ReturnType<typeof scratchBeside>; gradientBudgetBytes?: number }) => {
    const m = await loadModel(model);
    try {
      await runPipeline(m, { strategy: fisher(), sparsity: 0.5, calibration: calibration(), ...o });
      return [...m.tensors.values()].filter((t) => t.shape.length === 2).map((t) => Array.from(t.data as Float32Array, (v) => (v === 0 ? 0 : 1)).join(''));
    } finally {
      m.close();
    }
  };
  const out = path.join(tempDir(), 'out');
  const scratch = scratchBeside(out);
  try {
    expect(await run({ scratch, gradientBudgetBytes: 0 })).toEqual(await run({}));
    // Nothing of the moments is left in the scratch folder once the run is done with them.
    expect(fs.readdirSync(scratch.dir)).toEqual([]);
  } finally {
    scratch.remove();
  }
});
