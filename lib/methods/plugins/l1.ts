// L1-norm structured pruning (the seed's Table 4): a unit's score is the sum of |W| over
// all of its weights. A channel: its rows of gate and up (or fc1) and its column of down
// (or fc2). A head: its rows of q and its columns of o (K and V rows are shared by a
// group; the pipeline sums a group's heads when it removes whole groups). A block (for
// --structure layers): the mean |W| of its weights.
import type { StructuredMethod } from '../plugin';
import { groupSums } from '../../prune/unit-context';

export const method: StructuredMethod = {
  name: 'l1',
  description: 'L1-norm structured: channels, heads or blocks with the smallest sum of |W|',
  kind: 'structured',
  calibrated: false,
  source: 'Li et al., Pruning Filters for Efficient ConvNets (ICLR 2017); the seed, Table 4',
  order: 100,
  structures: ['channels', 'heads', 'width', 'layers'],
  async scoreUnits(ctx) {
    const out: { channels?: Float32Array; heads?: Float32Array } = {};
    if (ctx.shape.intermediateSize > 0) {
      const ch = new Float32Array(ctx.shape.intermediateSize);
      for (const p of ctx.mlp.producers.filter((n) => n.endsWith('.weight') && ctx.tensor(n))) {
        const r = await ctx.rowNorms(p);
        r.l1.forEach((v, j) => (ch[j] += v));
      }
      (await ctx.columnNorms(`${ctx.mlp.consumer}.weight`)).l1.forEach((v, j) => (ch[j] += v));
      out.channels = ch;
    }
    if (ctx.shape.numHeads > 0) {
      const d = ctx.config.headDim;
      const q = groupSums((await ctx.rowNorms(`blocks.${ctx.block}.attn.q.weight`)).l1, d);
      const o = groupSums((await ctx.columnNorms(`blocks.${ctx.block}.attn.o.weight`)).l1, d);
      out.heads = q.map((v, h) => v + o[h]);
    }
    return out;
  },
  async scoreBlocks(ctx) {
    const s = new Float32Array(ctx.config.numLayers);
    for (let b = 0; b < s.length; b++) s[b] = await ctx.meanAbsWeight(b);
    return s;
  },
};
