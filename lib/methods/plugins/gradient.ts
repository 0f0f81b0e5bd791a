// First-order Taylor importance (Molchanov et al. 2017; LLM-Pruner's element-wise first
// order): |W_ij * mean_s G_s,ij|, G_s the gradient of calibration sequence s's loss on the
// dense model (docs/gradient-methods.md). Compared per output row by default.
import type { Strategy } from '../../strategies';
import { gradientStrategy } from '../gradient-moments';
import type { UnstructuredMethod } from '../plugin';

// |W| * |S1|: the same order as |W * S1 / K| (K is one constant for the whole run).
export const gradient = (): Strategy =>
  gradientStrategy('gradient', 'sum', [], (s1) => ({ p: 1, q: 0, actScale: 0, perWeight: { values: s1, exponent: 1, scale: 1 } }));

export const method: UnstructuredMethod = {
  name: 'gradient',
  description: '|W * mean G|: first-order Taylor estimate of the loss change (Molchanov et al. 2017)',
  kind: 'score',
  calibrated: true,
  source: 'Molchanov et al., Pruning Convolutional Neural Networks for Resource Efficient Inference (ICLR 2017); Ma et al., LLM-Pruner (NeurIPS 2023)',
  order: 40,
  create: gradient,
};
