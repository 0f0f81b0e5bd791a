// DSnoT's refinement of one pruned matrix (native/cpu/dsnot.h): given the dense weights,
// the pruned ones and their keep-mask, swaps pruned and kept weights per row while the
// row's expected output error e_i = sum_j (W_ij - W'_ij) E[x_j] falls. The mask keeps its
// count of pruned weights in every row (and in every group of M under N:M).
import { nativeCall, ShapeError } from '../errors';
import { ColumnStats, fromFloat32, NMPattern, toFloat32 } from '../kernels';
import { refineNative, NativeDsnotResult } from '../native/refine';
import { checkMatrix, Mask, Matrix } from '../tensor';

/** The reference's max_cycle_time: at most 50 swaps per row. */
export const DSNOT_MAX_CYCLES = 50;
/**
 * The reference's update_threshold, 0.1, is on its error scale: the input sums of a
 * 2048-token calibration sequence (lib/layerwrapper.py's sum_metric_row). Ours is the
 * per-token mean E[x_j], so the same stop is 0.1 / 2048.
 */
export const DSNOT_THRESHOLD = 0.1 / 2048;

export interface DsnotRefineOptions {
  pattern?: NMPattern;
  maxCycles?: number;
  threshold?: number;
}

/** The weights of W as a new Float32Array (a copy: W may be pruned in place afterwards). */
export async function float32Copy(w: Matrix): Promise<Float32Array> {
  return w.dtype === 'f32' ? (w.data as Float32Array).slice() : toFloat32(w.data as Uint16Array, w.dtype);
}

/**
 * Refines `mask` (W's keep-mask after its base method) and W in place: a grown weight gets
 * its dense value back, a pruned one becomes 0. `dense`: W's values before the base method.
 */
export async function dsnotRefine(w: Matrix, dense: Float32Array, mask: Mask, columns: ColumnStats, o: DsnotRefineOptions = {}): Promise<NativeDsnotResult> {
  checkMatrix(w);
  if (dense.length !== w.rows * w.cols) throw new ShapeError(`the dense weights have ${dense.length} values, W has ${w.rows * w.cols}`);
  if (mask.rows !== w.rows || mask.cols !== w.cols) throw new ShapeError(`the mask is ${mask.rows} x ${mask.cols} but W is ${w.rows} x ${w.cols}`);
  if (columns.cols !== w.cols) throw new ShapeError(`the column statistics are ${columns.cols} wide but W has ${w.cols} columns`);
  const current = w.dtype === 'f32' ? (w.data as Float32Array) : await toFloat32(w.data as Uint16Array, w.dtype);
  const opts = { maxCycles: o.maxCycles ?? DSNOT_MAX_CYCLES, threshold: o.threshold ?? DSNOT_THRESHOLD, ...(o.pattern ? { n: o.pattern.n, m: o.pattern.m } : {}) };
  const r = await nativeCall(() =>
    refineNative().dsnotRefine({ dense, current, rows: w.rows, cols: w.cols }, mask.bits, { sum: columns.sum, sumSq: columns.sumSq, count: columns.count }, opts),
  );
  if (w.dtype !== 'f32') (w.data as Uint16Array).set(await fromFloat32(current, w.dtype));
  return r;
}
