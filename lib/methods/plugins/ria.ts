// RIA, Relative Importance and Activations (Zhang et al., ICLR 2024): a weight matters in
// proportion to its share of its input column's and of its output row's |W|, times the
// activation norm of its input column to the power 0.5; compared per output row. With
// --permute and an N:M pattern, the MLP's intermediate channels are reordered before
// mlp.down's selection (RIA's channel permutation) so that each group of M keeps more
// of the score: the reorder is applied to the model itself (rows of mlp.gate/mlp.up or
// mlp.fc1 and their biases, columns of mlp.down or mlp.fc2), which leaves the block's
// function unchanged and the stored down matrix truly N:M. The other matrices read the
// residual stream or the attention heads, whose order is not free: they are selected N:M
// in their stored order. docs/ria.md.
import { ArgumentRangeError, ShearsError } from '../../errors';
import { applyMask, NMPattern, selectMask } from '../../kernels';
import type { LayerContext, Strategy, StrategyStats } from '../../strategies';
import type { Matrix } from '../../tensor';
import type { MethodOptions, UnstructuredMethod } from '../plugin';
import { mlpConsumer, permuteColumns, permuteMlpChannels } from '../ria-channels';
import { riaChannelPermutation, riaScores } from '../ria-kernels';

/** What the permutation did to one down projection. */
interface Permuted {
  name: string;
  /** Retained score (sum of the kept scores) in the stored order, after the quantile deal, and as selected. */
  identity: number;
  heuristic: number;
  retained: number;
}

const activationNorms = (stats: StrategyStats): Float32Array => {
  if (!stats.columns) throw new TypeError('ria needs per-column activation statistics (stats.columns)');
  return stats.columns.l2Norms();
};

const percent = (gain: number, base: number): string => (base > 0 ? `${gain >= 0 ? '+' : ''}${((100 * gain) / base).toFixed(2)}%` : 'n/a');

function permutationNotes(pattern: NMPattern | undefined, permuted: Permuted[], stored: Set<string>): string[] {
  if (!pattern) return [];
  const notes: string[] = [];
  const moved = permuted.filter((p) => p.retained > p.identity);
  const sum = (k: 'identity' | 'heuristic' | 'retained') => permuted.reduce((a, p) => a + p[k], 0);
  if (permuted.length > 0) {
    const [identity, heuristic, retained] = [sum('identity'), sum('heuristic'), sum('retained')];
    notes.push(
      `ria --permute: MLP channels reordered in ${moved.length} of ${permuted.length} blocks (rows of the gate/up projections and their biases, ` +
        `columns of the down projection, in place: function-preserving); ${pattern.n}:${pattern.m} retained score of the down projections ` +
        `${identity.toPrecision(6)} in stored order, ${heuristic.toPrecision(6)} after the quantile deal, ${retained.toPrecision(6)} selected (${percent(retained - identity, identity)})`,
    );
    notes.push(`ria --permute per matrix: ${permuted.map((p) => `${p.name} ${percent(p.retained - p.identity, p.identity)}`).join(', ')}`);
  }
  if (stored.size > 0)
    notes.push(`ria --permute: ${[...stored].sort().join(', ')} selected ${pattern.n}:${pattern.m} in stored order (their input channels are the residual stream or the attention heads: no free permutation)`);
  return notes;
}

/** RIA's strategy; `o.permute` reorders the MLP channels before each down projection's N:M selection. */
export function ria(o: MethodOptions = {}): Strategy {
  const permuted: Permuted[] = [];
  const stored = new Set<string>();
  let pattern: NMPattern | undefined;

  const scoreMatrix = (w: Matrix, stats: StrategyStats) => riaScores(w, activationNorms(stats));

  /** The scores in the order the down projection now has, after reordering the MLP channels when that keeps more. */
  async function permuteFor(w: Matrix, scores: Float32Array, p: NMPattern, layer: LayerContext): Promise<Float32Array> {
    const consumer = mlpConsumer(layer.name);
    if (!consumer || layer.tensors.get(layer.name)?.data !== w.data) {
      stored.add(layer.name.replace(/^blocks\.\d+\./, '').replace(/\.weight$/, ''));
      return scores;
    }
    const c = await riaChannelPermutation(scores, w.rows, w.cols, p);
    permuted.push({ name: layer.name, identity: c.identity, heuristic: c.heuristic, retained: c.retained });
    if (!(c.retained > c.identity)) return scores;
    await permuteMlpChannels(layer.tensors, consumer.block, c.perm);
    return permuteColumns(scores, w.rows, w.cols, c.perm);
  }

  return {
    name: 'ria',
    needs: ['columnSumSq'],
    defaultGranularity: 'row',
    allowsGlobal: true,
    scoreOptions() {
      throw new ShearsError("ria's score divides by W's row and column sums: it has no |W|^p * act^q form (use scoreMatrix)");
    },
    scoreMatrix,
    async prune(w, stats, selection, layer) {
      let scores = await scoreMatrix(w, stats);
      if (o.permute && selection.pattern && layer) {
        pattern = selection.pattern;
        scores = await permuteFor(w, scores, selection.pattern, layer);
      }
      const mask = await selectMask(scores, w.rows, w.cols, { granularity: 'row', ...selection });
      await applyMask(w, mask, { backend: selection.backend });
      return mask;
    },
    notes: () => permutationNotes(pattern, permuted, stored),
  };
}

export const method: UnstructuredMethod = {
  name: 'ria',
  description: '(|W_ij| / column sum + |W_ij| / row sum) * ||X_j||^0.5, per output row; --permute reorders MLP channels for N:M (Zhang et al. 2024)',
  kind: 'score',
  calibrated: true,
  source: 'Zhang et al., Plug-and-Play: An Efficient Post-training Pruning Method for Large Language Models (ICLR 2024)',
  order: 35,
  options: ['permute'],
  checkOptions(o, run) {
    if (o.permute && !run.pattern)
      throw new ArgumentRangeError('--permute reorders channels for an N:M selection: it needs --pattern N:M (in a sweep, N:M --patterns only; ria without --permute prunes unstructured)');
  },
  create: ria,
};
