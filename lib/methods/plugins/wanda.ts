// Wanda: |W_ij| * ||X_j||_2, compared per output row (Sun et al. 2023). ||X_j|| comes from
// the per-column statistics every calibrated run gathers.
import type { Strategy } from '../../strategies';
import type { UnstructuredMethod } from '../plugin';
import { scoreStrategy } from '../score-strategy';

/** Wanda: |W_ij| * ||X_j||_2, compared per output row. */
export const wanda = (): Strategy =>
  scoreStrategy('wanda', ['columnSumSq'], 'row', (stats) => {
    if (!stats.columns) throw new TypeError('wanda needs per-column activation statistics (stats.columns)');
    return { p: 1, q: 1, act: stats.columns.l2Norms() };
  });

export const method: UnstructuredMethod = {
  name: 'wanda',
  description: '|W_ij| * ||X_j||_2, per output row (Sun et al. 2023)',
  kind: 'score',
  calibrated: true,
  source: 'Sun et al., A Simple and Effective Pruning Approach for Large Language Models (2023)',
  order: 20,
  create: wanda,
};
