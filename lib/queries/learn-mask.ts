// Learned masks block by block (issue 12, step 3 "learn theta"; docs/query-aware-building-
// blocks.md, "Learned masks"): a hard-concrete gate per weight of a block's linear layers,
// its logit theta trained (native hcTrainBlock, off the JavaScript thread) so that the gated
// block reconstructs the dense block's outputs on the calibration sequences, weighted per
// token, under a pull of the expected density towards the target.
import { ArgumentRangeError, nativeCall, ShapeError } from '../errors';
import { blockKey } from '../methods/variational-dropout/train-block';
import type { NativeBlockSpec } from '../native/forward';
import { maskNative, NativeHcLoss } from '../native/mask';
import type { VdBlockKey } from '../native/vd-block';

export interface LearnMaskOptions {
  /** The target sparsity (pruned fraction) of the block, in [0, 1). */
  sparsity: number;
  /** Per matrix (by canonical name) instead: one density penalty term each. */
  matrixSparsity?: ReadonlyMap<string, number>;
  /** Weight of (expected density - target)^2 (default 100; see docs/query-aware-building-blocks.md). */
  lambda?: number;
  /** Adam steps (default 200), learning rate on theta (default 0.1). */
  steps?: number;
  lr?: number;
  /** Calibration sequences per step (default 4). */
  batchSequences?: number;
  seed?: number;
  /** The hard-concrete gate (defaults 2/3, -0.1, 1.1: Louizos et al. 2018). */
  beta?: number;
  gamma?: number;
  zeta?: number;
  signal?: AbortSignal;
}

export const LEARN_MASK_DEFAULTS = { lambda: 100, steps: 200, lr: 0.1, batchSequences: 4, seed: 0, beta: 2 / 3, gamma: -0.1, zeta: 1.1 } as const;

export interface LearnBlockData {
  spec: NativeBlockSpec;
  /** The gated matrices: canonical name, shape [out, in] and the start theta0 (written: the learned theta). */
  layers: { name: string; rows: number; cols: number; theta: Float32Array }[];
  /** The block's inputs and the dense block's outputs on them, [sequences * seq, hidden]. */
  inputs: Float32Array;
  targets: Float32Array;
  /** Per-token loss weights [sequences * seq] (default 1; see answerWeights). */
  tokenWeights?: Float32Array;
  sequences: number;
  seq: number;
}

export interface LearnedBlock {
  /** Loss terms on the first and the last step's minibatch. */
  first: NativeHcLoss;
  last: NativeHcLoss;
  /** The mean gate's weighted reconstruction error over every sequence, after training. */
  mseMean: number;
}

function checkFraction(v: number, what: string): number {
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new ArgumentRangeError(`${what} must be a number in [0, 1), got ${String(v)}`);
  return v;
}

/** The native per-matrix targets (kept fractions) by block key. */
function matrixTargets(d: LearnBlockData, o: LearnMaskOptions): Partial<Record<VdBlockKey, number>> | null {
  if (!o.matrixSparsity) return null;
  const targets: Partial<Record<VdBlockKey, number>> = {};
  for (const l of d.layers) {
    const s = o.matrixSparsity.get(l.name);
    if (s === undefined) throw new ArgumentRangeError(`matrixSparsity has no entry for ${l.name}`);
    targets[blockKey(l.name)] = 1 - checkFraction(s, `matrixSparsity of ${l.name}`);
  }
  return targets;
}

/** Learns theta of the block's gated matrices in place; `signal` stops it between Adam steps. */
export async function learnBlockTheta(d: LearnBlockData, o: LearnMaskOptions): Promise<LearnedBlock> {
  const sparsity = checkFraction(o.sparsity, 'sparsity');
  const mats: Partial<Record<VdBlockKey, { theta: Float32Array }>> = {};
  for (const l of d.layers) {
    const key = blockKey(l.name);
    if (mats[key]) throw new ShapeError(`${l.name}: the block's ${key} matrix is given twice`);
    if (!(l.theta instanceof Float32Array) || l.theta.length !== l.rows * l.cols)
      throw new ShapeError(`${l.name}: theta must be a Float32Array of ${l.rows} x ${l.cols}`);
    mats[key] = { theta: l.theta };
  }
  const s = { ...LEARN_MASK_DEFAULTS, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) };
  const cancel = new Int32Array(1);
  const stop = () => (cancel[0] = 1);
  o.signal?.addEventListener('abort', stop);
  try {
    o.signal?.throwIfAborted();
    return await nativeCall(() =>
      maskNative().hcTrainBlock(d.spec, {
        x: d.inputs, target: d.targets, weights: d.tokenWeights ?? null, sequences: d.sequences, seq: d.seq, mats,
        targetDensity: 1 - sparsity, targets: matrixTargets(d, o), lambda: s.lambda, beta: s.beta, gamma: s.gamma, zeta: s.zeta,
        steps: s.steps, lr: s.lr, batchSequences: s.batchSequences, seed: s.seed, cancel,
      }),
    );
  } catch (e) {
    // The native E_ABORTED becomes the signal's own reason, as every cancelled run reports it.
    o.signal?.throwIfAborted();
    throw e;
  } finally {
    o.signal?.removeEventListener('abort', stop);
  }
}

/**
 * Per-token loss weights [sequences.length * seq] for the sequences right-padded to seq
 * tokens: `answer` (default 1) on the rows that predict a continuation token (answerStart - 1
 * .. L - 2, as heldOutMeasures' answer part), `other` (default 1) on the sequence's other
 * rows, 0 on the padding (causal attention: the padding changes no earlier row).
 */
export function answerWeights(sequences: readonly { ids: ArrayLike<number>; answerStart: number }[], seq: number, o: { answer?: number; other?: number } = {}): Float32Array {
  const answer = o.answer ?? 1, other = o.other ?? 1;
  if (!(answer >= 0 && other >= 0 && Number.isFinite(answer) && Number.isFinite(other)))
    throw new ArgumentRangeError('answerWeights: answer and other must be finite numbers >= 0');
  const w = new Float32Array(sequences.length * seq);
  sequences.forEach((s, i) => {
    const len = s.ids.length;
    if (len > seq) throw new ShapeError(`sequence ${i} has ${len} tokens, more than seq = ${seq}`);
    w.fill(other, i * seq, i * seq + len);
    if (len >= 2) w.fill(answer, i * seq + Math.max(0, s.answerStart - 1), i * seq + len - 1);
  });
  return w;
}
