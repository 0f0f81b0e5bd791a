// SparseGPT's repair mode: a keep-mask chosen elsewhere decides what is pruned, and the
// OBS updates reconstruct the kept weights (native/cpu/sparsegpt.h, "Given mask").
import { computeScores, DType, emptyMask, Mask, maskKept, selectMask, sparsegptPrune } from '../../lib';
import { sparsegptNative } from '../../lib/native/sparsegpt';
import { refSparseGpt } from '../support/sparsegpt-reference';
import { expectMatchesReference, hessianOf, makeMatrix, valuesOf } from './compare';
import { correlatedX, prunedFlags, randomF32, reconstructionError, rng } from './helpers';

/** A keep-mask from pruned flags (1 = pruned). */
function maskOf(pruned: Uint8Array, rows: number, cols: number): Mask {
  const m = emptyMask(rows, cols);
  for (let i = 0; i < rows * cols; i++) if (!pruned[i]) m.bits[i >> 3] |= 1 << (i & 7);
  return m;
}

/** Random pruned flags with probability p, seeded. */
function randomPruned(n: number, p: number, seed: number): Uint8Array {
  const r = rng(seed);
  return Uint8Array.from({ length: n }, () => (r() < p ? 1 : 0));
}

describe('sparsegptPrune with a given mask', () => {
  const cases: { rows: number; cols: number; dtype: DType; p: number; blockSize?: number }[] = [
    { rows: 8, cols: 20, dtype: 'f32', p: 0.5, blockSize: 8 },
    { rows: 13, cols: 37, dtype: 'f32', p: 0.7, blockSize: 16 },
    { rows: 6, cols: 30, dtype: 'f16', p: 0.4, blockSize: 10 },
    { rows: 5, cols: 24, dtype: 'bf16', p: 0.5 },
    { rows: 3, cols: 9, dtype: 'f32', p: 0.0, blockSize: 4 },
  ];
  test.each(cases.map((c, i) => [i, c] as const))('matches the float64 reference in fixed-mask mode, case %i: %j', async (i, { rows, cols, dtype, p, blockSize }) => {
    const tokens = 2 * cols + 3;
    const x = correlatedX(tokens, cols, 300 + i);
    const h = await hessianOf(x, tokens, cols);
    const values = randomF32(rows * cols, 400 + i);
    // Some weights already zero: kept zeros stay kept, pruned zeros stay pruned.
    for (let k = 0; k < values.length; k += 7) values[k] = 0;
    const w = await makeMatrix(values, rows, cols, dtype);
    const w0 = await valuesOf(w);
    const pruned = randomPruned(rows * cols, p, 500 + i);
    const given = maskOf(pruned, rows, cols);
    const ref = refSparseGpt(w0, rows, cols, h.sum, h.count, { blockSize, pruned });

    const mask = await sparsegptPrune(w, h, { mask: given, blockSize });
    expect(Array.from(mask.bits)).toEqual(Array.from(given.bits));
    expect(Array.from(ref.pruned)).toEqual(Array.from(pruned));
    await expectMatchesReference(mask, w, ref);
  });

  const own: { name: string; dtype: DType; opts: { sparsity?: number; pattern?: { n: number; m: number }; selection?: 'row'; blockSize: number } }[] = [
    { name: 'block selection', dtype: 'f32', opts: { sparsity: 0.5, blockSize: 16 } },
    { name: 'row selection, f16', dtype: 'f16', opts: { sparsity: 0.6, selection: 'row', blockSize: 8 } },
    { name: '2:4, bf16', dtype: 'bf16', opts: { pattern: { n: 2, m: 4 }, blockSize: 16 } },
  ];
  test.each(own)("given SparseGPT's own mask, the same bits as SparseGPT ($name)", async ({ dtype, opts }) => {
    const rows = 12, cols = 40, tokens = 90;
    const x = correlatedX(tokens, cols, 7);
    for (let t = 0; t < tokens; t++) x[t * cols + 5] = 0; // a dead input column
    const h = await hessianOf(x, tokens, cols);
    const values = randomF32(rows * cols, 8);
    const a = await makeMatrix(values, rows, cols, dtype);
    const b = await makeMatrix(values, rows, cols, dtype);
    const chosen = await sparsegptPrune(a, h, opts);
    const repaired = await sparsegptPrune(b, h, { mask: chosen, blockSize: opts.blockSize });
    expect(Array.from(repaired.bits)).toEqual(Array.from(chosen.bits));
    expect(Array.from(repaired.prunedPerRow)).toEqual(Array.from(chosen.prunedPerRow));
    expect(Buffer.from(b.data.buffer).equals(Buffer.from(a.data.buffer))).toBe(true);
  });

  test('kept weights of a dead input keep their value; pruned ones there become 0', async () => {
    const rows = 4, cols = 10, tokens = 30;
    const x = correlatedX(tokens, cols, 9);
    for (let t = 0; t < tokens; t++) x[t * cols + 3] = 0;
    const h = await hessianOf(x, tokens, cols);
    const values = randomF32(rows * cols, 10);
    const w = await makeMatrix(values, rows, cols, 'f32');
    const pruned = new Uint8Array(rows * cols);
    pruned[0 * cols + 3] = 1; // row 0 prunes the dead input, the other rows keep it
    pruned[1 * cols + 6] = 1;
    const mask = await sparsegptPrune(w, h, { mask: maskOf(pruned, rows, cols) });
    expect(Array.from(prunedFlags(mask))).toEqual(Array.from(pruned));
    const got = w.data as Float32Array;
    expect(got[3]).toBe(0);
    for (let r = 1; r < rows; r++) expect(got[r * cols + 3]).toBe(values[r * cols + 3]);
    expect(got[1 * cols + 6]).toBe(0);
  });

  test("repairing Wanda's mask lowers the layer's reconstruction error ||W X^T - W' X^T||", async () => {
    const rows = 32, cols = 64, tokens = 256;
    const x = correlatedX(tokens, cols, 21);
    const h = await hessianOf(x, tokens, cols);
    const values = randomF32(rows * cols, 22);
    // Wanda: |W| times the input column's norm, the lowest half of each row pruned.
    const norms = new Float32Array(cols);
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let t = 0; t < tokens; t++) s += x[t * cols + j] ** 2;
      norms[j] = Math.sqrt(s);
    }
    for (const spec of [{ sparsity: 0.5 }, { pattern: { n: 2, m: 4 } }, { sparsity: 0.7 }]) {
      const scores = await computeScores({ data: values, dtype: 'f32', rows, cols }, { p: 1, q: 1, act: norms });
      const wanda = await selectMask(scores, rows, cols, { granularity: 'row', ...spec });
      const masked = Float32Array.from(values);
      for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) if (!maskKept(wanda, r, j)) masked[r * cols + j] = 0;
      const repaired = await makeMatrix(values, rows, cols, 'f32');
      const out = await sparsegptPrune(repaired, h, { mask: wanda });
      expect(Array.from(out.bits)).toEqual(Array.from(wanda.bits));
      const plain = reconstructionError(values, masked, x, rows, cols, tokens);
      const fixed = reconstructionError(values, repaired.data as Float32Array, x, rows, cols, tokens);
      expect(fixed).toBeLessThan(0.9 * plain);
    }
  });

  test('a mask of the wrong shape or with selection options is refused, W untouched', async () => {
    const rows = 4, cols = 8;
    const h = await hessianOf(correlatedX(20, cols, 1), 20, cols);
    const values = randomF32(rows * cols, 2);
    const w = await makeMatrix(values, rows, cols, 'f32');
    await expect(sparsegptPrune(w, h, { mask: emptyMask(rows + 1, cols) })).rejects.toMatchObject({ name: 'ShapeError', message: expect.stringContaining('5 x 8 but W is 4 x 8') });
    await expect(sparsegptPrune(w, h, { mask: { rows, cols, bits: new Uint8Array(3) } })).rejects.toMatchObject({ name: 'ShapeError', message: expect.stringContaining('mask.bits') });
    await expect(sparsegptPrune(w, h, { mask: { rows, cols, bits: [0, 0, 0, 0] as unknown as Uint8Array } })).rejects.toMatchObject({ name: 'DTypeError' });
    await expect(sparsegptPrune(w, h, { mask: emptyMask(rows, cols), sparsity: 0.5 })).rejects.toMatchObject({ name: 'ArgumentRangeError', message: expect.stringContaining('sparsity') });
    await expect(sparsegptPrune(w, h, { mask: emptyMask(rows, cols), pattern: { n: 2, m: 4 } })).rejects.toMatchObject({ name: 'ArgumentRangeError' });
    expect(Array.from(w.data)).toEqual(Array.from(values));
    // The binding checks the mask's length too (callers that bypass lib/methods/sparsegpt.ts).
    const native = { sparsity: 0, blockSize: 128, percdamp: 0.01, selection: 'block' as const, keepBits: new Uint8Array(2) };
    expect(() => sparsegptNative().sparsegptPrune(w, h.sum, h.count, native, emptyMask(rows, cols))).toThrow('keepBits has 2 elements, expected 4');
    expect(Array.from(w.data)).toEqual(Array.from(values));
  });

  test('the given mask is left unchanged and the result is a new mask', async () => {
    const rows = 5, cols = 12;
    const h = await hessianOf(correlatedX(40, cols, 3), 40, cols);
    const w = await makeMatrix(randomF32(rows * cols, 4), rows, cols, 'f32');
    const given = maskOf(randomPruned(rows * cols, 0.5, 5), rows, cols);
    const before = Array.from(given.bits);
    const out = await sparsegptPrune(w, h, { mask: given });
    expect(out.bits).not.toBe(given.bits);
    expect(Array.from(given.bits)).toEqual(before);
  });
});
