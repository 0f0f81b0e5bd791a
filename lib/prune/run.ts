// `prune()`: the main job of shears as one awaitable call, for the CLI and for Node
// services. Validates everything it can before loading anything, loads the model
// (memory-mapped), draws the calibration set, runs the sequential pipeline, writes the
// pruned model (atomically) and prune-report.json beside it. Cancellable with an
// AbortSignal, loading included: a cancelled run leaves no output. Every temporary of
// the run lives in one scratch folder beside the output (lib/util/scratch.ts), removed
// when the run ends however it ends; scratch left by runs that were killed is removed
// when the next run starts (and said in a warning).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { CalibrationSet } from '../calibration/sample';
import { writeModelAs } from '../formats/convert';
import { loadModel } from '../formats/load';
import { MethodInfo, methodInfo } from '../methods/registry';
import { selectLayers } from './layers';
import type { Allocation, RecoveringStrategy, RecoveryReport, Structure, StructuredMethod } from '../methods/plugin';
import type { Strategy } from '../strategies';
import { recoverPruned } from './recovery';
import { checkHFStructuredRun } from '../formats/hf-structure';
import { chooseGGUFArch } from '../formats/gguf-arch';
import type { LoadedModel } from '../model/types';
import { NotImplementedError } from '../errors';
import { tokenizerArtifacts } from '../tokenizer/artifacts';
import { checkPruneOptions, checkSelection, methodOptionsOf, PruneOptions, PruneProgress } from './options';
import { pipelineProgress, stageProgress } from './progress';
import { publishTogether, Target, tokenizerForOutput } from './output';
import { DEFAULT_ACTIVATION_THRESHOLD, PipelineProgress, PipelineResult, runPipeline } from './pipeline';
import { checkStructuredRun, runStructured, StructuredResult } from './structured';
import { structuredReport } from './structured-report';
import { planBackend } from '../backend';
import { achievedSparsity, inputChecksum, peakRssBytes, PruneReport, shearsVersion, sparsityShortfallNote } from './report';
import { PhaseClock } from '../util/clock';
import { untilAborted } from '../util/abortable';
import { Scratch } from '../util/scratch';
import { inRunScratch } from '../formats/atomic';
import { BlockOffloader } from './offload';
import { drawCalibration } from './calibrate';
import { pruneFromFile, readFileStats } from '../stats/prune-from-file';
import { EnvironmentCalibration, environmentCalibration, sensitivityAllocation } from './environment-calibration';

export { checkPruneOptions };
export type { PruneOptions, PruneProgress };

/** The units a run removes: a structured method's, or an unstructured method's structured form under --structure (query-aware). */
function structuredMethodOf(info: MethodInfo, o: PruneOptions): StructuredMethod | undefined {
  if (info.plugin?.kind === 'structured') return info.plugin;
  return o.structure !== undefined && info.structured ? info.structured({ prior: o.prior }) : undefined;
}

/** --structure, or the method's first: channels where it scores them (block-influence: layers). */
function structureOf(m: StructuredMethod, o: PruneOptions): Structure {
  return o.structure ?? (m.structures.includes('channels') ? 'channels' : m.structures[0]);
}

/**
 * A structured run whose output could not be written is refused before any work: HF
 * needs uniform widths (and OPT/GPT-2 their heads); GGUF needs an architecture llama.cpp
 * has (none for OPT), and GPT-2's takes one width for every block.
 */
/**
 * Whether a structured run writes a Hugging Face Llama that will hold o or MLP biases (from
 * bias compensation or from the model): transformers' LlamaConfig then needs a head count
 * that divides the hidden size (docs/hf-structured.md), so uniform selection keeps one.
 */
function hfLlamaWithBiases(model: LoadedModel, m: StructuredMethod, format: 'hf' | 'gguf'): boolean {
  if (format !== 'hf' || model.config.architecture !== 'llama') return false;
  if (m.compensate === true) return true;
  return [...model.tensors.keys()].some((n) => /^blocks\.\d+\.(attn\.o|mlp\.(gate|up|down))\.bias$/.test(n));
}

function checkStructuredOutput(model: LoadedModel, structure: Structure, uniform: boolean, format: 'hf' | 'gguf'): void {
  if (format === 'hf') return checkHFStructuredRun(model.config, { structure, uniform });
  chooseGGUFArch(model);
  if (model.config.architecture === 'gpt2' && (structure === 'heads' || structure === 'width' || (structure === 'channels' && !uniform)))
    throw new NotImplementedError(
      `GGUF output of ${model.path}: llama.cpp's gpt2 architecture takes one MLP width for every block and all of its heads: use --structure channels --uniform (or layers), or write HF`,
    );
}

export async function prune(o: PruneOptions): Promise<PruneReport> {
  const clock = new PhaseClock();
  const { timings } = clock;
  const elapsed = () => clock.elapsed();
  const timed = <T>(phase: string, fn: () => Promise<T>) => clock.time(phase, fn);
  const checked = checkPruneOptions(o);
  const backend = planBackend(o.backend);
  const info = methodInfo(o.method);
  let blocks: number | undefined; // known once the model is loaded
  const progress = (stage: Exclude<PruneProgress['stage'], 'prune'>) => o.onProgress?.(stageProgress(stage, blocks, elapsed()));
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    o.onWarning?.(m);
  };
  if (!info.calibrated && (o.calib || o.calibTokens || o.stats))
    warn(`method ${info.name} uses no calibration data: ${o.calib ? '--calib' : o.calibTokens ? '--calib-tokens' : '--stats'} was ignored`);
  o.signal?.throwIfAborted();
  return inRunScratch(o.out, warn, pruneIn);

  async function pruneIn(scratch: Scratch): Promise<PruneReport> {
    progress('load');
    let offloader: BlockOffloader | undefined;
    const load = loadModel(o.model, { tokenizer: o.tokenizer });
    const model = await timed('load', () => untilAborted(load, o.signal, (m) => m.close()));
    blocks = model.config.numLayers;
    let strategy: Strategy | undefined;
    const methodOptions = { ...methodOptionsOf(o), prior: o.prior, repair: o.repair, distill: o.distill };
    const createStrategy = () => info.create!(methodOptions, { scratch });
    try {
      o.signal?.throwIfAborted();
      for (const w of checkSelection(model, o, info.calibrated, checked.pattern)) warn(w);
      const unitMethod = structuredMethodOf(info, o);
      if (unitMethod) {
        const structure = structureOf(unitMethod, o);
        checkStructuredRun(model, unitMethod, structure);
        checkStructuredOutput(model, structure, o.uniform === true, checked.format);
      }
      // An importance file replaces the calibration pass; checked against the model before any work.
      const fileStats = info.calibrated && o.stats ? readFileStats(model, o.stats, { include: o.include, exclude: o.exclude }) : undefined;
      const artifacts = await tokenizerForOutput(model, checked.format);
      let calibration: CalibrationSet | undefined;
      let calibSource = '';
      let environment: EnvironmentCalibration | undefined;
      if (info.environment) {
        // The dense model continues the queries before anything is pruned.
        progress('calibration');
        environment = await timed('calibration', () => environmentCalibration(model, o, backend.device));
        calibration = environment.set;
        calibSource = environment.source;
        if (calibration.reuseWarning) warn(calibration.reuseWarning);
      } else if (info.calibrated && !fileStats) {
        progress('calibration');
        const drawn = await timed('calibration', () => drawCalibration(model, o));
        calibration = drawn.set;
        calibSource = drawn.source;
      }
      o.signal?.throwIfAborted();
      const plugin = unitMethod;
      let structured: StructuredResult | undefined;
      let recovery: RecoveryReport | undefined;
      let allocation: Allocation | undefined;
      let blockSparsity: number[] | undefined;
      let result: PipelineResult;
      if (plugin) {
        // Units are removed whole: the model's shapes change, so nothing is offloaded.
        structured = await timed('prune', () =>
          runStructured(model, {
            method: plugin,
            structure: structureOf(plugin, o),
            sparsity: checked.sparsity,
            uniform: o.uniform,
            multipleOf: o.multipleOf,
            headUnit: o.headUnit,
            keptHeadsDivide: hfLlamaWithBiases(model, plugin, checked.format) ? model.config.hiddenSize : undefined,
            calibration,
            seed: o.seed,
            batch: o.batch,
            signal: o.signal,
            onProgress: (p) =>
              o.onProgress?.(
                pipelineProgress({ ...p, phase: p.phase === 'statistics' ? 'statistics' : 'pruning', elapsedSeconds: elapsed() }, elapsed()),
              ),
          }),
        );
        result = { layers: [], timings: structured.timings, granularity: o.uniform ? 'matrix' : 'global', notes: structured.notes };
      } else {
        offloader = o.offload === false ? undefined : new BlockOffloader(scratch.path('offload'));
        const common = {
          sparsity: checked.pattern ? undefined : checked.sparsity,
          pattern: checked.pattern,
          granularity: o.granularity,
          include: o.include,
          exclude: o.exclude,
          backend: backend.device,
          signal: o.signal,
          onProgress: (p: PipelineProgress) => o.onProgress?.(pipelineProgress(p, elapsed())),
          onTensorsDone: offloader ? (names: string[]) => offloader!.offload(model, names) : undefined,
        };
        strategy = createStrategy();
        const pruning = strategy;
        let allocationNote: string | undefined;
        if (info.allocate) {
          const chosen = await timed('allocation', () =>
            info.allocate!({
              model,
              calibration: calibration!,
              strategy: pruning,
              sparsity: checked.sparsity,
              options: methodOptions,
              include: o.include,
              exclude: o.exclude,
              backend: backend.device,
              batch: o.batch,
              signal: o.signal,
              onProgress: (label) => o.onProgress?.({ stage: 'allocate', label, block: 0, blocks, elapsedSeconds: elapsed() }),
            }),
          );
          blockSparsity = chosen.sparsity;
          allocation = chosen;
        } else if (environment && o.allocation === 'sensitivity') {
          const allocation = await timed('allocation', () => sensitivityAllocation(model, environment!, pruning, checked.sparsity, { backend: backend.device, signal: o.signal }));
          blockSparsity = allocation.sparsity;
          allocationNote = `--allocation sensitivity: per-block sparsities ${blockSparsity.map((s) => s.toFixed(3)).join(', ')} (predicted KL ${allocation.predictedKl.toFixed(5)})`;
        }
        result = await timed('prune', () =>
          fileStats
            ? pruneFromFile(model, pruning, fileStats.stats, common)
            : runPipeline(model, {
                ...common,
                strategy: pruning,
                blockSparsity,
                calibration,
                batch: o.batch,
                hessianPrecision: o.hessianPrecision,
                activationThreshold: o.activationThreshold,
                scratch,
              }),
        );
        if (fileStats) result.notes.push(...fileStats.notes);
        if (allocationNote) result.notes.push(allocationNote);
        if (allocation) result.notes.push(...allocation.notes);
      }
      if (checked.recovery && checked.recovery.steps > 0) {
        // A structured run recovers with the method's strategy too (query-aware: the
        // distillation), on every linear layer of the narrowed blocks.
        strategy ??= createStrategy();
        const layers = structured ? selectLayers(model.config, model.tensors).blocks.flat().map((l) => l.name) : result.layers.map((l) => l.name);
        recovery = await recoverPruned(model, o, {
          strategy: strategy as RecoveringStrategy,
          settings: { ...checked.recovery, seed: o.seed ?? 0 },
          layers,
          calibrationSource: calibSource,
          environment: environment ? { set: environment.set, source: environment.source } : undefined,
          clock,
          warn,
          offload: offloader ? (names) => offloader!.offload(model, names) : undefined,
          onStep: (step, steps, loss) =>
            o.onProgress?.({ stage: 'recover', label: `recovery step ${step}/${steps}, loss ${loss.toFixed(4)}`, block: blocks ?? 0, blocks, elapsedSeconds: elapsed() }),
        });
      }
      o.signal?.throwIfAborted();
      progress('write');
      const targets: Target[] =
        checked.format === 'hf' ? [{ path: o.out, kind: 'dir' }] : [{ path: o.out, kind: 'file' }, { path: checked.reportPath, kind: 'file' }];
      const report = await publishTogether(targets, { force: o.force, inputPath: o.model, signal: o.signal }, scratch, async (staged) => {
        const written = await timed('write', () =>
          writeModelAs(model, staged[0], {
            dtype: o.dtype,
            force: true,
            tokenizerArtifacts: async (src) => artifacts ?? tokenizerArtifacts(src, { vocabSize: model.config.vocabSize, contextLength: model.config.contextLength }),
            warn,
          }),
        );
        for (const [k, v] of Object.entries(result.timings)) timings[`prune.${k}`] = v;
        const shortfall = structured ? undefined : sparsityShortfallNote(checked.sparsity, result.layers, result.granularity, checked.pattern !== undefined, blockSparsity !== undefined);
        if (shortfall) warn(shortfall);
        timings.total = elapsed();
        const { signal: _s, onProgress: _p, onWarning: _w, ...args } = o;
        const r: PruneReport = {
          shears_version: shearsVersion(),
          created: new Date().toISOString(),
          method: info.name,
          pattern: structured ? `structured (${structured.structure})` : checked.pattern ? `${checked.pattern.n}:${checked.pattern.m}` : 'unstructured',
          sparsity: checked.sparsity,
          achieved_sparsity: structured ? structured.achievedSparsity : achievedSparsity(result.layers),
          granularity: result.granularity,
          input: {
            path: path.resolve(o.model),
            format: model.format,
            architecture: model.config.architecture,
            family: model.config.family,
            checksum: inputChecksum(model),
            checksum_of: 'config and tensor table (names, dtypes, shapes)',
          },
          calibration: calibration
            ? {
                source: path.resolve(calibSource),
                samples: calibration.samples,
                seq_len: calibration.seqLen,
                sampling: calibration.sampling,
                seed: calibration.seed,
                packed: calibration.packed,
                activation_threshold: o.activationThreshold ?? DEFAULT_ACTIVATION_THRESHOLD,
                notes: calibration.notes,
              }
            : null,
          ...(fileStats ? { statistics_file: { ...fileStats.report, path: path.resolve(fileStats.report.path) } } : {}),
          args,
          backend,
          layers: result.layers.map((l) => ({
            name: l.name,
            shape: l.shape,
            sparsity: l.sparsity,
            pruned: l.pruned,
            ...(l.tokens !== undefined ? { calibration_tokens: l.tokens, outlier_columns: l.outlierColumns } : {}),
          })),
          ...(structured ? { structured: structuredReport(structured) } : {}),
          ...(recovery ? { recovery } : {}),
          ...(allocation ? { allocation: { method: info.name, block_sparsity: allocation.sparsity, ...allocation.report } } : {}),
          timings,
          peak_rss_bytes: peakRssBytes(),
          output: { path: path.resolve(o.out), format: checked.format, tokenizer: written.tokenizer, report: path.resolve(checked.reportPath) },
          notes: [...result.notes, ...warnings],
        };
        const reportFile = checked.format === 'hf' ? path.join(staged[0], 'prune-report.json') : staged[1];
        fs.writeFileSync(reportFile, `${JSON.stringify(r, null, 2)}\n`);
        return r;
      });
      progress('done');
      return report;
    } finally {
      (strategy as Partial<RecoveringStrategy> | undefined)?.release?.();
      offloader?.close();
      model.close();
    }
  }
}
