// The Strategy of sparse variational dropout (Molchanov, Ashukha & Vetrov, ICML 2017;
// docs/variational-dropout.md), layer by layer inside the sequential pipeline: each
// layer input's collector keeps a sample of the calibration rows (RowSample); pruning a
// layer trains its (theta, log sigma^2) to reproduce the dense layer's outputs on those
// rows, selects the weights with the largest log alpha (per row by default, any
// granularity and N:M through the selection kernel) and zeroes them; the kept entries keep
// the dense weights (or, with keep: 'theta', take the learned means).
import { ShapeError } from '../../errors';
import { applyMask, fromFloat32, selectMask, toFloat32 } from '../../kernels';
import type { Strategy } from '../../strategies';
import type { Mask } from '../../tensor';
import { VariationalDropoutOptions, vdSettings } from './options';
import { VdLayerReport, reportNotes } from './report';
import { RowSample } from './row-sample';
import { trainLayer } from './train';

export interface VariationalDropoutStrategy extends Strategy {
  /** One entry per pruned layer, in pruning order. */
  readonly layers: VdLayerReport[];
  /** The log alpha histograms (per block, overall) and reconstruction errors, as report lines. */
  notes(): string[];
}

export function variationalDropout(o: VariationalDropoutOptions = {}): VariationalDropoutStrategy {
  const s = vdSettings(o);
  const layers: VdLayerReport[] = [];
  // Collectors are made for a block's inputs together, before any of its layers is pruned:
  // a collect() after a prune() starts the next block.
  let block = -1;
  let prunedSinceCollect = true;
  let collected = 0;
  return {
    name: 'variational-dropout',
    needs: ['layerInputs'],
    defaultGranularity: 'row',
    allowsGlobal: false,
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
      throw new TypeError('variational-dropout learns its scores (log alpha) while it trains each layer: it has no standalone score (use prune)');
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
      if (s.keep === 'theta') (w.data as Float32Array | Uint16Array).set(w.dtype === 'f32' ? t.theta : await fromFloat32(t.theta, w.dtype) as never);
      await applyMask(w, mask, { backend: selection.backend });
      layers.push({
        block: sample.block ?? block, rows: w.rows, cols: w.cols,
        mseFirst: t.mseFirst, mseLast: t.mseLast, mseMean: t.mseMean, kl: t.kl, histogram: [...t.histogram],
      });
      return mask;
    },
  };
}
