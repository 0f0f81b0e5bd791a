// SparseGPT: OBS pruning with reconstruction of the kept weights (Frantar & Alistarh 2023).
// It collects X^T X of each layer input (its add_batch) and reconstructs matrix by matrix.
import type { Strategy } from '../../strategies';
import { HessianAccumulator } from '../hessian';
import type { UnstructuredMethod } from '../plugin';
import { sparsegptPrune, SparseGptOptions } from '../sparsegpt';

/**
 * SparseGPT: OBS-style pruning with reconstruction of the kept weights (needs the
 * layer's X^T X). Granularity 'matrix' (the default) selects over each block tile as
 * the reference code does; 'row' selects per row inside each block. N:M patterns
 * come from selection.pattern. It has no standalone per-weight score.
 */
export const sparsegpt = (opts: Omit<SparseGptOptions, 'sparsity' | 'pattern'> = {}): Strategy => ({
  name: 'sparsegpt',
  needs: ['hessian'],
  defaultGranularity: 'matrix',
  allowsGlobal: false,
  collect: (width, s) => ({ hessian: new HessianAccumulator(width, { precision: s.hessianPrecision, backend: s.backend }) }),
  scoreOptions() {
    throw new TypeError('sparsegpt chooses weights while it reconstructs them: it has no standalone score (use prune)');
  },
  async prune(w, stats, selection) {
    if (!stats.hessian) throw new TypeError('sparsegpt needs the layer input statistic X^T X (stats.hessian)');
    const granularity = selection.granularity ?? 'matrix';
    return sparsegptPrune(w, stats.hessian, {
      ...opts,
      sparsity: selection.sparsity,
      pattern: selection.pattern,
      selection: opts.selection ?? (granularity === 'row' ? 'row' : 'block'),
      backend: selection.backend ?? opts.backend,
    });
  },
});

export const method: UnstructuredMethod = {
  name: 'sparsegpt',
  description: 'OBS pruning with weight reconstruction (Frantar & Alistarh 2023)',
  kind: 'reconstruct',
  calibrated: true,
  source: 'Frantar & Alistarh, SparseGPT (ICML 2023)',
  order: 30,
  create: () => sparsegpt(),
};
