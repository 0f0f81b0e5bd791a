import {
  ArgumentRangeError,
  fromFloat32,
  HessianAccumulator,
  Matrix,
  NonFiniteError,
  PatternError,
  ShapeError,
  SparsityError,
  sparsegptPrune,
} from '../../lib';
import { correlatedX, randomF32 } from './helpers';

async function problem(rows = 5, cols = 12) {
  const h = new HessianAccumulator(cols);
  await h.add(correlatedX(40, cols, 1), 40);
  const w: Matrix = { data: randomF32(rows * cols, 2), dtype: 'f32', rows, cols };
  return { h, w, before: Array.from(w.data) };
}

describe('sparsegptPrune rejects bad input and leaves W untouched', () => {
  test('an indefinite Hessian (even after damping) is a clear E_NOT_PD error', async () => {
    const { w, before } = await problem(3, 2);
    const h = new HessianAccumulator(2);
    await h.add(new Float32Array([1, 0]), 1);
    h.sum.set([1, 2, 2, 1]); // eigenvalues 3 and -1
    const err = await sparsegptPrune(w, h, { sparsity: 0.5 }).catch((e: Error & { code?: string }) => e);
    expect((err as { code?: string }).code).toBe('E_NOT_PD');
    expect((err as Error).message).toMatch(/not positive definite even after damping/);
    expect(Array.from(w.data)).toEqual(before);
  });

  test('a singular Hessian with percdamp 0 is rejected, and accepted with damping', async () => {
    const cols = 6;
    const h = new HessianAccumulator(cols);
    // One token: H = 2 x x^T has rank 1 (no input is dead), singular without damping.
    await h.add(new Float32Array([1, 2, 3, 4, 5, 6]), 1);
    const w: Matrix = { data: randomF32(2 * cols, 3), dtype: 'f32', rows: 2, cols };
    const before = Array.from(w.data);
    const err = await sparsegptPrune(w, h, { sparsity: 0.5, percdamp: 0 }).catch((e: Error) => e);
    expect((err as { code?: string }).code).toBe('E_NOT_PD');
    expect(Array.from(w.data)).toEqual(before);
    const mask = await sparsegptPrune(w, h, { sparsity: 0.5, percdamp: 0.01 });
    expect(mask.pruned).toBe(6);
  });

  test('non-finite weights are named by row and column', async () => {
    const { h, w } = await problem();
    (w.data as Float32Array)[2 * 12 + 7] = Number.NaN;
    const before = Array.from(w.data);
    const err = await sparsegptPrune(w, h, { sparsity: 0.5 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(NonFiniteError);
    expect((err as Error).message).toMatch(/row 2, column 7/);
    expect(Array.from(w.data)).toEqual(before);
  });

  test('a non-finite Hessian statistic is rejected', async () => {
    const { h, w, before } = await problem();
    h.sum[5] = Number.POSITIVE_INFINITY;
    const err = await sparsegptPrune(w, h, { sparsity: 0.5 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(NonFiniteError);
    expect((err as Error).message).toMatch(/Hessian/);
    expect(Array.from(w.data)).toEqual(before);
  });

  test('a reconstructed weight that overflows f16 is an error, not an Inf', async () => {
    const rows = 4, tokens = 50;
    const x = new Float32Array(tokens * 2);
    for (let t = 0; t < tokens; t++) {
      x[2 * t] = 1 + (t % 7) * 0.1;
      x[2 * t + 1] = x[2 * t] * 1.0001; // nearly the same input: pruning column 0 moves its weight onto column 1
    }
    const h = new HessianAccumulator(2);
    await h.add(x, tokens);
    const data = await fromFloat32(Float32Array.from({ length: rows * 2 }, (_, k) => (k % 2 === 0 ? 60000 : 65000)), 'f16');
    const w: Matrix = { data, dtype: 'f16', rows, cols: 2 };
    const before = Array.from(data);
    const err = await sparsegptPrune(w, h, { sparsity: 0.5 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(NonFiniteError);
    expect((err as Error).message).toMatch(/row 0, column 1 .* overflows f16/);
    expect(Array.from(w.data)).toEqual(before);
  });

  test('bad options and shapes give typed errors', async () => {
    const { h, w, before } = await problem();
    await expect(sparsegptPrune(w, h, { sparsity: 1 })).rejects.toThrow(SparsityError);
    await expect(sparsegptPrune(w, h, { sparsity: -0.1 })).rejects.toThrow(SparsityError);
    await expect(sparsegptPrune(w, h, { pattern: { n: 2, m: 4 }, blockSize: 6 })).rejects.toThrow(PatternError);
    await expect(sparsegptPrune(w, h, { pattern: { n: 4, m: 4 } })).rejects.toThrow(PatternError);
    await expect(sparsegptPrune(w, h, { sparsity: 0.5, blockSize: 0 })).rejects.toThrow(ArgumentRangeError);
    await expect(sparsegptPrune(w, h, { sparsity: 0.5, percdamp: -1 })).rejects.toThrow(ArgumentRangeError);
    await expect(sparsegptPrune(w, h, { sparsity: 0.5, selection: 'x' as never })).rejects.toThrow(ArgumentRangeError);
    await expect(sparsegptPrune(w, new HessianAccumulator(11), { sparsity: 0.5 })).rejects.toThrow(ShapeError);
    await expect(sparsegptPrune(w, new HessianAccumulator(12), { sparsity: 0.5 })).rejects.toThrow(/no calibration rows/);
    await expect(sparsegptPrune(w, {} as never, { sparsity: 0.5 })).rejects.toThrow(ShapeError);
    await expect(sparsegptPrune({ ...w, data: new Float32Array(3) }, h, { sparsity: 0.5 })).rejects.toThrow(ShapeError);
    expect(Array.from(w.data)).toEqual(before);
  });
});
