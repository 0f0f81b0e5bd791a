// The "settings" of a sweep's results: how it ran, as the report shows it (effective
// values, not the raw options; nothing that was not used).
import * as path from 'node:path';

import { GGUFEntry, LoadedModel } from '../model/types';
import { modelBaseName } from '../report/model-name';
import { shearsVersion } from '../prune/report';
import type { SweepSettings } from '../report/types';
import { SweepData } from './data';
import { CheckedSweep, SweepOptions } from './options';

export const STATS_LABEL = {
  exact: 'exact sequential (statistics gathered per cell from the partly pruned model, as in the reference code)',
  once: 'once (approximate: statistics of the dense model gathered once and reused by every cell; the calibration, statistics and forward times of cells are that shared pass)',
} as const;

/** Longest model name a title shows (a GGUF's general.name is untrusted input). */
const MAX_NAME = 120;

/** The model's own name (a GGUF's general.name), else its folder or file base name. */
export function modelDisplayName(model: LoadedModel, modelPath: string): string {
  const entries = model.format === 'gguf' ? (model.meta.gguf as GGUFEntry[] | undefined) : undefined;
  const own = entries?.find((e) => e.key === 'general.name')?.value;
  const name = typeof own === 'string' && own.trim() !== '' ? own.replace(/\s+/g, ' ').trim() : modelBaseName(modelPath);
  return name.length > MAX_NAME ? `${name.slice(0, MAX_NAME - 1)}…` : name;
}

export function reportSettings(
  o: SweepOptions,
  checked: CheckedSweep,
  model: LoadedModel,
  data: SweepData,
  counts: { computed: number; reused: number },
): SweepSettings {
  const abs = (p: string) => path.resolve(p);
  const cal = data.calibration;
  const windows = Math.min(Math.floor(data.evalTokens.length / data.evalSeqLen), o.maxWindows ?? Infinity);
  return {
    shears_version: shearsVersion(),
    model_name: modelDisplayName(model, o.model),
    architecture: model.config.architecture,
    format: model.format,
    ...(o.tokenizer ? { tokenizer: abs(o.tokenizer) } : {}),
    methods: checked.methods,
    levels: checked.levels,
    patterns: checked.patterns,
    stats: STATS_LABEL[o.stats ?? 'exact'],
    calibration: cal
      ? {
          source: abs((o.calib ?? o.calibTokens)!),
          samples: cal.samples,
          seq_len: cal.seqLen,
          sampling: cal.sampling,
          seed: cal.seed,
          packed: cal.packed,
          ...(cal.notes.length > 0 ? { notes: cal.notes } : {}),
        }
      : 'none (no method needs it)',
    evaluation: {
      source: abs((o.eval ?? o.evalTokens)!),
      tokens: data.evalTokens.length,
      seq_len: data.evalSeqLen,
      windows,
      protocol: 'non-overlapping windows, BOS once (WikiText-2 protocol of Wanda/SparseGPT)',
    },
    queries: { source: data.queriesSource, count: data.queries.length, positions: data.queries.reduce((s, q) => s + q.length, 0) },
    kl: 'mean over every position of every query of KL(dense || pruned) of the next-token distributions, in nats',
    timings:
      'seconds per cell: load (map a pristine copy), calibration (drawing the calibration set: once per sweep, the shared time shown in each calibrated cell, not in its total), ' +
      "statistics, pruning, forward (the pipeline's forward passes over the calibration data), eval (perplexity and query KL), total (wall time of the cell); peak_rss_bytes: the process peak so far",
    prepare_seconds: data.timings,
    ...(data.notes.length > 0 ? { notes: data.notes } : {}),
    cells_computed: counts.computed,
    cells_reused: counts.reused,
  };
}
