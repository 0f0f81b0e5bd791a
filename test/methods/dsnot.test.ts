// DSnoT: the native refinement against a plain TypeScript reference of its cycles, the
// layer's reconstruction error ||(W - W') X|| on the calibration inputs after and before
// it, and the method through the pipeline (exact sparsity, N:M, determinism, refusals).
import * as path from 'node:path';

import { ColumnStats, fromFloat32, toFloat32 } from '../../lib/kernels';
import { dsnotRefine, DSNOT_THRESHOLD } from '../../lib/methods/dsnot-refine';
import { methodInfo } from '../../lib/methods/registry';
import { wanda } from '../../lib/methods/plugins/wanda';
import { dsnot } from '../../lib/methods/plugins/dsnot';
import { HessianAccumulator } from '../../lib/methods/hessian';
import type { Strategy } from '../../lib/strategies';
import { loadModel } from '../../lib/formats/load';
import { runPipeline } from '../../lib/prune/pipeline';
import { prune } from '../../lib/prune/run';
import { emptyMask, Mask, maskKept, matrix } from '../../lib/tensor';
import { rng } from '../formats/fixtures';
import { runCli } from '../support/cli';
import { tempDir, zerosPerRow, countZeros } from '../prune/helpers';
import { linearNames, tinyCalibrated } from '../prune/tiny';
import type { NMPattern } from '../../lib/kernels';

const dir = tempDir('shears-dsnot-');

async function withLoaded(p: string, fn: (m: Awaited<ReturnType<typeof loadModel>>) => void): Promise<void> {
  const m = await loadModel(p);
  try {
    fn(m);
  } finally {
    m.close();
  }
}

/** A layer: W [rows, cols] and inputs X [tokens, cols] whose columns have means of either sign. */
function layer(rows: number, cols: number, tokens: number, seed: number) {
  const r = rng(seed);
  const w = Float32Array.from({ length: rows * cols }, () => r() * 2 - 1);
  const mean = Array.from({ length: cols }, () => (r() * 2 - 1) * 2);
  const sd = Array.from({ length: cols }, () => 0.2 + r() * 0.5);
  const x = Float32Array.from({ length: tokens * cols }, (_, i) => mean[i % cols] + sd[i % cols] * (r() + r() + r() - 1.5) * 2);
  return { w, x, rows, cols, tokens };
}

async function statsOf(x: Float32Array, tokens: number, cols: number): Promise<ColumnStats> {
  const s = new ColumnStats(cols);
  await s.add(x, tokens);
  return s;
}

/** ||(W - W') X^T||_F^2 over the tokens: the layer's reconstruction error. */
function reconstructionError(dense: Float32Array, pruned: Float32Array, x: Float32Array, rows: number, cols: number, tokens: number): number {
  let total = 0;
  for (let i = 0; i < rows; i++)
    for (let t = 0; t < tokens; t++) {
      let y = 0;
      for (let j = 0; j < cols; j++) y += (dense[i * cols + j] - pruned[i * cols + j]) * x[t * cols + j];
      total += y * y;
    }
  return total;
}

/** The refinement as docs/dsnot.md states it, in plain TypeScript (float64), on copies. */
function reference(dense: Float32Array, pruned: Float32Array, keep: boolean[], s: ColumnStats, rows: number, cols: number, o: { pattern?: NMPattern; maxCycles: number; threshold: number }) {
  const w = Float64Array.from(pruned);
  const kept = keep.slice();
  const mean = Array.from(s.sum, (v) => v / s.count);
  const variance = Array.from(s.sumSq, (v, j) => Math.max(0, v / s.count - mean[j] * mean[j]));
  const norm = Array.from(s.sumSq, Math.sqrt);
  const byKey = (idx: number[], key: (j: number) => number) => idx.sort((a, b) => key(a) - key(b) || a - b);
  for (let i = 0; i < rows; i++) {
    const at = (j: number) => i * cols + j;
    let e = 0;
    for (let j = 0; j < cols; j++) e += (dense[at(j)] - w[at(j)]) * mean[j];
    const growKey = (j: number) => (dense[at(j)] * mean[j]) / Math.max(variance[j], 1e-30);
    const wandaOf = (j: number) => Math.abs(w[at(j)]) * norm[j];
    const cols0 = [...Array(cols).keys()];
    const grow = byKey(cols0.filter((j) => !kept[at(j)] && dense[at(j)] * mean[j] !== 0), growKey);
    const wandaAtStart = cols0.map(wandaOf);
    const keptSorted = byKey(cols0.filter((j) => kept[at(j)]), (j) => wandaAtStart[j]);
    const negative = keptSorted.filter((j) => w[at(j)] * mean[j] < 0);
    const positive = keptSorted.filter((j) => w[at(j)] * mean[j] > 0);
    const grown = new Set<number>();
    let lo = 0;
    let hi = grow.length;
    let neg = 0;
    let pos = 0;
    const sign0 = e > 0;
    for (let c = 0; c < o.maxCycles && Math.abs(e) > o.threshold && lo < hi; c++) {
      const high = e > 0;
      const g = high ? grow[hi - 1] : grow[lo];
      if (high ? growKey(g) <= 0 : growKey(g) >= 0) break;
      let q: number | undefined;
      if (!o.pattern) q = high ? negative[neg] : positive[pos];
      else {
        const start = g - (g % o.pattern.m);
        for (let j = start; j < Math.min(start + o.pattern.m, cols); j++)
          if (kept[at(j)] && !grown.has(j) && (q === undefined || wandaAtStart[j] < wandaAtStart[q])) q = j;
      }
      if (q === undefined) break;
      const after = e - dense[at(g)] * mean[g] + w[at(q)] * mean[q];
      if (!(Math.abs(after) < Math.abs(e))) break;
      if (o.pattern && after !== 0 && after > 0 !== sign0) break;
      w[at(g)] = dense[at(g)];
      kept[at(g)] = true;
      w[at(q)] = 0;
      kept[at(q)] = false;
      e = after;
      if (high) hi--;
      else lo++;
      if (!o.pattern) high ? neg++ : pos++;
      else grown.add(g);
    }
  }
  return { w: Float32Array.from(w), kept };
}

const keptOf = (m: Mask) => Array.from({ length: m.rows * m.cols }, (_, i) => maskKept(m, Math.floor(i / m.cols), i % m.cols));

/** Wanda at 50% or N:M on a copy of the layer, then DSnoT (native) and the reference on its result. */
async function refineBoth(l: ReturnType<typeof layer>, pattern?: NMPattern, maxCycles = 50) {
  const s = await statsOf(l.x, l.tokens, l.cols);
  const w = matrix(l.w.slice(), l.rows, l.cols);
  const mask = await wanda().prune(w, { columns: s }, { sparsity: 0.5, pattern, granularity: 'row' });
  const afterBase = { w: (w.data as Float32Array).slice(), kept: keptOf(mask) };
  const ref = reference(l.w, afterBase.w, afterBase.kept, s, l.rows, l.cols, { pattern, maxCycles, threshold: DSNOT_THRESHOLD });
  const r = await dsnotRefine(w, l.w, mask, s, { pattern, maxCycles });
  return { s, afterBase, ref, native: { w: w.data as Float32Array, kept: keptOf(mask), mask }, r };
}

describe('the native refinement', () => {
  test.each<[string, NMPattern | undefined, number]>([
    ['unstructured, one cycle', undefined, 1],
    ['unstructured, 50 cycles', undefined, 50],
    ['2:4, one cycle', { n: 2, m: 4 }, 1],
    ['2:4, 50 cycles', { n: 2, m: 4 }, 50],
  ])('%s: the same weights and mask as the TypeScript reference', async (_label, pattern, cycles) => {
    const l = layer(24, 64, 96, 11);
    const { ref, native, r, afterBase } = await refineBoth(l, pattern, cycles);
    expect(native.kept).toEqual(ref.kept);
    expect(Array.from(native.w)).toEqual(Array.from(ref.w));
    // It did something, and each swap kept the row's count.
    expect(r.swaps).toBeGreaterThan(0);
    expect(native.kept.filter((k, i) => k !== afterBase.kept[i]).length).toBe(2 * r.swaps);
    expect(r.errorAfter).toBeLessThan(r.errorBefore);
  });

  test('exact sparsity: every row keeps its count (unstructured), every group of 4 its 2 (2:4)', async () => {
    const l = layer(32, 80, 64, 5);
    const u = await refineBoth(l);
    const perRow = (k: boolean[]) => Array.from({ length: l.rows }, (_, i) => k.slice(i * l.cols, (i + 1) * l.cols).filter((x) => !x).length);
    expect(perRow(u.native.kept)).toEqual(new Array(l.rows).fill(40));
    const nm = await refineBoth(l, { n: 2, m: 4 });
    for (let g = 0; g < nm.native.kept.length; g += 4) expect(nm.native.kept.slice(g, g + 4).filter(Boolean).length).toBe(2);
    // The pruned weights are zero, the kept ones their dense values (Wanda does not update them).
    nm.native.kept.forEach((k, i) => expect(nm.native.w[i]).toBe(k ? l.w[i] : 0));
  });

  test.each([1, 2, 3])('the reconstruction error ||(W - W\') X|| on the calibration inputs falls (seed %d)', async (seed) => {
    const l = layer(32, 96, 128, seed);
    for (const pattern of [undefined, { n: 2, m: 4 }]) {
      const { afterBase, native } = await refineBoth(l, pattern);
      const before = reconstructionError(l.w, afterBase.w, l.x, l.rows, l.cols, l.tokens);
      const after = reconstructionError(l.w, native.w, l.x, l.rows, l.cols, l.tokens);
      expect(after).toBeLessThan(before);
    }
  });

  test('deterministic: the same bits on a second run', async () => {
    const l = layer(40, 64, 64, 9);
    const a = await refineBoth(l);
    const b = await refineBoth(l);
    expect(Buffer.from(a.native.mask.bits).equals(Buffer.from(b.native.mask.bits))).toBe(true);
    expect(Buffer.from(a.native.w.buffer).equals(Buffer.from(b.native.w.buffer))).toBe(true);
  });

  test('f16 weights: refined through float32, written back in f16 (pruned zero, grown at their dense f16 values)', async () => {
    const l = layer(16, 64, 64, 21);
    const s = await statsOf(l.x, l.tokens, l.cols);
    const half = await fromFloat32(l.w, 'f16');
    const w = matrix(half.slice(), l.rows, l.cols, 'f16');
    const dense = await toFloat32(half, 'f16');
    const mask = await wanda().prune(w, { columns: s }, { sparsity: 0.5, granularity: 'row' });
    const before = Buffer.from(mask.bits).toString('hex');
    const r = await dsnotRefine(w, dense, mask, s);
    expect(r.swaps).toBeGreaterThan(0);
    expect(Buffer.from(mask.bits).toString('hex')).not.toBe(before);
    const out = w.data as Uint16Array;
    keptOf(mask).forEach((k, i) => expect(out[i]).toBe(k ? half[i] : 0));
  });

  test('a mask of another shape or statistics of another width: a ShapeError', async () => {
    const l = layer(4, 16, 8, 1);
    const s = await statsOf(l.x, l.tokens, l.cols);
    const w = matrix(l.w.slice(), 4, 16);
    await expect(dsnotRefine(w, l.w, emptyMask(4, 8), s)).rejects.toThrow(/the mask is 4 x 8 but W is 4 x 16/);
    await expect(dsnotRefine(w, l.w, emptyMask(4, 16), new ColumnStats(8))).rejects.toThrow(/8 wide but W has 16 columns/);
  });
});

describe('dsnot through the pipeline (tiny Llama)', () => {
  const { model, calibration } = tinyCalibrated(dir);

  async function run(base: string | undefined, o: { sparsity?: number; pattern?: NMPattern }) {
    const m = await loadModel(model);
    const strategy = methodInfo('dsnot').create!({ base });
    const r = await runPipeline(m, { strategy, sparsity: o.sparsity, pattern: o.pattern, calibration: calibration() });
    return { m, r };
  }

  test.each(['wanda', 'sparsegpt'])('--base %s: exact sparsity per row at 50%%, 2 of every 4 at 2:4, the same bits twice', async (base) => {
    const a = await run(base, { sparsity: 0.5 });
    const b = await run(base, { sparsity: 0.5 });
    try {
      for (const name of linearNames()) {
        const t = a.m.tensors.get(name)!;
        if (base === 'wanda') expect(zerosPerRow(t)).toEqual(new Array(t.shape[0]).fill(Math.floor(t.shape[1] / 2)));
        else expect(countZeros(t)).toBeGreaterThanOrEqual(Math.floor(t.data.length / 2) - t.shape[0]);
        expect(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(Buffer.from(b.m.tensors.get(name)!.data.buffer, b.m.tensors.get(name)!.data.byteOffset, t.data.byteLength))).toBe(true);
      }
      expect(a.r.notes.join(' ')).toMatch(new RegExp(`dsnot \\(--base ${base}\\): [1-9]\\d* swaps in 12 refined matrices \\(9 MLP matrices keep ${base}'s mask`));
    } finally {
      a.m.close();
      b.m.close();
    }
    const nm = await run(base, { pattern: { n: 2, m: 4 } });
    try {
      for (const name of linearNames()) {
        const t = nm.m.tensors.get(name)!;
        for (let g = 0; g < t.data.length; g += 4) expect(countZeros(t, g, g + 4)).toBeGreaterThanOrEqual(2);
      }
    } finally {
      nm.m.close();
    }
  });

  test.each(['wanda', 'sparsegpt'])('--base %s: an MLP matrix keeps the base method\'s mask and weights (the reference\'s default), an attention one is refined', async (base) => {
    const l = layer(24, 64, 96, 4);
    const s = await statsOf(l.x, l.tokens, l.cols);
    const h = new HessianAccumulator(l.cols);
    await h.add(l.x, l.tokens);
    const stats = { columns: s, hessian: h };
    const prunedBy = async (strategy: Strategy, name: string) => {
      const w = matrix(l.w.slice(), l.rows, l.cols);
      const mask = await strategy.prune(w, stats, { sparsity: 0.5 }, { name, block: 0, tensors: new Map() });
      return { w: w.data as Float32Array, bits: mask.bits };
    };
    const alone = await prunedBy(methodInfo(base).create!({}), 'blocks.0.mlp.up.weight');
    const mlp = await prunedBy(dsnot({ base }), 'blocks.0.mlp.up.weight');
    const attn = await prunedBy(dsnot({ base }), 'blocks.0.attn.q.weight');
    expect(Buffer.from(mlp.w.buffer).equals(Buffer.from(alone.w.buffer))).toBe(true);
    expect(Buffer.from(attn.bits).equals(Buffer.from(alone.bits))).toBe(false);
    // Refined, the same count of kept weights; with sparsegpt the kept ones are reconstructed (not the dense values).
    const kept = (bits: Uint8Array) => bits.reduce((n, b) => n + ((b.toString(2).match(/1/g) ?? []).length), 0);
    expect(kept(attn.bits)).toBe(kept(alone.bits));
    const keptDense = Array.from(attn.w).every((v, i) => v === 0 || v === l.w[i]);
    expect(keptDense).toBe(base === 'wanda');
  });

  test('shears prune --method dsnot --base sparsegpt --pattern 2:4: exit 0, the report\'s note says what was refined', async () => {
    const out = path.join(dir, 'cli-dsnot');
    const r = await runCli(['prune', '--model', model, '--method', 'dsnot', '--base', 'sparsegpt', '--pattern', '2:4', '--calib-tokens', path.join(dir, 'calib.json'), '--seq-len', '16', '--calib-samples', '4', '--out', out, '--json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out);
    expect(report).toMatchObject({ method: 'dsnot', pattern: '2:4', sparsity: 0.5 });
    expect(report.notes.join(' ')).toMatch(/dsnot \(--base sparsegpt\): \d+ swaps in 12 refined matrices/);
    await withLoaded(out, (m) => {
      for (const name of linearNames()) {
        const t = m.tensors.get(name)!;
        for (let g = 0; g < t.data.length; g += 4) expect(countZeros(t, g, g + 4)).toBeGreaterThanOrEqual(2);
      }
    });
  });

  test('refusals before any work: an unknown --base, global granularity, --base on another method', async () => {
    const out = path.join(dir, 'refused');
    const o = { model, sparsity: 0.5, calibTokens: path.join(dir, 'calib.json'), out };
    await expect(prune({ ...o, method: 'dsnot', base: 'magnitude' })).rejects.toThrow(/--base for dsnot must be one of wanda, sparsegpt, got 'magnitude'/);
    await expect(prune({ ...o, method: 'dsnot', granularity: 'global' })).rejects.toThrow(/dsnot reconstructs each layer on its own: global granularity does not apply/);
    await expect(prune({ ...o, method: 'wanda', base: 'sparsegpt' })).rejects.toThrow(/--base \(.*dsnot.*\) applies to other methods, not to wanda/);
  });
});
