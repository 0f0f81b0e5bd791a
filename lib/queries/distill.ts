// The learning step of query-aware pruning (lib/methods/plugins/query-aware.ts): after
// every matrix is pruned and repaired, the kept weights of the pruned matrices are
// trained end to end on the query environment to minimise KL(dense || pruned) of the
// next-token distributions on every position (the backward pass's distillation loss,
// lib/backward/gradients.ts teacherLogits), AdamW, every pruned weight held at exactly
// zero. The teacher is the dense model read through a second, read-only mapping of the
// input. Memory: the pruned matrices' owned copies and Adam moments (as any recovery),
// and one batch's teacher logits (batch x seq x vocab floats).
import * as path from 'node:path';

import { klTop1 } from '../forward/compare';
import { ForwardModel } from '../forward/model';
import { checkMasks, MaskNotPreservedError, masksOf } from '../finetune/mask';
import { trainPrunedLayers } from '../finetune/train';
import type { RecoveryContext, RecoveryReport } from '../methods/plugin';

/** Mean KL(dense || pruned) over the predicting positions (all but each window's last) of the set's windows. */
async function meanKl(ctx: RecoveryContext, dense: ForwardModel): Promise<number> {
  const { set } = ctx.queries;
  const pruned = new ForwardModel(ctx.model);
  const L = set.seqLen;
  const V = dense.config.vocabSize;
  let sum = 0;
  for (let s = 0; s < set.samples; s++) {
    ctx.signal?.throwIfAborted();
    const tokens = set.tokens.subarray(s * L, (s + 1) * L);
    const rows = L - 1;
    const hd = await dense.forward(tokens, 1, L);
    const hp = await pruned.forward(tokens, 1, L);
    const H = dense.config.hiddenSize;
    const c = await klTop1(await dense.logits(hd.subarray(0, rows * H), rows), await pruned.logits(hp.subarray(0, rows * H), rows), V);
    for (let r = 0; r < rows; r++) sum += c.kl[r];
  }
  return sum / (set.samples * (L - 1));
}

export async function distillOnEnvironment(ctx: RecoveryContext): Promise<RecoveryReport> {
  const { model, settings } = ctx;
  const set = ctx.queries.set;
  const dense = new ForwardModel(ctx.dense);
  const teacher = async (tokens: Int32Array, batch: number) => dense.logits(await dense.forward(tokens, batch, set.seqLen), batch * set.seqLen);
  const masks = masksOf(model, ctx.layers);
  const measure = (when: string) => ctx.clock.time(`recovery.eval.${when}`, () => meanKl(ctx, dense));
  const before = await measure('before');
  const { losses } = await trainPrunedLayers(ctx, masks, { teacher: (tokens) => teacher(tokens, settings.batch) });
  const after = await measure('after');
  const broken = checkMasks(masks, model).find((c) => !c.preserved);
  if (broken)
    throw new MaskNotPreservedError(`${broken.name}: the zeros moved during the distillation (${broken.zeros_before} before, ${broken.zeros_after} after); nothing was written`);
  const pruned = masks.reduce((a, m) => a + m.zeros, 0);
  return {
    method: 'adamw, mask held, distillation: KL(dense || pruned) on every position of the query environment',
    objective: 'kl',
    queries: { source: path.resolve(ctx.queries.source), samples: set.samples, seq_len: set.seqLen },
    steps: settings.steps,
    lr: settings.lr,
    batch: settings.batch,
    loss_before: before,
    loss_after: after,
    losses,
    mask_preserved: true,
    pruned_weights: pruned,
    trained_parameters: masks.reduce((a, m) => a + model.tensors.get(m.name)!.data.length - m.zeros, 0),
  };
}
