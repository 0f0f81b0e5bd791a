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
import { LinearLayer, selectLayers } from '../prune/layers';
import { LayerResult, PruneGranularity, pruneBlock } from '../prune/pipeline';
import { BlockStats, calibrationPass, CalibrationPassOptions, StatisticsSettings } from '../prune/statistics';
import { Strategy, StrategyStats } from '../strategies';
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
  o: Pick<CalibrationPassOptions, 'batch' | 'signal' | 'onPhase'> = {},
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

/** Which layers, how they compete, and progress (`prune --stats FILE`); the sweep uses the defaults. */
export interface DenseStatsPruning {
  include?: string[];
  exclude?: string[];
  /** Default: the strategy's own; 'global' is one threshold across each block's matrices, as the pipeline's. */
  granularity?: PruneGranularity;
  /** Called before each matrix (block from 0). */
  onLayer?: (block: number, name: string) => void;
  /** Called with a block's pruned tensors once they are done. */
  onBlockDone?: (block: number, names: string[]) => void;
  /** Per-weight statistics of a block's layers (gradient moments from an importance file), asked for just before the block is pruned. */
  weightStats?: (block: number, layers: LinearLayer[]) => Map<string, StrategyStats>;
}

/** Prunes every selected linear layer of the blocks in place with the dense statistics. */
export async function pruneWithDenseStats(
  model: LoadedModel,
  strategy: Strategy,
  stats: DenseStats,
  selection: { sparsity?: number; pattern?: NMPattern; backend?: Backend },
  signal?: AbortSignal,
  o: DenseStatsPruning = {},
): Promise<{ layers: LayerResult[]; timings: Record<string, number> }> {
  const { blocks } = selectLayers(model.config, model.tensors, { include: o.include, exclude: o.exclude });
  const clock = new PhaseClock();
  const layers: LayerResult[] = [];
  const granularity = o.granularity ?? strategy.defaultGranularity;
  const global = granularity === 'global';
  const pruning = { strategy, selection: { ...selection, granularity: global ? undefined : granularity }, global, clock, signal };
  for (let b = 0; b < blocks.length; b++) {
    if (blocks[b].length === 0) continue;
    layers.push(
      ...(await pruneBlock(model.tensors, blocks[b], stats.blocks[b], { ...pruning, onLayer: (name) => o.onLayer?.(b, name) }, o.weightStats?.(b, blocks[b]))),
    );
    o.onBlockDone?.(b, blocks[b].map((l) => l.name));
  }
  return { layers, timings: clock.timings };
}
