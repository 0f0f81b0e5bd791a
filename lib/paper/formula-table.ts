// Table 5's input: what `shears paper` keeps of the formula search (lib/formula), cached
// in DIR/formula-search.json so that --resume does not search again.

export interface FormulaSearchSummary {
  budget: number;
  seed: number;
  sparsity: number;
  evaluated: number;
  /** Formulas that gave non-finite scores, errors, or a KL worse than magnitude's. */
  failures: number;
  failureExamples: string[];
  /** The best formulas, best first, with their calibration KL. */
  best: { formula: string; kl: number }[];
  baselines: { name: string; formula: string; kl: number }[];
  /** The best formula the search made itself (not one of its seeds), when any ran. */
  discovered?: { formula: string; kl: number };
  /** One sentence: whether the winner beats the baselines (said as measured). */
  verdict: string;
  seconds: number;
}
