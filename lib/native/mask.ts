// Hand-written interface of learned masks block by block (native/bindings/mask_bindings.cc,
// native/cpu/hc_block.h): a hard-concrete gate per weight of a block's linear layers,
// trained on the block's reconstruction. lib/queries/learn-mask*.ts is its only user.
// Hidden states are row-major Float32Arrays [tokens, hidden]; matrices [out, in].
import { addon } from './binding';
import type { NativeBlockSpec } from './forward';
import type { VdBlockKey } from './vd-block';

/** What both calls share: the data, the gate and the density pull. */
export interface NativeHcObjective {
  x: Float32Array;
  target: Float32Array;
  /** Per-token loss weights [count * seq] (default 1 everywhere). */
  weights?: Float32Array | null;
  /** Weight of (expected density - target)^2 (default 1). */
  lambda?: number;
  /** The block's target density, the kept fraction (default 0.5). */
  targetDensity?: number;
  /** One target per gated matrix instead (one penalty term each). */
  targets?: Partial<Record<VdBlockKey, number>> | null;
  /** The hard-concrete gate (defaults 2/3, -0.1, 1.1). */
  beta?: number;
  gamma?: number;
  zeta?: number;
}

export interface NativeHcLoss {
  /** Weighted mean squared error against the target. */
  mse: number;
  penalty: number;
  /** mse + penalty. */
  loss: number;
  /** Expected density: the mean P(z > 0) over every gated weight. */
  density: number;
}

export interface NativeHcLossMatrix {
  theta: Float32Array;
  /** The gates' uniforms in (0, 1); absent: the mean gate. */
  u?: Float32Array | null;
  /** Receives dLoss/dtheta. */
  dTheta?: Float32Array | null;
}

export interface NativeHcBlockLoss extends NativeHcObjective {
  batch: number;
  seq: number;
  mats: Partial<Record<VdBlockKey, NativeHcLossMatrix>>;
  /** Receives the gated block's output. */
  out?: Float32Array | null;
}

export interface NativeHcTrainBlock extends NativeHcObjective {
  sequences: number;
  seq: number;
  /** theta per gated matrix: read as the start, written. */
  mats: Partial<Record<VdBlockKey, { theta: Float32Array }>>;
  steps: number;
  lr: number;
  batchSequences: number;
  seed: number;
  /** cancel[0] set non-zero stops the training between steps (rejects with E_ABORTED). */
  cancel?: Int32Array | null;
}

export interface NativeHcTrainResult {
  first: NativeHcLoss;
  last: NativeHcLoss;
  /** The mean gate's weighted reconstruction error over every sequence, after training. */
  mseMean: number;
}

export interface MaskNative {
  hcBlockLoss(block: NativeBlockSpec, a: NativeHcBlockLoss): Promise<NativeHcLoss>;
  hcTrainBlock(block: NativeBlockSpec, a: NativeHcTrainBlock): Promise<NativeHcTrainResult>;
}

export function maskNative(): MaskNative {
  return addon().module as unknown as MaskNative;
}
