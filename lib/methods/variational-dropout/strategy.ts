// The Strategy of sparse variational dropout (Molchanov, Ashukha & Vetrov, ICML 2017;
// docs/variational-dropout.md) inside the sequential pipeline.
//
// scope 'block' (default): the pipeline hands each block's calibration inputs and the
// dense block's outputs to scoreBlock, which learns (theta, log sigma^2) of all the block's
// selected matrices together so that the block's output reconstructs the dense one; the
// pipeline then prunes the weights with the largest log alpha (per row by default, any
// granularity and N:M, or one threshold across the block).
//
// scope 'layer', and callers that prune matrix by matrix (`sweep --stats once`): each layer
// input's collector keeps a sample of the calibration rows (RowSample) and prune() trains
// the layer alone to reproduce the dense layer's outputs on them.
//
// Either way the kept entries keep the dense weights (or, with keep: 'theta', take the
// learned means).
import { ShapeError } from '../../errors';
import { applyMask, fromFloat32, selectMask, toFloat32 } from '../../kernels';
import type { Tensor } from '../../model/types';
import type { BlockLearningInput, Strategy } from '../../strategies';
import type { Mask } from '../../tensor';
import { VariationalDropoutOptions, VdSettings, vdSettings } from './options';
import { VdLayerReport, reportNotes } from './report';
import { RowSample } from './row-sample';
import { trainLayer } from './train';
import { trainBlock } from './train-block';

export interface VariationalDropoutStrategy extends Strategy {
  /** One entry per pruned layer, in pruning order. */
  readonly layers: VdLayerReport[];
  /** The log alpha histograms (per block, overall) and reconstruction errors, as report lines. */
  notes(): string[];
}

/** Writes the learned means into a weight tensor (its dtype), for keep: 'theta'. */
async function writeTheta(t: { data: Tensor['data']; dtype: Tensor['dtype'] }, theta: Float32Array): Promise<void> {
  (t.data as Float32Array | Uint16Array).set(t.dtype === 'f32' ? theta : ((await fromFloat32(theta, t.dtype)) as never));
}

async function scoreBlock(s: VdSettings, input: BlockLearningInput, layers: VdLayerReport[]): Promise<Map<string, Float32Array>> {
  const shapes = input.layers.map((name) => {
    const t = input.tensors.get(name);
    if (!t || t.shape.length !== 2) throw new ShapeError(`variational-dropout: ${name} is not a matrix of the model`);
    return { name, rows: t.shape[0], cols: t.shape[1] };
  });
  // The noise seed follows the block, not how many blocks were pruned before.
  const seed = (s.seed * 7919 + input.block * 65_537) % 2 ** 32;
  const t = await trainBlock({ ...input, layers: shapes }, s, seed, input.signal);
  const scores = new Map<string, Float32Array>();
  for (const { name, rows, cols } of shapes) {
    const m = t.matrices.get(name)!;
    if (s.keep === 'theta') await writeTheta(input.tensors.get(name)!, m.theta);
    scores.set(name, m.score);
    layers.push({
      block: input.block, scope: 'block', rows, cols,
      mseFirst: t.mseFirst, mseLast: t.mseLast, mseMean: t.mseMean, kl: m.kl, histogram: [...m.histogram],
    });
  }
  return scores;
}

export function variationalDropout(o: VariationalDropoutOptions = {}): VariationalDropoutStrategy {
  const s = vdSettings(o);
  const layers: VdLayerReport[] = [];
  // Layer by layer, collectors are made for a block's inputs together, before any of its
  // layers is pruned: a collect() after a prune() starts the next block.
  let block = -1;
  let prunedSinceCollect = true;
  let collected = 0;
  const strategy: VariationalDropoutStrategy = {
    name: 'variational-dropout',
    needs: ['layerInputs'],
    defaultGranularity: 'row',
    // Block by block, log alpha of all of a block's matrices is learned together: one threshold across the block makes sense.
    allowsGlobal: s.scope === 'block',
    layers,
    notes: () => reportNotes(layers),
    collect(width) {
      if (prunedSinceCollect) block++;
      prunedSinceCollect = false;
      const index = collected++;
      const sample = new RowSample(width, s.maxRows, s.seed + index);
      return { layerInputs: Object.assign(sample, { block, index }) };
    },
    scoreOptions() {
      throw new TypeError('variational-dropout learns its scores (log alpha) while it trains: it has no standalone score (use prune)');
    },
    async prune(w, stats, selection): Promise<Mask> {
      prunedSinceCollect = true;
      const sample = stats.layerInputs as (RowSample & { block?: number; index?: number }) | undefined;
      if (!sample || typeof sample.rows !== 'function') throw new TypeError('variational-dropout needs the layer inputs (stats.layerInputs)');
      if (sample.width !== w.cols) throw new ShapeError(`the layer inputs are ${sample.width} wide but W has ${w.cols} columns`);
      const { x, rows: n } = sample.rows();
      if (n === 0) throw new ShapeError('variational-dropout: no calibration rows reached this layer');
      const dense = w.dtype === 'f32' ? (w.data as Float32Array) : await toFloat32(w.data as Uint16Array, w.dtype);
      // The noise seed follows the layer (its input's collector and its shape), not how many
      // layers were pruned before: a sweep that reuses the strategy gets the same noise.
      const seed = (s.seed * 7919 + (sample.index ?? 0) * 65_537 + w.rows * 31 + w.cols) % 2 ** 32;
      const t = await trainLayer(x, n, dense, w.rows, sample.seen, s, seed);
      const mask = await selectMask(t.score, w.rows, w.cols, { granularity: 'row', ...selection });
      if (s.keep === 'theta') await writeTheta(w, t.theta);
      await applyMask(w, mask, { backend: selection.backend });
      layers.push({
        block: sample.block ?? block, scope: 'layer', rows: w.rows, cols: w.cols,
        mseFirst: t.mseFirst, mseLast: t.mseLast, mseMean: t.mseMean, kl: t.kl, histogram: [...t.histogram],
      });
      return mask;
    },
  };
  if (s.scope === 'block') {
    // The pipeline runs no per-input collectors for a block-wise strategy: prune() above
    // (with its own collect()) serves only callers that prune matrix by matrix.
    return Object.assign(strategy, { scoreBlock: (input: BlockLearningInput) => scoreBlock(s, input, layers) });
  }
  return strategy;
}
