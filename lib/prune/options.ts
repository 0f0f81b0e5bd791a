// What prune() accepts, and every check of it that needs no model (run before
// anything is loaded) or only the loaded model's tensor table (run before calibration).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { BackendRequest, checkBackendRequest } from '../backend';
import { ArgumentRangeError, PatternError } from '../errors';
import { checkOutput } from '../formats/atomic';
import { targetFormat } from '../formats/convert';
import { checkPattern, checkSparsity, NMPattern, parsePattern, patternSparsity } from '../kernels';
import { HessianPrecision } from '../methods/hessian';
import { MethodInfo, methodInfo, METHODS } from '../methods/registry';
import { readableFile } from '../finetune/options';
import { METHOD_OPTION_FLAGS, MethodOptionName, MethodOptions, OptionContext, Structure, STRUCTURES } from '../methods/plugin';
import { HEAD_UNITS, HeadUnit } from './structured';
import { LoadedModel, DType } from '../model/types';
import { selectLayers } from './layers';
import { PruneGranularity } from './pipeline';
import type { PruneProgress } from './progress';
import { CalibrationArgs } from '../calibration/sample';
import { checkSampling } from '../forward/sampling';
import { checkStatsFileFor, statsCanServe } from '../stats/prune-check';

export interface PruneOptions extends CalibrationArgs {
  /** HF directory, .gguf file or llama2.c .bin. */
  model: string;
  /** llama2.c tokenizer file, when not beside the checkpoint. */
  tokenizer?: string;
  method: string;
  /**
   * Fraction pruned, in [0, 1): of each selected matrix's weights (masking methods), of
   * the prunable block parameters (structured methods), or of the blocks (--structure layers).
   */
  sparsity?: number;
  /** Structured methods: what is removed (default channels; block-influence: layers). */
  structure?: Structure;
  /** Structured methods: the same widths in every block (needed for standard HF configs). */
  uniform?: boolean;
  /** Structured methods: MLP widths rounded to a multiple of this (default 8). */
  multipleOf?: number;
  /** Structured methods under GQA: a unit of attention is a whole KV group ('group', default) or one query head of every group ('query'). */
  headUnit?: HeadUnit;
  /** "N:M" or {n, m}. */
  pattern?: string | NMPattern;
  granularity?: PruneGranularity;
  include?: string[];
  exclude?: string[];
  /** A directory (HF safetensors) or a .gguf file. */
  out: string;
  force?: boolean;
  dtype?: DType;
  hessianPrecision?: HessianPrecision;
  /** |x| above which an activation counts as an outlier in the statistics and the report (default 6). */
  activationThreshold?: number;
  /** gradient-sensitive: weight of the gradient term (default 100). */
  alpha?: number;
  /** auto (default: CUDA when a device answers), cpu, or cuda (a BackendError without a device). */
  backend?: BackendRequest;
  /**
   * Keep only one block's pruned weights in private memory by moving finished blocks
   * to scratch files beside the output (default true; lib/prune/offload.ts).
   */
  offload?: boolean;
  /** Calibration sequences per forward call. */
  batch?: number;
  /**
   * An importance file (`shears stats`: safetensors, or a llama.cpp imatrix .dat/.gguf)
   * whose per-column statistics replace the calibration pass: every block is pruned with
   * the dense model's statistics (the `--stats once` protocol).
   */
  stats?: string;
  /** Methods that recover after pruning (ewc): the user's queries (text, one per line, a corpus or JSONL, as --calib). They require it or queriesTokens. */
  queries?: string;
  /** The queries as token ids (a JSON array), instead of queries. */
  queriesTokens?: string;
  /** ewc: the strength lambda >= 0 of the pull lambda/2 * sum F (w - w*)^2 toward the dense weights (default RECOVERY_DEFAULTS.lambda). */
  ewcLambda?: number;
  /** ewc: recovery steps, a positive integer (default RECOVERY_DEFAULTS.steps); query-aware: distillation steps, >= 0 (default QUERY_AWARE_DEFAULTS.steps). */
  steps?: number;
  /** ewc and query-aware: learning rate, in (0, 1] (default RECOVERY_DEFAULTS.lr / QUERY_AWARE_DEFAULTS.lr). */
  lr?: number;
  /** query-aware: tokens the dense model generates after each --calib query (default 32; 0: the queries alone). */
  generateTokens?: number;
  /** query-aware: 0 (default) greedy continuations; > 0 sampled from softmax(logits / temperature), seeded by --seed. */
  temperature?: number;
  /** query-aware: sample among the k most likely tokens (0: all). */
  topK?: number;
  /** query-aware: the prior that ranks each matrix's weights (default sparsegpt). */
  prior?: 'sparsegpt' | 'wanda' | 'magnitude';
  /** query-aware: how the kept weights are reconstructed (default sparsegpt). */
  repair?: 'sparsegpt' | 'none';
  /** query-aware: the same sparsity in every block (default), or per-block sparsities from the blocks' measured KL. */
  allocation?: 'uniform' | 'sensitivity';
  /** query-aware: the distillation all blocks at once (joint), one block at a time (blockwise; bounded memory), or auto (default: joint while its state fits in 1 GiB). */
  distill?: 'auto' | 'blockwise' | 'joint';
  /** owl, rl-allocation, dsnot, kmeans: the method they build on (each method says which it takes). */
  base?: string;
  /** kmeans: 2^bits shared values per matrix (default 4). */
  bits?: number;
  /** formula: the score expression, e.g. "abs(W) * sqrt(xnorm)". */
  score?: string;
  /** ria: permute channels before an N:M selection. */
  permute?: boolean;
  /** rl-allocation: the agent's episode budget. */
  episodes?: number;
  signal?: AbortSignal;
  onProgress?: (p: PruneProgress) => void;
  /** Warnings (tokenizer not converted...). */
  onWarning?: (message: string) => void;
}

export type { PruneProgress };

/**
 * The recovery of a method that recovers (ewc), when not given: 20 AdamW steps of 4 query
 * windows at lr 1e-4 (a few minutes at most on 2 cores for the table's models; each
 * weight moves at most about lr a step), lambda 1e6 (measured: docs/gradient-methods.md).
 */
export const RECOVERY_DEFAULTS = { steps: 20, lr: 1e-4, lambda: 1e6, batch: 4 } as const;

/**
 * query-aware's distillation when not given: 100 AdamW steps of 4 environment windows at
 * lr 3e-4 (measured on the demo model: docs/query-aware.md).
 */
export const QUERY_AWARE_DEFAULTS = { steps: 100, lr: 3e-4, batch: 4 } as const;

export interface Checked {
  pattern?: NMPattern;
  sparsity: number;
  /** The recovery settings (methods that recover). */
  recovery?: { steps: number; lr: number; lambda: number; batch: number };
  format: 'hf' | 'gguf';
  reportPath: string;
}

/** The statistics settings shared by prune and sweep. */
export function checkStatisticsOptions(o: { hessianPrecision?: unknown; activationThreshold?: unknown; alpha?: unknown }): void {
  const a = o.alpha;
  if (a !== undefined && (typeof a !== 'number' || !Number.isFinite(a) || a < 0))
    throw new ArgumentRangeError(`--alpha must be a finite number >= 0, got ${String(a)}`);
  if (o.hessianPrecision !== undefined && o.hessianPrecision !== 'f64' && o.hessianPrecision !== 'f32')
    throw new ArgumentRangeError(`--hessian-precision must be f64 or f32, got '${String(o.hessianPrecision)}'`);
  const t = o.activationThreshold;
  if (t !== undefined && (typeof t !== 'number' || !Number.isFinite(t) || t < 0))
    throw new ArgumentRangeError(`--activation-threshold must be a finite number >= 0, got ${String(t)}`);
}

/** The calibration options shared by prune and stats (a calibration file is required by the caller when it needs one). */
export function checkCalibrationArgs(o: CalibrationArgs & { batch?: number }): void {
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
}

// The block width prune() runs SparseGPT with (lib/methods/sparsegpt.ts, blockSize's default).
const SPARSEGPT_BLOCK_COLUMNS = 128;

// Names of single model files other than .gguf: given as --out, they would become a
// directory of that name (a Hugging Face folder), which no user means.
const MODEL_FILE_EXTENSION = /\.(safetensors|bin|pt|pth|ckpt|onnx|ggml|json)$/i;

/** Refuses an output path that names a model file shears does not write (--out x.safetensors). */
export function checkOutPath(out: string): void {
  const ext = MODEL_FILE_EXTENSION.exec(out);
  if (ext)
    throw new ArgumentRangeError(
      `--out ${out} names a ${ext[1]} file, which shears does not write: --out takes a directory for Hugging Face output ` +
        `(model.safetensors, config.json and the tokenizer go inside it) or a file ending in .gguf`,
    );
}

/** --structure, --uniform and --multiple-of belong to structured methods, and only to them. */
function checkStructureOptions(o: PruneOptions, structured: boolean, pattern: boolean): void {
  if (!structured) {
    const given = [
      o.structure !== undefined && '--structure',
      o.uniform !== undefined && '--uniform',
      o.multipleOf !== undefined && '--multiple-of',
      o.headUnit !== undefined && '--head-unit',
    ].filter(Boolean);
    if (given.length > 0)
      throw new ArgumentRangeError(`${given.join(', ')} apply to structured methods (l1, random, wanda-sp, flap, block-influence, bias, and query-aware with --structure), not to ${o.method}`);
    return;
  }
  if (pattern) throw new ArgumentRangeError(`method ${o.method} removes whole units: --pattern N:M does not apply`);
  if (o.granularity !== undefined) throw new ArgumentRangeError(`method ${o.method} removes whole units: --granularity does not apply`);
  if (o.include !== undefined || o.exclude !== undefined) throw new ArgumentRangeError(`method ${o.method} removes whole units: --include / --exclude do not apply`);
  if (o.structure !== undefined && !STRUCTURES.includes(o.structure))
    throw new ArgumentRangeError(`--structure must be one of ${STRUCTURES.join(', ')}, got '${String(o.structure)}'`);
  if (o.multipleOf !== undefined && (!Number.isInteger(o.multipleOf) || o.multipleOf < 1))
    throw new ArgumentRangeError(`--multiple-of must be a positive integer, got ${String(o.multipleOf)}`);
  if (o.headUnit !== undefined && !HEAD_UNITS.includes(o.headUnit))
    throw new ArgumentRangeError(`--head-unit must be one of ${HEAD_UNITS.join(', ')}, got '${String(o.headUnit)}'`);
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
  if (o.granularity === 'global' && m.kind === 'reconstruct')
    throw new ArgumentRangeError(`${m.name} reconstructs each layer on its own: global granularity does not apply (use row or matrix)`);
  // query-aware removes units too when given --structure (its structured form).
  checkStructureOptions(o, m.kind === 'structured' || (m.structured !== undefined && o.structure !== undefined), pattern !== undefined);
  // Said before any work: the method would refuse it only after calibration.
  if (pattern && m.name === 'sparsegpt' && SPARSEGPT_BLOCK_COLUMNS % pattern.m !== 0)
    throw new PatternError(
      `--pattern ${pattern.n}:${pattern.m} with sparsegpt: SparseGPT prunes N:M inside blocks of ${SPARSEGPT_BLOCK_COLUMNS} columns, so M must divide ${SPARSEGPT_BLOCK_COLUMNS} (for example 2:4 or 4:8)`,
    );
  checkBackendRequest(o.backend);
  checkStatisticsOptions(o);
  if (m.calibrated && !o.calib && !o.calibTokens && !o.stats)
    throw new ArgumentRangeError(`method ${m.name} needs calibration data: give --calib FILE or --calib-tokens IDS.json${statsCanServe(m, methodOptionsOf(o)) ? ' (or --stats FILE from shears stats)' : ''}`);
  checkCalibrationArgs(o);
  if (o.stats !== undefined) checkStatsFileFor(o.stats, m, o, methodOptionsOf(o));
  checkMethodOptions(o, m, { sparsity, pattern, granularity: o.granularity, structure: o.structure });
  if (m.allocate && (pattern || o.granularity === 'global'))
    throw new ArgumentRangeError(`method ${m.name} gives each block its own sparsity: ${pattern ? 'an N:M pattern fixes every row' : 'global granularity sets one threshold'} (use --sparsity with row or matrix granularity)`);
  if (m.allocate && o.stats !== undefined)
    throw new ArgumentRangeError(`method ${m.name} chooses each block's sparsity on the dense model's activations: give --calib, not --stats`);
  const recovery = checkRecoveryOptions(o, m);
  checkOutPath(o.out);
  const format = targetFormat(o.out);
  checkOutput(o.out, format === 'hf' ? 'dir' : 'file', { force: o.force, inputPath: o.model });
  const reportPath = format === 'hf' ? path.join(o.out, 'prune-report.json') : o.out.replace(/\.gguf$/i, '.prune-report.json');
  if (format === 'gguf') checkOutput(reportPath, 'file', { force: o.force, inputPath: o.model });
  return { pattern, sparsity, format, reportPath, recovery };
}

/** The method options of o (MethodOptions beyond the common ones), for create() and checkOptions(). */
export function methodOptionsOf(o: Partial<Record<MethodOptionName, unknown>> & { seed?: number; alpha?: number }): MethodOptions {
  const picked: MethodOptions = { seed: o.seed ?? 0, alpha: o.alpha };
  for (const k of Object.keys(METHOD_OPTION_FLAGS) as MethodOptionName[]) if (o[k] !== undefined) (picked as Record<string, unknown>)[k] = o[k];
  return picked;
}

/**
 * --base, --bits, --score, --permute, --episodes: refused for a method that does not list
 * them (UnstructuredMethod.options), then checked by the method itself.
 */
export function checkMethodOptions(o: Partial<Record<MethodOptionName, unknown>> & { seed?: number; alpha?: number }, m: MethodInfo, run: OptionContext): void {
  const given = (Object.keys(METHOD_OPTION_FLAGS) as MethodOptionName[]).filter((k) => o[k] !== undefined);
  const foreign = given.filter((k) => !(m.options ?? []).includes(k));
  if (foreign.length > 0) {
    const takers = (k: MethodOptionName) => METHODS.filter((x) => x.implemented && x.options?.includes(k)).map((x) => x.name);
    const parts = foreign.map((k) => `${METHOD_OPTION_FLAGS[k]} (${takers(k).join(', ') || 'no implemented method'})`);
    throw new ArgumentRangeError(`${parts.join(', ')} ${foreign.length > 1 ? 'apply' : 'applies'} to other methods, not to ${m.name}`);
  }
  m.checkOptions?.(methodOptionsOf(o), run);
}

/** --queries, --ewc-lambda, --steps and --lr: required or checked for a method that recovers, refused for the others. */
function checkRecoveryOptions(o: PruneOptions, m: MethodInfo): Checked['recovery'] {
  checkEnvironmentOptions(o, m);
  if (m.environment) return checkDistillOptions(o, m);
  const given = [
    o.queries !== undefined && '--queries',
    o.queriesTokens !== undefined && '--queries-tokens',
    o.ewcLambda !== undefined && '--ewc-lambda',
    o.steps !== undefined && '--steps',
    o.lr !== undefined && '--lr',
  ].filter(Boolean);
  if (!m.recovers) {
    if (given.length > 0) throw new ArgumentRangeError(`${given.join(', ')} apply to methods that recover after pruning (ewc), not to ${m.name}`);
    return undefined;
  }
  const queries = o.queries || o.queriesTokens;
  if (!queries)
    throw new ArgumentRangeError(`method ${m.name} recovers on your queries after pruning: give --queries FILE (text, one query per line, or JSONL) or --queries-tokens IDS.json`);
  if (o.queries && o.queriesTokens) throw new ArgumentRangeError('give --queries or --queries-tokens, not both');
  if (o.stats !== undefined)
    throw new ArgumentRangeError(`method ${m.name} keeps the Fisher diagonal of its calibration pass for the recovery: give --calib, not --stats`);
  readableFile(queries, `queries (${o.queries ? '--queries' : '--queries-tokens'})`);
  const steps = o.steps ?? RECOVERY_DEFAULTS.steps;
  if (!Number.isInteger(steps) || steps < 1) throw new ArgumentRangeError(`--steps must be a positive integer, got ${String(o.steps)}`);
  const lr = o.lr ?? RECOVERY_DEFAULTS.lr;
  if (typeof lr !== 'number' || !Number.isFinite(lr) || lr <= 0 || lr > 1) throw new ArgumentRangeError(`--lr must be a finite number in (0, 1], got ${String(o.lr)}`);
  const lambda = o.ewcLambda ?? RECOVERY_DEFAULTS.lambda;
  if (typeof lambda !== 'number' || !Number.isFinite(lambda) || lambda < 0) throw new ArgumentRangeError(`--ewc-lambda must be a finite number >= 0, got ${String(o.ewcLambda)}`);
  return { steps, lr, lambda, batch: RECOVERY_DEFAULTS.batch };
}

const oneOf = (v: unknown, flag: string, allowed: readonly string[]) => {
  if (v !== undefined && !allowed.includes(v as string)) throw new ArgumentRangeError(`${flag} must be one of ${allowed.join(', ')}, got ${String(v)}`);
};

/** --generate-tokens, --prior, --repair, --allocation, --distill: checked for a method that learns from the query environment, refused for the others. */
function checkEnvironmentOptions(o: PruneOptions, m: MethodInfo): void {
  const given = [
    o.generateTokens !== undefined && '--generate-tokens',
    o.prior !== undefined && '--prior',
    o.repair !== undefined && '--repair',
    o.allocation !== undefined && '--allocation',
    o.distill !== undefined && '--distill',
    o.temperature !== undefined && '--temperature',
    o.topK !== undefined && '--top-k',
  ].filter(Boolean);
  if (!m.environment) {
    if (given.length > 0) throw new ArgumentRangeError(`${given.join(', ')} apply to query-aware, not to ${m.name}`);
    return;
  }
  if (o.generateTokens !== undefined && !(Number.isInteger(o.generateTokens) && o.generateTokens >= 0 && o.generateTokens <= 1 << 20))
    throw new ArgumentRangeError(`--generate-tokens must be an integer in [0, 1048576], got ${String(o.generateTokens)}`);
  oneOf(o.prior, '--prior', ['sparsegpt', 'wanda', 'magnitude']);
  oneOf(o.repair, '--repair', ['sparsegpt', 'none']);
  oneOf(o.allocation, '--allocation', ['uniform', 'sensitivity']);
  oneOf(o.distill, '--distill', ['auto', 'blockwise', 'joint']);
  checkSampling({ temperature: o.temperature, topK: o.topK, seed: o.seed ?? 0 });
  if (o.structure !== undefined && (o.allocation !== undefined || o.repair !== undefined))
    throw new ArgumentRangeError(`with --structure, ${m.name} removes whole units (the structured form of its prior; FLAP's compensation is its repair): --allocation and --repair do not apply`);
  if (o.allocation === 'sensitivity') {
    if (o.pattern !== undefined) throw new ArgumentRangeError('--allocation sensitivity moves sparsity between blocks: an N:M pattern fixes every row (use --allocation uniform)');
    if (o.granularity === 'global') throw new ArgumentRangeError('--allocation sensitivity sets each block\'s sparsity: it cannot be combined with --granularity global');
    if (o.sparsity !== undefined && !(o.sparsity >= 0.2 && o.sparsity <= 0.9))
      throw new ArgumentRangeError(`--allocation sensitivity measures the blocks between 20% and 90%: --sparsity ${o.sparsity} is outside`);
  }
}

/** query-aware: its queries are --calib (a text or JSONL file, not token ids or --stats), its steps may be 0. */
function checkDistillOptions(o: PruneOptions, m: MethodInfo): Checked['recovery'] {
  const refused = [o.queries !== undefined && '--queries', o.queriesTokens !== undefined && '--queries-tokens', o.ewcLambda !== undefined && '--ewc-lambda', o.stats !== undefined && '--stats', o.calibTokens !== undefined && '--calib-tokens'].filter(Boolean);
  if (refused.length > 0)
    throw new ArgumentRangeError(`method ${m.name} learns from the queries of --calib (text lines or JSONL, each continued by the dense model): ${refused.join(', ')} do not apply`);
  const steps = o.steps ?? QUERY_AWARE_DEFAULTS.steps;
  if (!Number.isInteger(steps) || steps < 0 || steps > 1e7) throw new ArgumentRangeError(`--steps must be an integer >= 0, got ${String(o.steps)}`);
  const lr = o.lr ?? QUERY_AWARE_DEFAULTS.lr;
  if (typeof lr !== 'number' || !Number.isFinite(lr) || lr <= 0 || lr > 1) throw new ArgumentRangeError(`--lr must be a finite number in (0, 1], got ${String(o.lr)}`);
  return { steps, lr, lambda: 0, batch: QUERY_AWARE_DEFAULTS.batch };
}

/**
 * The matrices to prune, checked once the model is loaded but before any calibration
 * work. Returns warnings for the run (and its report): an N:M pattern on rows whose
 * length is not a multiple of M.
 */
export function checkSelection(model: LoadedModel, o: PruneOptions, calibrated: boolean, pattern?: NMPattern): string[] {
  const { blocks, extra } = selectLayers(model.config, model.tensors, { include: o.include, exclude: o.exclude });
  if (blocks.every((b) => b.length === 0) && extra.length === 0) {
    const globs = [...(o.include ?? []).map((g) => `--include ${g}`), ...(o.exclude ?? []).map((g) => `--exclude ${g}`)].join(' ');
    throw new ArgumentRangeError(
      `${globs || 'the selection'} leaves no matrix to prune in ${o.model} (names look like blocks.0.attn.q.weight, blocks.0.mlp.down.weight, embed.weight)`,
    );
  }
  if (calibrated && extra.length > 0)
    throw new ArgumentRangeError(`method ${o.method} prunes linear layers inside blocks only; --include named ${extra.join(', ')}`);
  if (!pattern) return [];
  const names = [...blocks.flat().map((l) => l.name), ...extra];
  const rowLengths = names.map((n) => model.tensors.get(n)?.shape.at(-1)).filter((c): c is number => c !== undefined);
  const note = patternTailNote(pattern, rowLengths);
  return note ? [note] : [];
}

/**
 * How an N:M pattern treats rows whose length is not a multiple of M: the kernel
 * (native/cpu/select_nm.cc) takes the last r < M weights as a short group and keeps N
 * of them (all when r <= N), so every group still has at most N nonzeros, as sparse
 * hardware formats pad rows with zeros, but those rows end less sparse than 1 - N/M.
 */
export function patternTailNote(pattern: NMPattern, rowLengths: number[]): string | undefined {
  const { n, m } = pattern;
  const odd = [...new Set(rowLengths.filter((c) => c % m !== 0))].sort((a, b) => a - b);
  if (odd.length === 0) return undefined;
  const tails = odd.map((c) => {
    const r = c % m;
    return `${c} (last group ${r} weight${r === 1 ? '' : 's'}, ${Math.max(0, r - n)} pruned)`;
  });
  return (
    `pattern ${n}:${m} on rows whose length is not a multiple of ${m}: ${tails.join(', ')}. ` +
    `The last group of each such row is shorter and keeps up to ${n} weights, so at most ${n} of every ${m} stay nonzero ` +
    `but those matrices end slightly below ${(1 - n / m).toFixed(4)} sparsity; the Wanda/SparseGPT reference code and sparse hardware kernels expect row lengths that are a multiple of M`
  );
}
