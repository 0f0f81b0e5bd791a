// Typed pruning strategies. A strategy says which calibration statistics it needs
// and how it scores weights; the numeric work is the native kernels'.
import { ColumnStats, Granularity, pruneMatrix, ScoreOptions, SelectionSpec } from './kernels';
import { Mask, Matrix } from './tensor';

/** Statistics a strategy can ask the calibration pass for. */
export type StatisticName = 'columnSumSq' | 'columnSum' | 'hessian';

export interface StrategyStats {
  /** Per-input-column activation statistics of the layer (required when needs includes columnSumSq). */
  columns?: ColumnStats;
}

export interface Strategy {
  readonly name: string;
  /** Statistics the calibration pass must collect for this strategy. */
  readonly needs: readonly StatisticName[];
  /** Comparison group used when the caller does not choose one (the papers' default). */
  readonly defaultGranularity: Granularity;
  /** Native score parameters for one layer. */
  scoreOptions(stats: StrategyStats): ScoreOptions;
  /** Prunes one matrix in place. */
  prune(w: Matrix, stats: StrategyStats, selection: SelectionSpec): Promise<Mask>;
}

function makeStrategy(
  name: string,
  needs: readonly StatisticName[],
  defaultGranularity: Granularity,
  scoreOptions: (stats: StrategyStats) => ScoreOptions,
): Strategy {
  return {
    name,
    needs,
    defaultGranularity,
    scoreOptions,
    prune(w, stats, selection) {
      return pruneMatrix(w, scoreOptions(stats), { granularity: defaultGranularity, ...selection });
    },
  };
}

/** |W|. Compared per matrix by default, as in the Wanda reference code. */
export const magnitude = (): Strategy => makeStrategy('magnitude', [], 'matrix', () => ({ p: 1, q: 0 }));

/** Wanda: |W_ij| * ||X_j||_2, compared per output row. */
export const wanda = (): Strategy =>
  makeStrategy('wanda', ['columnSumSq'], 'row', (stats) => {
    if (!stats.columns) throw new TypeError('wanda needs per-column activation statistics (stats.columns)');
    return { p: 1, q: 1, act: stats.columns.l2Norms() };
  });
