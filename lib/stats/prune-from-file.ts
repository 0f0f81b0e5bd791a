// `prune --stats FILE`: the statistics come from an importance file instead of a
// calibration pass, and every block is pruned with them as `sweep --stats once` does
// (lib/sweep/stats-once.ts): they are the dense model's, so no block sees the outputs of
// pruned blocks. What the report records about the file. The gradient methods read the
// file's per-weight gradient moments (shears stats --gradients), one block's at a time.
import { Backend, NMPattern } from '../kernels';
import { GradientMoments } from '../methods/gradient-moments';
import type { LoadedModel } from '../model/types';
import type { PipelineProgress, PipelineResult, PruneGranularity } from '../prune/pipeline';
import { blockLabel } from '../prune/progress';
import { inputChecksum } from '../prune/report';
import type { Strategy, StrategyStats } from '../strategies';
import { selectLayers } from '../prune/layers';
import { StatsFileError } from './errors';
import { DenseStats, pruneWithDenseStats } from '../sweep/stats-once';
import { calibrationOf } from './format';
import { denseStatsFromFile, FileStatsSelection } from './for-model';
import { ImportanceForm, ImportanceSource, openImportance } from './importance';

/** The report's account of the statistics file (prune-report.json `statistics_file`). */
export interface StatsFileReport {
  path: string;
  form: ImportanceForm;
  /** 'once': every block pruned with the dense model's statistics. */
  protocol: 'once';
  /** What the layers' calibration_tokens count: tokens, or chunks for a legacy imatrix. */
  count_unit: 'tokens' | 'chunks';
  /** The checksum of the model the file was made from, when it says (shears files). */
  model_checksum?: string;
  model_checksum_matches?: boolean;
  /** The calibration the file records (shears files), and the datasets an imatrix names. */
  calibration?: unknown;
  datasets: string[];
}

/** The dense statistics read from a file, with the file's path (gradient moments are read from it block by block while pruning). */
export type FileDenseStats = DenseStats & { file?: string };

/** Reads the file's statistics for `model` (every check against the model first) and what the report says about them. */
export function readFileStats(model: LoadedModel, file: string, sel: FileStatsSelection): { stats: FileDenseStats; report: StatsFileReport; notes: string[] } {
  const src = openImportance(file);
  try {
    const stats = denseStatsFromFile(model, src, sel);
    const checksum = src.metadata.model_checksum;
    const matches = checksum === undefined ? undefined : checksum === inputChecksum(model);
    const notes = [
      `statistics from ${file} (${src.form}) instead of a calibration pass: every block pruned with the dense model's statistics (the --stats once protocol)`,
    ];
    if (matches === false)
      notes.push(`${file} was computed on a model with another checksum (${src.metadata.model_path ?? 'path unknown'}); its tensor names and widths match this one`);
    if (src.countUnit === 'chunks') notes.push(`${file} is a legacy imatrix: its counts are chunks, not tokens (calibration_tokens of the layers count chunks)`);
    const report: StatsFileReport = {
      path: file,
      form: src.form,
      protocol: 'once',
      count_unit: src.countUnit,
      ...(checksum !== undefined ? { model_checksum: checksum, model_checksum_matches: matches } : {}),
      ...(src.metadata.calibration !== undefined ? { calibration: calibrationOf(src.metadata) } : {}),
      datasets: src.datasets,
    };
    return { stats: { ...stats, file }, report, notes };
  } finally {
    src.close();
  }
}

export interface FilePruning extends FileStatsSelection {
  sparsity?: number;
  pattern?: NMPattern;
  granularity?: PruneGranularity;
  backend?: Backend;
  signal?: AbortSignal;
  onProgress?: (p: PipelineProgress) => void;
  onTensorsDone?: (names: string[]) => void;
}

/**
 * The per-weight statistics of a gradient method, from the file's gradient moments:
 * every selected layer checked first (present, the weight's shape), then read one block
 * at a time when asked. undefined for a method without per-weight statistics.
 */
function fileWeightStats(model: LoadedModel, strategy: Strategy, src: ImportanceSource, sel: FileStatsSelection) {
  const collect = strategy.collectWeights?.bind(strategy);
  if (!collect) return undefined;
  const { blocks } = selectLayers(model.config, model.tensors, sel);
  for (const l of blocks.flat()) {
    const e = src.gradients.get(l.name);
    const shape = model.tensors.get(l.name)!.shape;
    if (!e) throw new StatsFileError(src.path, `no gradient moments for ${l.name}: write the file with shears stats --gradients`, 'E_STATS_MISSING');
    if (e.shape.join() !== shape.join())
      throw new StatsFileError(src.path, `the gradient moments of ${l.name} have shape [${e.shape.join(', ')}], the model's weight [${shape.join(', ')}]: the statistics were made for another model than ${model.path}`, 'E_STATS_MODEL');
  }
  return (_b: number, layers: { name: string }[]): Map<string, StrategyStats> =>
    new Map(
      layers.map((l) => {
        const e = src.gradients.get(l.name)!;
        const stats = collect(e.shape[0], e.shape[1], l.name);
        for (const c of Object.values(stats))
          if (c instanceof GradientMoments) {
            c.place((_size, which) => e.read(which));
            c.count = e.count;
          }
        return [l.name, stats];
      }),
    );
}

/** Prunes `model` in place with the file's statistics; the same result shape as the pipeline's. */
export async function pruneFromFile(model: LoadedModel, strategy: Strategy, stats: FileDenseStats, o: FilePruning): Promise<PipelineResult> {
  if (!strategy.collectWeights) return pruneWithFileStats(model, strategy, stats, o);
  if (!stats.file) throw new TypeError(`${strategy.name} with --stats needs the statistics' file for its gradient moments`);
  const src = openImportance(stats.file);
  try {
    return await pruneWithFileStats(model, strategy, stats, o, fileWeightStats(model, strategy, src, o));
  } finally {
    src.close();
  }
}

async function pruneWithFileStats(
  model: LoadedModel,
  strategy: Strategy,
  stats: DenseStats,
  o: FilePruning,
  weightStats?: (b: number, layers: { name: string }[]) => Map<string, StrategyStats>,
): Promise<PipelineResult> {
  const blocks = model.config.numLayers;
  const started = Date.now();
  const progress = (block: number, phase: PipelineProgress['phase'], layer?: string) =>
    o.onProgress?.({ block, blocks, phase, layer, label: blockLabel(block, blocks, phase, layer), elapsedSeconds: (Date.now() - started) / 1000 });
  const granularity = o.granularity ?? (strategy.defaultGranularity as PruneGranularity);
  const { layers, timings } = await pruneWithDenseStats(model, strategy, stats, { sparsity: o.sparsity, pattern: o.pattern, backend: o.backend }, o.signal, {
    include: o.include,
    exclude: o.exclude,
    granularity,
    onLayer: (b, name) => progress(b + 1, 'pruning', name),
    onBlockDone: (_b, names) => o.onTensorsDone?.(names),
    weightStats,
  });
  progress(blocks, 'done');
  const notes = granularity === 'global' ? ['global: one threshold across the selected matrices of each block'] : [];
  return { layers, timings, granularity, notes };
}
