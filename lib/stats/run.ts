// `shears stats`: one calibration pass over the dense model (the pass of `sweep --stats
// once`, lib/sweep/stats-once.ts), its per-column input statistics written as an
// importance file that `prune --stats FILE` reads back: shears' safetensors
// (FILE.safetensors), or a llama.cpp imatrix (FILE.dat legacy, FILE.gguf GGUF) for
// llama.cpp's quantizer. With `gradients`, also the per-weight gradient moments of every
// linear layer (./gradients.ts; shears' form only). Validated before loading anything;
// written atomically; stops cleanly on the signal, leaving no output.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { BackendRequest, planBackend } from '../backend';
import { CalibrationArgs } from '../calibration/sample';
import { ArgumentRangeError } from '../errors';
import { checkOutput, outputFolder, writeAtomically } from '../formats/atomic';
import { loadModel } from '../formats/load';
import { drawCalibration } from '../prune/calibrate';
import { checkCalibrationArgs, checkStatisticsOptions } from '../prune/options';
import { blockLabel } from '../prune/progress';
import { inputChecksum, peakRssBytes } from '../prune/report';
import { DEFAULT_ACTIVATION_THRESHOLD } from '../prune/statistics';
import { gatherDenseStats } from '../sweep/stats-once';
import { GatheredGradients, gatherGradients } from './gradients';
import { untilAborted } from '../util/abortable';
import { PhaseClock } from '../util/clock';
import { cleanStaleScratch } from '../util/scratch';
import { ImportanceForm } from './importance';
import { writeImportance } from './write';

export interface StatsOptions extends CalibrationArgs {
  model: string;
  /** llama2.c tokenizer file, when not beside the checkpoint. */
  tokenizer?: string;
  /** FILE.safetensors (shears), FILE.dat (llama.cpp legacy imatrix) or FILE.gguf (llama.cpp GGUF imatrix). */
  out: string;
  force?: boolean;
  activationThreshold?: number;
  /** Also the per-weight gradient moments (shears' .safetensors form only). */
  gradients?: boolean;
  /** Accumulator bytes above which the gradient moments live in file-backed scratch pages (default 256 MiB; 0: always). */
  gradientMemoryBudget?: number;
  batch?: number;
  backend?: BackendRequest;
  signal?: AbortSignal;
  onProgress?: (p: StatsProgress) => void;
  onWarning?: (message: string) => void;
}

export interface StatsProgress {
  stage: 'load' | 'calibration' | 'statistics' | 'gradients' | 'write' | 'done';
  /** What the CLI prints: load, calibration, "block 2/8 statistics", "sequence 3/128 gradients", write, done. */
  label: string;
  /** 1-based block of stage 'statistics'; 0 before, the block count after. */
  block: number;
  blocks?: number;
  /** Stage 'gradients': calibration sequences done, and in all. */
  sequences?: { done: number; total: number };
  elapsedSeconds: number;
}

export interface StatsReport {
  out: string;
  form: ImportanceForm;
  model: { path: string; architecture: string; checksum: string };
  calibration: { source: string; samples: number; seq_len: number; sampling: string; seed: number; packed: boolean; activation_threshold: number; notes: string[] };
  tokens: number;
  /** Linear layers whose input statistics were written. */
  layers: number;
  /** Linear layers whose gradient moments were written (with --gradients), and over how many sequences. */
  gradients?: { layers: number; sequences: number };
  timings: Record<string, number>;
  peak_rss_bytes: number;
  notes: string[];
}

/** The file form `out` asks for, by its extension. */
export function statsFormOf(out: string): ImportanceForm {
  if (/\.safetensors$/i.test(out)) return 'shears';
  if (/\.dat$/i.test(out)) return 'imatrix-dat';
  if (/\.gguf$/i.test(out)) return 'imatrix-gguf';
  throw new ArgumentRangeError(`--out ${out}: give a name ending in .safetensors (shears' importance file), .dat (llama.cpp's legacy imatrix) or .gguf (llama.cpp's GGUF imatrix)`);
}

export async function stats(o: StatsOptions): Promise<StatsReport> {
  const form = statsFormOf(o.out);
  if (!o.calib && !o.calibTokens) throw new ArgumentRangeError('shears stats needs calibration data: give --calib FILE or --calib-tokens IDS.json');
  checkCalibrationArgs(o);
  checkStatisticsOptions(o);
  if (o.gradients && form !== 'shears') throw new ArgumentRangeError(`--gradients writes per-weight statistics, which only shears' importance file holds: give --out FILE.safetensors, not ${o.out}`);
  if (o.gradientMemoryBudget !== undefined && !(Number.isSafeInteger(o.gradientMemoryBudget) && o.gradientMemoryBudget >= 0))
    throw new ArgumentRangeError(`gradientMemoryBudget must be an integer >= 0, got ${String(o.gradientMemoryBudget)}`);
  checkOutput(o.out, 'file', { force: o.force, inputPath: o.model });
  const backend = planBackend(o.backend);
  const clock = new PhaseClock();
  const notes: string[] = [];
  const warn = (m: string) => {
    notes.push(m);
    o.onWarning?.(m);
  };
  let blocks: number | undefined;
  const progress = (stage: StatsProgress['stage'], block = stage === 'write' || stage === 'done' ? (blocks ?? 0) : 0, sequences?: StatsProgress['sequences']) =>
    o.onProgress?.({
      stage,
      label: sequences ? `sequence ${sequences.done}/${sequences.total} gradients` : stage === 'statistics' ? blockLabel(block, blocks ?? 0, 'statistics') : stage,
      ...(sequences ? { sequences } : {}),
      block,
      ...(blocks === undefined ? {} : { blocks }),
      elapsedSeconds: clock.elapsed(),
    });
  const stale = cleanStaleScratch(outputFolder(o.out));
  if (stale) warn(stale);
  o.signal?.throwIfAborted();
  progress('load');
  const model = await clock.time('load', () => untilAborted(loadModel(o.model, { tokenizer: o.tokenizer }), o.signal, (m) => m.close()));
  let grads: GatheredGradients | undefined;
  try {
    blocks = model.config.numLayers;
    progress('calibration');
    const drawn = await clock.time('calibration', () => drawCalibration(model, { ...o, onWarning: warn }));
    const cal = drawn.set;
    const threshold = o.activationThreshold ?? DEFAULT_ACTIVATION_THRESHOLD;
    const dense = await clock.time('statistics', () =>
      gatherDenseStats(
        model,
        cal,
        { methods: [], activationThreshold: threshold, backend: backend.device },
        { batch: o.batch, signal: o.signal, onPhase: (b, phase) => phase === 'statistics' && progress('statistics', b + 1) },
      ),
    );
    if (o.gradients)
      grads = await gatherGradients(model, cal, {
        out: o.out,
        clock,
        signal: o.signal,
        budgetBytes: o.gradientMemoryBudget,
        onSequence: (done, total) => progress('gradients', blocks, { done, total }),
      });
    o.signal?.throwIfAborted();
    progress('write');
    const calibration = {
      source: path.resolve(drawn.source),
      samples: cal.samples,
      seq_len: cal.seqLen,
      sampling: cal.sampling,
      seed: cal.seed,
      packed: cal.packed,
      activation_threshold: threshold,
      notes: cal.notes,
    };
    const checksum = inputChecksum(model);
    const layers = await clock.time('write', () =>
      writeAtomically(o.out, 'file', { force: o.force, inputPath: o.model }, async (tmp) => {
        const fd = fs.openSync(tmp, 'w');
        try {
          return writeImportance(fd, form, model, dense, { calibration, checksum, warn }, grads?.moments);
        } finally {
          fs.closeSync(fd);
        }
      }),
    );
    progress('done');
    return {
      out: path.resolve(o.out),
      form,
      model: { path: path.resolve(o.model), architecture: model.config.architecture, checksum },
      calibration,
      tokens: cal.samples * cal.seqLen,
      layers,
      ...(grads ? { gradients: { layers: grads.moments.size, sequences: cal.samples } } : {}),
      timings: { ...clock.timings, total: clock.elapsed() },
      peak_rss_bytes: peakRssBytes(),
      notes,
    };
  } finally {
    grads?.release();
    model.close();
  }
}

