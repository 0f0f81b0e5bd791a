// `prune()`: the main job of shears as one awaitable call, for the CLI and for Node
// services. Validates everything it can before loading anything, loads the model
// (memory-mapped), draws the calibration set, runs the sequential pipeline, writes the
// pruned model (atomically) and prune-report.json beside it. Cancellable with an
// AbortSignal: a cancelled run leaves no output.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { readCalibrationDocuments, readTokenIds } from '../calibration/read';
import { CalibrationSet, sampleCalibration, windowsFromStream } from '../calibration/sample';
import { ArgumentRangeError, NotImplementedError } from '../errors';
import { checkOutput } from '../formats/atomic';
import { targetFormat, writeModelAs } from '../formats/convert';
import { loadModel } from '../formats/load';
import { checkPattern, checkSparsity, NMPattern, parsePattern, patternSparsity } from '../kernels';
import { HessianPrecision } from '../methods/hessian';
import { methodInfo } from '../methods/registry';
import { LoadedModel, TensorDType, TokenizerArtifacts } from '../model/types';
import { tokenizerArtifacts } from '../tokenizer/artifacts';
import { loadTokenizer } from '../tokenizer/load';
import { chatRenderer } from './chat';
import { selectLayers } from './layers';
import { publishTogether, Target } from './output';
import { PipelineProgress, PruneGranularity, runPipeline } from './pipeline';
import { achievedSparsity, inputChecksum, peakRssBytes, PruneReport, shearsVersion } from './report';

export interface PruneOptions {
  /** HF directory, .gguf file or llama2.c .bin. */
  model: string;
  /** llama2.c tokenizer file, when not beside the checkpoint. */
  tokenizer?: string;
  method: string;
  sparsity?: number;
  /** "N:M" or {n, m}. */
  pattern?: string | NMPattern;
  granularity?: PruneGranularity;
  /** Text / JSONL calibration file (user queries or a corpus). */
  calib?: string;
  /** JSON array of token ids. */
  calibTokens?: string;
  calibSamples?: number;
  seqLen?: number;
  calibSampling?: 'random' | 'contiguous';
  seed?: number;
  include?: string[];
  exclude?: string[];
  /** A directory (HF safetensors) or a .gguf file. */
  out: string;
  force?: boolean;
  dtype?: TensorDType;
  hessianPrecision?: HessianPrecision;
  /** Calibration sequences per forward call. */
  batch?: number;
  signal?: AbortSignal;
  onProgress?: (p: PruneProgress) => void;
  /** Warnings (tokenizer not converted...). */
  onWarning?: (message: string) => void;
}

export interface PruneProgress extends Partial<PipelineProgress> {
  stage: 'load' | 'calibration' | 'prune' | 'write' | 'done';
  elapsedSeconds: number;
}

interface Checked {
  pattern?: NMPattern;
  sparsity: number;
  format: 'hf' | 'gguf';
  reportPath: string;
}

/** Everything that can be checked without loading the model. Throws before any work. */
export function checkPruneOptions(o: PruneOptions): Checked {
  const m = methodInfo(o.method);
  let pattern: NMPattern | undefined;
  if (o.pattern !== undefined && o.pattern !== 'unstructured')
    pattern = typeof o.pattern === 'string' ? parsePattern(o.pattern) : checkPattern(o.pattern);
  let sparsity: number;
  if (pattern) {
    sparsity = patternSparsity(pattern);
    if (o.sparsity !== undefined && Math.abs(checkSparsity(o.sparsity) - sparsity) > 1e-9)
      throw new ArgumentRangeError(`--sparsity ${o.sparsity} contradicts --pattern ${pattern.n}:${pattern.m} (which prunes ${sparsity})`);
  } else {
    if (o.sparsity === undefined) throw new ArgumentRangeError('give --sparsity (in [0, 1)) or --pattern N:M');
    sparsity = checkSparsity(o.sparsity);
  }
  if (o.granularity !== undefined && !['row', 'matrix', 'global'].includes(o.granularity))
    throw new ArgumentRangeError(`granularity must be row, matrix or global, got '${String(o.granularity)}'`);
  if (o.granularity === 'global' && pattern)
    throw new ArgumentRangeError('an N:M pattern is per row: it cannot be combined with global granularity');
  if (o.granularity === 'global' && m.name === 'sparsegpt')
    throw new ArgumentRangeError('sparsegpt reconstructs each layer on its own: global granularity does not apply (use row or matrix)');
  if (m.calibrated && !o.calib && !o.calibTokens)
    throw new ArgumentRangeError(`method ${m.name} needs calibration data: give --calib FILE or --calib-tokens IDS.json`);
  if (o.calib && o.calibTokens) throw new ArgumentRangeError('give --calib or --calib-tokens, not both');
  for (const [k, v] of [
    ['calib-samples', o.calibSamples],
    ['seq-len', o.seqLen],
    ['batch', o.batch],
  ] as const)
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new ArgumentRangeError(`--${k} must be a positive integer, got ${v}`);
  if (o.seqLen !== undefined && o.seqLen < 2) throw new ArgumentRangeError(`--seq-len must be at least 2, got ${o.seqLen}`);
  if (o.seed !== undefined && !Number.isInteger(o.seed)) throw new ArgumentRangeError(`--seed must be an integer, got ${o.seed}`);
  if (o.calibSampling !== undefined && o.calibSampling !== 'random' && o.calibSampling !== 'contiguous')
    throw new ArgumentRangeError(`--calib-sampling must be random or contiguous, got '${String(o.calibSampling)}'`);
  for (const f of [o.calib, o.calibTokens]) if (f !== undefined && !fs.existsSync(f)) throw new ArgumentRangeError(`calibration file ${f} does not exist`);
  const format = targetFormat(o.out);
  checkOutput(o.out, format === 'hf' ? 'dir' : 'file', { force: o.force, inputPath: o.model });
  const reportPath = format === 'hf' ? path.join(o.out, 'prune-report.json') : o.out.replace(/\.gguf$/i, '.prune-report.json');
  if (format === 'gguf') checkOutput(reportPath, 'file', { force: o.force, inputPath: o.model });
  return { pattern, sparsity, format, reportPath };
}

/** The matrices to prune, checked once the model is loaded but before any calibration work. */
function checkSelection(model: LoadedModel, o: PruneOptions, calibrated: boolean): void {
  const { blocks, extra } = selectLayers(model.config, model.tensors, { include: o.include, exclude: o.exclude });
  if (blocks.every((b) => b.length === 0) && extra.length === 0) {
    const globs = [...(o.include ?? []).map((g) => `--include ${g}`), ...(o.exclude ?? []).map((g) => `--exclude ${g}`)].join(' ');
    throw new ArgumentRangeError(
      `${globs || 'the selection'} leaves no matrix to prune in ${o.model} (names look like blocks.0.attn.q.weight, blocks.0.mlp.down.weight, embed.weight)`,
    );
  }
  if (calibrated && extra.length > 0)
    throw new ArgumentRangeError(`method ${o.method} prunes linear layers inside blocks only; --include named ${extra.join(', ')}`);
}

/**
 * The tokenizer in the output's format, converted before any pruning so that a
 * tokenizer the target cannot hold fails in seconds, not after the run. Undefined when
 * the writer copies or keeps it as it is (or the model has none: the writer warns).
 */
async function tokenizerForOutput(model: LoadedModel, format: 'hf' | 'gguf'): Promise<TokenizerArtifacts | undefined> {
  const src = model.tokenizer;
  if (src.kind === 'none' || (format === 'hf' && model.format === 'hf' && src.kind === 'hf') || (format === 'gguf' && model.format === 'gguf'))
    return undefined;
  const a = await tokenizerArtifacts(src, { vocabSize: model.config.vocabSize, contextLength: model.config.contextLength });
  try {
    if (format === 'gguf') void a.ggufEntries; // converted on access
  } catch (e) {
    if (e instanceof NotImplementedError)
      throw new NotImplementedError(`${e.message}; write a Hugging Face folder instead (an --out path without .gguf)`);
    throw e;
  }
  return a;
}

export async function prune(o: PruneOptions): Promise<PruneReport> {
  const t0 = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - t0) / 1e9;
  const timings: Record<string, number> = {};
  const timed = async <T>(phase: string, fn: () => Promise<T>): Promise<T> => {
    const s = process.hrtime.bigint();
    try {
      return await fn();
    } finally {
      timings[phase] = (timings[phase] ?? 0) + Number(process.hrtime.bigint() - s) / 1e9;
    }
  };
  const checked = checkPruneOptions(o);
  const info = methodInfo(o.method);
  const progress = (p: Omit<PruneProgress, 'elapsedSeconds'>) => o.onProgress?.({ ...p, elapsedSeconds: elapsed() });
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    o.onWarning?.(m);
  };
  if (!info.calibrated && (o.calib || o.calibTokens))
    warn(`method ${info.name} uses no calibration data: ${o.calib ? '--calib' : '--calib-tokens'} was ignored`);
  o.signal?.throwIfAborted();

  progress({ stage: 'load' });
  const model = await timed('load', () => loadModel(o.model, { tokenizer: o.tokenizer }));
  try {
    checkSelection(model, o, info.calibrated);
    const artifacts = await tokenizerForOutput(model, checked.format);
    let calibration: CalibrationSet | undefined;
    let calibSource = '';
    if (info.calibrated) {
      progress({ stage: 'calibration' });
      calibration = await timed('calibration', async () => {
        const samples = o.calibSamples ?? 128;
        const seqLen = o.seqLen ?? Math.min(2048, model.config.contextLength);
        const sampling = o.calibSampling ?? 'random';
        const seed = o.seed ?? 0;
        if (seqLen > model.config.contextLength)
          throw new ArgumentRangeError(`--seq-len ${seqLen} exceeds the model's context length ${model.config.contextLength}`);
        if (o.calibTokens) {
          calibSource = o.calibTokens;
          return windowsFromStream(readTokenIds(o.calibTokens, model.config.vocabSize), { samples, seqLen, sampling, seed }, o.calibTokens);
        }
        calibSource = o.calib!;
        // The file first: its problems are the user's to fix, whatever the tokenizer.
        const docs = readCalibrationDocuments(o.calib!, { renderChat: chatRenderer(model) });
        const tokenizer = await loadTokenizer(model.tokenizer, { vocabSize: model.config.vocabSize });
        const set = sampleCalibration(docs.documents, tokenizer, { samples, seqLen, sampling, seed }, o.calib!);
        if (docs.chat === 'template') set.notes.push("chat rows rendered with the model's chat template");
        if (docs.chat === 'plain') set.notes.push('chat rows rendered as "role: content" lines (the model has no chat template)');
        if (docs.skipped > 0) set.notes.push(`${docs.skipped} rows without usable text were skipped`);
        return set;
      });
    }
    o.signal?.throwIfAborted();
    const result = await timed('prune', () =>
      runPipeline(model, {
        strategy: info.create!(),
        sparsity: checked.pattern ? undefined : checked.sparsity,
        pattern: checked.pattern,
        granularity: o.granularity,
        include: o.include,
        exclude: o.exclude,
        calibration,
        batch: o.batch,
        hessianPrecision: o.hessianPrecision,
        signal: o.signal,
        onProgress: (p) => progress({ stage: 'prune', ...p }),
      }),
    );
    o.signal?.throwIfAborted();
    progress({ stage: 'write' });
    const targets: Target[] =
      checked.format === 'hf' ? [{ path: o.out, kind: 'dir' }] : [{ path: o.out, kind: 'file' }, { path: checked.reportPath, kind: 'file' }];
    const report = await publishTogether(targets, { force: o.force, inputPath: o.model, signal: o.signal }, async (staged) => {
      const written = await timed('write', () =>
        writeModelAs(model, staged[0], {
          dtype: o.dtype,
          force: true,
          tokenizerArtifacts: async (src) => artifacts ?? tokenizerArtifacts(src, { vocabSize: model.config.vocabSize, contextLength: model.config.contextLength }),
          warn,
        }),
      );
      for (const [k, v] of Object.entries(result.timings)) timings[`prune.${k}`] = v;
      timings.total = elapsed();
      const { signal: _s, onProgress: _p, onWarning: _w, ...args } = o;
      const r: PruneReport = {
        shears_version: shearsVersion(),
        created: new Date().toISOString(),
        method: info.name,
        pattern: checked.pattern ? `${checked.pattern.n}:${checked.pattern.m}` : 'unstructured',
        sparsity: checked.sparsity,
        achieved_sparsity: achievedSparsity(result.layers),
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
              notes: calibration.notes,
            }
          : null,
        args,
        layers: result.layers.map((l) => ({ name: l.name, shape: l.shape, sparsity: l.sparsity, pruned: l.pruned })),
        timings,
        peak_rss_bytes: peakRssBytes(),
        output: { path: path.resolve(o.out), format: checked.format, tokenizer: written.tokenizer, report: path.resolve(checked.reportPath) },
        notes: [...result.notes, ...warnings],
      };
      const reportFile = checked.format === 'hf' ? path.join(staged[0], 'prune-report.json') : staged[1];
      fs.writeFileSync(reportFile, `${JSON.stringify(r, null, 2)}\n`);
      return r;
    });
    progress({ stage: 'done' });
    return report;
  } finally {
    model.close();
  }
}
