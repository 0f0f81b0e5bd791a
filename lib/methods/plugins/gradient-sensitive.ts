// Gradients and activations combined (as GBLM-Pruner does): |W_ij| * (alpha *
// sqrt(sum_s G_s,ij^2) + ||X_j||_2), alpha = 100 by default, ||X_j||_2 the input column norm
// over the calibration tokens in the dense model (docs/gradient-methods.md). Compared per
// output row by default.
import type { Strategy } from '../../strategies';
import { gradientStrategy } from '../gradient-moments';
import type { UnstructuredMethod } from '../plugin';

export const DEFAULT_ALPHA = 100;

export const gradientSensitive = (o: { alpha?: number } = {}): Strategy => {
  const alpha = o.alpha ?? DEFAULT_ALPHA;
  return gradientStrategy('gradient-sensitive', 'sumSq', ['columnSumSq'], (s2, stats) => {
    if (!stats.columns) throw new TypeError('gradient-sensitive needs per-column activation statistics (stats.columns)');
    return { p: 1, q: 1, act: stats.columns.l2Norms(), actScale: 1, perWeight: { values: s2, exponent: 0.5, scale: alpha } };
  });
};

export const method: UnstructuredMethod = {
  name: 'gradient-sensitive',
  description: '|W| * (alpha * sqrt(sum G^2) + ||X||): gradient and activation sensitivity (GBLM-Pruner)',
  kind: 'score',
  calibrated: true,
  source: 'Das et al., Beyond Size: How Gradients Shape Pruning Decisions in Large Language Models (GBLM-Pruner, 2023)',
  order: 45,
  create: (o) => gradientSensitive({ alpha: o?.alpha }),
};
