// OWL's per-block sparsities from the blocks' outlier ratios (Yin et al., ICML 2024; the
// reference code luuyin/OWL lib/prune_all.py, prune_wanda_outlier): the ratios D are
// normalized to [0, 2 * lambda], their mean is subtracted and 1 - s added, giving each
// block's density; the sparsity is 1 - density. More outliers, less pruned.
//
// Where shears differs from the reference, and why:
// - The mean is weighted by each block's selected weights, so that the run's sparsity over
//   all matrices is the target also when blocks differ in width (shears' per-block widths);
//   with equal blocks (every model the reference handles) it is the reference's plain mean.
// - Sparsities are kept in [0, maxSparsity] (0.99): when one falls outside, every block moves
//   by one common shift, clipped to the bounds, that brings the weighted mean back to the
//   target (lib/allocation/project.ts, shared with rl-allocation); the reference sets a
//   sparsity <= 0 to 0.01 and lets the mean drift. With lambda = 0.08
//   nothing is clipped for targets in [0.08, 0.91].
// - Equal ratios (max = min, a division by zero in the reference) give every block the target.
import { projectToTarget } from '../allocation/project';

/** OWL's lambda: the densities spread over [1 - s - lambda, 1 - s + lambda] around their mean. */
export const OWL_LAMBDA = 0.08;
/** The largest sparsity a block is given. */
export const OWL_MAX_SPARSITY = 0.99;

export interface OwlAllocation {
  /** One per block; a block without selected weights gets the target (nothing of it is pruned). */
  sparsity: number[];
  /** Blocks whose sparsity was clipped to 0 or maxSparsity. */
  clipped: number[];
  /** Every ratio equal: no spread, the target everywhere. */
  uniform: boolean;
}

/** Per-block sparsities from outlier ratios (null: a block with nothing selected) and the blocks' selected weights. */
export function owlSparsities(ratio: readonly (number | null)[], parameters: readonly number[], target: number, lambda = OWL_LAMBDA, maxSparsity = OWL_MAX_SPARSITY): OwlAllocation {
  const blocks = ratio.flatMap((d, b) => (d === null || parameters[b] <= 0 ? [] : [b]));
  const sparsity = ratio.map(() => target);
  if (blocks.length === 0) return { sparsity, clipped: [], uniform: true };
  const d = blocks.map((b) => ratio[b]!);
  const lo = Math.min(...d);
  const hi = Math.max(...d);
  const uniform = hi === lo;
  const total = blocks.reduce((a, b) => a + parameters[b], 0);
  // Densities: D normalized to [0, 2 lambda], minus their (weighted) mean, plus 1 - s.
  const spread = blocks.map((b) => (uniform ? 0 : ((ratio[b]! - lo) / (hi - lo)) * 2 * lambda));
  const mean = blocks.reduce((a, b, i) => a + parameters[b] * spread[i], 0) / total;
  blocks.forEach((b, i) => (sparsity[b] = 1 - (spread[i] - mean + (1 - target))));
  // Outside [0, maxSparsity]: a common shift, clipped, back to the weighted target.
  if (blocks.every((b) => sparsity[b] >= 0 && sparsity[b] <= maxSparsity)) return { sparsity, clipped: [], uniform };
  const projected = projectToTarget(sparsity, parameters, target, { lo: 0, hi: maxSparsity });
  const clipped = blocks.filter((b) => (projected[b] === 0 || projected[b] === maxSparsity) && projected[b] !== sparsity[b]);
  blocks.forEach((b) => (sparsity[b] = projected[b]));
  return { sparsity, clipped, uniform };
}
