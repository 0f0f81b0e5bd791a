// Writing the dense statistics of every linear layer's input in one of the three forms
// (docs/importance-files.md): shears' safetensors with its metadata, or a llama.cpp
// imatrix (legacy .dat, GGUF) under llama.cpp's tensor names.
import { ImatrixOut } from '../formats/imatrix';
import { encodeImatrixDat } from '../formats/imatrix-dat';
import { writeImatrixGGUF } from '../formats/imatrix-gguf';
import { writeAll } from '../formats/atomic';
import { ColumnStats } from '../kernels';
import type { LoadedModel } from '../model/types';
import { blockLinears } from '../prune/layers';
import { shearsVersion } from '../prune/report';
import type { DenseStats } from '../sweep/stats-once';
import { SHEARS_STATS_FORMAT, SHEARS_STATS_VERSION, ShearsStatsMetadata } from './format';
import type { ImportanceForm } from './importance';
import type { GradientMoments } from '../methods/gradient-moments';
import { gradKey, imatrixName, inputKey } from './names';
import { TensorOut, writeSafetensors } from './safetensors-f64';

export interface StatsProvenance {
  calibration: { source: string; samples: number; seq_len: number; activation_threshold: number } & Record<string, unknown>;
  /** inputChecksum of the model. */
  checksum: string;
  warn: (message: string) => void;
}

/** Every linear layer of the model with the column statistics of its input. */
function layerColumns(model: LoadedModel, dense: DenseStats): { weight: string; columns: ColumnStats }[] {
  const out: { weight: string; columns: ColumnStats }[] = [];
  for (let b = 0; b < model.config.numLayers; b++)
    for (const l of blockLinears(model.config, model.tensors, b)) {
      const columns = dense.blocks[b]?.get(l.input)?.columns;
      if (columns) out.push({ weight: l.name, columns });
    }
  return out;
}

function metadataOf(model: LoadedModel, p: StatsProvenance, gradients?: Map<string, GradientMoments>): ShearsStatsMetadata {
  return {
    format: SHEARS_STATS_FORMAT,
    format_version: String(SHEARS_STATS_VERSION),
    statistics: gradients ? 'activations,gradients' : 'activations',
    protocol: 'dense',
    model_path: model.path,
    model_architecture: model.config.architecture,
    model_checksum: p.checksum,
    model_checksum_of: 'config and tensor table (names, dtypes, shapes)',
    calibration: JSON.stringify(p.calibration),
    tokens: String(p.calibration.samples * p.calibration.seq_len),
    shears_version: shearsVersion(),
    created: new Date().toISOString(),
  };
}

function safetensorsTensors(layers: { weight: string; columns: ColumnStats }[]): TensorOut[] {
  return layers.flatMap(({ weight, columns: c }) => [
    { name: inputKey(weight, 'sum'), shape: [c.cols], data: c.sum },
    { name: inputKey(weight, 'sum_sq'), shape: [c.cols], data: c.sumSq },
    ...(c.exceed ? [{ name: inputKey(weight, 'outliers'), shape: [c.cols], data: c.exceed }] : []),
    { name: inputKey(weight, 'count'), shape: [1], data: Float64Array.of(c.count) },
  ]);
}

/** The gradient moments' tensors, viewing the accumulators' own arrays (written from there, no copy). */
function gradientTensors(model: LoadedModel, gradients: Map<string, GradientMoments>): TensorOut[] {
  return [...gradients].flatMap(([weight, m]) => {
    const shape = model.tensors.get(weight)!.shape;
    return [
      { name: gradKey(weight, 'sum'), shape, data: m.sum! },
      { name: gradKey(weight, 'sum_sq'), shape, data: m.sumSq! },
      { name: gradKey(weight, 'count'), shape: [1], data: Float64Array.of(m.count) },
    ];
  });
}

function imatrixOf(model: LoadedModel, layers: { weight: string; columns: ColumnStats }[], p: StatsProvenance): ImatrixOut {
  const arch = model.config.architecture;
  if (arch === 'opt') p.warn("llama.cpp has no OPT architecture: the imatrix uses GPT-2's tensor names (attn_qkv, attn_output, ffn_up, ffn_down)");
  const byName = new Map<string, ImatrixOut['tensors'][number]>();
  for (const { weight, columns: c } of layers) {
    const name = imatrixName(weight, arch);
    // q/k/v of a fused attn_qkv share one entry (they read the same input).
    if (name && !byName.has(name)) byName.set(name, { name, sumSq: c.sumSq, sum: c.sum, tokens: c.count });
  }
  const metadata = Object.fromEntries(Object.entries(metadataOf(model, p)).map(([k, v]) => [`shears.${k}`, v]));
  return { tensors: [...byName.values()], dataset: p.calibration.source, chunks: p.calibration.samples, chunkSize: p.calibration.seq_len, metadata };
}

/**
 * Writes the statistics to the open file `fd` in `form`; returns the number of linear
 * layers covered. `gradients` (shears' form only): each weight's moments (sum and sumSq).
 */
export function writeImportance(
  fd: number,
  form: ImportanceForm,
  model: LoadedModel,
  dense: DenseStats,
  p: StatsProvenance,
  gradients?: Map<string, GradientMoments>,
): number {
  const layers = layerColumns(model, dense);
  if (gradients && form !== 'shears') throw new TypeError('gradient statistics are written in shears importance files only');
  if (form === 'shears')
    writeSafetensors(fd, [...safetensorsTensors(layers), ...(gradients ? gradientTensors(model, gradients) : [])], { ...metadataOf(model, p, gradients) });
  else if (form === 'imatrix-dat') writeAll(fd, encodeImatrixDat(imatrixOf(model, layers, p)));
  else writeImatrixGGUF(fd, imatrixOf(model, layers, p));
  return layers.length;
}
