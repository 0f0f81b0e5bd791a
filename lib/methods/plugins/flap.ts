// FLAP (An et al., AAAI 2024): fluctuation score = sample variance of the unit's input to
// its consumer over the calibration tokens x the squared norm of its consumer column(s).
// Scores are standardized per unit type and units are removed globally, so blocks keep
// different widths; the removed units' mean contribution W[:, j] * mean(X_j) is added to
// the consumer's output bias (bias compensation).
import type { StructuredMethod } from '../plugin';
import { consumerColumns } from '../collectors';
import type { ColumnStats } from '../../kernels';
import { groupSums } from '../../prune/unit-context';

/** Per-column sample variance of the statistics' inputs. */
function variances(s: ColumnStats): Float64Array {
  const n = s.count;
  return Float64Array.from(s.sum, (sum, j) => (n > 1 ? Math.max(0, (s.sumSq[j] - (sum * sum) / n) / (n - 1)) : 0));
}

export const method: StructuredMethod = {
  name: 'flap',
  description: 'fluctuation (input variance x squared column norm), standardized, global, with bias compensation (An et al. 2024)',
  kind: 'structured',
  calibrated: true,
  source: 'An et al., Fluctuation-based Adaptive Structured Pruning for Large Language Models (AAAI 2024)',
  order: 130,
  structures: ['channels', 'heads', 'width'],
  collect: (ctx) => consumerColumns(ctx),
  standardize: true,
  compensate: true,
  async scoreUnits(ctx) {
    const out: { channels?: Float32Array; heads?: Float32Array } = {};
    if (ctx.shape.intermediateSize > 0 && ctx.downIn) {
      const w = await ctx.columnNorms(`${ctx.mlp.consumer}.weight`);
      const v = variances(ctx.downIn);
      out.channels = Float32Array.from(w.sq, (q, j) => q * v[j]);
    }
    if (ctx.shape.numHeads > 0 && ctx.oIn) {
      const w = await ctx.columnNorms(`blocks.${ctx.block}.attn.o.weight`);
      const v = variances(ctx.oIn);
      out.heads = groupSums(Float32Array.from(w.sq, (q, j) => q * v[j]), ctx.config.headDim);
    }
    return out;
  },
};
