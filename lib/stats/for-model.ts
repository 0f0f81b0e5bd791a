// An importance file's statistics as the dense statistics of a loaded model (the
// `--stats once` protocol: every block pruned with the dense model's activations),
// after checking that the file was made for this model: every entry names a linear
// weight the model has, with the model's input width, and every selected layer has one.
import { ColumnStats } from '../kernels';
import type { LoadedModel } from '../model/types';
import { blockLinears, selectLayers } from '../prune/layers';
import type { BlockStats } from '../prune/statistics';
import type { DenseStats } from '../sweep/stats-once';
import { StatsFileError } from './errors';
import { calibrationOf } from './format';
import type { ImportanceSource } from './importance';
import { imatrixName } from './names';

export interface FileStatsSelection {
  include?: string[];
  exclude?: string[];
}

/** The file's per-input statistics for the selected layers of `model`; throws StatsFileError on the first mismatch. */
export function denseStatsFromFile(model: LoadedModel, src: ImportanceSource, sel: FileStatsSelection = {}): DenseStats {
  const arch = model.config.architecture;
  const { byWeight, unmapped } = src.layers(arch);
  const mismatch = (m: string) => new StatsFileError(src.path, `${m}: the statistics were made for another model than ${model.path}`, 'E_STATS_MODEL');
  const imatrix = src.form !== 'shears';
  const named = (w: string) => (imatrix ? `${byWeight.get(w)?.source ?? imatrixName(w, arch) ?? w} (${w})` : w);
  if (unmapped.length > 0) throw mismatch(`the file has ${unmapped[0]}, which is no linear layer of a ${arch} model`);
  const linears = new Set(Array.from({ length: model.config.numLayers }, (_, i) => blockLinears(model.config, model.tensors, i).map((l) => l.name)).flat());
  const { blocks } = selectLayers(model.config, model.tensors, sel);
  for (const ls of blocks)
    for (const l of ls) {
      const e = byWeight.get(l.name);
      const cols = model.tensors.get(l.name)!.shape[1];
      if (!e) throw mismatch(`no statistics for ${imatrix ? `${imatrixName(l.name, arch)} (${l.name})` : l.name}`);
      if (e.columns !== cols) throw mismatch(`${named(l.name)} has ${e.columns} input columns, the model's ${l.name} takes ${cols}`);
    }
  for (const w of byWeight.keys()) if (!linears.has(w)) throw mismatch(`the file has ${named(w)}, which the model does not have`);
  const threshold = Number(calibrationOf(src.metadata)?.activation_threshold);
  const out: BlockStats[] = blocks.map((ls) => {
    const stats: BlockStats = new Map();
    for (const l of ls) {
      if (stats.has(l.input)) continue; // layers sharing an input share its statistics (the first layer's entry)
      const s = byWeight.get(l.name)!.read();
      const c = new ColumnStats(s.sumSq.length, s.outliers && Number.isFinite(threshold) ? { threshold } : {});
      c.sumSq.set(s.sumSq);
      if (s.sum) c.sum.set(s.sum);
      if (s.outliers) c.exceed?.set(s.outliers);
      c.count = s.count;
      stats.set(l.input, { columns: c });
    }
    return stats;
  });
  return { blocks: out, timings: { forward: 0, statistics: 0 } };
}
