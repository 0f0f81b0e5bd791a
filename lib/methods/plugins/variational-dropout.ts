// Sparse variational dropout (Molchanov, Ashukha & Vetrov, ICML 2017): per-weight log sigma^2
// learned with the local reparameterization trick and the paper's KL approximation, each
// layer reconstructing the dense layer's outputs on the calibration data; the weights with
// the largest log alpha are pruned (docs/variational-dropout.md).
import { variationalDropout } from '../variational-dropout/strategy';
import type { UnstructuredMethod } from '../plugin';

export const method: UnstructuredMethod = {
  name: 'variational-dropout',
  description: 'sparse variational dropout: prune the largest log alpha, learned layer by layer to reconstruct the dense outputs',
  kind: 'score',
  calibrated: true,
  source: 'Molchanov, Ashukha & Vetrov, Variational Dropout Sparsifies Deep Neural Networks (ICML 2017)',
  order: 60,
  create: () => variationalDropout(),
};
