// Per-weight sums of the loss gradient and of its square over the calibration sequences
// (S1 = sum_s G_s, S2 = sum_s G_s^2, docs/gradient-methods.md): the weight collector of the
// gradient methods, fed one sequence's gradient of its matrix at a time by the gradient pass
// (lib/prune/gradient-pass.ts), or handing its arrays to the backward's accumulate mode
// (accumulateGradientMoments). Accumulated natively; float32, 4 bytes a weight per
// statistic kept, in memory or in pages the caller provides (file-backed scratch).
import { accumulateMoments, ScoreOptions } from '../kernels';
import type { StatisticName, Strategy, StrategyStats } from '../strategies';
import type { Collector } from './collectors';
import { scoreStrategy } from './score-strategy';

export class GradientMoments implements Collector {
  /** S1, when asked for. */
  sum?: Float32Array;
  /** S2, when asked for. */
  sumSq?: Float32Array;
  /** Sequences added. */
  count = 0;

  constructor(
    readonly size: number,
    keep: { sum?: boolean; sumSq?: boolean },
  ) {
    if (keep.sum) this.sum = new Float32Array(size);
    if (keep.sumSq) this.sumSq = new Float32Array(size);
  }

  /** Adds one sequence's gradient of the matrix (rows x cols = size values). */
  async add(g: Float32Array): Promise<void> {
    await accumulateMoments(g, { sum: this.sum, sumSq: this.sumSq });
    this.count++;
  }

  /** Counts a sequence whose gradient was added into sum / sumSq by someone else (the backward's accumulate mode). */
  countAdded(): void {
    this.count++;
  }

  /**
   * Moves the (zero) statistics into arrays from `alloc` (e.g. file-backed scratch
   * pages, which must read as zeros); only before anything was added.
   */
  place(alloc: (size: number, which: 'sum' | 'sumSq') => Float32Array): void {
    if (this.count !== 0) throw new TypeError('GradientMoments.place: statistics already hold sequences');
    if (this.sum) this.sum = alloc(this.size, 'sum');
    if (this.sumSq) this.sumSq = alloc(this.size, 'sumSq');
  }
}

/**
 * The strategy of a gradient method: it collects one moment of each matrix's gradient
 * (stats.gradient) and scores with `score(moment, stats)`; compared per output row.
 */
export function gradientStrategy(
  name: string,
  moment: 'sum' | 'sumSq',
  needs: readonly StatisticName[],
  score: (values: Float32Array, stats: StrategyStats) => ScoreOptions,
): Strategy {
  return {
    ...scoreStrategy(name, ['gradient', ...needs], 'row', (stats) => {
      const values = (stats.gradient as GradientMoments | undefined)?.[moment];
      if (!values) throw new TypeError(`${name} needs the ${moment === 'sum' ? 'sum' : 'sum of the squares'} of the calibration gradients (stats.gradient)`);
      return score(values, stats);
    }),
    collectWeights: (rows, cols) => ({ gradient: new GradientMoments(rows * cols, { [moment]: true }) }),
  };
}
