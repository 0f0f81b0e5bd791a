// OWL's layer-wise outlier ratio (Yin et al., ICML 2024) on the dense model: for each block,
// the fraction of its selected weights whose Wanda score |W_ij| * ||X_j|| exceeds M times the
// mean score over the block (all its selected matrices together, as the reference code
// concatenates them). ||X_j|| comes from the calibration pass of the dense model with every
// block fed the dense outputs of the one before (the pass of `shears stats`), as the reference
// code's first loop runs the unpruned layers. The counting is native (outlierCount).
import type { CalibrationSet } from '../calibration/sample';
import { NonFiniteError, nativeCall } from '../errors';
import { ForwardModel } from '../forward/model';
import type { Backend } from '../kernels';
import type { LoadedModel } from '../model/types';
import { outliersNative } from '../native/outliers';
import { selectLayers } from '../prune/layers';
import { asMatrix } from '../prune/pipeline';
import { calibrationPass } from '../prune/statistics';
import { checkData, checkMatrix, Matrix } from '../tensor';
import { PhaseClock } from '../util/clock';

/** OWL's outlier threshold: M times the block's mean score (the paper's and reference code's M = 5). */
export const OWL_M = 5;

/** The sum of |W_ij| * act_j over w (float32 products, summed in double) and how many exceed `threshold`. */
export async function outlierCount(w: Matrix, act: Float32Array, threshold: number): Promise<{ sum: number; above: number }> {
  checkMatrix(w);
  checkData(act, 'f32', w.cols, 'act');
  return nativeCall(() => outliersNative().outlierCount(w, act, threshold));
}

export interface BlockOutliers {
  /** Per block: the fraction of its selected weights above M times its mean score; null for a block with no selected matrix. */
  ratio: (number | null)[];
  /** Per block: its selected weights (0 for a block with none). */
  parameters: number[];
}

export interface OutlierOptions {
  include?: string[];
  exclude?: string[];
  m?: number;
  backend?: Backend;
  batch?: number;
  signal?: AbortSignal;
  onBlock?: (block: number, blocks: number) => void;
}

/** The outlier ratio of every block of the dense `model` on the calibration set (the model is not changed). */
export async function blockOutlierRatios(model: LoadedModel, cal: CalibrationSet, o: OutlierOptions = {}): Promise<BlockOutliers> {
  const m = o.m ?? OWL_M;
  const { blocks } = selectLayers(model.config, model.tensors, { include: o.include, exclude: o.exclude });
  const ratio: (number | null)[] = blocks.map(() => null);
  const parameters: number[] = blocks.map(() => 0);
  const fm = new ForwardModel(model, { backend: o.backend });
  await calibrationPass(fm, cal, blocks, {
    methods: [],
    backend: o.backend,
    batch: o.batch,
    signal: o.signal,
    clock: new PhaseClock(),
    // Every block sees the dense outputs of the one before: nothing is pruned here.
    recompute: false,
    onPhase: (b, phase) => phase === 'statistics' && o.onBlock?.(b, blocks.length),
    onStatistics: async (b, layers, stats) => {
      const mats = layers.map((l) => ({ name: l.name, w: asMatrix(model.tensors.get(l.name)!), act: stats.get(l.input)!.columns!.l2Norms() }));
      let sum = 0;
      let n = 0;
      for (const x of mats) {
        sum += (await outlierCount(x.w, x.act, Infinity)).sum;
        n += x.w.rows * x.w.cols;
      }
      const mean = sum / n;
      if (!Number.isFinite(mean))
        throw new NonFiniteError(`owl: the scores |W| * ||X|| of block ${b} (${mats.map((x) => x.name).join(', ')}) are not finite (sum ${sum})`);
      let above = 0;
      for (const x of mats) above += (await outlierCount(x.w, x.act, m * mean)).above;
      ratio[b] = above / n;
      parameters[b] = n;
    },
  });
  return { ratio, parameters };
}
