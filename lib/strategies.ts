// The mask-producing half of the method plugins (lib/methods/plugins/): a strategy says
// which calibration statistics it needs, creates the collectors beyond the shared
// per-column ones (its add_batch), and scores or prunes one matrix; the numeric work is
// the native kernels'. Each strategy lives in its plugin's file; the public API re-exports
// them from here.
import type { Granularity, ScoreOptions, SelectionSpec } from './kernels';
import type { ColumnStats } from './kernels';
import type { Collector, CollectorSettings } from './methods/collectors';
import type { HessianAccumulator } from './methods/hessian';
import type { Backend } from './kernels';
import type { NativeBlockSpec } from './native/forward';
import type { Tensor } from './model/types';
import type { Mask, Matrix } from './tensor';

/** Statistics a strategy reads: the per-column ones every calibrated run gathers, or its own collectors'. */
export type StatisticName = 'columnSumSq' | 'columnSum' | 'hessian' | 'gradient' | (string & {});

/**
 * The statistics of one layer input: the shared per-column ones, and what the strategies'
 * collect() made, by the name they gave (a plugin may add its own names).
 */
export interface StrategyStats {
  /** Per-input-column activation statistics of the layer (every calibrated run). */
  columns?: ColumnStats;
  /** X^T X of the layer's inputs (sparsegpt's collector). */
  hessian?: HessianAccumulator;
  [statistic: string]: Collector | undefined;
}

/**
 * What the pipeline hands a strategy that learns a whole block at once (scoreBlock): the
 * block's calibration inputs (the outputs of the already pruned blocks before it) and
 * the dense block's outputs on them.
 */
export interface BlockLearningInput {
  /** The block, counted from 0. */
  block: number;
  /** The block's selected matrices (canonical weight names), all of one block. */
  layers: readonly string[];
  /** The model's tensors: the strategy may write learned values into the selected ones (the pipeline masks them afterwards). */
  tensors: Map<string, Tensor>;
  /** The native description of the block from its (dense) tensors. */
  spec: NativeBlockSpec;
  /** The hidden states entering the block and the dense block's outputs on them, [sequences * seq, hidden] each. */
  inputs: Float32Array;
  targets: Float32Array;
  sequences: number;
  seq: number;
  signal?: AbortSignal;
  backend?: Backend;
}

export interface Strategy {
  readonly name: string;
  /** Statistics the strategy reads (empty: no calibration pass at all). */
  readonly needs: readonly StatisticName[];
  /** Comparison group used when the caller does not choose one (the papers' default). */
  readonly defaultGranularity: Granularity;
  /** Whether one threshold across several matrices makes sense (false: the method reconstructs each matrix alone). */
  readonly allowsGlobal: boolean;
  /** Collectors for one layer input of `width` columns, beyond the shared per-column statistics. */
  collect?(width: number, s: CollectorSettings): Record<string, Collector>;
  /**
   * Collectors for one weight matrix (rows x cols), fed the gradient of each calibration
   * sequence's loss by the gradient pass (lib/prune/gradient-pass.ts): present, the
   * pipeline runs that pass on the dense model before pruning (docs/gradient-methods.md).
   * `name`: the weight's canonical tensor name (a method that uses its statistics after
   * the pipeline, as ewc's recovery does, finds them by it).
   */
  collectWeights?(rows: number, cols: number, name: string): Record<string, Collector>;
  /**
   * Learns a whole block at once (block-wise reconstruction, as variational dropout does):
   * returns one score per weight of each selected matrix, by name (its weight layout;
   * lowest pruned first). Present, the pipeline calls it instead of prune() for each block
   * and selects the masks with the usual selection (per row, per matrix, N:M, or one
   * threshold across the block) at the exact target sparsity. Callers that prune matrix
   * by matrix (`sweep --stats once`) still use prune().
   */
  scoreBlock?(input: BlockLearningInput): Promise<Map<string, Float32Array>>;
  /** What the method has to say once every matrix is pruned (e.g. a distribution it learned); the pipeline adds it to the run's notes. */
  notes?(): string[];
  /** Native score parameters for one layer. */
  scoreOptions(stats: StrategyStats): ScoreOptions;
  /**
   * A per-weight score that is not |W|^p * act^q (random's seeded draws): present, one
   * threshold across several matrices (global granularity) ranks by it instead of by
   * scoreOptions. Higher = kept.
   */
  scoreMatrix?(w: Matrix, stats: StrategyStats, layer: LayerContext): Promise<Float32Array>;
  /** Prunes one matrix in place. `layer`: which matrix it is, when the caller knows (the pipelines always pass it). */
  prune(w: Matrix, stats: StrategyStats, selection: SelectionSpec, layer?: LayerContext): Promise<Mask>;
}

/**
 * The matrix a strategy prunes, within its model: its canonical name, its block, and the
 * model's tensors. A strategy may read the others; it may rewrite another matrix of the
 * same block only by a function-preserving change made in place (ria --permute reorders
 * the MLP channels: rows of up/gate and their biases, columns of down).
 */
export interface LayerContext {
  name: string;
  /** The block, from 0 (-1 for a matrix outside the blocks). */
  block: number;
  tensors: Map<string, Tensor>;
}

export { magnitude } from './methods/plugins/magnitude';
export { wanda } from './methods/plugins/wanda';
export { sparsegpt } from './methods/plugins/sparsegpt';
export { gradient } from './methods/plugins/gradient';
export { fisher } from './methods/plugins/fisher';
export { gradientSensitive } from './methods/plugins/gradient-sensitive';
