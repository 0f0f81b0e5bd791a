// SparseGPT: OBS pruning with reconstruction of the kept weights (Frantar & Alistarh 2023).
import { sparsegpt } from '../../strategies';
import type { UnstructuredMethod } from '../plugin';

export const method: UnstructuredMethod = {
  name: 'sparsegpt',
  description: 'OBS pruning with weight reconstruction (Frantar & Alistarh 2023)',
  kind: 'reconstruct',
  calibrated: true,
  source: 'Frantar & Alistarh, SparseGPT (ICML 2023)',
  order: 30,
  create: () => sparsegpt(),
};
