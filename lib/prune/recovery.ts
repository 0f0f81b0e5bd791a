// The recovery step of prune() for a method that declares one (UnstructuredMethod.recovers,
// lib/methods/plugin.ts): after every matrix is pruned and before anything is written,
// the user's queries are drawn as calibration windows are, the input is loaded again
// (read-only mappings: the dense weights), and the strategy's recover() trains the
// pruned model. The dense mappings are closed however it ends.
import type { RecoveringStrategy, RecoveryReport, RecoverySettings } from '../methods/plugin';
import type { CalibrationSet } from '../calibration/sample';
import { loadModel } from '../formats/load';
import type { LoadedModel } from '../model/types';
import { untilAborted } from '../util/abortable';
import { PhaseClock } from '../util/clock';
import { drawCalibration } from './calibrate';
import type { PruneOptions } from './options';

export interface RecoveryRun {
  strategy: RecoveringStrategy;
  settings: RecoverySettings;
  /** The pruned matrices, in the pipeline's order. */
  layers: readonly string[];
  calibrationSource: string;
  /** The windows to recover on when the method brings its own (the query environment); else --queries is drawn. */
  environment?: { set: CalibrationSet; source: string };
  clock: PhaseClock;
  warn: (m: string) => void;
  onStep?: (step: number, steps: number, loss: number) => void;
  offload?: (names: string[]) => void;
}

export async function recoverPruned(model: LoadedModel, o: PruneOptions, r: RecoveryRun): Promise<RecoveryReport> {
  const queries = r.environment ?? await r.clock.time('recovery.queries', () =>
    drawCalibration(model, {
      calib: o.queries,
      calibTokens: o.queriesTokens,
      // Only as many windows as the steps visit (steps x batch), at most --calib-samples.
      calibSamples: Math.min(o.calibSamples ?? 128, r.settings.steps * r.settings.batch),
      seqLen: o.seqLen,
      calibSampling: o.calibSampling,
      seed: o.seed,
      signal: o.signal,
      onWarning: (m) => r.warn(`queries: ${m}`),
    }),
  );
  const dense = await r.clock.time('recovery.load', () => untilAborted(loadModel(o.model, { tokenizer: o.tokenizer }), o.signal, (m) => m.close()));
  try {
    return await r.strategy.recover({
      model,
      dense,
      layers: r.layers,
      queries,
      calibrationSource: r.calibrationSource,
      settings: r.settings,
      clock: r.clock,
      signal: o.signal,
      onStep: r.onStep,
      offload: r.offload,
    });
  } finally {
    dense.close();
  }
}
