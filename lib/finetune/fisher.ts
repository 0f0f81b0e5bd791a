// The empirical Fisher diagonal EWC weighs its pull with: F = mean over sequences s of
// G_s^2, G_s = dL_s/dW the gradient of sequence s's mean next-token NLL (one backward
// pass per sequence, the gradient methods' protocol: docs/gradient-methods.md), for the
// weight matrices of the blocks (the matrices a pruning method prunes). Gathered by the
// gradient pass in accumulate mode (lib/prune/gradient-pass.ts): one block's gradients in
// memory at a time, the sums in file-backed scratch pages past the budget. F is kept as
// the sum S2 = sum_s G_s^2 and its scale 1/K (no pass to divide it).
import { CalibrationSet } from '../calibration/sample';
import { GradientMoments } from '../methods/gradient-moments';
import { LoadedModel } from '../model/types';
import { optimNative } from '../native/optim';
import { gradientPass } from '../prune/gradient-pass';
import { selectLayers } from '../prune/layers';
import { PhaseClock } from '../util/clock';
import type { Scratch } from '../util/scratch';

export interface FisherResult {
  /** Per block weight matrix (canonical name): S2 = sum over the sequences of G^2, float32 in the weight's layout. */
  sumSq: Map<string, Float32Array>;
  /** F = scale * S2 (1 / sequences). */
  scale: number;
  sequences: number;
  /** Mean NLL of the sequences on the model. */
  meanLoss: number;
  /** Unmaps the scratch pages of S2 (the arrays become empty): call once the EWC term is no longer used. Idempotent. */
  release(): void;
}

export interface FisherOptions {
  signal?: AbortSignal;
  onSequence?: (done: number, total: number) => void;
  /** The run's scratch folder: S2 goes to file-backed pages there past budgetBytes. */
  scratch?: Scratch;
  budgetBytes?: number;
  clock?: PhaseClock;
}

export async function empiricalFisher(model: LoadedModel, set: CalibrationSet, o: FisherOptions = {}): Promise<FisherResult> {
  const moments = new Map<string, GradientMoments>();
  for (const l of selectLayers(model.config, model.tensors).blocks.flat())
    moments.set(l.name, new GradientMoments(model.tensors.get(l.name)!.data.length, { sumSq: true }));
  const pass = await gradientPass(model, set, new Map([...moments].map(([name, m]) => [name, { gradient: m }])), {
    clock: o.clock ?? new PhaseClock(),
    signal: o.signal,
    onSequence: o.onSequence,
    scratch: o.scratch,
    budgetBytes: o.budgetBytes,
  });
  return {
    sumSq: new Map([...moments].map(([name, m]) => [name, m.sumSq!])),
    scale: 1 / set.samples,
    sequences: set.samples,
    meanLoss: pass.meanLoss,
    release: pass.release,
  };
}

/** Mean and maximum of F = scale * S2 over every weight of the matrices (native summaries of S2). */
export function fisherSummary(sumSq: Map<string, Float32Array>, scale: number): { fisher_mean: number; fisher_max: number } {
  let sum = 0;
  let n = 0;
  let max = 0;
  for (const f of sumSq.values()) {
    const s = optimNative().floatSummary(f);
    sum += s.sum;
    n += f.length;
    max = Math.max(max, s.max);
  }
  return { fisher_mean: n ? (sum / n) * scale : 0, fisher_max: max * scale };
}
