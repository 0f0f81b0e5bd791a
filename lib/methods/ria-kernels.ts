// RIA's native ops (lib/native/ria.ts) as a typed, validated, Promise-based API: the
// score of every weight, and the channel permutation that raises what an N:M selection
// keeps. Both run off the JavaScript thread; do not touch their arrays while they run.
import { ArgumentRangeError, nativeCall } from '../errors';
import { checkPattern, NMPattern } from '../kernels';
import { riaNative, NativeRiaPermutation } from '../native/ria';
import { checkData, checkDims, checkMatrix, Matrix } from '../tensor';

/** The exponent of the activation norm (the paper's and the reference code's a = 0.5). */
export const RIA_EXPONENT = 0.5;

/**
 * Groups of M channels per linear sum assignment: the reference code's --fast variant
 * splits a matrix's channels into blocks to bound the O(groups^3) assignment and its
 * O(groups^2 * rows) value matrix; 256 groups (1024 channels at 2:4) per block.
 */
export const RIA_LSA_GROUPS = 256;

/** score_ij = (|W_ij| / sum_k |W_kj| + |W_ij| / sum_k |W_ik|) * act_j^a, as a new Float32Array [rows * cols]. */
export async function riaScores(w: Matrix, act: Float32Array, a = RIA_EXPONENT): Promise<Float32Array> {
  checkMatrix(w);
  checkData(act, 'f32', w.cols, 'act');
  if (!(Number.isFinite(a) && a >= 0 && a <= 4)) throw new ArgumentRangeError(`ria's activation exponent must be in [0, 4], got ${a}`);
  const out = new Float32Array(w.rows * w.cols);
  await nativeCall(() => riaNative().riaScore(w, act, a, out));
  return out;
}

/** A channel order and what an N:M selection keeps with it. */
export interface ChannelPermutation extends NativeRiaPermutation {
  /** perm[k]: the input channel placed at position k. */
  perm: Int32Array;
}

/**
 * RIA's channel permutation of a [rows, cols] score matrix for an N:M pattern: the
 * quantile deal, then one linear-sum-assignment round per slot (`lsaGroups` groups per
 * assignment at most; 0: the deal alone). The retained score never falls below the
 * stored order's.
 */
export async function riaChannelPermutation(
  scores: Float32Array,
  rows: number,
  cols: number,
  pattern: NMPattern,
  opts: { lsaGroups?: number } = {},
): Promise<ChannelPermutation> {
  checkDims(rows, cols, 'scores');
  checkData(scores, 'f32', rows * cols, 'scores');
  const { n, m } = checkPattern(pattern);
  const lsaGroups = opts.lsaGroups ?? RIA_LSA_GROUPS;
  if (!(Number.isInteger(lsaGroups) && lsaGroups >= 0 && lsaGroups <= 65536))
    throw new ArgumentRangeError(`lsaGroups must be an integer in [0, 65536], got ${lsaGroups}`);
  const perm = new Int32Array(cols);
  const r = await nativeCall(() => riaNative().riaPermutation(scores, { rows, cols, n, m, lsaGroups }, perm));
  return { ...r, perm };
}
