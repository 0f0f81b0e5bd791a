// Per-block sparsities at an exact budget: the allocation methods (rl-allocation, and any
// method that proposes per-block sparsities freely) propose a sparsity per block; the
// run must remove the same number of weights as a uniform run at the target. This
// projects a proposal onto { s : sum_b P_b s_b = target * sum_b P_b, lo <= s_b <= hi }
// by one common shift clipped to the bounds (the Euclidean projection when all P_b are
// equal; otherwise the shift that keeps the proposal's shape), then makes the weighted
// mean exact by letting one block inside the bounds absorb the rounding.
//
// A row-wise selection prunes floor(s * cols) weights of each row, so a block's achieved
// sparsity sits below its nominal one by up to 1/cols, and by different amounts at
// different sparsities: an allocation with the exact nominal mean can remove fewer weights
// than a uniform run at the target (which has the same rounding at one level). matchCount
// shifts the projected allocation by the smallest common amount that removes at least
// as many weights as the uniform run, so that a comparison with uniform is at equal
// weights removed (the nominal mean then differs from the target by at most 1/cols).
import { ArgumentRangeError } from '../errors';

export interface SparsityBounds {
  /** Lowest and highest sparsity any block may get (default 0 and 0.99). */
  lo?: number;
  hi?: number;
}

/** The default bounds of a block's sparsity: [0, 0.99] (a block keeps at least 1% of its weights). */
export const BLOCK_SPARSITY_BOUNDS = { lo: 0, hi: 0.99 } as const;

/** sum_b P_b s_b / sum_b P_b over the blocks with parameters (0 when none has). */
export function weightedMean(sparsity: readonly number[], parameters: readonly number[]): number {
  let num = 0, den = 0;
  sparsity.forEach((s, b) => {
    num += parameters[b] * s;
    den += parameters[b];
  });
  return den > 0 ? num / den : 0;
}

function clip(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

/**
 * The per-block sparsities closest in shape to `proposal` whose parameter-weighted mean is
 * `target`, each in [lo, hi] (widened to hold the target). Blocks with no parameters get 0.
 */
export function projectToTarget(proposal: readonly number[], parameters: readonly number[], target: number, bounds: SparsityBounds = {}): number[] {
  if (proposal.length !== parameters.length) throw new ArgumentRangeError(`${proposal.length} proposed sparsities for ${parameters.length} blocks`);
  if (!proposal.every(Number.isFinite)) throw new ArgumentRangeError(`proposed sparsities must be finite, got [${proposal.join(', ')}]`);
  if (!parameters.every((p) => Number.isInteger(p) && p >= 0)) throw new ArgumentRangeError('block parameters must be integers >= 0');
  if (!(target >= 0 && target < 1)) throw new ArgumentRangeError(`target sparsity must be in [0, 1), got ${target}`);
  const lo = Math.min(bounds.lo ?? BLOCK_SPARSITY_BOUNDS.lo, target);
  const hi = Math.max(bounds.hi ?? BLOCK_SPARSITY_BOUNDS.hi, target);
  const live = parameters.map((_, b) => b).filter((b) => parameters[b] > 0);
  if (live.length === 0) throw new ArgumentRangeError('no block has weights to prune');
  const total = live.reduce((t, b) => t + parameters[b], 0);
  const budget = target * total;
  const removed = (shift: number) => live.reduce((t, b) => t + parameters[b] * clip(proposal[b] + shift, lo, hi), 0);
  // removed() is continuous and non-decreasing in the shift: bisect it to the budget
  // (no shift at all when the proposal already meets it).
  let a = lo - Math.max(...live.map((b) => proposal[b]));
  let z = hi - Math.min(...live.map((b) => proposal[b]));
  if (removed(0) === budget) a = z = 0;
  for (let i = 0; i < 200 && z - a > 0; i++) {
    const m = (a + z) / 2;
    if (removed(m) < budget) a = m;
    else z = m;
  }
  const s = parameters.map((p, b) => (p > 0 ? clip(proposal[b] + (a + z) / 2, lo, hi) : 0));
  // The largest block strictly inside the bounds absorbs what the bisection left over.
  const inside = live.filter((b) => s[b] > lo && s[b] < hi).sort((x, y) => parameters[y] - parameters[x] || x - y);
  const absorb = inside[0] ?? live.reduce((x, y) => (parameters[y] > parameters[x] ? y : x));
  const others = live.reduce((t, b) => (b === absorb ? t : t + parameters[b] * s[b]), 0);
  s[absorb] = clip((budget - others) / parameters[absorb], lo, hi);
  return s;
}

/** The shapes of a block's pruned matrices. */
export type BlockShapes = readonly { rows: number; cols: number }[];

/** Weights a row-wise selection at sparsity s removes from the block: floor(s * cols) of each row (as the native select_row does). */
export function rowwisePruned(shapes: BlockShapes, s: number): number {
  return shapes.reduce((t, m) => t + m.rows * Math.floor(s * m.cols), 0);
}

/**
 * `sparsity` (e.g. projectToTarget's) shifted by the smallest common amount, clipped to the
 * bounds, for which a row-wise selection removes at least `count` weights in all.
 */
export function matchCount(sparsity: readonly number[], blocks: readonly BlockShapes[], count: number, bounds: SparsityBounds = {}): number[] {
  const lo = bounds.lo ?? BLOCK_SPARSITY_BOUNDS.lo;
  const hi = bounds.hi ?? BLOCK_SPARSITY_BOUNDS.hi;
  const at = (shift: number) => sparsity.map((s, b) => (blocks[b].length > 0 ? clip(s + shift, lo, hi) : s));
  const removed = (shift: number) => at(shift).reduce((t, s, b) => t + rowwisePruned(blocks[b], s), 0);
  if (removed(0) >= count) return sparsity.slice();
  if (removed(hi - lo) < count) throw new ArgumentRangeError(`no allocation within [${lo}, ${hi}] removes ${count} weights`);
  // removed() is a non-decreasing step function of the shift: bisect to its first step at or above count.
  let a = 0, z = hi - lo;
  for (let i = 0; i < 200 && z - a > 0; i++) {
    const m = (a + z) / 2;
    if (m === a || m === z) break;
    if (removed(m) < count) a = m;
    else z = m;
  }
  return at(z);
}
