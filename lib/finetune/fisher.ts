// The empirical Fisher diagonal EWC weighs its pull with: F = mean over sequences s of
// G_s^2, G_s = dL_s/dW the gradient of sequence s's mean next-token NLL (one backward
// pass per sequence, the gradient methods' protocol: docs/gradient-methods.md), for every
// parameter tensor, on the input model. Accumulated with GradientMoments (native).
import { lossAndGradients } from '../backward/gradients';
import { CalibrationSet } from '../calibration/sample';
import { GradientMoments } from '../methods/gradient-moments';
import { LoadedModel } from '../model/types';

export interface FisherResult {
  fisher: Map<string, Float32Array>;
  sequences: number;
  /** Mean NLL of the sequences on the input model. */
  meanLoss: number;
}

export async function empiricalFisher(
  model: LoadedModel,
  set: CalibrationSet,
  o: { signal?: AbortSignal; onSequence?: (done: number, total: number) => void } = {},
): Promise<FisherResult> {
  const moments = new Map<string, GradientMoments>();
  const L = set.seqLen;
  let lossSum = 0;
  for (let s = 0; s < set.samples; ++s) {
    o.signal?.throwIfAborted();
    const r = await lossAndGradients(model, set.tokens.subarray(s * L, (s + 1) * L), { batch: 1, seq: L, signal: o.signal });
    lossSum += r.loss;
    for (const [name, g] of r.grads) {
      let acc = moments.get(name);
      if (!acc) moments.set(name, (acc = new GradientMoments(g.length, { sumSq: true })));
      await acc.add(g);
    }
    o.onSequence?.(s + 1, set.samples);
  }
  const fisher = new Map<string, Float32Array>();
  for (const [name, acc] of moments) {
    const f = acc.sumSq!;
    const inv = 1 / acc.count;
    for (let i = 0; i < f.length; ++i) f[i] *= inv;
    fisher.set(name, f);
  }
  return { fisher, sequences: set.samples, meanLoss: lossSum / set.samples };
}
