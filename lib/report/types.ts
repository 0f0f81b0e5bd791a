// The results of a pruning sweep: what `shears sweep` produces and writeReport() renders.
// This is also the exact shape of results.json (non-finite numbers there are written as
// the strings "Infinity", "-Infinity" and "NaN", since JSON has no such numbers).

/** Seconds per phase of one cell (e.g. calibrate, prune, evaluate), plus their total. */
export interface CellTimings {
  total: number;
  [phase: string]: number;
}

/** "unstructured" or an N:M pattern such as "2:4". */
export type SweepPattern = 'unstructured' | `${number}:${number}`;

/** One (method, pattern, level) point of the sweep. */
export interface SweepCell {
  method: string;
  pattern: SweepPattern;
  /** Requested sparsity in [0, 1); for N:M the pattern's own sparsity (1 - N/M). */
  level: number;
  /** Achieved fraction of pruned weights that are zero. null when status is "na". */
  sparsity: number | null;
  /** Perplexity of the pruned model on the evaluation text. */
  perplexity: number | null;
  /** Mean KL(dense || pruned) of the next-token distributions, in nats. */
  kl: number | null;
  /** Fraction of positions where the pruned model's top-1 token equals the dense one's. */
  top1_agreement: number | null;
  timings: CellTimings | null;
  peak_rss_bytes: number | null;
  /** "na": the method does not apply to this cell, or it failed; `reason` says which. */
  status: 'ok' | 'na';
  reason?: string;
  [extra: string]: unknown;
}

/** The unpruned reference model. */
export interface DenseResult {
  perplexity: number;
  /** Fraction of zero weights in the dense model, if measured. */
  sparsity?: number;
  /** Seconds to evaluate the dense model, if measured. */
  seconds?: number;
  [extra: string]: unknown;
}

/**
 * Free-form description of how the sweep ran: calibration data, evaluation data,
 * seq_len, stats mode ("exact sequential" or "once (approximate)"), shears version...
 */
export type SweepSettings = Record<string, unknown>;

export interface SweepResults {
  model: string;
  dense: DenseResult;
  settings: SweepSettings;
  cells: SweepCell[];
  [extra: string]: unknown;
}

/** What writeReport() wrote: absolute paths, in writing order. */
export interface ReportFiles {
  files: string[];
}
