// The bias as a pruning indicator (the seed's Table 3), for MLPs whose first layer has a
// bias and feeds a ReLU or GELU (OPT fc1, GPT-2 c_fc). From calibration, each neuron's
// probability of firing p_j (activation above a threshold: > 0 for ReLU; > 0.17 for GELU,
// whose negative side never goes below -0.17) and its mean activation when it fires give
// its expected contribution p_j * E[a_j | fired] * ||W2[:, j]||_2; the neurons least
// likely to matter go, and their mean output W2[:, j] * E[a_j] is folded into the fc2
// bias. A model without biases cannot be scored: reports and sweeps show "NA".
import type { StructuredMethod } from '../plugin';
import { consumerColumns } from '../collectors';

/** |activation| above which a neuron counts as firing. */
export function fireThreshold(activation: string): number {
  return activation === 'relu' ? 0 : 0.17;
}

export const method: StructuredMethod = {
  name: 'bias',
  description: 'neurons least likely to fire (with biases feeding ReLU/GELU), mean output folded into the next bias',
  kind: 'structured',
  calibrated: true,
  source: 'the seed, Table 3 ("the bias as a major pruning indicator")',
  order: 150,
  structures: ['channels'],
  // Channels only: the MLP's consumer inputs, with firing counts above the threshold.
  collect: (ctx) => consumerColumns(ctx, { threshold: fireThreshold(ctx.config.activation), heads: false }),
  // A neuron's expected contribution is measured in the residual stream's own units, the
  // same in every block: compared raw across blocks (as standardized scores are), not
  // relative to its block's mean. OPT demo, neurons removed 40% / 50%: 198.00 / 206.18
  // raw, 200.31 / 244.37 relative to the block mean (which strips block 0, where every
  // neuron fires, once the dead neurons of the other blocks are gone).
  standardize: true,
  compensate: true,
  unsupported({ hasBiases, activation }) {
    if (!hasBiases) return 'NA: the model has no biases';
    if (activation !== 'relu' && activation !== 'gelu' && activation !== 'gelu_tanh') return `NA: the MLP activation is ${activation}, not ReLU or GELU`;
    return undefined;
  },
  async scoreUnits(ctx) {
    if (!ctx.downIn || ctx.shape.intermediateSize === 0) return {};
    const s = ctx.downIn;
    const n = Math.max(1, s.count);
    const w = await ctx.columnNorms(`${ctx.mlp.consumer}.weight`);
    const fired = s.exceed!;
    // ReLU: a = 0 when not firing, so E[a | fired] * p = E[a] = sum / n.
    const channels = Float32Array.from(fired, (f, j) => {
      const p = f / n;
      const whenFired = f > 0 ? Math.abs(s.sum[j]) / f : 0;
      return p * whenFired * Math.sqrt(w.sq[j]);
    });
    return { channels };
  },
};
