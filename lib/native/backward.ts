// Hand-written interface of the backward-pass part of the native addon
// (native/bindings/backward_bindings.cc). lib/backward/ is its only user.
import { addon } from './binding';
import { ForwardOptions, NativeBlockSpec, NativeHeadSpec } from './forward';
import { NativeMatrix } from './kernels';

/** The whole model as the backward pass reads it (the forward pass's descriptions). */
export interface NativeModelSpec {
  blocks: NativeBlockSpec[];
  embed: NativeMatrix;
  /** Learned positions (row p + posOffset for position p), or null with RoPE. */
  pos: NativeMatrix | null;
  posOffset: number;
  head: NativeHeadSpec;
}

/**
 * One block's gradient buffers (float32, each the size of its parameter), keyed like
 * NativeBlockSpec. Absent or null: not computed; given for a parameter the block does
 * not have: a ShapeError.
 */
export interface NativeBlockGrads {
  attnNormWeight?: Float32Array | null;
  attnNormBias?: Float32Array | null;
  q?: Float32Array | null;
  k?: Float32Array | null;
  v?: Float32Array | null;
  o?: Float32Array | null;
  qBias?: Float32Array | null;
  kBias?: Float32Array | null;
  vBias?: Float32Array | null;
  oBias?: Float32Array | null;
  mlpNormWeight?: Float32Array | null;
  mlpNormBias?: Float32Array | null;
  gate?: Float32Array | null;
  gateBias?: Float32Array | null;
  up?: Float32Array | null;
  upBias?: Float32Array | null;
  down?: Float32Array | null;
  downBias?: Float32Array | null;
}

/** Gradient buffers of the model, written by the native code (whatever they held). A tied LM head passes `embed` as `head.lm`. */
export interface NativeModelGrads {
  blocks: NativeBlockGrads[];
  embed: Float32Array | null;
  pos: Float32Array | null;
  head: { normWeight?: Float32Array | null; normBias?: Float32Array | null; lm?: Float32Array | null };
}

export interface BackwardOptions extends ForwardOptions {
  /** cancel[0] set non-zero stops the run between blocks (rejects with code E_ABORTED). */
  cancel?: Int32Array;
  /** Bytes of block activations kept from the forward instead of recomputed (default 256 MiB; 0: recompute all but the last block). */
  keepActivationBytes?: number;
  /**
   * bwdMoments: buffers for one block's gradient of each matrix kind (q k v o gate up
   * down; null: none), reused across calls; one smaller than the largest wanted matrix
   * of its kind is not used (the call allocates its own).
   */
  workspace?: (Float32Array | null)[];
  /**
   * bwdModel and bwdMoments: logits of a teacher model on the same tokens (batch*seq x vocab, row-major):
   * the loss is then the sum over the same rows of KL(softmax(teacher) || softmax(model)).
   */
  teacherLogits?: Float32Array;
}

/** Accumulators of one weight's gradient G: sum += G, sumSq += G^2 (float32, the weight's size). */
export interface NativeGradMoments {
  sum?: Float32Array | null;
  sumSq?: Float32Array | null;
}

/** A block's weight matrices whose gradient moments are wanted (absent: not wanted). */
export type NativeBlockMoments = Partial<Record<'q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down', NativeGradMoments>>;

export interface BackwardNative {
  /** Sum and count of the next-token NLL over batch sequences of seq tokens; gradients added into `grads`. */
  bwdModel(
    model: NativeModelSpec,
    tokens: Int32Array,
    batch: number,
    seq: number,
    grads: NativeModelGrads,
    opts?: BackwardOptions,
  ): Promise<{ sum: number; count: number }>;
  /**
   * bwdModel in accumulate mode: the gradient of each listed matrix added into its
   * accumulators (one entry per block), holding one block's gradients at a time.
   * The accumulators are left partly updated when the call rejects.
   */
  bwdMoments(
    model: NativeModelSpec,
    tokens: Int32Array,
    batch: number,
    seq: number,
    moments: NativeBlockMoments[],
    opts?: BackwardOptions,
  ): Promise<{ sum: number; count: number }>;
}

export function backwardNative(): BackwardNative {
  return addon().module as unknown as BackwardNative;
}
