import { HessianAccumulator, magnitude, Matrix, pruneMatrix, sparsegpt, sparsegptPrune } from '../../lib';
import { correlatedX, randomF32, reconstructionError } from './helpers';

describe('SparseGPT reconstruction', () => {
  const rows = 48, cols = 96, tokens = 400;
  const x = correlatedX(tokens, cols, 21, 12); // strongly correlated: rank 12 plus noise
  const w0 = randomF32(rows * cols, 22);

  async function hessian() {
    const h = new HessianAccumulator(cols);
    await h.add(x, tokens);
    return h;
  }
  const copy = (): Matrix => ({ data: Float32Array.from(w0), dtype: 'f32', rows, cols });

  test.each([
    [{ sparsity: 0.5 }, { sparsity: 0.5, granularity: 'matrix' as const }],
    [{ pattern: { n: 2, m: 4 } }, { pattern: { n: 2, m: 4 } }],
  ])('||W X^T - W\' X^T|| is far below magnitude pruning at the same sparsity (%j)', async (sgOpts, magSel) => {
    const sg = copy();
    const mag = copy();
    const h = await hessian();
    const m1 = await sparsegptPrune(sg, h, { ...sgOpts, blockSize: 32 });
    const m2 = await pruneMatrix(mag, {}, magSel);
    expect(m1.pruned).toBe(m2.pruned);
    const eSg = reconstructionError(w0, sg.data, x, rows, cols, tokens);
    const eMag = reconstructionError(w0, mag.data, x, rows, cols, tokens);
    // On correlated inputs the compensating update removes most of the error.
    expect(eSg).toBeLessThan(0.5 * eMag);
  });

  test('the sparsegpt strategy prunes with stats.hessian and matches sparsegptPrune', async () => {
    const h = await hessian();
    const s = sparsegpt({ blockSize: 32 });
    expect(s.name).toBe('sparsegpt');
    expect(s.needs).toEqual(['hessian']);
    expect(s.defaultGranularity).toBe('matrix');
    expect(() => s.scoreOptions({ hessian: h })).toThrow(/no standalone score/);
    await expect(s.prune(copy(), {}, { sparsity: 0.5 })).rejects.toThrow(/stats.hessian/);

    const a = copy();
    const b = copy();
    const ma = await s.prune(a, { hessian: h }, { sparsity: 0.5 });
    const mb = await sparsegptPrune(b, h, { sparsity: 0.5, blockSize: 32 });
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(Array.from(ma.bits)).toEqual(Array.from(mb.bits));

    const c = copy();
    const d = copy();
    await s.prune(c, { hessian: h }, { sparsity: 0.5, granularity: 'row' });
    await sparsegptPrune(d, h, { sparsity: 0.5, blockSize: 32, selection: 'row' });
    expect(Array.from(c.data)).toEqual(Array.from(d.data));
    expect(magnitude().needs).toEqual([]);
  });
});
