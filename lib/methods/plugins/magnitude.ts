// |W|, compared per matrix by default (as the Wanda reference code does for magnitude).
import { magnitude } from '../../strategies';
import type { UnstructuredMethod } from '../plugin';

export const method: UnstructuredMethod = {
  name: 'magnitude',
  description: '|W|, per matrix by default (as in the Wanda reference code)',
  kind: 'score',
  calibrated: false,
  order: 10,
  create: magnitude,
};
