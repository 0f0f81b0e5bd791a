// shears' query-aware method (issue 12; docs/query-aware.md). prune() calibrates it on
// the query environment (the user's queries, each followed by the dense model's own
// continuation: lib/prune/environment-calibration.ts), so every statistic below is
// gathered where the model answers the users. Per matrix it keeps the most probable
// weights under a prior (--prior: sparsegpt's OBS choice, Wanda's |W| ||X_j||, or |W|),
// at exactly the requested sparsity or N:M pattern, and repairs the kept weights on the
// environment's activations (--repair sparsegpt: SparseGPT's updates with that mask).
// Then its recovery learns: the kept weights are distilled end to end on the
// environment, KL(dense || pruned) on every position, every pruned weight held at zero
// (lib/queries/distill.ts).
import { ArgumentRangeError } from '../../errors';
import { applyMask, pruneMatrix } from '../../kernels';
import { distillOnEnvironment } from '../../queries/distill';
import type { Strategy, StrategyStats } from '../../strategies';
import type { Mask, Matrix } from '../../tensor';
import { HessianAccumulator } from '../hessian';
import type { MethodOptions, RecoveringStrategy, StructuredMethod, UnstructuredMethod } from '../plugin';
import { method as flap } from './flap';
import { method as l1 } from './l1';
import { method as wandaSp } from './wanda-sp';
import { sparsegptPrune } from '../sparsegpt';

export const QUERY_AWARE_PRIORS = ['sparsegpt', 'wanda', 'magnitude'] as const;
export type QueryAwarePrior = (typeof QUERY_AWARE_PRIORS)[number];
export const QUERY_AWARE_REPAIRS = ['sparsegpt', 'none'] as const;
export type QueryAwareRepair = (typeof QUERY_AWARE_REPAIRS)[number];

export interface QueryAwareOptions {
  /** The keep-probability prior that ranks the weights of a matrix (default sparsegpt). */
  prior?: QueryAwarePrior;
  /** How the kept weights are reconstructed on the environment's activations (default sparsegpt). */
  repair?: QueryAwareRepair;
  /** The learning step: all blocks at once (joint), block by block (one block's gradients and AdamW state at a time), or auto (default: joint while its state fits in 1 GiB). */
  distill?: 'auto' | 'blockwise' | 'joint';
}

/** A matrix with its own copy of the weights (the choice is made on it, W keeps its values). */
function copyOf(w: Matrix): Matrix {
  return { ...w, data: w.data.slice() };
}

function hessianOf(stats: StrategyStats): HessianAccumulator {
  if (!stats.hessian) throw new TypeError('query-aware needs the layer input statistic X^T X (stats.hessian)');
  return stats.hessian;
}

/**
 * The mask: SparseGPT's (chosen while it reconstructs, on a copy when W must keep its
 * values) or the prior's score |W|^p * ||X_j||^q per row / N:M (on a copy, W untouched).
 */
async function chooseMask(w: Matrix, stats: StrategyStats, sel: Parameters<Strategy['prune']>[2], prior: QueryAwarePrior, onCopy: boolean): Promise<Mask> {
  const target = onCopy ? copyOf(w) : w;
  if (prior === 'sparsegpt') {
    const granularity = sel.granularity ?? 'matrix';
    return sparsegptPrune(target, hessianOf(stats), { sparsity: sel.sparsity, pattern: sel.pattern, selection: granularity === 'row' ? 'row' : 'block', backend: sel.backend });
  }
  if (!stats.columns) throw new TypeError('query-aware needs per-column activation statistics (stats.columns)');
  const score = prior === 'wanda' ? { p: 1, q: 1, act: stats.columns.l2Norms() } : { p: 1, q: 0 };
  return pruneMatrix(target, score, { granularity: 'row', ...sel });
}

export function queryAware(o: QueryAwareOptions = {}): RecoveringStrategy {
  const prior = o.prior ?? 'sparsegpt';
  const repair = o.repair ?? 'sparsegpt';
  if (!QUERY_AWARE_PRIORS.includes(prior)) throw new ArgumentRangeError(`--prior must be one of ${QUERY_AWARE_PRIORS.join(', ')}, got ${String(prior)}`);
  if (!QUERY_AWARE_REPAIRS.includes(repair)) throw new ArgumentRangeError(`--repair must be one of ${QUERY_AWARE_REPAIRS.join(', ')}, got ${String(repair)}`);
  return {
    name: 'query-aware',
    needs: ['hessian'],
    defaultGranularity: prior === 'sparsegpt' ? 'matrix' : 'row',
    allowsGlobal: false,
    collect: (width, s) => ({ hessian: new HessianAccumulator(width, { precision: s.hessianPrecision, backend: s.backend }) }),
    scoreOptions() {
      throw new TypeError('query-aware chooses each matrix with its prior and repairs it: it has no standalone score (use prune)');
    },
    async prune(w, stats, selection) {
      // SparseGPT's own choice already carries its repair; every other case chooses on a copy.
      if (prior === 'sparsegpt' && repair === 'sparsegpt') return chooseMask(w, stats, selection, prior, false);
      const mask = await chooseMask(w, stats, selection, prior, true);
      if (repair === 'none') {
        await applyMask(w, mask, { backend: selection.backend });
        return mask;
      }
      return sparsegptPrune(w, hessianOf(stats), { mask, backend: selection.backend });
    },
    notes: () => [`query-aware: prior ${prior}, repair ${repair}, distillation ${o.distill ?? 'auto'}, on the query environment`],
    recover: (ctx) => distillOnEnvironment(ctx, o.distill ?? 'auto'),
    release: () => undefined,
  };
}

/**
 * With --structure: whole units scored on the environment by the prior's structured form
 * (sparsegpt: FLAP's fluctuation, standardized, with bias compensation, the structured
 * method that reconstructs; wanda: Wanda-sp; magnitude: L1), then the same distillation.
 */
function structuredForm(o?: MethodOptions): StructuredMethod {
  const prior = o?.prior ?? 'sparsegpt';
  const base = prior === 'wanda' ? wandaSp : prior === 'magnitude' ? l1 : flap;
  return { ...base, name: 'query-aware', description: `query-aware, structured: ${base.name}'s unit scores on the query environment, then distillation`, calibrated: true };
}

export const method: UnstructuredMethod = {
  name: 'query-aware',
  description: "shears' query-aware method: the queries' environment, a prior, repair, then end-to-end distillation on it",
  kind: 'reconstruct',
  calibrated: true,
  recovers: true,
  environment: true,
  source: 'shears (this project): docs/query-aware.md',
  order: 200,
  slow: true,
  structured: structuredForm,
  create: (opts?: MethodOptions) => queryAware({ prior: opts?.prior, repair: opts?.repair, distill: opts?.distill }),
};
