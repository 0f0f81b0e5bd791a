// One block's variational dropout: learn (theta, log sigma^2) of the block's selected
// matrices together, so that the block's output (not each layer's) reconstructs the dense
// block's output on the block's calibration inputs (the native vdTrainBlock), and return
// what pruning reads per matrix: the score -log alpha, theta, the log alpha histogram.
import { nativeCall, ShapeError } from '../../errors';
import type { NativeBlockSpec } from '../../native/forward';
import { NativeVdTrainBlockResult, NativeVdTrainMatrix, VdBlockKey } from '../../native/vd-block';
import { vdNative } from '../../native/vd';
import type { VdSettings } from './options';
import { LOG_ALPHA_RANGE } from './train';

/** The block's matrix key of a canonical weight name (fc1 / fc2 are the up / down of an ungated MLP). */
export function blockKey(name: string): VdBlockKey {
  const m = /^blocks\.\d+\.(?:attn\.(q|k|v|o)|mlp\.(gate|up|down|fc1|fc2))\.weight$/.exec(name);
  if (!m) throw new ShapeError(`variational-dropout learns the linear layers of a block (attn q/k/v/o, mlp gate/up/down or fc1/fc2), not ${name}`);
  const k = m[1] ?? m[2];
  return (k === 'fc1' ? 'up' : k === 'fc2' ? 'down' : k) as VdBlockKey;
}

export interface MatrixTraining {
  theta: Float32Array;
  logSigma2: Float32Array;
  /** Clipped to [-8, 8]. */
  logAlpha: Float32Array;
  /** -log alpha, unclipped: lowest pruned first. */
  score: Float32Array;
  kl: number;
  /** Counts of log alpha per LOG_ALPHA_RANGE bin. */
  histogram: Float64Array;
}

export interface BlockTraining extends Omit<NativeVdTrainBlockResult, 'kl'> {
  /** By canonical weight name. */
  matrices: Map<string, MatrixTraining>;
}

export interface BlockData {
  spec: NativeBlockSpec;
  /** The selected matrices' canonical names, with their shapes [out, in]. */
  layers: { name: string; rows: number; cols: number }[];
  inputs: Float32Array;
  targets: Float32Array;
  sequences: number;
  seq: number;
}

/** Trains the block; `signal` stops it between Adam steps (an AbortError). */
export async function trainBlock(d: BlockData, s: VdSettings, seed: number, signal?: AbortSignal): Promise<BlockTraining> {
  const mats: Partial<Record<VdBlockKey, NativeVdTrainMatrix>> = {};
  type Buffers = Pick<MatrixTraining, 'theta' | 'logSigma2' | 'logAlpha' | 'score'>;
  const byName = new Map<string, { key: VdBlockKey; m: Buffers }>();
  for (const l of d.layers) {
    const size = l.rows * l.cols;
    const m: Buffers = { theta: new Float32Array(size), logSigma2: new Float32Array(size), logAlpha: new Float32Array(size), score: new Float32Array(size) };
    const key = blockKey(l.name);
    mats[key] = m;
    byName.set(l.name, { key, m });
  }
  const cancel = new Int32Array(1);
  const stop = () => (cancel[0] = 1);
  signal?.addEventListener('abort', stop);
  let r: NativeVdTrainBlockResult;
  try {
    signal?.throwIfAborted();
    r = await nativeCall(() =>
      vdNative().vdTrainBlock(d.spec, {
        x: d.inputs, target: d.targets, sequences: d.sequences, seq: d.seq, mats, cancel,
        steps: s.steps, batchSequences: s.batchSequences, lrTheta: s.lrTheta, lrLogSigma2: s.lrLogSigma2,
        beta: s.beta, klTokens: d.sequences * d.seq, warmup: s.warmup, logSigma2Init: s.logSigma2Init, seed,
      }),
    );
  } catch (e) {
    // The native E_ABORTED becomes the signal's own reason, as every cancelled run reports it.
    signal?.throwIfAborted();
    throw e;
  } finally {
    signal?.removeEventListener('abort', stop);
  }
  const { lo, hi, bins } = LOG_ALPHA_RANGE;
  const matrices = new Map<string, MatrixTraining>();
  for (const [name, { key, m }] of byName)
    matrices.set(name, { ...m, kl: r.kl[key] ?? 0, histogram: vdNative().vdHistogram(m.logAlpha, lo, hi, bins) });
  return { mseFirst: r.mseFirst, mseLast: r.mseLast, mseMean: r.mseMean, matrices };
}
