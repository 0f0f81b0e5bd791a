// What turns a learned theta into a mask (docs/query-aware-building-blocks.md, "Learned
// masks"): the start theta0 from a prior score, and the decision, theta as the score into
// the existing selection kernels at the exact target sparsity, then optionally SparseGPT's
// repair of the kept weights with that mask.
import { ArgumentRangeError, ShapeError } from '../errors';
import { applyMask, SelectionSpec, selectMask } from '../kernels';
import { HessianAccumulator } from '../methods/hessian';
import { sparsegptPrune } from '../methods/sparsegpt';
import { Mask, Matrix } from '../tensor';

/** The default prior's shape: theta0 = offset + scale * standardized log(score). */
export const THETA_PRIOR_DEFAULTS = { offset: 2, scale: 0.5 } as const;

/**
 * theta0 from a prior importance score >= 0 of one matrix (e.g. Wanda's |W_ij| ||X_j||):
 * offset + scale * (log s - mean) / std over the matrix. A zero score counts as half the
 * smallest positive one (log stays finite); a constant matrix gets offset everywhere.
 */
export function thetaFromScore(score: Float32Array, o: { offset?: number; scale?: number } = {}): Float32Array {
  const offset = o.offset ?? THETA_PRIOR_DEFAULTS.offset, scale = o.scale ?? THETA_PRIOR_DEFAULTS.scale;
  if (!Number.isFinite(offset) || !Number.isFinite(scale)) throw new ArgumentRangeError('thetaFromScore: offset and scale must be finite');
  let floor = Infinity;
  for (const s of score) {
    if (!(s >= 0) || s === Infinity) throw new ArgumentRangeError(`thetaFromScore: scores must be finite and >= 0, got ${s}`);
    if (s > 0 && s < floor) floor = s;
  }
  const logs = Float64Array.from(score, (s) => Math.log(s > 0 ? s : floor === Infinity ? 1 : floor / 2));
  let mean = 0;
  for (const v of logs) mean += v;
  mean /= Math.max(1, logs.length);
  let variance = 0;
  for (const v of logs) variance += (v - mean) ** 2;
  const std = Math.sqrt(variance / Math.max(1, logs.length));
  return Float32Array.from(logs, (v) => offset + (std > 0 ? (scale * (v - mean)) / std : 0));
}

export interface DecidedLayer {
  name: string;
  /** The weights, pruned in place (and repaired when a Hessian is given). */
  weight: Matrix;
  theta: Float32Array;
  /** The layer's input statistic X^T X: with it the kept weights are repaired (SparseGPT with the mask). */
  hessian?: HessianAccumulator;
}

/** Prunes each layer at the selection's exact sparsity by theta (lowest pruned first); returns the masks by name. */
export async function decideMasks(layers: readonly DecidedLayer[], selection: SelectionSpec): Promise<Map<string, Mask>> {
  const masks = new Map<string, Mask>();
  for (const l of layers) {
    const { rows, cols } = l.weight;
    if (l.theta.length !== rows * cols) throw new ShapeError(`${l.name}: theta has ${l.theta.length} values for a ${rows} x ${cols} weight`);
    const mask = await selectMask(l.theta, rows, cols, selection);
    if (l.hessian) await sparsegptPrune(l.weight, l.hessian, { mask, backend: selection.backend });
    else await applyMask(l.weight, mask, { backend: selection.backend });
    masks.set(l.name, mask);
  }
  return masks;
}
