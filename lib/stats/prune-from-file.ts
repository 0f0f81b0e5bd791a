// `prune --stats FILE`: the statistics come from an importance file instead of a
// calibration pass, and every block is pruned with them as `sweep --stats once` does
// (lib/sweep/stats-once.ts): they are the dense model's, so no block sees the outputs of
// pruned blocks. What the report records about the file.
import { Backend, NMPattern } from '../kernels';
import type { LoadedModel } from '../model/types';
import type { PipelineProgress, PipelineResult, PruneGranularity } from '../prune/pipeline';
import { blockLabel } from '../prune/progress';
import { inputChecksum } from '../prune/report';
import type { Strategy } from '../strategies';
import { DenseStats, pruneWithDenseStats } from '../sweep/stats-once';
import { calibrationOf } from './format';
import { denseStatsFromFile, FileStatsSelection } from './for-model';
import { ImportanceForm, openImportance } from './importance';

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

/** Reads the file's statistics for `model` (every check against the model first) and what the report says about them. */
export function readFileStats(model: LoadedModel, file: string, sel: FileStatsSelection): { stats: DenseStats; report: StatsFileReport; notes: string[] } {
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
    return { stats, report, notes };
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

/** Prunes `model` in place with the file's statistics; the same result shape as the pipeline's. */
export async function pruneFromFile(model: LoadedModel, strategy: Strategy, stats: DenseStats, o: FilePruning): Promise<PipelineResult> {
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
  });
  progress(blocks, 'done');
  const notes = granularity === 'global' ? ['global: one threshold across the selected matrices of each block'] : [];
  return { layers, timings, granularity, notes };
}
