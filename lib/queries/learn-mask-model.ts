// Learned masks over a whole model, block by block as the sequential pipeline prunes
// (docs/query-aware-building-blocks.md, "Learned masks"): for each block in order, its
// inputs are the calibration sequences' hidden states out of the blocks before it, already
// pruned; its targets the block still dense on those inputs; theta starts from the Wanda
// prior of those inputs (thetaFromScore), is learned (learnBlockTheta) and decided at the
// exact sparsity (decideMasks, repaired with the inputs' X^T X when asked). The dense model
// is never written: the pruned matrices are copies, seen through a second ForwardModel.
import { ArgumentRangeError } from '../errors';
import { ForwardModel } from '../forward/model';
import { ColumnStats, computeScores, SelectionSpec } from '../kernels';
import { HessianAccumulator } from '../methods/hessian';
import { Tensor } from '../model/types';
import { blockLinears, LinearLayer } from '../prune/layers';
import { Mask, Matrix } from '../tensor';
import { QuerySequence } from './environment';
import { answerWeights, LearnedBlock, learnBlockTheta, LearnMaskOptions } from './learn-mask';
import { decideMasks, thetaFromScore } from './learn-mask-decide';

export interface SequentialMaskOptions extends Omit<LearnMaskOptions, 'matrixSparsity'> {
  /** The decision's comparison group or N:M pattern (default: per row at `sparsity`). */
  selection?: Omit<SelectionSpec, 'sparsity'>;
  /** Repair the kept weights with SparseGPT given the mask (default false). */
  repair?: boolean;
  /** Loss weights of the answer rows and the other rows (answerWeights; default 1 and 1). */
  weights?: { answer?: number; other?: number };
}

export interface SequentialMasks {
  /** The dense model's config and tensors, the gated matrices replaced by pruned copies. */
  model: ForwardModel;
  masks: Map<string, Mask>;
  /** Per block with linear layers, in order. */
  blocks: (LearnedBlock & { block: number })[];
}

const matrixOf = (t: Tensor): Matrix => ({ data: t.data as Matrix['data'], dtype: t.dtype as Matrix['dtype'], rows: t.shape[0], cols: t.shape[1] });

/** Block b's inputs padded to seq rows per sequence, the dense block's outputs on them, and the layer statistics. */
async function blockData(pm: ForwardModel, b: number, layers: LinearLayer[], states: Float32Array[], sequences: readonly QuerySequence[], seq: number, repair: boolean) {
  const H = pm.config.hiddenSize;
  const inputs = [...new Set(layers.map((l) => l.input))];
  const columns = new Map<string, ColumnStats>(), hessians = new Map<string, HessianAccumulator>();
  const x = new Float32Array(sequences.length * seq * H), target = new Float32Array(x.length);
  for (let s = 0; s < sequences.length; s++) {
    const L = sequences[s].ids.length;
    const caps = pm.allocCaptures(L, inputs, b);
    const h = states[s].slice();
    x.set(states[s], s * seq * H);
    // Block b is still dense in pm: its output is the target.
    await pm.runBlock(b, h, { batch: 1, seq: L, capture: caps });
    target.set(h, s * seq * H);
    for (const k of inputs) {
      const c = caps[k]!, cols = c.length / L;
      if (!columns.has(k)) columns.set(k, new ColumnStats(cols));
      await columns.get(k)!.add(c, L);
      if (repair) {
        if (!hessians.has(k)) hessians.set(k, new HessianAccumulator(cols));
        await hessians.get(k)!.add(c, L);
      }
    }
  }
  return { x, target, columns, hessians };
}

/** Learns and decides every block's masks in order; `signal` stops it between steps and sequences. */
export async function learnMasksSequentially(fm: ForwardModel, sequences: readonly QuerySequence[], o: SequentialMaskOptions): Promise<SequentialMasks> {
  if (sequences.length === 0) throw new ArgumentRangeError('learnMasksSequentially needs at least one calibration sequence');
  const tensors = new Map<string, Tensor>(fm.tensors);
  for (let b = 0; b < fm.numLayers; b++)
    for (const l of blockLinears(fm.config, fm.tensors, b)) {
      const t = fm.tensor(l.name);
      tensors.set(l.name, { ...t, shape: t.shape.slice(), data: t.data.slice() });
    }
  const pm = new ForwardModel({ config: fm.config, tensors }, { backend: fm.backend });
  const seq = Math.max(...sequences.map((q) => q.ids.length));
  const tokenWeights = answerWeights(sequences, seq, o.weights);
  const states: Float32Array[] = [];
  for (const { ids } of sequences) states.push(await fm.embed(ids, 1, ids.length));
  const out: SequentialMasks = { model: pm, masks: new Map(), blocks: [] };
  for (let b = 0; b < fm.numLayers; b++) {
    const layers = blockLinears(fm.config, tensors, b);
    if (layers.length > 0) {
      const d = await blockData(pm, b, layers, states, sequences, seq, o.repair ?? false);
      const gated = await Promise.all(layers.map(async (l) => {
        const weight = matrixOf(tensors.get(l.name)!);
        const wanda = await computeScores(weight, { act: d.columns.get(l.input)!.l2Norms() });
        return { name: l.name, rows: weight.rows, cols: weight.cols, theta: thetaFromScore(wanda), weight, hessian: d.hessians.get(l.input) };
      }));
      const learned = await learnBlockTheta({ spec: pm.blockSpec(b), layers: gated, inputs: d.x, targets: d.target, tokenWeights, sequences: sequences.length, seq }, o);
      out.blocks.push({ block: b, ...learned });
      for (const [name, mask] of await decideMasks(gated, { ...o.selection, sparsity: o.sparsity })) out.masks.set(name, mask);
    }
    for (let s = 0; s < sequences.length; s++) {
      o.signal?.throwIfAborted();
      await pm.runBlock(b, states[s], { batch: 1, seq: sequences[s].ids.length });
    }
  }
  return out;
}
