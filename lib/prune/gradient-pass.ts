// The gradient pass of the gradient methods (docs/gradient-methods.md): one backward pass
// per calibration sequence on the dense model ("one-shot": nothing is pruned yet), each
// selected matrix's gradient handed to the collectors its method made for it
// (Strategy.collectWeights). L_s is the mean next-token NLL of sequence s, so G_s is the
// gradient of that sequence's own loss.
import { lossAndGradients } from '../backward/gradients';
import { CalibrationSet } from '../calibration/sample';
import { LoadedModel } from '../model/types';
import type { StrategyStats } from '../strategies';
import { PhaseClock } from '../util/clock';

export interface GradientPassOptions {
  clock: PhaseClock;
  signal?: AbortSignal;
  /** Called after each sequence (1-based). */
  onSequence?: (done: number, total: number) => void;
}

/** Feeds `collectors` (by weight name) the gradient of every calibration sequence's loss. */
export async function gradientPass(model: LoadedModel, cal: CalibrationSet, collectors: Map<string, StrategyStats>, o: GradientPassOptions): Promise<void> {
  const L = cal.seqLen;
  for (let s = 0; s < cal.samples; s++) {
    o.signal?.throwIfAborted();
    const tokens = cal.tokens.subarray(s * L, (s + 1) * L);
    const { grads } = await o.clock.time('backward', () => lossAndGradients(model, tokens, { batch: 1, seq: L, signal: o.signal }));
    await o.clock.time('statistics', async () => {
      for (const [name, stats] of collectors) {
        const g = grads.get(name);
        if (!g) throw new TypeError(`the backward pass returned no gradient for ${name}`);
        const rows = model.tensors.get(name)!.shape[0];
        for (const c of Object.values(stats)) await c?.add(g, rows);
      }
    });
    o.onSequence?.(s + 1, cal.samples);
  }
}
