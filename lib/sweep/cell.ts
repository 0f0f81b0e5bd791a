// One cell of a sweep: a pristine copy of the model pruned (or narrowed) by one method at
// one level or pattern, then evaluated against the dense model. The local sweep
// (./run.ts) and a distributed worker (lib/distributed/worker.ts) both compute cells
// here, from the same SweepContext, so that a cell is the same wherever it ran.
import { BackendPlan } from '../backend';
import { loadModel } from '../formats/load';
import { ForwardModel } from '../forward/model';
import { parsePattern } from '../kernels';
import { methodInfo } from '../methods/registry';
import type { StructuredMethod } from '../methods/plugin';
import { runStructured, structuredUnsupported } from '../prune/structured';
import type { LoadedModel } from '../model/types';
import { achievedSparsity, peakRssBytes } from '../prune/report';
import { runPipeline } from '../prune/pipeline';
import { selectLayers } from '../prune/layers';
import type { SweepCell } from '../report/types';
import type { SweepData } from './data';
import { CellSpec, SweepOptions, sweepMethodOptions } from './options';
import { cellQuality, DenseReference } from './quality';
import { DenseStats, pruneWithDenseStats } from './stats-once';
import { isAbort } from '../util/abortable';
import { PhaseClock, secondsSince as since } from '../util/clock';
import { measureSpeed, measureSpeedPair, SpeedResult, SpeedSettings, timingIds } from '../eval/speed';
import type { CalibrationSet } from '../calibration/sample';
import type { RecoveringStrategy, RecoveryReport } from '../methods/plugin';
import type { EnvironmentCalibration } from '../prune/environment-calibration';
import { QUERY_AWARE_DEFAULTS, RECOVERY_DEFAULTS } from '../prune/options';
import type { Strategy } from '../strategies';
import type { SweepContext } from './context';

/** What a cell reads of the sweep's options: the options themselves and the stop signal. */
export type CellOptions = SweepOptions & { signal?: AbortSignal };

/** The speed measurement of `--speed`: 128-token prefill, 16 decode steps, fastest of 5 (capped by the context). */
function speedSettings(model: LoadedModel): SpeedSettings {
  const ctx = model.config.contextLength;
  return { prefillTokens: Math.min(128, ctx), decodeTokens: Math.min(16, ctx - 1), reps: 5 };
}

const speedFields = (r: SpeedResult, prefix = ''): Record<string, number> => ({
  [`${prefix}prefill_tokens_per_second`]: r.prefillTokensPerSecond,
  ...(r.decodeTokensPerSecond !== undefined ? { [`${prefix}decode_tokens_per_second`]: r.decodeTokensPerSecond } : {}),
});

/** The dense model's speed alone (the sweep's reference row). */
export async function denseSpeed(fm: ForwardModel, data: SweepData, model: LoadedModel): Promise<Record<string, number>> {
  const s = speedSettings(model);
  return speedFields(await measureSpeed(fm, timingIds(data.evalTokens, Math.max(s.prefillTokens, s.decodeTokens + 1)), s));
}

/** A cell's speed measured alternately with the dense model's, both recorded in the cell. */
async function cellSpeed(fm: ForwardModel, dense: ForwardModel, data: SweepData, model: LoadedModel): Promise<Record<string, number>> {
  const s = speedSettings(model);
  const [d, p] = await measureSpeedPair(dense, fm, timingIds(data.evalTokens, Math.max(s.prefillTokens, s.decodeTokens + 1)), s);
  return { ...speedFields(p), ...speedFields(d, 'dense_') };
}

/** Every parameter of the model (all its tensors' elements). */
export const modelParameters = (model: LoadedModel): number => [...model.tensors.values()].reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);

/** Cached cells kept by --resume: ok cells and "does not apply" ones (failures are retried). */
export const reusable = (c: SweepCell | undefined): c is SweepCell => c !== undefined && !(c.status === 'na' && c.error === true);

export const na = (spec: CellSpec, reason: string, extra: Record<string, unknown> = {}): SweepCell => ({
  ...spec,
  sparsity: null,
  perplexity: null,
  kl: null,
  top1_agreement: null,
  timings: null,
  peak_rss_bytes: null,
  status: 'na',
  reason,
  ...extra,
});

/** What a cell of a learning method (ewc, query-aware) borrows from the sweep. */
export interface Learning {
  /** The sweep's dense model: read-only mappings, never written (the recovery's w* and teacher). */
  denseModel: LoadedModel;
  /** The query environment of --calib, made once per sweep when a cell first needs it. */
  environment: () => Promise<EnvironmentCalibration>;
}

/**
 * The recovery of a method that declares one, on what the sweep has: query-aware on its
 * environment, ewc on the calibration windows (the sweep's stand-in for the user's
 * queries), each with its prune defaults.
 */
async function recoverCell(
  strategy: RecoveringStrategy,
  model: LoadedModel,
  layers: readonly string[],
  queries: { set: CalibrationSet; source: string },
  environment: boolean,
  o: CellOptions,
  learning: Learning,
  clock: PhaseClock,
): Promise<RecoveryReport> {
  const d = environment ? { ...QUERY_AWARE_DEFAULTS, lambda: 0 } : RECOVERY_DEFAULTS;
  return strategy.recover({
    model,
    dense: learning.denseModel,
    layers,
    queries,
    calibrationSource: queries.source,
    settings: { steps: d.steps, lr: d.lr, lambda: d.lambda, batch: d.batch, seed: o.seed ?? 0 },
    clock,
    signal: o.signal,
  });
}

async function runCell(
  spec: CellSpec,
  o: CellOptions,
  data: SweepData,
  dense: DenseReference,
  denseStats: DenseStats | undefined,
  backend: BackendPlan,
  learning: Learning,
  onDetail: (detail: string) => void,
): Promise<SweepCell> {
  const t0 = process.hrtime.bigint();
  const clock = new PhaseClock();
  const { timings } = clock;
  const timed = <T>(phase: string, fn: () => Promise<T>) => clock.time(phase, fn);
  const info = methodInfo(spec.method);
  // A new memory mapping is pristine: pruning writes only to its copy-on-write pages.
  const model = await timed('load', () => loadModel(o.model, { tokenizer: o.tokenizer }));
  try {
    if (info.plugin?.kind === 'structured') return await structuredCell(spec, info.plugin, model, o, data, dense, backend, clock, t0, onDetail, { denseModel: learning.denseModel });
    const options = sweepMethodOptions(o, info);
    // The method's own refusals at this cell: an NA cell with the reason.
    info.checkOptions?.(options, {
      sparsity: spec.level,
      pattern: spec.pattern === 'unstructured' ? undefined : parsePattern(spec.pattern),
      structure: spec.structure,
    });
    // A masking method's structured form (query-aware, random) when the cell removes units.
    if (spec.structure !== undefined && info.structured) {
      // query-aware scores its units on the query environment, as prune does.
      const env = info.environment ? await timed('environment', learning.environment) : undefined;
      const recovering = info.recovers ? (info.create!(options) as RecoveringStrategy) : undefined;
      try {
        const recover = recovering && ((layers: string[]) => recoverWith(recovering, layers, env));
        return await structuredCell(spec, info.structured(options), model, o, data, dense, backend, clock, t0, onDetail, { recover, calibration: env?.set, denseModel: learning.denseModel });
      } finally {
        recovering?.release();
      }
    }
    const strategy = info.create!(options);
    try {
      return await pruneCell(strategy);
    } finally {
      (strategy as Partial<RecoveringStrategy>).release?.();
    }
  } finally {
    model.close();
  }

  /** The recovery of a method that declares one (query-aware on its environment, ewc on the calibration windows); returns the cell's note. */
  async function recoverWith(strategy: RecoveringStrategy, layers: string[], env: EnvironmentCalibration | undefined): Promise<string> {
    onDetail(env ? 'distilling' : 'recovering');
    const queries = env ?? { set: data.calibration!, source: o.calib ?? o.calibTokens ?? '' };
    const report = await timed('recovery', () => recoverCell(strategy, model, layers, queries, !!env, o, learning, clock));
    return recoverySummary(report, env ? 'the query environment of --calib' : 'the calibration windows');
  }

  async function pruneCell(strategy: Strategy): Promise<SweepCell> {
    const pattern = spec.pattern === 'unstructured' ? undefined : parsePattern(spec.pattern);
    const sparsity = pattern ? undefined : spec.level;
    // query-aware calibrates on the environment of the queries, made once per sweep.
    const environment = info.environment ? await timed('environment', learning.environment) : undefined;
    const calibration = environment ? environment.set : info.calibrated ? data.calibration : undefined;
    // Gradient methods gather their own dense-model statistics in the pipeline (one-shot);
    // allocation methods measure the dense model themselves and prune through the pipeline.
    const once = denseStats !== undefined && info.calibrated && !environment && !strategy.collectWeights && !info.allocate;
    const allocation =
      info.allocate && sparsity !== undefined
        ? await timed('allocation', () =>
            info.allocate!({
              model,
              calibration: calibration!,
              strategy,
              sparsity,
              options: sweepMethodOptions(o, info),
              backend: backend.device,
              batch: o.batch,
              signal: o.signal,
              onProgress: onDetail,
            }),
          )
        : undefined;
    const result = once
      ? {
          ...(await pruneWithDenseStats(model, strategy, denseStats, { sparsity, pattern, backend: backend.device }, o.signal)),
          granularity: strategy.defaultGranularity,
          notes: strategy.notes?.() ?? [],
        }
      : await runPipeline(model, {
          strategy,
          sparsity,
          blockSparsity: allocation?.sparsity,
          pattern,
          calibration,
          batch: o.batch,
          hessianPrecision: o.hessianPrecision,
          activationThreshold: o.activationThreshold,
          backend: backend.device,
          signal: o.signal,
          onProgress: (p) => p.phase !== 'done' && onDetail(`block ${p.block}/${p.blocks} ${p.phase}`),
        });
    // The calibration set is drawn once per sweep (and with --stats once, the statistics
    // gathered once): every cell shows that shared time.
    timings.calibration = info.calibrated ? (data.timings.calibration ?? 0) : 0;
    timings.statistics = once ? denseStats.timings.statistics : (result.timings.statistics ?? 0);
    timings.pruning = result.timings.pruning ?? 0;
    timings.forward = once ? denseStats.timings.forward : (result.timings.forward ?? 0);
    const recovered = info.recovers ? await recoverWith(strategy as RecoveringStrategy, result.layers.map((l) => l.name), environment) : undefined;
    o.signal?.throwIfAborted();
    const fm = new ForwardModel(model, { backend: backend.device });
    onDetail('evaluating');
    const q = await timed('eval', () => cellQuality(fm, data, dense, o.signal));
    const speed = o.speed ? await cellSpeed(fm, new ForwardModel(learning.denseModel, { backend: backend.device }), data, model) : {};
    timings.total = since(t0);
    const parametersBefore = modelParameters(model);
    const pruned = result.layers.reduce((n, l) => n + l.pruned, 0);
    const notes = [...result.notes, ...(allocation?.notes ?? []), ...(recovered ? [recovered] : [])];
    return okCell(spec, achievedSparsity(result.layers), q, timings, backend, notes, {
      stats: once ? 'once (approximate: dense-model statistics shared by every cell)' : info.calibrated ? 'exact' : 'none (no activation statistics)',
      granularity: result.granularity,
      // Masked weights stay in the file: the count of those left nonzero.
      parameters_nonzero: parametersBefore - pruned,
      parameters_before: parametersBefore,
      ...speed,
      ...(allocation ? { allocation: { block_sparsity: allocation.sparsity, ...allocation.report } } : {}),
    });
  }
}

function recoverySummary(r: RecoveryReport, on: string): string {
  return `${r.objective === 'kl' ? 'distilled' : 'recovered'} on ${on}: ${r.steps} steps (lr ${r.lr}), ${r.objective === 'kl' ? 'KL(dense || pruned)' : 'query loss'} ${r.loss_before.toFixed(4)} -> ${r.loss_after.toFixed(4)}, mask ${r.mask_preserved ? 'preserved' : 'NOT preserved'}`;
}

/** A computed cell: its quality against the dense model, timings, and what the kind of run adds (`extra`). */
function okCell(
  spec: CellSpec,
  sparsity: number,
  q: Awaited<ReturnType<typeof cellQuality>>,
  timings: Record<string, number>,
  backend: BackendPlan,
  notes: string[],
  extra: Record<string, unknown>,
): SweepCell {
  return {
    ...spec,
    sparsity,
    perplexity: q.perplexity,
    kl: q.kl,
    top1_agreement: q.top1Agreement,
    timings: timings as SweepCell['timings'],
    peak_rss_bytes: peakRssBytes(),
    status: 'ok',
    backend: backend.device,
    ...extra,
    query_positions: q.positions,
    computed_at: new Date().toISOString(),
    ...(notes.length > 0 || q.nonFinite ? { notes: [...notes, ...(q.nonFinite ? [q.nonFinite] : [])] } : {}),
  };
}

/**
 * A structured cell: units removed (lib/prune/structured.ts) from a pristine model, then
 * evaluated like any cell. `sparsity` is the achieved fraction of block parameters
 * removed; `parameters` the model's parameters after. A method that cannot apply to the
 * model (bias without biases) gives an NA cell with its reason.
 */
async function structuredCell(
  spec: CellSpec,
  method: StructuredMethod,
  model: LoadedModel,
  o: CellOptions,
  data: SweepData,
  dense: DenseReference,
  backend: BackendPlan,
  clock: PhaseClock,
  t0: bigint,
  onDetail: (detail: string) => void,
  learned: {
    /** A method that learns after removing units (query-aware's distillation) on every linear layer of the narrowed blocks; gives the cell's note. */
    recover?: (layers: string[]) => Promise<string>;
    /** The calibration of a method that scores units on the query environment. */
    calibration?: CalibrationSet;
    /** The sweep's dense model (the speed reference). */
    denseModel: LoadedModel;
  },
): Promise<SweepCell> {
  const { recover } = learned;
  const structure = spec.structure ?? o.structure ?? method.structures[0];
  const why = structuredUnsupported(model, method, structure);
  if (why) return na(spec, why);
  const r = await clock.time('pruning', () =>
    runStructured(model, {
      method,
      structure,
      sparsity: spec.level,
      uniform: o.uniform,
      multipleOf: o.multipleOf,
      headUnit: o.headUnit,
      calibration: method.calibrated ? (learned.calibration ?? data.calibration) : undefined,
      seed: o.seed,
      batch: o.batch,
      signal: o.signal,
      onProgress: (p) => onDetail(p.label),
    }),
  );
  const { timings } = clock;
  timings.calibration = method.calibrated ? (data.timings.calibration ?? 0) : 0;
  timings.statistics = r.timings.statistics ?? 0;
  timings.forward = 0;
  const recovered = recover ? await recover(selectLayers(model.config, model.tensors).blocks.flat().map((l) => l.name)) : undefined;
  o.signal?.throwIfAborted();
  onDetail('evaluating');
  const fm = new ForwardModel(model, { backend: backend.device });
  const q = await clock.time('eval', () => cellQuality(fm, data, dense, o.signal));
  const speed = o.speed ? await cellSpeed(fm, new ForwardModel(learned.denseModel, { backend: backend.device }), data, model) : {};
  timings.total = since(t0);
  const notes = recovered ? [...r.notes, recovered] : r.notes;
  return okCell(spec, r.achievedSparsity, q, timings, backend, notes, {
    stats: method.calibrated ? 'dense-model statistics (structured)' : 'none (no activation statistics)',
    structure,
    uniform: r.uniform,
    parameters: r.after.parameters,
    parameters_before: r.before.parameters,
    ...speed,
    channels_removed_fraction: r.removedUnits.channelFraction,
    heads_removed_fraction: r.removedUnits.headFraction,
    widths: r.widthsAfter.map((b) => [b.numHeads, b.numKvHeads, b.intermediateSize]),
    ...(r.removedBlocks.length > 0 ? { removed_blocks: r.removedBlocks } : {}),
    ...(r.firingHistogram ? { firing_probability_histogram: r.firingHistogram } : {}),
  });
}

/**
 * Computes one cell in `ctx`. A failure of the cell is a result, not an exception: an
 * argument error (a pattern the method cannot do...) gives a "does not apply" NA cell, any
 * other error an NA cell marked `error` (retried by --resume). A stop is rethrown.
 */
export async function computeCell(ctx: SweepContext, spec: CellSpec, onDetail: (detail: string) => void): Promise<SweepCell> {
  const reference = await ctx.reference();
  try {
    return await runCell(spec, ctx.o, ctx.data, reference, ctx.denseStats, ctx.backend, ctx.learning, onDetail);
  } catch (e) {
    if (isAbort(e, ctx.o.signal)) throw e;
    const err = e as Error;
    const expected = err instanceof RangeError;
    return na(spec, err.message, { error: !expected, error_name: err.name, peak_rss_bytes: peakRssBytes() });
  }
}
