// shears' importance file (docs/importance-files.md): a safetensors file whose
// __metadata__ names the format and version, the model it was computed on (the report's
// input checksum) and the calibration; per linear layer <layer> (blocks.3.mlp.down):
//   <layer>.input.sum       F64 [in]  sum of x_j over the calibration tokens
//   <layer>.input.sum_sq    F64 [in]  sum of x_j^2
//   <layer>.input.outliers  F64 [in]  tokens with |x_j| > activation_threshold
//   <layer>.input.count     F64 [1]   tokens
// Layers that share an input (q/k/v, gate/up) each get their own copy, so that every
// layer's entry stands alone. The gradient statistics (`shears stats --gradients`), as
// the gradient methods' GradientMoments hold them (lib/methods/gradient-moments.ts):
// <layer>.grad.sum and <layer>.grad.sum_sq F32 [out, in] (S1, S2 over the calibration
// sequences), <layer>.grad.count F64 [1] (sequences).
import { FormatError } from '../errors';
import type { StatisticName } from '../strategies';

export const SHEARS_STATS_FORMAT = 'shears-importance';
export const SHEARS_STATS_VERSION = 1;

/** What a shears file holds today (statistics' names as the strategies declare them). */
export const SHEARS_PROVIDES: readonly StatisticName[] = ['columnSumSq', 'columnSum'];

/** The metadata keys shears writes (as strings, safetensors' rule). */
export interface ShearsStatsMetadata {
  format: string;
  format_version: string;
  /** Statistic groups present: 'activations', or 'activations,gradients'. */
  statistics: string;
  /** Every block saw the dense model's activations (`--stats once`). */
  protocol: string;
  model_path: string;
  model_architecture: string;
  model_checksum: string;
  model_checksum_of: string;
  /** JSON: source, samples, seq_len, sampling, seed, packed, activation_threshold, notes. */
  calibration: string;
  tokens: string;
  shears_version: string;
  created: string;
}

/** Refuses a safetensors file that is not a shears importance file of a version this shears reads. */
export function checkShearsMetadata(file: string, m: Record<string, string>): void {
  if (m.format !== SHEARS_STATS_FORMAT)
    throw new FormatError(file, `not a shears importance file (__metadata__ format is ${m.format === undefined ? 'absent' : `'${m.format}'`}, expected '${SHEARS_STATS_FORMAT}'): a model's safetensors?`);
  const v = Number(m.format_version);
  if (!Number.isInteger(v) || v < 1) throw new FormatError(file, `format_version '${m.format_version}' is not a version number`);
  if (v > SHEARS_STATS_VERSION) throw new FormatError(file, `format_version ${v} is newer than this shears reads (${SHEARS_STATS_VERSION}): upgrade shears`);
}

/** Describes statistic names for messages. */
export function describeStatistic(name: StatisticName): string {
  const known: Record<string, string> = {
    columnSumSq: 'per-column sums of squares of the layer inputs',
    columnSum: 'per-column sums of the layer inputs',
    hessian: "X^T X of each layer input (SparseGPT's Hessian)",
    gradient: 'per-weight moments of the calibration loss gradients (sum or sum of squares)',
  };
  return known[name] ?? `the statistic '${name}'`;
}

/** The calibration record of the metadata (a JSON object), or undefined when absent or not an object. */
export function calibrationOf(m: Record<string, string>): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(m.calibration ?? 'null') as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
