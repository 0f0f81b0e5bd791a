// The strategy of a per-weight score method (magnitude, wanda, and any score plugin): the
// native kernels compute |W|^p * act^q scores and select and apply the mask.
import { Granularity, pruneMatrix, ScoreOptions } from '../kernels';
import type { StatisticName, Strategy, StrategyStats } from '../strategies';

export function scoreStrategy(
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
