// Elastic weight consolidation (seed Table 4; docs/gradient-methods.md): prune with the
// fisher score (0.5 W^2 mean G^2), then recover the kept weights on the user's queries
// with the mask fixed and the penalty lambda/2 * sum F (w - w*)^2 toward the dense
// weights, F the empirical Fisher diagonal of the dense model on the calibration text.
// F is the sum of squares the gradient pass gathers for the fisher score: its pages are
// this strategy's (file-backed in the run's scratch folder when the pass moves them
// there), so they outlive the pipeline and are released after the recovery.
import { ScratchAccumulators } from '../../backward/scratch-accumulators';
import { recoverWithEwc } from '../../finetune/ewc-recovery';
import { ShapeError } from '../../errors';
import { GradientMoments } from '../gradient-moments';
import type { MethodOptions, RecoveringStrategy, RecoveryContext, RunResources, UnstructuredMethod } from '../plugin';
import { fisher } from './fisher';

/** Moments placed in pages the strategy owns (not the gradient pass's, which the pipeline releases). */
class KeptMoments extends GradientMoments {
  constructor(
    size: number,
    private readonly pages: ScratchAccumulators | undefined,
  ) {
    super(size, { sumSq: true });
  }

  override place(alloc: (size: number, which: 'sum' | 'sumSq') => Float32Array): void {
    const own = this.pages;
    super.place(own ? (size, which) => own.alloc(size, which) : alloc);
  }
}

export function ewc(_o?: MethodOptions, run?: RunResources): RecoveringStrategy {
  const base = fisher();
  const pages = run?.scratch ? new ScratchAccumulators(run.scratch) : undefined;
  // By weight name: the recovery trains the matrices the pipeline pruned.
  const moments = new Map<string, KeptMoments>();
  return {
    ...base,
    name: 'ewc',
    collectWeights: (rows, cols, name) => {
      const m = new KeptMoments(rows * cols, pages);
      moments.set(name, m);
      return { gradient: m };
    },
    recover: (ctx: RecoveryContext) => {
      const missing = ctx.layers.filter((name) => moments.get(name)?.size !== ctx.model.tensors.get(name)?.data.length);
      if (missing.length > 0 || moments.size !== ctx.layers.length)
        throw new ShapeError(`ewc: the Fisher diagonal was gathered for ${moments.size} matrices, the recovery trains ${ctx.layers.length}${missing.length ? ` (none of the right size for ${missing.join(', ')})` : ''}`);
      const sequences = moments.get(ctx.layers[0])?.count ?? 0;
      if (sequences === 0) throw new ShapeError('ewc: no calibration sequence reached the Fisher diagonal');
      const sumSq = new Map(ctx.layers.map((name) => [name, moments.get(name)!.sumSq!]));
      return recoverWithEwc(ctx, { sumSq, sequences, source: ctx.calibrationSource });
    },
    release: () => pages?.release(),
  };
}

export const method: UnstructuredMethod = {
  name: 'ewc',
  description: 'fisher pruning, then recovery on the queries (--queries) with the mask held and the EWC pull toward the dense weights',
  kind: 'score',
  calibrated: true,
  recovers: true,
  source: 'Kirkpatrick et al., Overcoming catastrophic forgetting in neural networks (PNAS 2017), after optimal brain damage pruning',
  order: 55,
  slow: true,
  create: ewc,
};
