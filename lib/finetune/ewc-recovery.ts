// The recovery step of the ewc pruning method (lib/methods/plugins/ewc.ts): the pruned
// matrices are trained on the user's queries by the fine-tuning loop (train.ts), every
// pruned weight held at exactly zero, with the EWC pull lambda/2 * sum F (w - w*)^2
// toward the dense weights w* (read through a second, read-only mapping of the input:
// no private copy), F the empirical Fisher diagonal of the dense model on the calibration
// text (what the gradient pass gathered for the fisher score, kept until here).
import * as path from 'node:path';

import { perplexity } from '../eval/perplexity';
import { ShapeError } from '../errors';
import { ForwardModel } from '../forward/model';
import type { RecoveryContext, RecoveryReport } from '../methods/plugin';
import { LoadedModel } from '../model/types';
import { NativeDTyped } from '../native/optim';
import { EwcTerm } from './adamw';
import { fisherSummary } from './fisher';
import { checkMasks, MaskNotPreservedError, masksOf } from './mask';
import { trainPrunedLayers } from './train';

/** The Fisher diagonal of the pruned matrices: S2 (sum over K sequences of G^2) per name, F = S2 / K. */
export interface FisherSums {
  sumSq: Map<string, Float32Array>;
  sequences: number;
  source: string;
}

/** Mean next-token NLL over the query windows (each a window of the set). */
async function queryLoss(model: LoadedModel, ctx: RecoveryContext): Promise<number> {
  const set = ctx.queries.set;
  return ctx.clock.time('recovery.eval', async () => (await perplexity(new ForwardModel(model), set.tokens, { seqLen: set.seqLen })).meanNll);
}

/** The dense weights of each matrix, as mapped from the input (never written). */
function anchors(ctx: RecoveryContext): Map<string, NativeDTyped> {
  return new Map(
    ctx.layers.map((name) => {
      const d = ctx.dense.tensors.get(name);
      const p = ctx.model.tensors.get(name)!;
      if (!d || d.data.length !== p.data.length)
        throw new ShapeError(`${name}: the input ${ctx.dense.path} has no tensor of the pruned model's shape [${p.shape.join(', ')}]`);
      return [name, { data: d.data, dtype: d.dtype }];
    }),
  );
}

export async function recoverWithEwc(ctx: RecoveryContext, fisher: FisherSums): Promise<RecoveryReport> {
  const { model, settings } = ctx;
  const masks = masksOf(model, ctx.layers);
  const ewc: EwcTerm = { lambda: settings.lambda, fisher: fisher.sumSq, fisherScale: 1 / fisher.sequences, anchor: anchors(ctx) };
  const before = await queryLoss(model, ctx);
  const { opt, losses } = await trainPrunedLayers(ctx, masks, { ewc });
  const after = await queryLoss(model, ctx);
  const checks = checkMasks(masks, model);
  const broken = checks.find((c) => !c.preserved);
  if (broken)
    throw new MaskNotPreservedError(`${broken.name}: the zeros moved during the recovery (${broken.zeros_before} before, ${broken.zeros_after} after); nothing was written`);
  const pruned = masks.reduce((a, m) => a + m.zeros, 0);
  const summary = fisherSummary(fisher.sumSq, 1 / fisher.sequences);
  return {
    method: 'adamw, mask held, EWC toward the dense weights',
    queries: { source: path.resolve(ctx.queries.source), samples: ctx.queries.set.samples, seq_len: ctx.queries.set.seqLen },
    steps: settings.steps,
    lr: settings.lr,
    batch: settings.batch,
    objective: 'nll',
    ewc_lambda: settings.lambda,
    loss_before: before,
    loss_after: after,
    losses,
    ewc_penalty_after: opt.ewcPenalty(),
    fisher: { source: path.resolve(fisher.source), sequences: fisher.sequences, mean: summary.fisher_mean, max: summary.fisher_max },
    mask_preserved: true,
    pruned_weights: pruned,
    trained_parameters: masks.reduce((a, m) => a + model.tensors.get(m.name)!.data.length - m.zeros, 0),
  };
}
