// The mask-producing half of the method plugins (lib/methods/plugins/): a strategy says
// which calibration statistics it needs and how it scores or prunes one matrix; the
// numeric work is the native kernels'.
import { ColumnStats, Granularity, pruneMatrix, ScoreOptions, SelectionSpec } from './kernels';
import { HessianAccumulator } from './methods/hessian';
import { sparsegptPrune, SparseGptOptions } from './methods/sparsegpt';
import { Mask, Matrix } from './tensor';

/** Statistics a strategy can ask the calibration pass for. */
export type StatisticName = 'columnSumSq' | 'columnSum' | 'hessian';

export interface StrategyStats {
  /** Per-input-column activation statistics of the layer (required when needs includes columnSumSq). */
  columns?: ColumnStats;
  /** X^T X of the layer's inputs (required when needs includes hessian). */
  hessian?: HessianAccumulator;
}

export interface Strategy {
  readonly name: string;
  /** Statistics the calibration pass must collect for this strategy. */
  readonly needs: readonly StatisticName[];
  /** Comparison group used when the caller does not choose one (the papers' default). */
  readonly defaultGranularity: Granularity;
  /** Whether one threshold across several matrices makes sense (false: the method reconstructs each matrix alone). */
  readonly allowsGlobal: boolean;
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
    allowsGlobal: true,
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

/**
 * SparseGPT: OBS-style pruning with reconstruction of the kept weights (needs the
 * layer's X^T X). Granularity 'matrix' (the default) selects over each block tile as
 * the reference code does; 'row' selects per row inside each block. N:M patterns
 * come from selection.pattern. It has no standalone per-weight score.
 */
export const sparsegpt = (opts: Omit<SparseGptOptions, 'sparsity' | 'pattern'> = {}): Strategy => ({
  name: 'sparsegpt',
  needs: ['hessian'],
  defaultGranularity: 'matrix',
  allowsGlobal: false,
  scoreOptions() {
    throw new TypeError('sparsegpt chooses weights while it reconstructs them: it has no standalone score (use prune)');
  },
  async prune(w, stats, selection) {
    if (!stats.hessian) throw new TypeError('sparsegpt needs the layer input statistic X^T X (stats.hessian)');
    const granularity = selection.granularity ?? 'matrix';
    return sparsegptPrune(w, stats.hessian, {
      ...opts,
      sparsity: selection.sparsity,
      pattern: selection.pattern,
      selection: opts.selection ?? (granularity === 'row' ? 'row' : 'block'),
      backend: selection.backend ?? opts.backend,
    });
  },
});
