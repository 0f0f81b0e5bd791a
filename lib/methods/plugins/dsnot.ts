// DSnoT (Zhang et al., "Dynamic Sparse No Training: Training-Free Fine-tuning for Sparse
// LLMs", ICLR 2024; github.com/zyxxmu/DSnoT): each matrix is pruned by its base method
// (--base wanda, the default, or sparsegpt), then its mask is refined without training:
// per output row, a pruned weight grows back and a kept one is pruned, one pair a cycle,
// while the row's expected output error falls (lib/methods/dsnot-refine.ts; docs/dsnot.md).
// As the reference code by default (--skip_layer mlp), the attention projections are
// refined and the MLP matrices keep their base method's mask.
import { baseMethod } from '../base-option';
import type { Strategy, StrategyStats } from '../../strategies';
import type { Mask, Matrix } from '../../tensor';
import { dsnotRefine, float32Copy } from '../dsnot-refine';
import type { MethodOptions, UnstructuredMethod } from '../plugin';
import { sparsegptPrune } from '../sparsegpt';
import { sparsegpt } from './sparsegpt';
import { wanda } from './wanda';

export const DSNOT_BASES = ['wanda', 'sparsegpt'] as const;
export type DsnotBase = (typeof DSNOT_BASES)[number];

const checkBase = (base: string | undefined): DsnotBase => baseMethod('dsnot', DSNOT_BASES, base);

/** The reference's default: the MLP matrices are not refined (measured in docs/dsnot.md: refining them too was worse on both models). */
const refinedByDefault = (name: string) => !/\.mlp\./.test(name);

export interface DsnotOptions {
  base?: string;
  /** Which matrices are refined, by canonical name (default: all but the MLP's). */
  refine?: (name: string) => boolean;
}

export function dsnot(o: DsnotOptions = {}): Strategy {
  const base = checkBase(o.base);
  const refine = o.refine ?? refinedByDefault;
  const inner = base === 'sparsegpt' ? sparsegpt() : wanda();
  const t = { matrices: 0, skipped: 0, swaps: 0, before: 0, after: 0 };

  /**
   * SparseGPT: it prunes and reconstructs W; the refinement works on those weights (the
   * error e_i includes SparseGPT's compensation; a grown weight takes its dense value);
   * then W is reconstructed from the dense weights for the refined mask by SparseGPT's own
   * updates (measured against the alternatives in docs/dsnot.md).
   */
  async function refinedSparseGpt(w: Matrix, dense: Float32Array, stats: StrategyStats, selection: Parameters<Strategy['prune']>[2], layer: Parameters<Strategy['prune']>[3]): Promise<Mask> {
    const original = w.data.slice();
    const mask = await inner.prune(w, stats, selection, layer);
    count(await dsnotRefine(w, dense, mask, stats.columns!, { pattern: selection.pattern }));
    (w.data as typeof original).set(original);
    return sparsegptPrune(w, stats.hessian!, { mask, backend: selection.backend });
  }

  function count(r: { swaps: number; errorBefore: number; errorAfter: number }) {
    t.matrices++;
    t.swaps += r.swaps;
    t.before += r.errorBefore;
    t.after += r.errorAfter;
  }

  return {
    name: 'dsnot',
    // The column sums and sums of squares (E[x], Var[x], ||X||) come with every calibrated run.
    needs: [...new Set([...inner.needs, 'columnSum', 'columnSumSq'])],
    defaultGranularity: inner.defaultGranularity,
    allowsGlobal: false,
    collect: inner.collect,
    scoreOptions() {
      throw new TypeError('dsnot refines the mask of its base method: it has no standalone score (use prune)');
    },
    async prune(w, stats, selection, layer) {
      if (!stats.columns) throw new TypeError('dsnot needs per-column activation statistics (stats.columns)');
      if (layer && !refine(layer.name)) {
        t.skipped++;
        return inner.prune(w, stats, selection, layer);
      }
      const dense = await float32Copy(w);
      if (base === 'sparsegpt') return refinedSparseGpt(w, dense, stats, selection, layer);
      const mask = await inner.prune(w, stats, selection, layer);
      count(await dsnotRefine(w, dense, mask, stats.columns, { pattern: selection.pattern }));
      return mask;
    },
    notes: () => [
      `dsnot (--base ${base}): ${t.swaps} swaps in ${t.matrices} refined matrices (${t.skipped} MLP matrices keep ${base}'s mask, as the reference's default); ` +
        `sum over rows of |expected output error| ${t.before.toPrecision(5)} after ${base}, ${t.after.toPrecision(5)} refined`,
    ],
  };
}

export const method: UnstructuredMethod = {
  name: 'dsnot',
  description: 'training-free mask refinement after wanda or sparsegpt (--base): swaps per row while the expected output error falls',
  kind: 'reconstruct',
  calibrated: true,
  source: 'Zhang et al., Dynamic Sparse No Training (ICLR 2024)',
  order: 35,
  options: ['base'],
  checkOptions(o) {
    checkBase(o.base);
  },
  create: (o?: MethodOptions) => dsnot({ base: o?.base }),
};
