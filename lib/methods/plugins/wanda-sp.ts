// Wanda-sp (the structured Wanda of An et al.'s FLAP comparison): a unit's score is the
// sum over its weights in the consuming matrix of |W_ij| * ||X_j||_2, X_j the consumer's
// input column of that unit over the calibration tokens. Channels: down (fc2) columns;
// heads: the headDim columns of o.
import type { StructuredMethod } from '../plugin';
import { consumerColumns } from '../collectors';
import { groupSums } from '../../prune/unit-context';

export const method: StructuredMethod = {
  name: 'wanda-sp',
  description: 'structured Wanda: sum of |W_ij| * ||X_j|| over the unit\'s consumer weights',
  kind: 'structured',
  calibrated: true,
  source: 'An et al., Fluctuation-based Adaptive Structured Pruning (FLAP, AAAI 2024), Wanda-sp baseline',
  order: 120,
  structures: ['channels', 'heads', 'width'],
  collect: (ctx) => consumerColumns(ctx),
  async scoreUnits(ctx) {
    const out: { channels?: Float32Array; heads?: Float32Array } = {};
    if (ctx.shape.intermediateSize > 0 && ctx.downIn) {
      const w = await ctx.columnNorms(`${ctx.mlp.consumer}.weight`);
      const x = ctx.downIn.l2Norms();
      out.channels = Float32Array.from(w.l1, (v, j) => v * x[j]);
    }
    if (ctx.shape.numHeads > 0 && ctx.oIn) {
      const w = await ctx.columnNorms(`blocks.${ctx.block}.attn.o.weight`);
      const x = ctx.oIn.l2Norms();
      out.heads = groupSums(Float32Array.from(w.l1, (v, j) => v * x[j]), ctx.config.headDim);
    }
    return out;
  },
};
