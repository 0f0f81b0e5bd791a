// Hand-written interface of the sparse variational dropout part of the native addon
// (native/bindings/vd_bindings.cc). lib/methods/variational-dropout/ is its only user.
// Every array is a row-major Float32Array: x [n, in], theta / logSigma2 [out, in], y [n, out].
import { addon } from './binding';
import type { VdBlockNative } from './vd-block';

export interface NativeVdDims {
  n: number;
  in: number;
  out: number;
}

export interface NativeVdForward extends NativeVdDims {
  x: Float32Array;
  theta: Float32Array;
  logSigma2: Float32Array;
  /** N(0, 1) noise [n, out]; absent: the mean network (y = x theta^T). */
  eps?: Float32Array | null;
  y: Float32Array;
  /** sqrt(x^2 sigma^2^T + 1e-8) [n, out], written when eps is given (the backward reads it). */
  std?: Float32Array | null;
}

export interface NativeVdBackward extends NativeVdDims {
  x: Float32Array;
  theta: Float32Array;
  logSigma2: Float32Array;
  eps?: Float32Array | null;
  std?: Float32Array | null;
  dy: Float32Array;
  /** Overwritten. */
  dx?: Float32Array | null;
  /** Accumulated (+=). */
  dTheta?: Float32Array | null;
  /** Accumulated (+=). */
  dLogSigma2?: Float32Array | null;
}

export interface NativeVdKl {
  theta: Float32Array;
  logSigma2: Float32Array;
  /** Multiplies the gradients added to dTheta / dLogSigma2 (default 1). */
  scale?: number;
  dTheta?: Float32Array | null;
  dLogSigma2?: Float32Array | null;
  /** Receives the clipped log alpha of every weight. */
  logAlpha?: Float32Array | null;
}

/** The training settings both trainings take (layer by layer, block by block). */
export interface NativeVdSchedule {
  steps: number;
  lrTheta: number;
  lrLogSigma2: number;
  beta: number;
  /** The N of KL / N: the calibration tokens the data stands for. */
  klTokens: number;
  warmup: number;
  logSigma2Init: number;
  seed: number;
}

export interface NativeVdTrain extends NativeVdDims, NativeVdSchedule {
  /** The layer's calibration inputs [n, in]. */
  x: Float32Array;
  /** The dense weights [out, in], float32. */
  w: Float32Array;
  /** Outputs [out, in]. */
  theta: Float32Array;
  logSigma2: Float32Array;
  logAlpha: Float32Array;
  /** Receives -log alpha, unclipped (the pruning score: lowest pruned first). */
  score?: Float32Array | null;
  batchRows: number;
}

export interface NativeVdTrainResult {
  mseFirst: number;
  mseLast: number;
  mseMean: number;
  kl: number;
}

/** The layer-wise calls here, the block-wise ones in ./vd-block. */
export interface VdNative extends VdBlockNative {
  vdLinearForward(a: NativeVdForward): Promise<void>;
  vdLinearBackward(a: NativeVdBackward): Promise<void>;
  /** Resolves with sum KL (the paper's approximation) over the weights. */
  vdKl(a: NativeVdKl): Promise<number>;
  /** The paper's -KL of one log alpha. */
  vdNegKl(logAlpha: number): number;
  vdTrainLayer(a: NativeVdTrain): Promise<NativeVdTrainResult>;
  /** Counts of `values` in `bins` equal bins over [lo, hi] (outside: first or last bin). */
  vdHistogram(values: Float32Array, lo: number, hi: number, bins: number): Float64Array;
}

export function vdNative(): VdNative {
  return addon().module as unknown as VdNative;
}
