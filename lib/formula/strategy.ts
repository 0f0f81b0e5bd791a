// The strategy of the formula method: scores each matrix with a compiled formula
// (natively), then the usual selection (per row by default, per matrix, N:M, or one
// threshold across a block). It gathers only what the formula reads: the per-column
// statistics always (every calibrated run has them), the gradient moments when grad or
// fisher appear (the gradient pass, as the gradient and fisher methods), X^T X when
// hdiag appears (SparseGPT's collector).
import { applyMask, selectMask } from '../kernels';
import type { Collector } from '../methods/collectors';
import { GradientMoments } from '../methods/gradient-moments';
import { HessianAccumulator } from '../methods/hessian';
import type { LayerContext, StatisticName, Strategy, StrategyStats } from '../strategies';
import type { Matrix } from '../tensor';
import { compileFormula, CompiledFormula } from './compile';
import { formulaHdiag, formulaScores, NativeFormulaInputs } from './native';

/** What a compiled formula needs gathered. */
export function formulaNeeds(f: CompiledFormula): { gradient: boolean; fisher: boolean; hessian: boolean; needs: StatisticName[] } {
  const gradient = f.inputs.includes('grad');
  const fisher = f.inputs.includes('fisher');
  const hessian = f.inputs.includes('hdiag');
  const sums = f.inputs.includes('xmean') || f.inputs.includes('xvar');
  const needs: StatisticName[] = ['columnSumSq', ...(sums ? ['columnSum'] : []), ...(gradient || fisher ? ['gradient'] : []), ...(hessian ? ['hessian'] : [])];
  return { gradient, fisher, hessian, needs };
}

/** A matrix's bias by its weight's canonical name (blocks.0.attn.q.weight -> blocks.0.attn.q.bias). */
function biasOf(layer?: LayerContext): NativeFormulaInputs['bias'] {
  const t = layer?.tensors.get(layer.name.replace(/\.weight$/, '.bias'));
  return t && t.shape.length === 1 ? { data: t.data, dtype: t.dtype } : undefined;
}

export interface FormulaStrategy extends Strategy {
  readonly formula: CompiledFormula;
  /** The formula's score of every weight (the pipeline's global selection ranks by it). */
  scoreMatrix(w: Matrix, stats: StrategyStats, layer?: LayerContext): Promise<Float32Array>;
}

/** A strategy scoring with `source` (FormulaError when it does not parse). */
export function formulaStrategy(source: string | CompiledFormula): FormulaStrategy {
  const f = typeof source === 'string' ? compileFormula(source) : source;
  const use = formulaNeeds(f);
  // hdiag is one cols x cols factorization per layer input: q, k and v share theirs.
  const hdiags = new WeakMap<Collector, Promise<Float32Array>>();
  const hdiagOf = (h: HessianAccumulator) => {
    let d = hdiags.get(h);
    if (!d) hdiags.set(h, (d = h.exclusive(() => formulaHdiag(h.sum, h.cols, h.count))));
    return d;
  };

  async function scoreMatrix(w: Matrix, stats: StrategyStats, layer?: LayerContext): Promise<Float32Array> {
    const inputs: NativeFormulaInputs = { bias: biasOf(layer) };
    if (stats.columns) Object.assign(inputs, { colSum: stats.columns.sum, colSumSq: stats.columns.sumSq, tokens: stats.columns.count });
    if (use.hessian && stats.hessian) inputs.hdiag = await hdiagOf(stats.hessian);
    const g = stats.gradient as GradientMoments | undefined;
    if (g && g.count > 0) Object.assign(inputs, { gradSum: g.sum, gradScale: 1 / g.count, fisherSum: g.sumSq, fisherScale: 1 / g.count });
    return formulaScores(w, f.program, inputs, { formula: f.text, layer: layer?.name });
  }

  return {
    name: 'formula',
    formula: f,
    needs: use.needs,
    defaultGranularity: 'row',
    allowsGlobal: true,
    collect: use.hessian ? (width, s) => ({ hessian: new HessianAccumulator(width, { precision: s.hessianPrecision, backend: s.backend }) }) : undefined,
    collectWeights: use.gradient || use.fisher ? (rows, cols) => ({ gradient: new GradientMoments(rows * cols, { sum: use.gradient, sumSq: use.fisher }) }) : undefined,
    scoreMatrix,
    scoreOptions() {
      throw new TypeError(`formula "${f.text}" is evaluated by its own kernel: it has no ScoreOptions (use scoreMatrix or prune)`);
    },
    async prune(w, stats, selection, layer) {
      const scores = await scoreMatrix(w, stats, layer);
      const mask = await selectMask(scores, w.rows, w.cols, { granularity: 'row', ...selection });
      await applyMask(w, mask, { backend: selection.backend });
      return mask;
    },
  };
}
