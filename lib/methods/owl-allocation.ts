// OWL's per-block sparsities from the blocks' outlier ratios (Yin et al., ICML 2024; the
// reference code luuyin/OWL lib/prune_all.py, prune_wanda_outlier): the ratios D are
// normalized to [0, 2 * lambda], their mean is subtracted and 1 - s added, giving each
// block's density; the sparsity is 1 - density. More outliers, less pruned.
//
// Where shears differs from the reference, and why:
// - The mean is weighted by each block's selected weights, so that the run's sparsity over
//   all matrices is the target also when blocks differ in width (shears' per-block widths);
//   with equal blocks (every model the reference handles) it is the reference's plain mean.
// - Sparsities are kept in [0, maxSparsity] (0.99): a block clipped there is fixed and the
//   others move by the same amount until the weighted mean is the target again (the
//   reference sets a sparsity <= 0 to 0.01 and lets the mean drift). With lambda = 0.08
//   nothing is clipped for targets in [0.08, 0.91].
// - Equal ratios (max = min, a division by zero in the reference) give every block the target.

/** OWL's lambda: the densities spread over [1 - s - lambda, 1 - s + lambda] around their mean. */
export const OWL_LAMBDA = 0.08;
/** The largest sparsity a block is given. */
export const OWL_MAX_SPARSITY = 0.99;

export interface OwlAllocation {
  /** One per block; a block without selected weights gets the target. */
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
  const weight = (bs: readonly number[]) => bs.reduce((a, b) => a + parameters[b], 0);
  const total = weight(blocks);
  // Densities: D normalized to [0, 2 lambda], minus their (weighted) mean, plus 1 - s.
  const spread = blocks.map((b) => (uniform ? 0 : ((ratio[b]! - lo) / (hi - lo)) * 2 * lambda));
  const mean = blocks.reduce((a, b, i) => a + parameters[b] * spread[i], 0) / total;
  blocks.forEach((b, i) => (sparsity[b] = 1 - (spread[i] - mean + (1 - target))));
  // Clip to [0, maxSparsity]; the free blocks move together to keep the weighted mean at the target.
  const clipped: number[] = [];
  let free = blocks.slice();
  for (;;) {
    const out = free.filter((b) => sparsity[b] < 0 || sparsity[b] > maxSparsity);
    if (out.length === 0) break;
    for (const b of out) sparsity[b] = Math.min(maxSparsity, Math.max(0, sparsity[b]));
    clipped.push(...out);
    free = free.filter((b) => !out.includes(b));
    if (free.length === 0) break;
    const deficit = target * total - blocks.reduce((a, b) => a + parameters[b] * sparsity[b], 0);
    const shift = deficit / weight(free);
    for (const b of free) sparsity[b] += shift;
  }
  return { sparsity, clipped: clipped.sort((a, b) => a - b), uniform };
}
