// Wanda: |W_ij| * ||X_j||_2, compared per output row (Sun et al. 2023).
import { wanda } from '../../strategies';
import type { UnstructuredMethod } from '../plugin';

export const method: UnstructuredMethod = {
  name: 'wanda',
  description: '|W_ij| * ||X_j||_2, per output row (Sun et al. 2023)',
  kind: 'score',
  calibrated: true,
  source: 'Sun et al., A Simple and Effective Pruning Approach for Large Language Models (2023)',
  order: 20,
  create: wanda,
};
