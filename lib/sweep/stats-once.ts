// `--stats once`: the calibration statistics of the dense model, gathered in one pass
// and reused by every cell (fast, approximate). The exact protocol recomputes them per
// cell from the partly pruned model (each block sees the outputs of the already
// pruned blocks); here every block sees the dense model's activations instead. The
// pass is the pipeline's own (lib/prune/statistics.ts) with the recompute switched off,
// so the outlier threshold and the Hessian precision mean the same in both.
// Memory: every block's statistics are held at once (for SparseGPT, one cols x cols
// Hessian per layer input of every block).
import { CalibrationSet } from '../calibration/sample';
import { ForwardModel } from '../forward/model';
import { Backend, NMPattern } from '../kernels';
import { LoadedModel } from '../model/types';
import { selectLayers } from '../prune/layers';
import { LayerResult, pruneBlock } from '../prune/pipeline';
import { BlockStats, calibrationPass, StatisticsSettings } from '../prune/statistics';
import { Strategy } from '../strategies';
import { PhaseClock } from '../util/clock';

export interface DenseStats {
  /** Per block: the statistics of each layer input. */
  blocks: BlockStats[];
  timings: { forward: number; statistics: number };
}

/** One pass of the dense model over the calibration set, recording what each block's linear layers receive. */
export async function gatherDenseStats(
  model: LoadedModel,
  cal: CalibrationSet,
  settings: StatisticsSettings,
  o: { batch?: number; signal?: AbortSignal } = {},
): Promise<DenseStats> {
  const clock = new PhaseClock();
  const fm = new ForwardModel(model, { backend: settings.backend });
  const { blocks: layers } = selectLayers(model.config, model.tensors);
  const blocks: BlockStats[] = layers.map(() => new Map());
  await calibrationPass(fm, cal, layers, {
    ...settings,
    ...o,
    clock,
    recompute: false,
    onStatistics: async (b, _layers, stats) => {
      blocks[b] = stats;
    },
  });
  return { blocks, timings: { forward: clock.timings.forward ?? 0, statistics: clock.timings.statistics ?? 0 } };
}

/** Prunes every linear layer of the blocks in place with the dense statistics. */
export async function pruneWithDenseStats(
  model: LoadedModel,
  strategy: Strategy,
  stats: DenseStats,
  selection: { sparsity?: number; pattern?: NMPattern; backend?: Backend },
  signal?: AbortSignal,
): Promise<{ layers: LayerResult[]; timings: Record<string, number> }> {
  const { blocks } = selectLayers(model.config, model.tensors);
  const clock = new PhaseClock();
  const layers: LayerResult[] = [];
  const pruning = { strategy, selection: { ...selection, granularity: strategy.defaultGranularity }, global: false, clock, signal };
  for (let b = 0; b < blocks.length; b++) layers.push(...(await pruneBlock(model.tensors, blocks[b], stats.blocks[b], pruning)));
  return { layers, timings: clock.timings };
}
