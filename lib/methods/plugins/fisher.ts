// Optimal brain damage with the empirical Fisher diagonal: 0.5 * W_ij^2 * mean_s G_s,ij^2
// (docs/gradient-methods.md). Compared per output row by default.
import type { Strategy } from '../../strategies';
import { gradientStrategy } from '../gradient-moments';
import type { UnstructuredMethod } from '../plugin';

// W^2 * S2: the same order as 0.5 * W^2 * S2 / K.
export const fisher = (): Strategy =>
  gradientStrategy('fisher', 'sumSq', [], (s2) => ({ p: 2, q: 0, actScale: 0, perWeight: { values: s2, exponent: 1, scale: 1 } }));

export const method: UnstructuredMethod = {
  name: 'fisher',
  description: '0.5 * W^2 * mean G^2: optimal brain damage with the empirical Fisher diagonal',
  kind: 'score',
  calibrated: true,
  source: 'LeCun et al., Optimal Brain Damage (NeurIPS 1989), with the empirical Fisher diagonal',
  order: 50,
  create: fisher,
};
