// The learning step of query-aware pruning (lib/methods/plugins/query-aware.ts): after
// every matrix is pruned and repaired, the kept weights of the pruned matrices are
// trained end to end on the query environment to minimise KL(dense || pruned) of the
// next-token distributions on every position (the backward pass's distillation loss,
// lib/backward/gradients.ts teacherLogits), AdamW, every pruned weight held at exactly
// zero. The teacher is the dense model read through a second, read-only mapping of the
// input. Block-wise: one block's matrices at a time, with the gradient of the
// same end-to-end loss for them only; memory: one block's gradients, copies and AdamW
// state, one batch's activations and teacher logits (batch x seq x vocab floats). Joint:
// every pruned matrix at every step (the whole model's gradients and AdamW state).
// auto (default): joint while that state fits in JOINT_BUDGET_BYTES, else block-wise.
import * as path from 'node:path';

import { heldOutMeasures } from '../eval/held-out';
import { ForwardModel } from '../forward/model';
import { accumulateGradientMoments, MomentWorkspace } from '../backward/gradients';
import { AdamW } from '../finetune/adamw';
import { BatchOrder } from '../finetune/batches';
import { checkMasks, MaskNotPreservedError, MatrixMask, masksOf } from '../finetune/mask';
import { ADAM_DEFAULTS, trainPrunedLayers } from '../finetune/train';
import type { RecoveryContext, RecoveryReport } from '../methods/plugin';

/**
 * Mean KL(dense || pruned) over the predicting positions (all but each window's last) of
 * the set's windows: the held-out measure's own pass (lib/eval/held-out.ts: logits in
 * tiles), every position counted as an answer.
 */
async function meanKl(ctx: RecoveryContext, dense: ForwardModel): Promise<number> {
  const { set } = ctx.queries;
  const L = set.seqLen;
  const windows = Array.from({ length: set.samples }, (_, s) => ({ ids: set.tokens.subarray(s * L, (s + 1) * L), answerStart: L }));
  return (await heldOutMeasures(dense, new ForwardModel(ctx.model), windows, { signal: ctx.signal })).all.kl;
}

/** The block of a canonical tensor name (blocks.{i}.…). */
const blockOf = (name: string): number => Number(/^blocks\.(\d+)\./.exec(name)?.[1] ?? -1);

/**
 * Block by block, in order: each block's pruned matrices take their share of the steps
 * (steps spread evenly, the earlier blocks taking the remainder), with the gradient of
 * the same end-to-end KL but only for that block's matrices (the backward pass's
 * accumulate mode: one block's gradients and AdamW state at a time). `offload` moves a
 * trained block's weights out of private memory.
 */
async function distillBlockwise(ctx: RecoveryContext, masks: readonly MatrixMask[], teacher: (tokens: Int32Array) => Promise<Float32Array>): Promise<number[]> {
  const { model, settings } = ctx;
  const set = ctx.queries.set;
  const blocks = [...new Set(masks.map((m) => blockOf(m.name)))];
  const order = new BatchOrder(set, settings.seed);
  const workspace = new MomentWorkspace();
  const losses: number[] = [];
  let step = 0;
  for (const [i, b] of blocks.entries()) {
    const mine = masks.filter((m) => blockOf(m.name) === b);
    const names = mine.map((m) => m.name);
    const steps = Math.floor(settings.steps / blocks.length) + (i < settings.steps % blocks.length ? 1 : 0);
    if (steps === 0) continue;
    const opt = await AdamW.create(model, names, new Map(mine.map((m) => [m.name, m.keep])), { lr: settings.lr, weightDecay: 0, ...ADAM_DEFAULTS });
    const sums = new Map(names.map((n) => [n, new Float32Array(model.tensors.get(n)!.data.length)]));
    const acc = new Map(names.map((n) => [n, { sum: sums.get(n)! }]));
    for (let s = 0; s < steps; s++) {
      ctx.signal?.throwIfAborted();
      const tokens = order.take(settings.batch);
      const teacherLogits = await ctx.clock.time('teacher', () => teacher(tokens));
      for (const g of sums.values()) g.fill(0);
      const loss = await ctx.clock.time('gradients', () =>
        accumulateGradientMoments(model, tokens, acc, { batch: settings.batch, seq: set.seqLen, teacherLogits, workspace, signal: ctx.signal }),
      );
      await ctx.clock.time('update', () => opt.update(sums));
      losses.push(loss);
      ctx.onStep?.(++step, settings.steps, loss);
    }
    ctx.offload?.(names);
  }
  return losses;
}

export type DistillMode = 'auto' | 'joint' | 'blockwise';

/**
 * Bytes of state the joint distillation adds beyond the block-wise one may take before
 * `auto` trains block by block: 1 GiB (models up to roughly 50M parameters train jointly).
 */
export const JOINT_BUDGET_BYTES = 2 ** 30;

/**
 * Joint training's state: a float32 gradient of every parameter the forward pass reads
 * (lossAndGradients) and, per trained weight, AdamW's two moments and a float32 master
 * copy, and the trained copy itself: about 4 bytes a parameter + 16 a trained one.
 */
function jointBytes(ctx: RecoveryContext): number {
  let all = 0;
  for (const t of ctx.model.tensors.values()) all += t.data.length;
  const trained = ctx.layers.reduce((a, n) => a + (ctx.model.tensors.get(n)?.data.length ?? 0), 0);
  return 4 * all + 16 * trained;
}

/** `auto`: joint when its state fits in JOINT_BUDGET_BYTES (it learns more from the same steps), else block-wise. */
export function chooseDistillMode(ctx: RecoveryContext, mode: DistillMode): 'joint' | 'blockwise' {
  if (mode !== 'auto') return mode;
  return jointBytes(ctx) <= JOINT_BUDGET_BYTES ? 'joint' : 'blockwise';
}

export async function distillOnEnvironment(ctx: RecoveryContext, asked: DistillMode = 'auto'): Promise<RecoveryReport> {
  const { model, settings } = ctx;
  const mode = chooseDistillMode(ctx, asked);
  const set = ctx.queries.set;
  const dense = new ForwardModel(ctx.dense);
  const teacher = async (tokens: Int32Array, batch: number) => dense.logits(await dense.forward(tokens, batch, set.seqLen), batch * set.seqLen);
  const masks = masksOf(model, ctx.layers);
  const measure = (when: string) => ctx.clock.time(`recovery.eval.${when}`, () => meanKl(ctx, dense));
  const before = await measure('before');
  const losses =
    mode === 'joint'
      ? (await trainPrunedLayers(ctx, masks, { teacher: (tokens) => teacher(tokens, settings.batch) })).losses
      : await ctx.clock.time('recovery', () => distillBlockwise(ctx, masks, (tokens) => teacher(tokens, settings.batch)));
  const after = await measure('after');
  const broken = checkMasks(masks, model).find((c) => !c.preserved);
  if (broken)
    throw new MaskNotPreservedError(`${broken.name}: the zeros moved during the distillation (${broken.zeros_before} before, ${broken.zeros_after} after); nothing was written`);
  const pruned = masks.reduce((a, m) => a + m.zeros, 0);
  return {
    method: `adamw, mask held, distillation (${mode}): KL(dense || pruned) on every position of the query environment`,
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
