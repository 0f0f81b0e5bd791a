// DSnoT (Zhang et al., "Dynamic Sparse No Training: Training-Free Fine-tuning for Sparse
// LLMs", ICLR 2024; github.com/zyxxmu/DSnoT): each matrix is pruned by its base method
// (--base wanda, the default, or sparsegpt), then its mask is refined without training:
// per output row, a pruned weight grows back and a kept one is pruned, one pair a cycle,
// while the row's expected output error falls (lib/methods/dsnot-refine.ts; docs/dsnot.md).
import { ArgumentRangeError } from '../../errors';
import type { Strategy } from '../../strategies';
import { dsnotRefine, float32Copy } from '../dsnot-refine';
import type { MethodOptions, UnstructuredMethod } from '../plugin';
import { sparsegpt } from './sparsegpt';
import { wanda } from './wanda';

export const DSNOT_BASES = ['wanda', 'sparsegpt'] as const;
export type DsnotBase = (typeof DSNOT_BASES)[number];

function checkBase(base: unknown): DsnotBase {
  if (base === undefined) return 'wanda';
  if (!(DSNOT_BASES as readonly unknown[]).includes(base)) throw new ArgumentRangeError(`--base for dsnot must be one of ${DSNOT_BASES.join(', ')}, got '${String(base)}'`);
  return base as DsnotBase;
}

export function dsnot(o: { base?: string } = {}): Strategy {
  const base = checkBase(o.base);
  const inner = base === 'sparsegpt' ? sparsegpt() : wanda();
  const t = { matrices: 0, swaps: 0, before: 0, after: 0 };
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
      const dense = await float32Copy(w);
      const mask = await inner.prune(w, stats, selection, layer);
      const r = await dsnotRefine(w, dense, mask, stats.columns, { pattern: selection.pattern });
      t.matrices++;
      t.swaps += r.swaps;
      t.before += r.errorBefore;
      t.after += r.errorAfter;
      return mask;
    },
    notes: () => [
      `dsnot (--base ${base}): ${t.swaps} swaps in ${t.matrices} matrices; sum over rows of |expected output error| ${t.before.toPrecision(5)} after ${base}, ${t.after.toPrecision(5)} refined`,
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
