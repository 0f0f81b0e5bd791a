// What every cell of a sweep shares, made once per process: the dense model (mapped,
// never written: the reference), the tokenized data, the dense model's statistics for
// `--stats once`, the query environment of learning methods, and the dense logits of
// the queries. The local sweep makes one; a distributed worker makes one per sweep it
// serves and keeps it for that sweep's next cells.
import { BackendPlan } from '../backend';
import { loadModel } from '../formats/load';
import { ForwardModel } from '../forward/model';
import { methodInfo } from '../methods/registry';
import type { LoadedModel } from '../model/types';
import { environmentCalibration, EnvironmentCalibration } from '../prune/environment-calibration';
import { StatisticsSettings } from '../prune/statistics';
import { secondsSince } from '../util/clock';
import type { CellOptions, Learning } from './cell';
import { prepareData, SweepData } from './data';
import { CheckedSweep, sweepMethodOptions } from './options';
import { DenseReference } from './quality';
import { DenseStats, gatherDenseStats } from './stats-once';

export interface SweepContext {
  o: CellOptions;
  backend: BackendPlan;
  denseModel: LoadedModel;
  denseFm: ForwardModel;
  data: SweepData;
  /** `--stats once`: the dense model's statistics, when some cell needs them. */
  denseStats?: DenseStats;
  learning: Learning;
  /** The dense logits of the queries, computed when the first cell needs them. */
  reference(): Promise<DenseReference>;
  /** Unmaps the dense model. */
  close(): void;
}

/**
 * Loads the dense model and prepares the data; with `statistics` (cells to compute,
 * `--stats once`, a method that reads statistics) gathers the dense statistics too.
 * `onStage` hears 'statistics' before that pass.
 */
export async function openSweepContext(
  o: CellOptions,
  checked: CheckedSweep,
  backend: BackendPlan,
  opts: { statistics: boolean; onStage?: (stage: 'statistics') => void },
): Promise<SweepContext> {
  const denseModel = await loadModel(o.model, { tokenizer: o.tokenizer });
  try {
    const data = await prepareData(denseModel, o, checked.needsCalibration);
    const denseFm = new ForwardModel(denseModel, { backend: backend.device });
    denseFm.validate();
    let denseStats: DenseStats | undefined;
    const strategies = opts.statistics && o.stats === 'once' && data.calibration ? checked.methods.flatMap((m) => methodInfo(m).create?.(sweepMethodOptions(o, methodInfo(m))) ?? []) : [];
    if (data.calibration && strategies.some((st) => st.needs.length > 0)) {
      opts.onStage?.('statistics');
      const s = process.hrtime.bigint();
      const settings: StatisticsSettings = {
        methods: strategies,
        activationThreshold: o.activationThreshold,
        hessianPrecision: o.hessianPrecision,
        backend: backend.device,
      };
      denseStats = await gatherDenseStats(denseModel, data.calibration, settings, { batch: o.batch, signal: o.signal });
      data.timings.statistics_once = secondsSince(s);
    }
    let environment: Promise<EnvironmentCalibration> | undefined;
    const learning: Learning = {
      denseModel,
      environment: () => (environment ??= environmentCalibration(denseModel, { ...o, seqLen: data.calibration?.seqLen ?? o.seqLen }, backend.device)),
    };
    let reference: Promise<DenseReference> | undefined;
    const makeReference = async () => {
      const s = process.hrtime.bigint();
      const r = await DenseReference.create(denseFm, data.queries, undefined, o.signal);
      data.timings.dense_query_logits = secondsSince(s);
      if (!r.cached) data.notes.push('the dense logits of the queries exceed 256 MiB: recomputed for every cell');
      return r;
    };
    return {
      o,
      backend,
      denseModel,
      denseFm,
      data,
      denseStats,
      learning,
      // A failed attempt (a stop) is not kept: the next cell tries again.
      reference: () => (reference ??= makeReference().catch((e: unknown) => {
        reference = undefined;
        throw e;
      })),
      close: () => denseModel.close(),
    };
  } catch (e) {
    denseModel.close();
    throw e;
  }
}
