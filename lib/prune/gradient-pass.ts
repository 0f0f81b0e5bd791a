// The gradient pass of the gradient methods (docs/gradient-methods.md): one backward pass
// per calibration sequence on the dense model ("one-shot": nothing is pruned yet), each
// selected matrix's gradient handed to the collectors its method made for it
// (Strategy.collectWeights). L_s is the mean next-token NLL of sequence s, so G_s is the
// gradient of that sequence's own loss.
// Weights whose only collector is a GradientMoments get their moments added in place by
// the backward's accumulate mode (one block's gradients in memory at a time, never the
// whole model's); with a scratch folder and accumulators over the budget, those arrays
// live in file-backed scratch pages (lib/backward/scratch-accumulators.ts).
import { accumulateGradientMoments, lossAndGradients, MomentAccumulators, MomentWorkspace } from '../backward/gradients';
import { ScratchAccumulators } from '../backward/scratch-accumulators';
import { CalibrationSet } from '../calibration/sample';
import { GradientMoments } from '../methods/gradient-moments';
import { LoadedModel } from '../model/types';
import type { StrategyStats } from '../strategies';
import { PhaseClock } from '../util/clock';
import type { Scratch } from '../util/scratch';

/** Accumulator bytes above which they go to scratch pages, when a scratch folder is given. */
export const DEFAULT_ACCUMULATOR_BUDGET = 256 * 2 ** 20;

export interface GradientPassOptions {
  clock: PhaseClock;
  signal?: AbortSignal;
  /** Called after each sequence (1-based). */
  onSequence?: (done: number, total: number) => void;
  /** The run's scratch folder: the moments go to file-backed pages there when they exceed budgetBytes. */
  scratch?: Scratch;
  /** Default DEFAULT_ACCUMULATOR_BUDGET; 0: always in scratch (with a scratch folder). */
  budgetBytes?: number;
}

export interface GradientPassResult {
  /** Mean next-token NLL of the calibration sequences on the model the pass ran on. */
  meanLoss: number;
  /** Scratch-mapped accumulators, or undefined when they stayed in memory. */
  mapped?: ScratchAccumulators;
  /** Unmaps the scratch accumulators (their arrays become empty): call once the statistics are used. Idempotent. */
  release(): void;
}

/** The weight's GradientMoments when it is the weight's only collector (accumulate mode), else undefined. */
function onlyMoments(stats: StrategyStats): GradientMoments | undefined {
  const cs = Object.values(stats).filter((c) => c !== undefined);
  return cs.length === 1 && cs[0] instanceof GradientMoments ? cs[0] : undefined;
}

/** Feeds `collectors` (by weight name) the gradient of every calibration sequence's loss. */
export async function gradientPass(model: LoadedModel, cal: CalibrationSet, collectors: Map<string, StrategyStats>, o: GradientPassOptions): Promise<GradientPassResult> {
  const moments = new Map<string, GradientMoments>();
  const others = new Map<string, StrategyStats>();
  for (const [name, stats] of collectors) {
    const m = onlyMoments(stats);
    if (m) moments.set(name, m);
    else others.set(name, stats);
  }
  let mapped: ScratchAccumulators | undefined;
  const bytes = [...moments.values()].reduce((s, m) => s + 4 * m.size * (+!!m.sum + +!!m.sumSq), 0);
  if (o.scratch && bytes > (o.budgetBytes ?? DEFAULT_ACCUMULATOR_BUDGET)) {
    const acc = (mapped = new ScratchAccumulators(o.scratch));
    for (const m of moments.values()) m.place((size, which) => acc.alloc(size, which));
  }
  const release = () => mapped?.release();
  try {
    const lossSum = await run(model, cal, moments, others, o);
    return { meanLoss: lossSum / cal.samples, mapped, release };
  } catch (e) {
    release();
    throw e;
  }
}

/** Returns the sum over the sequences of their mean NLL. */
async function run(model: LoadedModel, cal: CalibrationSet, moments: Map<string, GradientMoments>, others: Map<string, StrategyStats>, o: GradientPassOptions): Promise<number> {
  const L = cal.seqLen;
  let lossSum = 0;
  const acc = new Map<string, MomentAccumulators>([...moments].map(([name, m]) => [name, { sum: m.sum, sumSq: m.sumSq }]));
  // The first sequence's gradient buffers, overwritten by the next ones (fresh pages faulted in once).
  let into: Map<string, Float32Array> | undefined;
  const workspace = new MomentWorkspace();
  for (let s = 0; s < cal.samples; s++) {
    o.signal?.throwIfAborted();
    const tokens = cal.tokens.subarray(s * L, (s + 1) * L);
    let loss = 0;
    if (acc.size > 0) {
      loss = await o.clock.time('backward', () => accumulateGradientMoments(model, tokens, acc, { batch: 1, seq: L, signal: o.signal, workspace }));
      for (const m of moments.values()) m.countAdded();
    }
    if (others.size > 0) {
      const { grads, loss: l } = await o.clock.time('backward', () => lossAndGradients(model, tokens, { batch: 1, seq: L, signal: o.signal, into }));
      into = grads;
      loss = l;
      await o.clock.time('statistics', async () => {
        for (const [name, stats] of others) {
          const g = grads.get(name);
          if (!g) throw new TypeError(`the backward pass returned no gradient for ${name}`);
          const rows = model.tensors.get(name)!.shape[0];
          for (const c of Object.values(stats)) await c?.add(g, rows);
        }
      });
    }
    lossSum += loss;
    o.onSequence?.(s + 1, cal.samples);
  }
  return lossSum;
}
