import { DType, setPoolThreads, sparsegptPrune } from '../../lib';
import { RefOptions, refSparseGpt } from '../support/sparsegpt-reference';
import { expectMatchesReference, hessianOf, makeMatrix, valuesOf } from './compare';
import { correlatedX, prunedFlags, randomF32 } from './helpers';

interface Case {
  rows: number;
  cols: number;
  dtype: DType;
  opts: RefOptions;
  precision?: 'f64' | 'f32';
}

const cases: Case[] = [
  { rows: 8, cols: 20, dtype: 'f32', opts: { sparsity: 0.5, blockSize: 8 } },
  { rows: 16, cols: 64, dtype: 'f32', opts: { sparsity: 0.6, blockSize: 16 } },
  { rows: 12, cols: 50, dtype: 'f32', opts: { sparsity: 0.3 } },
  { rows: 10, cols: 40, dtype: 'f32', opts: { sparsity: 0.5, blockSize: 16, selection: 'row' } },
  { rows: 7, cols: 33, dtype: 'f16', opts: { sparsity: 0.45, blockSize: 10, percdamp: 0.05 } },
  { rows: 6, cols: 30, dtype: 'bf16', opts: { sparsity: 0.5, blockSize: 8 } },
  { rows: 8, cols: 48, dtype: 'f32', opts: { pattern: { n: 2, m: 4 }, blockSize: 16 } },
  { rows: 8, cols: 52, dtype: 'f16', opts: { pattern: { n: 4, m: 8 }, blockSize: 16 } },
  { rows: 9, cols: 36, dtype: 'bf16', opts: { pattern: { n: 2, m: 4 }, blockSize: 12 } },
  { rows: 5, cols: 150, dtype: 'f32', opts: { pattern: { n: 2, m: 4 } } },
  { rows: 70, cols: 200, dtype: 'f32', opts: { sparsity: 0.5, blockSize: 64 } },
  { rows: 9, cols: 40, dtype: 'f32', opts: { sparsity: 0.5, blockSize: 16 }, precision: 'f32' },
  { rows: 3, cols: 1, dtype: 'f32', opts: { sparsity: 0.5, blockSize: 1 } },
  { rows: 1, cols: 9, dtype: 'f32', opts: { sparsity: 0.5, blockSize: 1 } },
  { rows: 1, cols: 6, dtype: 'f32', opts: { sparsity: 0.5, selection: 'row' } },
];

describe('sparsegptPrune against the float64 reference', () => {
  test.each(cases.map((c, i) => [i, c] as const))('case %i: %j', async (i, { rows, cols, dtype, opts, precision }) => {
    const tokens = 2 * cols + 3;
    const x = correlatedX(tokens, cols, 10 + i);
    const h = await hessianOf(x, tokens, cols, precision);
    const w = await makeMatrix(randomF32(rows * cols, 50 + i), rows, cols, dtype);
    const w0 = await valuesOf(w);
    const ref = refSparseGpt(w0, rows, cols, h.sum, h.count, opts);

    const mask = await sparsegptPrune(w, h, opts);
    expect(Array.from(prunedFlags(mask))).toEqual(Array.from(ref.pruned));
    await expectMatchesReference(mask, w, ref);
  });
});

describe('sparsegptPrune properties', () => {
  test.each(['f32', 'f16', 'bf16'] as const)('sparsity 0 leaves %s weights bit for bit unchanged', async (dtype) => {
    const rows = 9, cols = 37, tokens = 80;
    const h = await hessianOf(correlatedX(tokens, cols, 3), tokens, cols);
    const values = randomF32(rows * cols, 4);
    values[5] = -0; // signed zero survives too
    const w = await makeMatrix(values, rows, cols, dtype);
    const before = Array.from(w.data);
    const mask = await sparsegptPrune(w, h, { sparsity: 0, blockSize: 16 });
    expect(Array.from(w.data)).toEqual(before);
    expect(Object.is(w.data[5], dtype === 'f32' ? -0 : 0x8000)).toBe(true);
    expect(mask.pruned).toBe(0);
    expect(Array.from(mask.bits.subarray(0, Math.floor((rows * cols) / 8)))).toEqual(new Array(Math.floor((rows * cols) / 8)).fill(255));
  });

  test.each([
    ['block', 0.5],
    ['block', 0.37],
    ['row', 0.37],
  ] as const)('exact counts per block (%s selection, sparsity %p)', async (selection, sparsity) => {
    const rows = 13, cols = 45, bs = 16, tokens = 100;
    const h = await hessianOf(correlatedX(tokens, cols, 5), tokens, cols);
    const w = await makeMatrix(randomF32(rows * cols, 6), rows, cols, 'f32');
    const flags = prunedFlags(await sparsegptPrune(w, h, { sparsity, blockSize: bs, selection }));
    for (let i1 = 0; i1 < cols; i1 += bs) {
      const c = Math.min(cols, i1 + bs) - i1;
      let tile = 0;
      for (let r = 0; r < rows; r++) {
        let row = 0;
        for (let j = i1; j < i1 + c; j++) row += flags[r * cols + j];
        if (selection === 'row') expect(row).toBe(Math.floor(sparsity * c));
        tile += row;
      }
      expect(tile).toBe(selection === 'row' ? rows * Math.floor(sparsity * c) : Math.floor(sparsity * (rows * c)));
    }
    for (let k = 0; k < rows * cols; k++) if (flags[k]) expect((w.data as Float32Array)[k]).toBe(0);
  });

  test.each([
    [2, 4],
    [4, 8],
    [1, 4],
  ])('%i:%i holds in every group of every row', async (n, m) => {
    const rows = 11, cols = 64, tokens = 150;
    const h = await hessianOf(correlatedX(tokens, cols, 8), tokens, cols);
    const w = await makeMatrix(randomF32(rows * cols, 9), rows, cols, 'f32');
    const mask = await sparsegptPrune(w, h, { pattern: { n, m }, blockSize: 32 });
    const data = w.data as Float32Array;
    for (let r = 0; r < rows; r++)
      for (let g = 0; g < cols; g += m) {
        let kept = 0, nonzero = 0;
        for (let j = g; j < g + m; j++) {
          kept += (mask.bits[(r * cols + j) >> 3] >> ((r * cols + j) & 7)) & 1;
          nonzero += data[r * cols + j] !== 0 ? 1 : 0;
        }
        expect(kept).toBe(n);
        expect(nonzero).toBeLessThanOrEqual(n);
      }
    expect(mask.pruned).toBe(rows * cols * (1 - n / m));
  });

  test('dead inputs get their weights zeroed and match the reference', async () => {
    const rows = 6, cols = 24, tokens = 60;
    const x = correlatedX(tokens, cols, 11);
    for (let t = 0; t < tokens; t++) {
      x[t * cols + 3] = 0;
      x[t * cols + 17] = 0;
    }
    const h = await hessianOf(x, tokens, cols);
    const w = await makeMatrix(randomF32(rows * cols, 12), rows, cols, 'f32');
    const ref = refSparseGpt(await valuesOf(w), rows, cols, h.sum, h.count, { sparsity: 0.25, blockSize: 8 });
    const mask = await sparsegptPrune(w, h, { sparsity: 0.25, blockSize: 8 });
    const data = w.data as Float32Array;
    for (let r = 0; r < rows; r++) {
      expect(data[r * cols + 3]).toBe(0);
      expect(data[r * cols + 17]).toBe(0);
    }
    expect(Array.from(prunedFlags(mask))).toEqual(Array.from(ref.pruned));
    for (let k = 0; k < rows * cols; k++) expect(Math.abs(data[k] - ref.w[k])).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(ref.w[k])));
  });

  test('adds queued during a prune wait for it', async () => {
    const rows = 10, cols = 30, tokens = 70;
    const x = correlatedX(tokens, cols, 15);
    const h = await hessianOf(x, tokens, cols);
    const want = await makeMatrix(randomF32(rows * cols, 16), rows, cols, 'f32');
    const got = await makeMatrix(Float32Array.from(want.data as Float32Array), rows, cols, 'f32');
    await sparsegptPrune(want, h, { sparsity: 0.5, blockSize: 8 });
    const pending = sparsegptPrune(got, h, { sparsity: 0.5, blockSize: 8 });
    const added = h.add(x, tokens); // must not change what the running prune reads
    await Promise.all([pending, added]);
    expect(Array.from(got.data)).toEqual(Array.from(want.data));
    expect(h.count).toBe(2 * tokens);
  });

  test('the same bits whatever the thread count', async () => {
    const rows = 70, cols = 150, tokens = 300;
    const x = correlatedX(tokens, cols, 13);
    const values = randomF32(rows * cols, 14);
    const run = async (threads: number) => {
      setPoolThreads(threads);
      try {
        const h = await hessianOf(x, tokens, cols);
        const w = await makeMatrix(values, rows, cols, 'f32');
        const mask = await sparsegptPrune(w, h, { sparsity: 0.5, blockSize: 32 });
        return { h: Array.from(h.sum), w: Array.from(w.data), bits: Array.from(mask.bits) };
      } finally {
        setPoolThreads(0);
      }
    };
    const one = await run(1);
    const three = await run(3);
    expect(three.h).toEqual(one.h);
    expect(three.w).toEqual(one.w);
    expect(three.bits).toEqual(one.bits);
  });
});
