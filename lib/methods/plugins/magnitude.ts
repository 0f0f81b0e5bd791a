// |W|, compared per matrix by default (as the Wanda reference code does for magnitude).
import type { Strategy } from '../../strategies';
import type { UnstructuredMethod } from '../plugin';
import { scoreStrategy } from '../score-strategy';

/** |W|. Compared per matrix by default, as in the Wanda reference code. */
export const magnitude = (): Strategy => scoreStrategy('magnitude', [], 'matrix', () => ({ p: 1, q: 0 }));

export const method: UnstructuredMethod = {
  name: 'magnitude',
  description: '|W|, per matrix by default (as in the Wanda reference code)',
  kind: 'score',
  calibrated: false,
  order: 10,
  create: magnitude,
};
