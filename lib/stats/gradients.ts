// `shears stats --gradients`: the per-weight gradient moments of every linear layer of
// the blocks (S1 = sum_s G_s, S2 = sum_s G_s^2 over the calibration sequences,
// docs/gradient-methods.md), gathered by the gradient pass in accumulate mode; past the
// budget they live in file-backed pages of a scratch folder beside the output, so the
// private memory stays one block's gradients plus the activations. The writer streams
// them from there (no second copy).
import { scratchBeside } from '../formats/atomic';
import { GradientMoments } from '../methods/gradient-moments';
import type { LoadedModel } from '../model/types';
import { CalibrationSet } from '../calibration/sample';
import { gradientPass } from '../prune/gradient-pass';
import { blockLinears } from '../prune/layers';
import { PhaseClock } from '../util/clock';

export interface GatheredGradients {
  /** Canonical weight -> its moments (sum and sumSq), in block order. */
  moments: Map<string, GradientMoments>;
  /** Unmaps the scratch pages and removes the scratch folder. Idempotent. */
  release(): void;
}

export async function gatherGradients(
  model: LoadedModel,
  cal: CalibrationSet,
  o: { out: string; clock: PhaseClock; signal?: AbortSignal; budgetBytes?: number; onSequence?: (done: number, total: number) => void },
): Promise<GatheredGradients> {
  const moments = new Map<string, GradientMoments>();
  for (let b = 0; b < model.config.numLayers; b++)
    for (const l of blockLinears(model.config, model.tensors, b))
      moments.set(l.name, new GradientMoments(model.tensors.get(l.name)!.data.length, { sum: true, sumSq: true }));
  const scratch = scratchBeside(o.out);
  let release = () => scratch.remove();
  try {
    const collectors = new Map([...moments].map(([name, m]) => [name, { gradient: m }]));
    const pass = await gradientPass(model, cal, collectors, { clock: o.clock, signal: o.signal, scratch, budgetBytes: o.budgetBytes, onSequence: o.onSequence });
    release = () => {
      pass.release();
      scratch.remove();
    };
  } catch (e) {
    release();
    throw e;
  }
  return { moments, release };
}
