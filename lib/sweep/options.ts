// What a sweep is asked to do, checked before anything is loaded, and the list of
// cells it implies: every (method, unstructured, level), plus one cell per
// (method, N:M) at the pattern's own sparsity 1 - N/M.
import * as fs from 'node:fs';

import { BackendRequest, checkBackendRequest } from '../backend';
import { ArgumentRangeError } from '../errors';
import { checkSparsity, parsePattern, patternSparsity } from '../kernels';
import { HessianPrecision } from '../methods/hessian';
import { checkStatisticsOptions, methodOptionsOf } from '../prune/options';
import { MethodInfo, methodInfo } from '../methods/registry';
import { METHOD_OPTION_FLAGS, MethodOptionName, MethodOptions, Structure, STRUCTURES } from '../methods/plugin';
import type { HeadUnit } from '../prune/structured';
import type { SweepPattern } from '../report/types';
import { CalibrationArgs } from '../calibration/sample';

/** 0.01, 0.05, 0.10, 0.20, ..., 0.90, 0.95, 0.99. */
export const DEFAULT_LEVELS: readonly number[] = [0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99];

export type StatsMode = 'exact' | 'once';

export interface SweepOptions extends CalibrationArgs {
  /** HF directory, .gguf file or llama2.c .bin. */
  model: string;
  /** llama2.c tokenizer file, when not beside the checkpoint. */
  tokenizer?: string;
  methods: string[];
  /** Unstructured sparsity levels (default DEFAULT_LEVELS). */
  levels?: number[];
  /** "unstructured" and/or "N:M" (default: unstructured only). */
  patterns?: string[];
  /** Evaluation text (a .jsonl file: its "text" rows joined with a blank line). */
  eval?: string;
  /** Evaluation token ids (JSON array), used as they are. */
  evalTokens?: string;
  /** Perplexity window length (default: the model's context length). */
  evalSeqLen?: number;
  /** Evaluate only the first windows. */
  maxWindows?: number;
  /** Held-out user queries, one per line (default: the evaluation windows). */
  queries?: string;
  stats?: StatsMode;
  resume?: boolean;
  force?: boolean;
  out: string;
  /** Calibration sequences per forward call. */
  batch?: number;
  /** auto (default: CUDA when a device answers), cpu, or cuda (a BackendError without a device). */
  backend?: BackendRequest;
  /** SparseGPT's statistic precision (default f64), in the exact and the `--stats once` pass alike. */
  hessianPrecision?: HessianPrecision;
  /** |x| above which an activation counts as an outlier in the statistics (default 6). */
  activationThreshold?: number;
  /** gradient-sensitive: weight of the gradient term (default 100). */
  alpha?: number;
  /** Structured methods: what is removed (default channels; layers for block-influence). A level is then the fraction of block parameters (of blocks) removed. */
  structure?: Structure;
  /** Structured methods: the same widths in every block. */
  uniform?: boolean;
  /** Structured methods: MLP widths rounded to a multiple of this (default 8). */
  multipleOf?: number;
  /** Structured methods under GQA: KV groups ('group', default) or one query head of every group ('query'). */
  headUnit?: HeadUnit;
  /**
   * Measure each pruned model's tokens/s in shears' forward pass (and the dense model's
   * once): prefill and decode (lib/eval/speed.ts), on the evaluation tokens.
   */
  speed?: boolean;
  /** Unstructured levels of particular methods, in place of `levels` for them (the demo runs the methods that train at 50% only). */
  methodLevels?: Record<string, number[]>;
  /** The method options (--base, --bits, --score, --permute, --episodes): each goes to the sweep's methods that take it. */
  base?: string;
  bits?: number;
  score?: string;
  permute?: boolean;
  episodes?: number;
  /** A Redis URL (redis://HOST:PORT): enqueue the cells for `shears worker` processes instead of computing them here (lib/distributed). */
  queue?: string;
}

export interface CellSpec {
  method: string;
  pattern: SweepPattern;
  level: number;
  /** Structured methods: what the cell removes (shown in labels in place of the pattern). */
  structure?: Structure;
}

export interface CheckedSweep {
  methods: string[];
  levels: number[];
  patterns: SweepPattern[];
  cells: CellSpec[];
  needsCalibration: boolean;
}

/** "0.1,0.5" -> [0.1, 0.5]; each in [0, 1), duplicates removed, order kept. */
export function parseLevels(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(',')) {
    const s = part.trim();
    const v = Number(s);
    if (s === '' || Number.isNaN(v)) throw new ArgumentRangeError(`--levels: '${s}' is not a number`);
    checkSparsity(v, `level ${s}`);
    if (!out.includes(v)) out.push(v);
  }
  return out;
}

const listOf = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
export const parseList = listOf;

function normPattern(p: string): SweepPattern {
  if (p === 'unstructured') return p;
  const nm = parsePattern(p);
  return `${nm.n}:${nm.m}` as SweepPattern;
}

/** The cells in sweep order: per method, unstructured levels first, then each N:M pattern. */
/**
 * The cells of a sweep; methods in `unitsOnly` (structured: they remove whole units; allocation methods) get no N:M cell,
 * methods in `patternsOnly` (random-pattern) no unstructured cell.
 */
export function sweepCells(
  methods: string[],
  patterns: SweepPattern[],
  levels: number[],
  unitsOnly: ReadonlySet<string> = new Set(),
  patternsOnly: ReadonlySet<string> = new Set(),
): CellSpec[] {
  const cells: CellSpec[] = [];
  for (const method of methods)
    for (const pattern of patterns) {
      if (pattern !== 'unstructured' && unitsOnly.has(method)) continue;
      if (pattern === 'unstructured' && patternsOnly.has(method)) continue;
      if (pattern === 'unstructured') for (const level of levels) cells.push({ method, pattern, level });
      else cells.push({ method, pattern, level: patternSparsity(parsePattern(pattern)) });
    }
  return cells;
}

/**
 * A method option given to a sweep goes to the methods that take it: at least one must,
 * and each of those checks it (at every pattern of the sweep) before any work.
 */
function checkSweepMethodOptions(o: SweepOptions, infos: MethodInfo[], levels: number[], patterns: SweepPattern[], structured: ReadonlySet<string>): void {
  const given = (Object.keys(METHOD_OPTION_FLAGS) as MethodOptionName[]).filter((k) => o[k] !== undefined);
  for (const k of given)
    if (!infos.some((m) => m.options?.includes(k)))
      throw new ArgumentRangeError(`${METHOD_OPTION_FLAGS[k]} applies to none of the sweep's methods (${infos.map((m) => m.name).join(', ')})`);
  const runs = patterns.map((p) => (p === 'unstructured' ? { sparsity: levels[0] ?? 0.5 } : { sparsity: patternSparsity(parsePattern(p)), pattern: parsePattern(p) }));
  for (const m of infos) {
    const mine = Object.fromEntries(given.filter((k) => m.options?.includes(k)).map((k) => [k, o[k]]));
    // A method that removes units in this sweep is checked with its structure; one of N:M patterns only, at its patterns.
    const own = structured.has(m.name) ? runs.map((r) => ({ ...r, structure: o.structure })) : runs.filter((r) => !m.patternsOnly || r.pattern !== undefined);
    // Refused at some of the sweep's patterns only (ria --permute: N:M only): NA cells there
    // (runCell checks each cell again); refused at every one: an error now.
    const refusals: Error[] = [];
    for (const run of own)
      try {
        m.checkOptions?.(methodOptionsOf({ ...mine, seed: o.seed, alpha: o.alpha }), run);
      } catch (e) {
        refusals.push(e as Error);
      }
    if (refusals.length > 0 && refusals.length === own.length) throw refusals[0];
  }
}

/** The options a sweep gives one method's create(): those it takes. */
export function sweepMethodOptions(o: SweepOptions, m: MethodInfo): MethodOptions {
  const mine = Object.fromEntries((Object.keys(METHOD_OPTION_FLAGS) as MethodOptionName[]).filter((k) => o[k] !== undefined && m.options?.includes(k)).map((k) => [k, o[k]]));
  return methodOptionsOf({ ...mine, seed: o.seed, alpha: o.alpha });
}

/** Everything that can be checked without loading the model; throws before any work. */
export function checkSweepOptions(o: SweepOptions): CheckedSweep {
  if (!o.model) throw new ArgumentRangeError('give --model PATH');
  if (!o.out) throw new ArgumentRangeError('give --out DIR');
  const methods = [...new Set(o.methods.map((m) => m.trim()).filter((m) => m !== ''))];
  if (methods.length === 0) throw new ArgumentRangeError('give at least one method with --methods (e.g. magnitude,wanda,sparsegpt)');
  const infos = methods.map((m) => methodInfo(m));
  // query-aware continues the queries of --calib: they must be text.
  for (const i of infos)
    if (i.environment && !o.calib)
      throw new ArgumentRangeError(`${i.name} learns from your queries: give them as text with --calib (one per line, or JSONL), not as token ids`);
  const levels = o.levels ?? [...DEFAULT_LEVELS];
  levels.forEach((l) => checkSparsity(l, 'level'));
  const patterns = [...new Set((o.patterns ?? ['unstructured']).map(normPattern))];
  if (patterns.length === 0) throw new ArgumentRangeError('--patterns is empty');
  if (patterns.includes('unstructured') && levels.length === 0) throw new ArgumentRangeError('--levels is empty');
  if (o.stats !== undefined && o.stats !== 'exact' && o.stats !== 'once') throw new ArgumentRangeError(`--stats must be exact or once, got '${String(o.stats)}'`);
  checkBackendRequest(o.backend);
  checkStatisticsOptions(o);
  if (o.structure !== undefined && !STRUCTURES.includes(o.structure))
    throw new ArgumentRangeError(`--structure must be one of ${STRUCTURES.join(', ')}, got '${String(o.structure)}'`);
  if (o.multipleOf !== undefined && (!Number.isInteger(o.multipleOf) || o.multipleOf < 1))
    throw new ArgumentRangeError(`--multiple-of must be a positive integer, got ${String(o.multipleOf)}`);
  if (o.headUnit !== undefined && o.headUnit !== 'group' && o.headUnit !== 'query')
    throw new ArgumentRangeError(`--head-unit must be group or query, got '${String(o.headUnit)}'`);
  // Structured methods remove whole units: they take the levels, not the N:M patterns (a
  // sweep of both, as the demo's, gives them only their unstructured cells).
  // With --structure, a masking method that has a structured form (query-aware, random) removes units too.
  const structured = new Set(infos.filter((m) => m.kind === 'structured' || (o.structure !== undefined && m.structured !== undefined)).map((m) => m.name));
  if (structured.size > 0 && !patterns.includes('unstructured') && infos.every((m) => structured.has(m.name)))
    throw new ArgumentRangeError(`${[...structured].join(', ')} remove whole units: N:M patterns do not apply (add unstructured to --patterns)`);
  // Methods of N:M patterns only (random-pattern) need one in --patterns (unless they remove units).
  const patternsOnly = new Set(infos.filter((m) => m.patternsOnly && !structured.has(m.name)).map((m) => m.name));
  if (patternsOnly.size > 0 && patterns.every((p) => p === 'unstructured'))
    throw new ArgumentRangeError(`${[...patternsOnly].join(', ')} keep${patternsOnly.size > 1 ? '' : 's'} N of every M weights: add an N:M pattern to --patterns (e.g. unstructured,2:4)`);
  checkSweepMethodOptions(o, infos, levels, patterns, structured);
  const needsCalibration = infos.some((m) => m.calibrated);
  if (o.calib && o.calibTokens) throw new ArgumentRangeError('give --calib or --calib-tokens, not both');
  if (needsCalibration && !o.calib && !o.calibTokens)
    throw new ArgumentRangeError(`${infos.filter((m) => m.calibrated).map((m) => m.name).join(' and ')} need calibration data: give --calib FILE or --calib-tokens IDS.json`);
  if (!o.eval === !o.evalTokens) throw new ArgumentRangeError('give exactly one of --eval TEXTFILE or --eval-tokens IDS.json');
  for (const [k, v] of [
    ['calib-samples', o.calibSamples],
    ['seq-len', o.seqLen],
    ['eval-seq-len', o.evalSeqLen],
    ['max-windows', o.maxWindows],
    ['batch', o.batch],
  ] as const)
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new ArgumentRangeError(`--${k} must be a positive integer, got ${v}`);
  for (const [k, v] of [
    ['seq-len', o.seqLen],
    ['eval-seq-len', o.evalSeqLen],
  ] as const)
    if (v !== undefined && v < 2) throw new ArgumentRangeError(`--${k} must be at least 2, got ${v}`);
  if (o.seed !== undefined && !Number.isInteger(o.seed)) throw new ArgumentRangeError(`--seed must be an integer, got ${o.seed}`);
  if (o.calibSampling !== undefined && o.calibSampling !== 'random' && o.calibSampling !== 'contiguous')
    throw new ArgumentRangeError(`--calib-sampling must be random or contiguous, got '${String(o.calibSampling)}'`);
  for (const [k, f] of [
    ['model', o.model],
    ['tokenizer', o.tokenizer],
    ['calib', o.calib],
    ['calib-tokens', o.calibTokens],
    ['eval', o.eval],
    ['eval-tokens', o.evalTokens],
    ['queries', o.queries],
  ] as const)
    if (f !== undefined && !fs.existsSync(f)) throw new ArgumentRangeError(`--${k} ${f} does not exist`);
  // A structured method removes o.structure, or its first structure (channels when it has them).
  const structureOf = (m: string): Structure | undefined => {
    const info = methodInfo(m);
    const p = info.plugin?.kind === 'structured' ? info.plugin : o.structure !== undefined ? info.structured?.() : undefined;
    if (!p) return undefined;
    return o.structure ?? (p.structures.includes('channels') ? 'channels' : p.structures[0]);
  };
  // Allocation methods move sparsity between blocks: no N:M cells either.
  const noPatterns = new Set([...structured, ...infos.filter((m) => m.allocate).map((m) => m.name)]);
  for (const [m, own] of Object.entries(o.methodLevels ?? {})) {
    if (!methods.includes(m)) throw new ArgumentRangeError(`levels given for ${m}, which is not one of the sweep's methods (${methods.join(', ')})`);
    own.forEach((l) => checkSparsity(l, `level of ${m}`));
  }
  const cells = methods.flatMap((m) => sweepCells([m], patterns, o.methodLevels?.[m] ?? levels, noPatterns, patternsOnly)).map((c) => {
    const structure = structureOf(c.method);
    return structure ? { ...c, structure } : c;
  });
  return { methods, levels, patterns, cells, needsCalibration };
}
