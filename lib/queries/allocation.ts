// Turning per-block sensitivity curves (lib/queries/sensitivity.ts) into per-block
// sparsities: minimize the predicted KL sum_b f_b(s_b) subject to
//   sum_b P_b s_b = target * sum_b P_b   (the same total sparsity as a uniform run)
//   min <= s_b <= max,
// where P_b is block b's prunable weights and f_b its measured curve, linearly
// interpolated between (0, 0) and the measured levels. Solved exactly as the Lagrangian
// of the piecewise-linear problem: each curve is replaced by its lower convex hull on
// [min, max], whose segments have non-decreasing slopes; the segments of all blocks are
// taken in order of KL per removed weight (slope / P_b) until the budget of weights to
// remove is met, the last one partly. Every block then sits at a bound or where its
// marginal KL per weight equals the multiplier (the slope where filling stopped). This
// is a greedy marginal-cost fill, but on convex curves it is the optimum, needs no
// step size or bisection tolerance, and is deterministic (ties: lower block first).
// A non-convex curve counts as its hull: a level is never kept where a mix of its
// neighbours would predict less KL (the additive model behind the sum is itself first order).
import { ArgumentRangeError } from '../errors';

export interface SensitivityCurve {
  /** Prunable weights of the block (0: nothing to allocate; it gets sparsity 0). */
  parameters: number;
  /** Predicted KL at each of the curves' levels. */
  kl: readonly number[];
}

export interface AllocationOptions {
  /** Parameter-weighted mean sparsity to reach, in [min, max]. */
  target: number;
  /** Bounds of every block's sparsity (default 0 and the highest measured level). */
  min?: number;
  max?: number;
}

export interface Allocation {
  /** Per block, in [min, max] (0 for a block without prunable weights). */
  sparsity: number[];
  /** sum_b P_b s_b / sum_b P_b: the target up to rounding. */
  meanSparsity: number;
  /** Predicted KL, sum_b f_b(s_b) on the interpolated curves (assumes additivity). */
  predictedKl: number;
  /** The multiplier: KL per removed weight of the last segment taken (0 when none was). */
  lambda: number;
}

interface Segment {
  block: number;
  from: number;
  to: number;
  /** KL per removed weight. */
  cost: number;
}

/** f(s) on the polyline through (0, 0) and (levels[i], kl[i]). */
export function interpolate(levels: readonly number[], kl: readonly number[], s: number): number {
  let x0 = 0, y0 = 0;
  for (let i = 0; i < levels.length; i++) {
    if (s <= levels[i]) return y0 + ((kl[i] - y0) * (s - x0)) / (levels[i] - x0);
    x0 = levels[i];
    y0 = kl[i];
  }
  return y0;
}

/** The lower convex hull of points sorted by x (monotone chain). */
function lowerHull(xs: number[], ys: number[]): { x: number[]; y: number[] } {
  const x: number[] = [], y: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    while (x.length >= 2) {
      const k = x.length;
      // Drop the middle point when it lies on or above the chord from its neighbours.
      const cross = (x[k - 1] - x[k - 2]) * (ys[i] - y[k - 2]) - (y[k - 1] - y[k - 2]) * (xs[i] - x[k - 2]);
      if (cross > 0) break;
      x.pop();
      y.pop();
    }
    x.push(xs[i]);
    y.push(ys[i]);
  }
  return { x, y };
}

/** Sensitivity levels: at least one sparsity, strictly increasing inside (0, 1). */
export function checkLevels(levels: readonly number[]): void {
  if (!Array.isArray(levels) || levels.length === 0) throw new ArgumentRangeError('levels must list at least one sparsity');
  levels.forEach((l, i) => {
    if (!(typeof l === 'number' && l > (i === 0 ? 0 : levels[i - 1]) && l < 1))
      throw new ArgumentRangeError(`levels must increase strictly inside (0, 1), got [${levels.join(', ')}]`);
  });
}

function checkCurves(levels: readonly number[], curves: readonly SensitivityCurve[]): void {
  checkLevels(levels);
  curves.forEach((c, b) => {
    if (!(Number.isInteger(c.parameters) && c.parameters >= 0)) throw new ArgumentRangeError(`block ${b}: parameters must be an integer >= 0, got ${c.parameters}`);
    if (c.kl.length !== levels.length || !c.kl.every(Number.isFinite))
      throw new ArgumentRangeError(`block ${b}: needs ${levels.length} finite KL values, one per level`);
  });
}

/** Per-block sparsities at the target's total (see the head of this file). */
export function allocateSparsity(levels: readonly number[], curves: readonly SensitivityCurve[], o: AllocationOptions): Allocation {
  checkCurves(levels, curves);
  const min = o.min ?? 0;
  const max = o.max ?? levels[levels.length - 1];
  if (!(min >= 0 && min <= max && max <= levels[levels.length - 1]))
    throw new ArgumentRangeError(`bounds must satisfy 0 <= min <= max <= ${levels[levels.length - 1]} (the highest measured level), got [${min}, ${max}]`);
  if (!(o.target >= min && o.target <= max)) throw new ArgumentRangeError(`target sparsity ${o.target} is outside the bounds [${min}, ${max}]`);
  const live = curves.map((c, b) => b).filter((b) => curves[b].parameters > 0);
  if (live.length === 0) throw new ArgumentRangeError('no block has prunable weights');

  const segments: Segment[] = [];
  for (const b of live) {
    const xs = [min, ...levels.filter((l) => l > min && l < max), max];
    if (max === min) continue;
    const ys = xs.map((s) => interpolate(levels, curves[b].kl, s));
    const hull = lowerHull(xs, ys);
    for (let i = 0; i + 1 < hull.x.length; i++)
      segments.push({ block: b, from: hull.x[i], to: hull.x[i + 1], cost: (hull.y[i + 1] - hull.y[i]) / (hull.x[i + 1] - hull.x[i]) / curves[b].parameters });
  }
  // Hull slopes increase along a block, so this order also keeps each block's segments in order.
  segments.sort((a, b) => a.cost - b.cost || a.block - b.block || a.from - b.from);

  const total = live.reduce((t, b) => t + curves[b].parameters, 0);
  const sparsity = curves.map((c) => (c.parameters > 0 ? min : 0));
  let budget = o.target * total - min * total;
  let lambda = 0;
  let last = -1;
  for (const seg of segments) {
    if (!(budget > 0)) break;
    const P = curves[seg.block].parameters;
    const cap = P * (seg.to - seg.from);
    lambda = seg.cost;
    last = seg.block;
    if (cap <= budget) {
      sparsity[seg.block] = seg.to;
      budget -= cap;
    } else {
      sparsity[seg.block] = seg.from + budget / P;
      budget = 0;
    }
  }
  // The last block touched absorbs the rounding of the running budget, so the weighted
  // mean is the target up to one rounding.
  if (last >= 0) {
    const others = live.reduce((t, b) => (b === last ? t : t + curves[b].parameters * sparsity[b]), 0);
    sparsity[last] = Math.min(max, Math.max(min, (o.target * total - others) / curves[last].parameters));
  }
  const meanSparsity = live.reduce((t, b) => t + curves[b].parameters * sparsity[b], 0) / total;
  const predictedKl = live.reduce((t, b) => t + interpolate(levels, curves[b].kl, sparsity[b]), 0);
  return { sparsity, meanSparsity, predictedKl, lambda };
}
