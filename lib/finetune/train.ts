// The training loop of recovery fine-tuning, shared by `shears finetune` and the ewc
// pruning method's recovery (lib/methods/plugins/ewc.ts): AdamW on the mean next-token
// loss of `batch` sequences a step (lib/backward/gradients.ts), every pruned weight held
// at exactly zero by the optimizer's keep-masks, an optional EWC pull. The model's
// trained tensors are replaced by owned copies that the optimizer updates (AdamW.create).
import { lossAndGradients } from '../backward/gradients';
import { CalibrationSet } from '../calibration/sample';
import { NonFiniteError } from '../errors';
import { LoadedModel } from '../model/types';
import { PhaseClock } from '../util/clock';
import { AdamW, AdamWHyper, EwcTerm } from './adamw';
import { BatchOrder } from './batches';
import type { MatrixMask } from './mask';
import type { RecoveryContext } from '../methods/plugin';

export const ADAM_DEFAULTS = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };

export interface MaskedTraining {
  model: LoadedModel;
  /** The training sequences, visited in seeded epochs (lib/finetune/batches.ts). */
  data: CalibrationSet;
  steps: number;
  batch: number;
  seed: number;
  hyper: AdamWHyper;
  /** Packed keep-masks (bit set: trains) of the tensors whose zeros are held. */
  keep: Map<string, Uint8Array>;
  /** The tensors trained (default: every tensor that has a gradient). */
  names?: readonly string[];
  ewc?: EwcTerm;
  /**
   * Distil instead of the next-token NLL: the teacher's logits (batch*seq x vocab) on a
   * step's tokens; the loss is then the mean KL(teacher || model) (lossAndGradients).
   */
  teacher?: (tokens: Int32Array) => Promise<Float32Array>;
  clock: PhaseClock;
  signal?: AbortSignal;
  /** What a non-finite loss at step 1 blames (the input model's path). */
  modelLabel: string;
  /** After each step's update (progress, checkpoints); awaited. */
  onStep?: (step: number, loss: number, opt: AdamW) => void | Promise<void>;
}

export interface TrainingResult {
  opt: AdamW;
  /** Mean next-token NLL (with a teacher: mean KL) of each step's batch, before that step's update. */
  losses: number[];
}

export async function trainMasked(t: MaskedTraining): Promise<TrainingResult> {
  const order = new BatchOrder(t.data, t.seed);
  const losses: number[] = [];
  let opt: AdamW | undefined;
  // Step 1's gradient buffers, overwritten by every later step (pages faulted in once).
  let grads: Map<string, Float32Array> | undefined;
  for (let step = 1; step <= t.steps; ++step) {
    t.signal?.throwIfAborted();
    const tokens = order.take(t.batch);
    const teacherLogits = t.teacher ? await t.clock.time('teacher', () => t.teacher!(tokens)) : undefined;
    const call = () => lossAndGradients(t.model, tokens, { batch: t.batch, seq: t.data.seqLen, signal: t.signal, into: grads, teacherLogits });
    const r = await t.clock.time('gradients', call).catch((e: unknown) => {
      // After step 1 the input model's loss was finite, so the updates diverged: say when, and what to change.
      if ((e as { code?: string }).code === 'E_NONFINITE')
        throw new NonFiniteError(`step ${step}: ${(e as Error).message}${step > 1 ? '; the weights diverged: try a smaller --lr' : ` (${t.modelLabel} itself)`}`, { cause: e });
      throw e;
    });
    grads = r.grads;
    if (!opt) opt = await AdamW.create(t.model, t.names ?? [...r.grads.keys()], t.keep, t.hyper, t.ewc);
    await t.clock.time('update', () => opt!.update(r.grads));
    losses.push(r.loss);
    await t.onStep?.(step, r.loss, opt);
  }
  return { opt: opt!, losses };
}

/**
 * A pruning method's recovery (ewc, query-aware): the pruned matrices of ctx trained on
 * its query windows with the recovery settings, every pruned weight (masks) held at zero.
 */
export function trainPrunedLayers(ctx: RecoveryContext, masks: readonly MatrixMask[], extra: Pick<MaskedTraining, 'ewc' | 'teacher'>): Promise<TrainingResult> {
  const { settings } = ctx;
  return ctx.clock.time('recovery', () =>
    trainMasked({
      model: ctx.model,
      data: ctx.queries.set,
      steps: settings.steps,
      batch: settings.batch,
      seed: settings.seed,
      hyper: { lr: settings.lr, weightDecay: 0, ...ADAM_DEFAULTS },
      keep: new Map(masks.map((m) => [m.name, m.keep])),
      names: ctx.layers,
      ...extra,
      clock: ctx.clock,
      signal: ctx.signal,
      modelLabel: 'the pruned model',
      onStep: (step, loss) => ctx.onStep?.(step, settings.steps, loss),
    }),
  );
}
