// Sparse variational dropout (Molchanov, Ashukha & Vetrov, ICML 2017): per-weight log sigma^2
// learned with the local reparameterization trick and the paper's KL approximation, block by
// block: all of a block's pruned matrices together reconstruct the dense block's outputs on
// the block's calibration inputs; the weights with the largest log alpha are pruned
// (docs/variational-dropout.md).
import { variationalDropout } from '../variational-dropout/strategy';
import type { UnstructuredMethod } from '../plugin';

export const method: UnstructuredMethod = {
  name: 'variational-dropout',
  description: 'sparse variational dropout: prune the largest log alpha, learned block by block to reconstruct the dense block outputs',
  kind: 'score',
  calibrated: true,
  source: 'Molchanov, Ashukha & Vetrov, Variational Dropout Sparsifies Deep Neural Networks (ICML 2017)',
  order: 60,
  slow: true,
  create: () => variationalDropout(),
};
