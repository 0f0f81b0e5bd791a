// prune-report.json: what was asked, what was done, and what it cost.
import type { RecoveryReport } from '../methods/plugin';
import type { StructuredReport } from './structured-report';
import type { StatsFileReport } from '../stats/prune-from-file';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { BackendPlan } from '../backend';
import { LoadedModel } from '../model/types';
import { LayerResult, PruneGranularity } from './pipeline';
import { packageRoot } from '../native/binding';

export interface PruneReport {
  shears_version: string;
  created: string;
  method: string;
  /** 'unstructured' or 'N:M'. */
  pattern: string;
  /** Requested sparsity (for N:M, 1 - N/M). */
  sparsity: number;
  /** Achieved fraction of zeros over all pruned matrices. */
  achieved_sparsity: number;
  granularity: PruneGranularity;
  input: { path: string; format: string; architecture: string; family: string; checksum: string; checksum_of: string };
  calibration: null | {
    source: string;
    samples: number;
    seq_len: number;
    sampling: string;
    seed: number;
    packed: boolean;
    /** |x| above which an activation counted as an outlier (outlier_columns). */
    activation_threshold: number;
    notes: string[];
  };
  /** `--stats FILE`: the importance file whose statistics replaced the calibration pass (calibration is then null). */
  statistics_file?: StatsFileReport;
  args: Record<string, unknown>;
  /** The backend asked for and the device every native call was given (lib/backend.ts). */
  backend: BackendPlan;
  /** calibration_tokens / outlier_columns: for calibrated methods (|x| > calibration.activation_threshold at least once). */
  layers: { name: string; shape: number[]; sparsity: number; pruned: number; calibration_tokens?: number; outlier_columns?: number }[];
  /** Structured methods: sizes and widths before and after (lib/prune/structured-report.ts). */
  structured?: StructuredReport;
  /** Methods that recover after pruning (ewc): the training on the queries, and the proof that the mask held. */
  recovery?: RecoveryReport;
  /** Allocation methods (owl, rl-allocation): the per-block sparsities and how they were chosen. */
  allocation?: { method: string; block_sparsity: number[]; [detail: string]: unknown };
  /** Phase name -> seconds, with total. */
  timings: Record<string, number>;
  peak_rss_bytes: number;
  output: { path: string; format: 'hf' | 'gguf'; tokenizer: string; report: string };
  notes: string[];
}

export function shearsVersion(): string {
  const pj = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version?: string };
  return pj.version ?? 'unknown';
}

/**
 * A checksum of the input's header and tensor table: config, and every tensor's name,
 * dtype and shape, plus the sizes of the files read. It identifies the checkpoint
 * without reading every weight (which a 140 GB model would make slow).
 */
export function inputChecksum(model: LoadedModel): string {
  const h = crypto.createHash('sha256');
  h.update(JSON.stringify(model.config));
  for (const [name, t] of [...model.tensors.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    h.update(`${name}\0${t.dtype}\0${t.shape.join('x')}\n`);
  return `sha256:${h.digest('hex')}`;
}

/** Peak resident set size of this process so far, in bytes. */
export function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

export function achievedSparsity(layers: LayerResult[]): number {
  let pruned = 0;
  let total = 0;
  for (const l of layers) {
    pruned += l.pruned;
    total += l.shape[0] * l.shape[1];
  }
  return total > 0 ? pruned / total : 0;
}

/**
 * Why the achieved sparsity is below the requested one, for the report's notes: each
 * comparison group (a row by default, a matrix, or all of them) prunes floor(sparsity x
 * its size) weights, as the Wanda and SparseGPT reference code does (int(cols * ratio)),
 * so short rows at low sparsity fall short (1% of a 256-wide row is 2.56: 2 are pruned).
 * The note gives what each row length measured. Undefined when the shortfall is below
 * the report's 4 decimals, and for N:M patterns (short tail groups have their own note).
 */
export function sparsityShortfallNote(requested: number, layers: LayerResult[], granularity: PruneGranularity, pattern: boolean, perBlock = false): string | undefined {
  const achieved = achievedSparsity(layers);
  if (pattern || requested - achieved < 5e-5) return undefined;
  const byRowLength = new Map<number, LayerResult[]>();
  for (const l of layers) byRowLength.set(l.shape[1], [...(byRowLength.get(l.shape[1]) ?? []), l]);
  const measured = [...byRowLength.entries()]
    .sort(([a], [b]) => a - b)
    .map(([cols, ls]) => `matrices with rows of ${cols}: ${achievedSparsity(ls).toFixed(4)}`);
  const group = granularity === 'row' ? 'row' : granularity === 'matrix' ? 'matrix' : 'selection (global)';
  // With per-block sparsities (an allocation), each block's own sparsity is rounded down.
  const rule = perBlock ? `each ${group} prunes floor(its block's sparsity x its size) weights (the per-block sparsities average ${requested})` : `each ${group} prunes floor(${requested} x its size) weights`;
  return (
    `achieved sparsity ${achieved.toFixed(4)} is below the requested ${requested}: ${rule}, ` +
    `rounded down as the Wanda/SparseGPT reference code does (never above the request), which matters for short rows at low sparsity (${measured.join('; ')})`
  );
}
