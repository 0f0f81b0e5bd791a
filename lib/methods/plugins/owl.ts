// OWL, Outlier Weighed Layerwise sparsity (Yin et al., ICML 2024): each block's sparsity from
// its outlier ratio on the dense model (more outliers, less pruned; ../outlier-ratio.ts and
// ../owl-allocation.ts), then its base method (--base wanda|sparsegpt, default wanda) prunes
// every block at its own sparsity. docs/owl.md.
import { ArgumentRangeError } from '../../errors';
import { baseMethod } from '../base-option';
import type { Strategy } from '../../strategies';
import { blockOutlierRatios, OWL_M } from '../outlier-ratio';
import { OWL_LAMBDA, OWL_MAX_SPARSITY, owlSparsities } from '../owl-allocation';
import type { Allocation, AllocationContext, MethodOptions, UnstructuredMethod } from '../plugin';
import { sparsegpt } from './sparsegpt';
import { wanda } from './wanda';

export const OWL_BASES = ['wanda', 'sparsegpt'] as const;

const checkBase = (base: string | undefined) => baseMethod('owl', OWL_BASES, base);

const fixed = (xs: readonly (number | null)[], digits: number) => xs.map((x) => (x === null ? '-' : x.toFixed(digits))).join(', ');

/** OWL's allocation on the dense model: the outlier ratio of every block, and the sparsities they give. */
export async function owlAllocation(ctx: AllocationContext): Promise<Allocation> {
  const base = checkBase(ctx.options.base);
  const outliers = await blockOutlierRatios(ctx.model, ctx.calibration, {
    include: ctx.include,
    exclude: ctx.exclude,
    backend: ctx.backend,
    batch: ctx.batch,
    signal: ctx.signal,
    onBlock: (b, n) => ctx.onProgress?.(`block ${b + 1}/${n} outlier ratio`),
  });
  const a = owlSparsities(outliers.ratio, outliers.parameters, ctx.sparsity);
  const notes = [
    `owl (--base ${base}, M = ${OWL_M}, lambda = ${OWL_LAMBDA}): outlier ratios per block ${fixed(outliers.ratio, 5)}; ` +
      `block sparsities ${fixed(a.sparsity, 4)} (mean ${ctx.sparsity} over the selected weights)`,
  ];
  if (a.uniform) notes.push('owl: every block has the same outlier ratio: each gets the target sparsity');
  if (a.clipped.length > 0)
    notes.push(
      `owl: blocks ${a.clipped.join(', ')} clipped to [0, ${OWL_MAX_SPARSITY}]; the other blocks moved together to keep the mean at the target`,
    );
  return {
    sparsity: a.sparsity,
    notes,
    report: {
      base,
      m: OWL_M,
      lambda: OWL_LAMBDA,
      outlier_ratio: outliers.ratio,
      block_parameters: outliers.parameters,
      clipped_blocks: a.clipped,
    },
  };
}

export const method: UnstructuredMethod = {
  name: 'owl',
  description: 'outlier-weighted layer-wise sparsity: blocks with more outliers pruned less, on top of --base wanda|sparsegpt (Yin et al. 2024)',
  kind: 'allocation',
  calibrated: true,
  source: 'Yin et al., Outlier Weighed Layerwise Sparsity (OWL) (ICML 2024); reference code luuyin/OWL',
  order: 70,
  options: ['base'],
  checkOptions(o, run) {
    checkBase(o.base);
    if (run.sparsity > OWL_MAX_SPARSITY)
      throw new ArgumentRangeError(`owl keeps every block's sparsity within [0, ${OWL_MAX_SPARSITY}]: a target of ${run.sparsity} cannot be met`);
  },
  create: (o: MethodOptions = {}): Strategy => (checkBase(o.base) === 'sparsegpt' ? sparsegpt() : wanda()),
  allocate: owlAllocation,
};
