// Settings of sparse variational dropout (docs/variational-dropout.md), their defaults and checks.
import { ArgumentRangeError } from '../../errors';

export interface VariationalDropoutOptions {
  /**
   * What each training reconstructs: the dense block's output, all of a block's matrices
   * learned together (default, the definition), or each layer's own output
   * (`layer`, the earlier mode: cheaper, and what matrix-by-matrix callers such as
   * `sweep --stats once` always use).
   */
  scope?: 'block' | 'layer';
  /** Adam steps per block (scope block) or per layer (default 100). */
  steps?: number;
  /** Calibration sequences per step, scope block (default 4). */
  batchSequences?: number;
  /** Calibration rows per step, scope layer (default 256). */
  batchRows?: number;
  /** Adam learning rate of theta (default 1e-4). */
  lrTheta?: number;
  /** Adam learning rate of log sigma^2 (default 0.05). */
  lrLogSigma2?: number;
  /** Weight of KL / tokens against the mean squared error (default 1). */
  beta?: number;
  /** beta grows linearly from 0 over this fraction of the steps (default 0: no annealing). */
  warmup?: number;
  /** Initial log sigma^2 (default -10, as the paper's code). */
  logSigma2Init?: number;
  /** Rows of each layer input kept for training, scope layer (default 4096; a uniform sample of the calibration tokens). */
  maxRows?: number;
  seed?: number;
  /** The kept weights' values: the dense weights (default; measured better on the demo model) or the learned means theta. */
  keep?: 'theta' | 'dense';
}

export type VdSettings = Required<VariationalDropoutOptions>;

export const VD_DEFAULTS: VdSettings = {
  scope: 'block',
  steps: 100,
  batchSequences: 4,
  batchRows: 256,
  lrTheta: 1e-4,
  lrLogSigma2: 0.05,
  beta: 1,
  warmup: 0,
  logSigma2Init: -10,
  maxRows: 4096,
  seed: 0,
  keep: 'dense',
};

function check(ok: boolean, what: string, v: unknown): void {
  if (!ok) throw new ArgumentRangeError(`variational-dropout: ${what}, got ${String(v)}`);
}

const int = (v: number, lo: number) => Number.isInteger(v) && v >= lo;
const finite = (v: number) => typeof v === 'number' && Number.isFinite(v);

export function vdSettings(o: VariationalDropoutOptions = {}): VdSettings {
  const s = { ...VD_DEFAULTS, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) } as VdSettings;
  check(int(s.steps, 0) && s.steps <= 1e6, 'steps must be an integer in [0, 1000000]', s.steps);
  check(s.scope === 'block' || s.scope === 'layer', "scope must be 'block' or 'layer'", s.scope);
  check(int(s.batchSequences, 1), 'batchSequences must be a positive integer', s.batchSequences);
  check(int(s.batchRows, 1), 'batchRows must be a positive integer', s.batchRows);
  check(int(s.maxRows, 1), 'maxRows must be a positive integer', s.maxRows);
  check(finite(s.lrTheta) && s.lrTheta >= 0, 'lrTheta must be a finite number >= 0', s.lrTheta);
  check(finite(s.lrLogSigma2) && s.lrLogSigma2 >= 0, 'lrLogSigma2 must be a finite number >= 0', s.lrLogSigma2);
  check(finite(s.beta) && s.beta >= 0, 'beta must be a finite number >= 0', s.beta);
  check(finite(s.warmup) && s.warmup >= 0 && s.warmup <= 1, 'warmup must be in [0, 1]', s.warmup);
  check(finite(s.logSigma2Init), 'logSigma2Init must be a finite number', s.logSigma2Init);
  check(int(s.seed, 0) && s.seed <= 2 ** 32, 'seed must be an integer in [0, 2^32]', s.seed);
  check(s.keep === 'theta' || s.keep === 'dense', "keep must be 'theta' or 'dense'", s.keep);
  return s;
}
