// The SparseGPT calibration statistic: X^T X of a layer's input rows, accumulated over
// batches (natively, multithreaded), with the number of rows seen. H = 2 X^T X / n.
import { ArgumentRangeError, nativeCall, ShapeError } from '../errors';
import { Backend } from '../kernels';
import { sparsegptNative } from '../native/sparsegpt';
import { checkData, checkDims } from '../tensor';

export type HessianPrecision = 'f64' | 'f32';

export class HessianAccumulator {
  readonly cols: number;
  readonly precision: HessianPrecision;
  /** Where add() accumulates (undefined: the native default, 'auto'). */
  readonly backend?: Backend;
  /** X^T X so far: cols x cols, row-major, symmetric (full storage). */
  readonly sum: Float64Array | Float32Array;
  private rowsSeen = 0;
  private pending: Promise<void> = Promise.resolve();

  /** opts.backend: 'auto' | 'cpu' | 'cuda' for every add() (see Backend in lib/kernels.ts). */
  constructor(cols: number, opts: { precision?: HessianPrecision; backend?: Backend } = {}) {
    checkDims(1, cols, 'HessianAccumulator');
    const precision = opts.precision ?? 'f64';
    if (precision !== 'f64' && precision !== 'f32')
      throw new ArgumentRangeError(`precision must be 'f64' or 'f32', got '${String(precision)}'`);
    if (cols * cols > 2 ** 32 - 1) throw new ShapeError(`HessianAccumulator: ${cols} columns need a ${cols}x${cols} matrix, too large`);
    this.cols = cols;
    this.precision = precision;
    this.backend = opts.backend;
    this.sum = precision === 'f64' ? new Float64Array(cols * cols) : new Float32Array(cols * cols);
  }

  /** Rows (tokens) added so far. */
  get count(): number {
    return this.rowsSeen;
  }

  /**
   * Adds `rows` activation rows x (Float32Array, rows x cols, row-major). Calls are
   * serialized. A non-finite value rejects with a NonFiniteError naming its row and
   * column, and leaves the accumulator unchanged.
   */
  add(x: Float32Array, rows: number): Promise<void> {
    if (!Number.isInteger(rows) || rows < 0) throw new ShapeError(`rows must be an integer >= 0, got ${rows}`);
    checkData(x, 'f32', rows * this.cols, 'x');
    return this.exclusive(async () => {
      await nativeCall(() => sparsegptNative().hessianAdd(x, rows, this.cols, this.sum, { backend: this.backend }));
      this.rowsSeen += rows;
    });
  }

  /** Resolves when every add() called so far has finished (successfully or not). */
  settled(): Promise<void> {
    return this.pending;
  }

  /**
   * Runs `fn` once the pending adds are done, with later adds waiting for it: a reader
   * of `sum` (the native prune uses it in place) never sees a half-added batch.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.pending.then(fn);
    this.pending = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }

  /** Clears the statistic (for reuse on the next layer of the same width). */
  reset(): Promise<void> {
    return this.exclusive(async () => {
      this.sum.fill(0);
      this.rowsSeen = 0;
    });
  }
}
