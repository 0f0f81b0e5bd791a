// Building SparseGPT problems in a storage dtype and checking a run against the float64
// reference (test/support/sparsegpt-reference.ts): shared by the reference tests.
import { DType, fromFloat32, HessianAccumulator, Mask, Matrix, toFloat32 } from '../../lib';

export async function makeMatrix(values: Float32Array, rows: number, cols: number, dtype: DType): Promise<Matrix> {
  const data = dtype === 'f32' ? Float32Array.from(values) : await fromFloat32(values, dtype);
  return { data, dtype, rows, cols };
}

export async function valuesOf(w: Matrix): Promise<Float32Array> {
  return w.dtype === 'f32' ? Float32Array.from(w.data as Float32Array) : toFloat32(w.data as Uint16Array, w.dtype);
}

export async function hessianOf(x: Float32Array, tokens: number, cols: number, precision: 'f64' | 'f32' = 'f64'): Promise<HessianAccumulator> {
  const h = new HessianAccumulator(cols, { precision });
  await h.add(x, tokens);
  return h;
}

// Relative precision of each storage dtype (one unit in the last place at 1.0).
const EPS: Record<DType, number> = { f32: 2 ** -23, f16: 2 ** -10, bf16: 2 ** -7 };

/**
 * The mask's per-row and total counts are the reference's pruned flags', pruned weights
 * are 0 and kept ones the reference's within one rounding to the dtype (plus float64 noise).
 */
export async function expectMatchesReference(mask: Mask, w: Matrix, ref: { w: Float64Array; pruned: Uint8Array }): Promise<void> {
  const { rows, cols, dtype } = w;
  let total = 0;
  for (let r = 0; r < rows; r++) {
    let n = 0;
    for (let j = 0; j < cols; j++) n += ref.pruned[r * cols + j];
    expect(mask.prunedPerRow[r]).toBe(n);
    total += n;
  }
  expect(mask.pruned).toBe(total);
  const got = await valuesOf(w);
  let scale = 0;
  for (const v of ref.w) scale = Math.max(scale, Math.abs(v));
  for (let k = 0; k < rows * cols; k++) {
    if (ref.pruned[k]) {
      expect(got[k]).toBe(0);
      continue;
    }
    const tol = EPS[dtype] * Math.abs(ref.w[k]) + 1e-9 * scale;
    if (Math.abs(got[k] - ref.w[k]) > tol) throw new Error(`weight ${k}: got ${got[k]}, reference ${ref.w[k]}`);
  }
}
