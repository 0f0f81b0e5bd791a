// One layer's variational dropout: learn (theta, log sigma^2) so that the layer, fed its
// calibration inputs, reproduces the dense layer's outputs (the native vdTrainLayer), and
// return what pruning reads: the score -log alpha, theta, and the log alpha histogram.
import { nativeCall } from '../../errors';
import { NativeVdTrainResult, vdNative } from '../../native/vd';
import type { VdSettings } from './options';

/** Bins of the log alpha histograms: 16 of width 1 over the clip range [-8, 8]. */
export const LOG_ALPHA_RANGE = { lo: -8, hi: 8, bins: 16 } as const;

export interface LayerTraining extends NativeVdTrainResult {
  theta: Float32Array;
  logSigma2: Float32Array;
  /** Clipped to [-8, 8]. */
  logAlpha: Float32Array;
  /** -log alpha, unclipped: lowest pruned first. */
  score: Float32Array;
  /** Counts of log alpha per LOG_ALPHA_RANGE bin. */
  histogram: Float64Array;
}

/**
 * x: [n, in] calibration inputs; w: [out, in] dense weights (float32); tokens: the
 * calibration tokens x stands for (the N of KL / N).
 */
export async function trainLayer(x: Float32Array, n: number, w: Float32Array, out: number, tokens: number, s: VdSettings, seed: number): Promise<LayerTraining> {
  const inDim = w.length / out;
  const size = w.length;
  const theta = new Float32Array(size);
  const logSigma2 = new Float32Array(size);
  const logAlpha = new Float32Array(size);
  const score = new Float32Array(size);
  const r = await nativeCall(() =>
    vdNative().vdTrainLayer({
      x, n, in: inDim, out, w, theta, logSigma2, logAlpha, score,
      steps: s.steps, batchRows: s.batchRows, lrTheta: s.lrTheta, lrLogSigma2: s.lrLogSigma2,
      beta: s.beta, klTokens: Math.max(1, tokens), warmup: s.warmup, logSigma2Init: s.logSigma2Init, seed,
    }),
  );
  const histogram = vdNative().vdHistogram(logAlpha, LOG_ALPHA_RANGE.lo, LOG_ALPHA_RANGE.hi, LOG_ALPHA_RANGE.bins);
  return { ...r, theta, logSigma2, logAlpha, score, histogram };
}
