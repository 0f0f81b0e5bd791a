// Hand-written interface of RIA's native ops (native/bindings/ria_bindings.cc,
// native/cpu/ria_score.h, ria_permute.h); lib/methods/ria-kernels.ts is their only user.
import { addon } from './binding';
import type { NativeMatrix } from './kernels';

/** What the channel permutation kept: sums over rows and groups of each group's N highest scores. */
export interface NativeRiaPermutation {
  /** In the stored order. */
  identity: number;
  /** After the quantile deal alone. */
  heuristic: number;
  /** With the permutation written to perm (never below identity). */
  retained: number;
  /** The assignment rounds started from the deal (else from the stored order, which kept more). */
  fromHeuristic: boolean;
  /** Slot rounds of the linear sum assignment that raised the retained score. */
  lsaRoundsAccepted: number;
}

export interface RiaNative {
  /** score_ij = (|W_ij| / sum_k |W_kj| + |W_ij| / sum_k |W_ik|) * act_j^a into out (rows x cols). */
  riaScore(w: NativeMatrix, act: Float32Array, a: number, out: Float32Array): Promise<void>;
  /** perm[k] = the input channel placed at position k; lsaGroups 0: the deal alone. */
  riaPermutation(
    scores: Float32Array,
    dims: { rows: number; cols: number; n: number; m: number; lsaGroups: number },
    perm: Int32Array,
  ): Promise<NativeRiaPermutation>;
}

export function riaNative(): RiaNative {
  return addon().module as unknown as RiaNative;
}
