// The random N:M baseline (seed Table 4): in every group of M consecutive weights of a
// row, N kept at random (seeded); --pattern N:M is required (unstructured random masks
// are `random`). With --structure it removes random units, as random does.
import { ArgumentRangeError } from '../../errors';
import type { MethodOptions, UnstructuredMethod } from '../plugin';
import { randomStrategy } from '../random-scores';
import { randomUnits } from '../random-units';

export const method: UnstructuredMethod = {
  name: 'random-pattern',
  description: 'a seeded random N:M pattern (random N of every M kept; needs --pattern), or with --structure random units',
  kind: 'score',
  calibrated: false,
  order: 111,
  patternsOnly: true,
  structured: () => ({ ...randomUnits, name: 'random-pattern' }),
  checkOptions(_o, run) {
    if (run.pattern === undefined && run.structure === undefined)
      throw new ArgumentRangeError('random-pattern keeps a random N of every M weights: give --pattern N:M (for an unstructured random mask use --method random)');
  },
  create: (o?: MethodOptions) => randomStrategy('random-pattern', o?.seed ?? 0),
};
