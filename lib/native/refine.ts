// Hand-written interface of the random baselines' scores (native/bindings/random_bindings.cc)
// and DSnoT's mask refinement (native/bindings/dsnot_bindings.cc). lib/methods/random-scores.ts
// and lib/methods/dsnot.ts are their users.
import { addon } from './binding';

export interface NativeDsnotMatrix {
  /** rows x cols, the dense weights. */
  dense: Float32Array;
  /** rows x cols, the pruned weights: updated in place. */
  current: Float32Array;
  rows: number;
  cols: number;
}

/** The layer input's column statistics (ColumnStats): sums, sums of squares, tokens. */
export interface NativeDsnotColumns {
  sum: Float64Array;
  sumSq: Float64Array;
  count: number;
}

export interface NativeDsnotOptions {
  maxCycles: number;
  threshold: number;
  /** N:M: swaps inside groups of m (n < m). */
  n?: number;
  m?: number;
}

export interface NativeDsnotResult {
  swaps: number;
  /** Sum over rows of |e_i| (the expected output error) before and after. */
  errorBefore: number;
  errorAfter: number;
}

export interface RefineNative {
  /** out[i]: seeded uniform score in [0, 1) of weight i of the matrix `name`. */
  randomScores(out: Float32Array, seed: number, name: string): Promise<void>;
  /** DSnoT: swaps pruned and kept weights per row; `current` and `keep` are updated in place. */
  dsnotRefine(w: NativeDsnotMatrix, keep: Uint8Array, columns: NativeDsnotColumns, opts: NativeDsnotOptions): Promise<NativeDsnotResult>;
}

export function refineNative(): RefineNative {
  return addon().module as unknown as RefineNative;
}
