// Hand-written interface of sparse variational dropout block by block (native/bindings/
// vd_block_bindings.cc, native/cpu/vd_block.h). lib/methods/variational-dropout/ is its
// only user. The block is described as the forward pass describes it (NativeBlockSpec);
// hidden states are row-major Float32Arrays [tokens, hidden].
import type { NativeBlockSpec } from './forward';
import type { NativeVdSchedule } from './vd';

/** A block's weight matrices by key (up / down are fc1 / fc2 of an ungated MLP). */
export const VD_BLOCK_KEYS = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const;
export type VdBlockKey = (typeof VD_BLOCK_KEYS)[number];

/** One variational matrix for vdBlockMse: theta and log sigma^2 [out, in]; the outputs are written. */
export interface NativeVdMseMatrix {
  theta: Float32Array;
  logSigma2: Float32Array;
  /** Gradient of the mean squared error (written). */
  dTheta?: Float32Array | null;
  dLogSigma2?: Float32Array | null;
  /** The noise drawn for this matrix, [tokens, out] (written). */
  eps?: Float32Array | null;
}

export interface NativeVdBlockMse {
  x: Float32Array;
  target: Float32Array;
  batch: number;
  seq: number;
  seed: number;
  /** false: eps = 0 (the mean network; the backward still runs the noise path). */
  noise: boolean;
  /** Receives the block's output. */
  out?: Float32Array | null;
  mats: Partial<Record<VdBlockKey, NativeVdMseMatrix>>;
}

/** One variational matrix for vdTrainBlock, every array [out, in] and written. */
export interface NativeVdTrainMatrix {
  theta: Float32Array;
  logSigma2: Float32Array;
  /** log alpha, clipped to [-8, 8]. */
  logAlpha?: Float32Array | null;
  /** -log alpha unclipped: the pruning score (lowest pruned first). */
  score?: Float32Array | null;
}

export interface NativeVdTrainBlock extends NativeVdSchedule {
  /** The block's calibration inputs and the dense block's outputs on them, [sequences * seq, hidden]. */
  x: Float32Array;
  target: Float32Array;
  sequences: number;
  seq: number;
  mats: Partial<Record<VdBlockKey, NativeVdTrainMatrix>>;
  batchSequences: number;
  /** cancel[0] set non-zero stops the training between steps (rejects with E_ABORTED). */
  cancel?: Int32Array | null;
}

export interface NativeVdTrainBlockResult {
  /** Mean squared error of the sampled block output on the first and last step. */
  mseFirst: number;
  mseLast: number;
  /** That of the mean network (theta, no noise) over every sequence, after training. */
  mseMean: number;
  /** Sum of the KL terms per trained matrix. */
  kl: Partial<Record<VdBlockKey, number>>;
}

export interface VdBlockNative {
  /** One forward and backward of the variational block; resolves with the mean squared error. */
  vdBlockMse(block: NativeBlockSpec, a: NativeVdBlockMse): Promise<number>;
  vdTrainBlock(block: NativeBlockSpec, a: NativeVdTrainBlock): Promise<NativeVdTrainBlockResult>;
}
