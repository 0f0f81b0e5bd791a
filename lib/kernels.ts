// The pruning kernels as a typed, validated, Promise-based API. All numeric work is
// native and runs off the JavaScript thread; arrays are passed in place. Do not
// touch an array from JavaScript while an operation on it is pending.
import { ArgumentRangeError, fromNative, NonFiniteError, PatternError, ShapeError, SparsityError, nativeCall } from './errors';
import { kernelsNative, NativeBackend, NativeCpuFeatures, NativeCpuLevel, NativeScoreOptions, NativeSelection } from './native/kernels';
import { checkData, checkDims, checkMatrix, checkTypedArray, DType, emptyMask, Mask, maskBytes, Matrix, MatrixData } from './tensor';

/**
 * The `backend` option of every native op (kernels, ColumnStats, HessianAccumulator,
 * sparsegptPrune, the forward pass): 'auto' (the default when omitted: CUDA when a
 * device answers, else the CPU), 'cpu', or 'cuda' (BackendError when no device is
 * usable). See NativeBackend for the ops that still run on the CPU under 'cuda'.
 */
export type Backend = NativeBackend;
export type CpuLevel = NativeCpuLevel;

/** score_ij = |W_ij|^p * act_j^q. Magnitude: p=1, q=0. Wanda: p=1, q=1, act = ||X_j||_2. */
/**
 * score_ij = |W_ij|^p * (actScale * act_j^q + perWeight.scale * |perWeight.values_ij|^perWeight.exponent);
 * without perWeight, |W_ij|^p * act_j^q (act_j^0 = 1).
 */
export interface ScoreOptions {
  p?: number;
  q?: number;
  /** Per input column (length cols), >= 0. */
  act?: Float32Array;
  /** Factor of the per-column term when perWeight is given (default 1). */
  actScale?: number;
  /** Per weight (rows x cols), e.g. gradient moments; exponent in (0, 4] (default 1), scale >= 0 (default 1). */
  perWeight?: { values: Float32Array; exponent?: number; scale?: number };
  backend?: Backend;
}

export interface NMPattern {
  n: number;
  m: number;
}

export type Granularity = 'row' | 'matrix';

export interface SelectionSpec {
  /** Fraction pruned, in [0, 1). Ignored for N:M (which prunes 1 - N/M). */
  sparsity?: number;
  /** Comparison group for unstructured selection (default 'row'). */
  granularity?: Granularity;
  /** N:M: keep at most N of every M consecutive weights along a row. */
  pattern?: NMPattern;
  backend?: Backend;
}

export function checkSparsity(s: unknown, name = 'sparsity'): number {
  if (typeof s !== 'number' || !Number.isFinite(s) || s < 0 || s >= 1)
    throw new SparsityError(`${name} must be a number in [0, 1), got ${String(s)}`);
  return s;
}

export function checkPattern(p: NMPattern, name = 'pattern'): NMPattern {
  const ok = (v: unknown) => typeof v === 'number' && Number.isInteger(v);
  if (!p || !ok(p.n) || !ok(p.m) || p.n < 1 || p.m > 32 || p.n >= p.m)
    throw new PatternError(`${name} must be N:M with integers 1 <= N < M <= 32, got ${p ? `${p.n}:${p.m}` : String(p)}`);
  return p;
}

/** Parses "2:4" into {n: 2, m: 4}. */
export function parsePattern(text: string): NMPattern {
  const m = /^\s*(\d+)\s*:\s*(\d+)\s*$/.exec(text);
  if (!m) throw new PatternError(`pattern must look like N:M (for example 2:4), got '${text}'`);
  return checkPattern({ n: Number(m[1]), m: Number(m[2]) });
}

/** The sparsity an N:M pattern gives: 1 - N/M. */
export function patternSparsity(p: NMPattern): number {
  return 1 - p.n / p.m;
}

function checkScoreOptions(o: ScoreOptions, w: Matrix): NativeScoreOptions {
  const p = o.p ?? 1;
  const q = o.q ?? 0;
  if (!(p > 0 && p <= 4)) throw new ArgumentRangeError(`score exponent p must be in (0, 4], got ${p}`);
  if (!(q >= 0 && q <= 4)) throw new ArgumentRangeError(`score exponent q must be in [0, 4], got ${q}`);
  if (q !== 0) {
    if (o.act === undefined) throw new ShapeError('score exponent q != 0 needs a statistic: act (Float32Array of length cols)');
    checkData(o.act, 'f32', w.cols, 'act');
  }
  const base = { p, q, act: q !== 0 ? o.act : undefined };
  if (!o.perWeight) return base;
  const { values, exponent = 1, scale = 1 } = o.perWeight;
  const actScale = o.actScale ?? 1;
  checkData(values, 'f32', w.rows * w.cols, 'perWeight.values');
  if (!(exponent > 0 && exponent <= 4)) throw new ArgumentRangeError(`per-weight exponent must be in (0, 4], got ${exponent}`);
  for (const [k, v] of [['per-weight scale', scale], ['actScale', actScale]] as const)
    if (!(Number.isFinite(v) && v >= 0)) throw new ArgumentRangeError(`${k} must be a finite number >= 0, got ${v}`);
  return { ...base, actScale, perWeight: values, perWeightExponent: exponent, perWeightScale: scale };
}

function nativeSelection(spec: SelectionSpec): NativeSelection {
  if (spec.pattern) {
    const { n, m } = checkPattern(spec.pattern);
    return { sparsity: 0, granularity: 'row', n, m };
  }
  const granularity = spec.granularity ?? 'row';
  if (granularity !== 'row' && granularity !== 'matrix')
    throw new ArgumentRangeError(`granularity must be 'row' or 'matrix', got '${String(granularity)}'`);
  return { sparsity: checkSparsity(spec.sparsity), granularity };
}

/** Scores of every weight, as a new Float32Array [rows * cols]. */
export async function computeScores(w: Matrix, opts: ScoreOptions = {}): Promise<Float32Array> {
  checkMatrix(w);
  const so = checkScoreOptions(opts, w);
  const out = new Float32Array(w.rows * w.cols);
  await nativeCall(() => kernelsNative().score(w, { ...so, backend: opts.backend }, out));
  return out;
}

/** sum += g and sumSq += g^2, elementwise (the gradient methods' per-weight moments). */
export async function accumulateMoments(g: Float32Array, acc: { sum?: Float32Array; sumSq?: Float32Array }): Promise<void> {
  for (const [k, a] of [['sum', acc.sum], ['sumSq', acc.sumSq]] as const)
    if (a) checkData(a, 'f32', g.length, k);
  checkData(g, 'f32', g.length, 'gradient');
  await nativeCall(() => kernelsNative().accumulateMoments(g, acc.sum, acc.sumSq));
}

/** Chooses the weights to prune from precomputed scores. Scores must not be NaN. */
export async function selectMask(scores: Float32Array, rows: number, cols: number, spec: SelectionSpec): Promise<Mask> {
  checkDims(rows, cols, 'scores');
  checkData(scores, 'f32', rows * cols, 'scores');
  const sel = nativeSelection(spec);
  const mask = emptyMask(rows, cols);
  mask.pruned = (await nativeCall(() => kernelsNative().select(scores, rows, cols, sel, mask, { backend: spec.backend }))) ?? 0;
  return mask;
}

/** One threshold across several matrices: floor(sparsity * total) weights pruned among them all. */
export async function selectGlobal(
  items: readonly { scores: Float32Array; rows: number; cols: number }[],
  sparsity: number,
  opts: { backend?: Backend } = {},
): Promise<Mask[]> {
  checkSparsity(sparsity);
  if (!Array.isArray(items) || items.length === 0) throw new ShapeError('selectGlobal needs a non-empty array of score matrices');
  const masks = items.map((it, i) => {
    checkDims(it.rows, it.cols, `items[${i}]`);
    checkData(it.scores, 'f32', it.rows * it.cols, `items[${i}].scores`);
    return emptyMask(it.rows, it.cols);
  });
  const totals = await nativeCall(() =>
    kernelsNative().selectGlobal(
      items.map((it, i) => ({ scores: it.scores, rows: it.rows, cols: it.cols, mask: masks[i] })),
      sparsity,
      opts,
    ),
  );
  masks.forEach((m, i) => (m.pruned = totals[i] ?? 0));
  return masks;
}

function checkMask(mask: Mask, rows: number, cols: number): void {
  if (mask.rows !== rows || mask.cols !== cols)
    throw new ShapeError(`mask is ${mask.rows}x${mask.cols} but W is ${rows}x${cols}`);
  checkTypedArray(mask.bits, 'Uint8Array', maskBytes(rows, cols), 'mask.bits');
  checkTypedArray(mask.prunedPerRow, 'Uint32Array', rows, 'mask.prunedPerRow');
}

/** Zeroes, in place, the weights whose mask bit is 0. Refreshes mask.prunedPerRow and mask.pruned. */
export async function applyMask(w: Matrix, mask: Mask, opts: { backend?: Backend } = {}): Promise<number> {
  checkMatrix(w);
  checkMask(mask, w.rows, w.cols);
  mask.pruned = (await nativeCall(() => kernelsNative().applyMask(w, mask, opts))) ?? 0;
  return mask.pruned;
}

/**
 * Score, select and zero in one native pass (no score matrix is kept for per-row and
 * N:M selections). W is modified only after all of it was checked: on a NonFiniteError
 * it is left as it was.
 */
export async function pruneMatrix(w: Matrix, score: ScoreOptions, selection: SelectionSpec): Promise<Mask> {
  checkMatrix(w);
  const so = checkScoreOptions(score, w);
  const sel = nativeSelection(selection);
  const mask = emptyMask(w.rows, w.cols);
  const backend = selection.backend ?? score.backend;
  mask.pruned = (await nativeCall(() => kernelsNative().prune(w, so, sel, mask, { backend }))) ?? 0;
  return mask;
}

/**
 * Per-input-column statistics of activations, accumulated over batches of rows
 * [tokens, cols]: sum, sum of squares (Wanda's ||X_j||^2), token count, and how many
 * times |x| exceeded `threshold` (when given).
 */
export class ColumnStats {
  readonly cols: number;
  readonly sum: Float64Array;
  readonly sumSq: Float64Array;
  readonly exceed?: Float64Array;
  readonly threshold?: number;
  count = 0;
  private pending: Promise<void> = Promise.resolve();

  constructor(cols: number, opts: { threshold?: number } = {}) {
    checkDims(1, cols, 'ColumnStats');
    this.cols = cols;
    this.sum = new Float64Array(cols);
    this.sumSq = new Float64Array(cols);
    if (opts.threshold !== undefined) {
      if (!Number.isFinite(opts.threshold) || opts.threshold < 0)
        throw new ArgumentRangeError(`threshold must be a finite number >= 0, got ${opts.threshold}`);
      this.threshold = opts.threshold;
      this.exceed = new Float64Array(cols);
    }
  }

  /** Adds `rows` rows of x (Float32Array, rows x cols). Calls are serialized. */
  add(x: Float32Array, rows: number, opts: { backend?: Backend } = {}): Promise<void> {
    if (!Number.isInteger(rows) || rows < 0) throw new ShapeError(`rows must be an integer >= 0, got ${rows}`);
    checkData(x, 'f32', rows * this.cols, 'x');
    const run = async () => {
      await nativeCall(() =>
        kernelsNative().columnStats(x, rows, this.cols, {
          sum: this.sum,
          sumSq: this.sumSq,
          exceed: this.exceed,
          threshold: this.threshold ?? 0,
          backend: opts.backend,
        }),
      );
      this.count += rows;
    };
    const next = this.pending.then(run);
    this.pending = next.catch(() => undefined);
    return next;
  }

  /** Columns whose |x| exceeded the threshold at least once (0 without a threshold). */
  outlierColumns(): number {
    return this.exceed ? kernelsNative().countPositive(this.exceed) : 0;
  }

  /** ||X_j||_2 = sqrt(sum of squares) per column, as Float32Array (Wanda's statistic). */
  l2Norms(): Float32Array {
    const out = new Float32Array(this.cols);
    try {
      kernelsNative().columnNorms(this.sumSq, out);
    } catch (e) {
      throw new NonFiniteError((e as Error).message);
    }
    return out;
  }
}

/** Converts between f32, f16 and bf16 (round to nearest even); returns a new array. */
export async function convertDType(data: MatrixData, from: DType, to: DType): Promise<MatrixData> {
  checkData(data, from, -1, 'data');
  const out = to === 'f32' ? new Float32Array(data.length) : new Uint16Array(data.length);
  await nativeCall(() => kernelsNative().convert(data, from, out, to));
  return out;
}

export const toFloat32 = (data: Uint16Array, from: 'f16' | 'bf16') => convertDType(data, from, 'f32') as Promise<Float32Array>;
export const fromFloat32 = (data: Float32Array, to: 'f16' | 'bf16') => convertDType(data, 'f32', to) as Promise<Uint16Array>;

/** Threads the native pool uses, and a way to change it (0: machine default); safe while ops run. */
export const poolThreads = (): number => kernelsNative().threads();
export function setPoolThreads(n: number): number {
  try {
    return kernelsNative().setThreads(n);
  } catch (e) {
    throw fromNative(e);
  }
}
export const backendsInfo = () => kernelsNative().backends();

/** The CPU instruction-set level the kernels use, the best this CPU has, and those it supports. */
export const cpuFeatures = (): NativeCpuFeatures => kernelsNative().cpuFeatures();

/**
 * Caps the instruction sets of every CPU kernel (selection, statistics, conversion,
 * matmul, Hessian, SparseGPT's linear algebra) for the process: 'portable', 'avx2',
 * 'avx512', or 'auto' (all the CPU has). The environment variable SHEARS_CPU sets the
 * same cap at load. Every level gives the same results. BackendError when the CPU
 * lacks the level, ArgumentRangeError for an unknown name.
 */
export function setCpuFeatures(level: CpuLevel | 'auto'): NativeCpuFeatures {
  try {
    return kernelsNative().setCpuFeatures(level);
  } catch (e) {
    throw fromNative(e);
  }
}

/** Shorthand: false caps the CPU kernels at 'portable', true lifts the cap; returns whether vector variants are in use. */
export const setSimd = (on: boolean): boolean => setCpuFeatures(on ? 'auto' : 'portable').active !== 'portable';
