// formula: a user-written score (--score "abs(W) * sqrt(xnorm)") over named inputs,
// parsed by shears' own parser, compiled to bytecode and evaluated natively per matrix
// (lib/formula/, docs/formula.md); compared per output row by default.
import { FormulaError } from '../../errors';
import { compileFormula } from '../../formula/compile';
import { formulaStrategy } from '../../formula/strategy';
import type { UnstructuredMethod } from '../plugin';

const EXAMPLE = '--score "abs(W) * xnorm" (docs/formula.md lists the inputs and functions)';

function formulaOf(score: string | undefined): string {
  if (score === undefined) throw new FormulaError('', `method formula needs its score: give ${EXAMPLE}`);
  return score;
}

export const method: UnstructuredMethod = {
  name: 'formula',
  description: 'a user-written score formula (--score), evaluated natively per weight',
  kind: 'score',
  calibrated: true,
  source: 'the seed\'s "one pass code generation" (Tables 4-5); Pruner-Zero (Dong et al., ICML 2024) for the search',
  order: 115,
  options: ['score'],
  checkOptions(o) {
    compileFormula(formulaOf(o.score));
  },
  create: (o) => formulaStrategy(formulaOf(o?.score)),
};
