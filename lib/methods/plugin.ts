// What a pruning method is to shears: one plugin, one file in lib/methods/plugins/. It
// declares its kind and what it needs; the pipelines (lib/prune/pipeline.ts for masks,
// lib/prune/structured.ts for removal) run every plugin of a kind the same way and never
// ask for a method by name. The registry (registry.ts) finds the plugins by listing that
// folder, so adding a method is one file plus its test.
import type { CalibrationSet } from '../calibration/sample';
import type { Backend, ScoreOptions } from '../kernels';
import type { BlockShape, LoadedModel } from '../model/types';
import type { PhaseClock } from '../util/clock';
import type { Scratch } from '../util/scratch';
import type { Strategy } from '../strategies';
import type { UnitContext, BlockScoresContext } from '../prune/unit-context';
import type { BlockCollectContext, BlockCollectors } from './collectors';

/**
 *   score        a per-weight score; the kernels select and mask (magnitude, wanda)
 *   reconstruct  chooses weights while it updates the kept ones (sparsegpt)
 *   structured   scores whole units (MLP channels, heads, blocks) that surgery removes
 *   allocation   decides how much each block loses (allocate()), for its base method to prune
 */
export type MethodKind = 'score' | 'reconstruct' | 'structured' | 'allocation';

/** What structured pruning removes: channels, heads, both (width), or whole blocks. */
export type Structure = 'channels' | 'heads' | 'width' | 'layers';
export const STRUCTURES: readonly Structure[] = ['channels', 'heads', 'width', 'layers'];

interface Declaration {
  name: string;
  description: string;
  /** Needs calibration activations. */
  calibrated: boolean;
  /** The paper or code it follows (docs/methods.md gives the definitions). */
  source?: string;
  /** Sorts `shears methods` (the order of the seed's tables). */
  order: number;
  /**
   * Declared cost: it trains or searches (variational dropout, ewc, query-aware,
   * rl-allocation), tens of seconds a run on the demo model where the others take about
   * a second; `shears demo` runs it at 50% and N:M only.
   */
  slow?: true;
}

/** Settings some methods take (prune and sweep pass them to every method; the others ignore them). */
export interface MethodOptions {
  /** gradient-sensitive: weight of the gradient term (default 100). */
  alpha?: number;
  /** query-aware: the prior that ranks the weights (sparsegpt, wanda or magnitude). */
  prior?: 'sparsegpt' | 'wanda' | 'magnitude';
  /** query-aware: how the kept weights are reconstructed (sparsegpt or none). */
  repair?: 'sparsegpt' | 'none';
  /** query-aware: the distillation, all blocks at once (joint), one block's weights at a time (blockwise: bounded memory), or auto. */
  distill?: 'auto' | 'blockwise' | 'joint';
  /** The run's --seed (every run passes it; random methods draw from it). */
  seed?: number;
  /** --base: the method an allocation, refinement or clustering method builds on (owl, rl-allocation, dsnot, kmeans). */
  base?: string;
  /** --bits: kmeans keeps 2^bits shared values per matrix. */
  bits?: number;
  /** --score: formula's score expression over named inputs (W, xnorm, ...). */
  score?: string;
  /** --permute: ria permutes channels before an N:M selection. */
  permute?: boolean;
  /** --episodes: rl-allocation's episode budget. */
  episodes?: number;
}

/** The method options only some methods take: a method lists those it takes (UnstructuredMethod.options); prune and sweep refuse the others. */
export type MethodOptionName = 'base' | 'bits' | 'score' | 'permute' | 'episodes';
export const METHOD_OPTION_FLAGS: Readonly<Record<MethodOptionName, string>> = {
  base: '--base',
  bits: '--bits',
  score: '--score',
  permute: '--permute',
  episodes: '--episodes',
};

/** What a run knows of its selection when it checks a method's options (before any work). */
export interface OptionContext {
  sparsity: number;
  pattern?: { n: number; m: number };
  /** --granularity when given. */
  granularity?: string;
  /** --structure when given (the method's structured form removes units: no mask is chosen). */
  structure?: Structure;
}

/** What an allocation method gets before the pipeline runs: the dense model and the calibration set. */
export interface AllocationContext {
  /** The dense model (nothing pruned yet). An allocation that tries masks works on its own copies and leaves these tensors as they are. */
  model: LoadedModel;
  calibration: CalibrationSet;
  /** The strategy the pipeline will prune with (the method's create(): its base method). */
  strategy: Strategy;
  /** The target: the mean sparsity over the selected matrices, weighted by their sizes. */
  sparsity: number;
  options: MethodOptions;
  include?: string[];
  exclude?: string[];
  backend?: Backend;
  batch?: number;
  signal?: AbortSignal;
  onProgress?: (label: string) => void;
}

/** Per-block sparsities for the pipeline, and what the report says of how they were chosen. */
export interface Allocation {
  /** One per block, each in [0, 1). */
  sparsity: number[];
  notes: string[];
  /** Recorded in prune-report.json (`allocation`) and in sweep cells: e.g. outlier ratios, the agent's learning curve. */
  report?: Record<string, unknown>;
}

/** What a run lends the strategy it creates. */
export interface RunResources {
  /** The run's scratch folder (file-backed pages for what must outlive the pipeline, e.g. ewc's Fisher diagonal). */
  scratch?: Scratch;
}

/** Masks weights in place (the model keeps its shapes). */
export interface UnstructuredMethod extends Declaration {
  kind: 'score' | 'reconstruct' | 'allocation';
  /**
   * Declared capability: after every matrix is pruned, prune() calls the strategy's
   * recover() (RecoveringStrategy) before writing, with the user's queries (--queries).
   */
  recovers?: true;
  /**
   * Declared capability: the method calibrates on the query environment (--calib's
   * queries, each followed by --generate-tokens tokens of the dense model) and recovers
   * on that same environment (no --queries).
   */
  environment?: true;
  /** Its structured form, for --structure: the units it scores and removes (calibrated as this method is). */
  structured?(o?: MethodOptions): StructuredMethod;
  /** The method options it takes beyond the common ones (METHOD_OPTION_FLAGS); the others are refused. */
  options?: readonly MethodOptionName[];
  /**
   * Declared capability: masks only in N:M patterns (random-pattern); its checkOptions
   * refuses a run without --pattern, and a sweep gives it its N:M cells only.
   */
  patternsOnly?: true;
  /** Checks its options' values against the run (throws ArgumentRangeError), before anything is loaded. */
  checkOptions?(o: MethodOptions, run: OptionContext): void;
  /**
   * Declared capability (kind 'allocation'): chooses each block's sparsity on the dense
   * model before the pipeline prunes with create()'s strategy at those sparsities.
   */
  allocate?(ctx: AllocationContext): Promise<Allocation>;
  create(o?: MethodOptions, run?: RunResources): Strategy;
}

/** The recovery settings of prune (--steps, --lr, --ewc-lambda, --batch, --seed). */
export interface RecoverySettings {
  steps: number;
  lr: number;
  lambda: number;
  batch: number;
  seed: number;
}

/** What a recovering strategy gets once the pipeline is done (lib/prune/run.ts). */
export interface RecoveryContext {
  /** The pruned model; recovery replaces its trained tensors with owned, updated copies. */
  model: LoadedModel;
  /** The input loaded again: read-only mappings of the dense weights (w*), never written. */
  dense: LoadedModel;
  /** The pruned matrices, in the pipeline's order (blocks, then each block's layers). */
  layers: readonly string[];
  /** The user's queries, drawn as calibration windows are. */
  queries: { set: CalibrationSet; source: string };
  /** The calibration file (the general text the pruning statistics came from). */
  calibrationSource: string;
  settings: RecoverySettings;
  clock: PhaseClock;
  signal?: AbortSignal;
  /** After each step (1-based) with its batch loss. */
  onStep?: (step: number, steps: number, loss: number) => void;
  /** Moves trained tensors out of private memory (prune's block offloader), when the recovery is done with them. */
  offload?: (names: string[]) => void;
}

/** The recovery as prune-report.json records it. */
export interface RecoveryReport {
  method: string;
  queries: { source: string; samples: number; seq_len: number };
  steps: number;
  lr: number;
  batch: number;
  /** What the steps minimise: the next-token NLL (ewc) or KL(dense || pruned) (query-aware). */
  objective: 'nll' | 'kl';
  ewc_lambda?: number;
  /** The objective's mean over the query windows before and after the recovery. */
  loss_before: number;
  loss_after: number;
  /** The objective on each step's batch (before that step's update). */
  losses: number[];
  /** lambda/2 * sum F (w - w*)^2 over the trained weights at the end. */
  ewc_penalty_after?: number;
  fisher?: { source: string; sequences: number; mean: number; max: number };
  /** True when every pruned matrix has exactly its zeros before the recovery, at the same positions (read back from the weights). */
  mask_preserved: boolean;
  pruned_weights: number;
  trained_parameters: number;
}

/** A strategy whose method recovers after pruning (UnstructuredMethod.recovers). */
export interface RecoveringStrategy extends Strategy {
  recover(ctx: RecoveryContext): Promise<RecoveryReport>;
  /** Frees what it kept for the recovery (scratch pages); prune() calls it however the run ends. Idempotent. */
  release(): void;
}

/** Unit scores of one block: higher = more important. Absent: the method does not score that unit. */
export interface BlockUnitScores {
  /** One per MLP channel. */
  channels?: Float32Array;
  /** One per query head (the pipeline sums a KV group's heads when it removes groups). */
  heads?: Float32Array;
}

/** Removes units (lib/prune/surgery.ts does the removal). */
export interface StructuredMethod extends Declaration {
  kind: 'structured';
  structures: readonly Structure[];
  /**
   * The collectors it gathers in each block of the dense model over the calibration set
   * (lib/methods/collectors.ts): column statistics of what the units' consumers receive,
   * block input/output cosines. Absent: the method reads weights only.
   */
  collect?(ctx: BlockCollectContext): BlockCollectors;
  /** Scores are standardized per unit type before units of different types or blocks compete (FLAP). */
  standardize?: boolean;
  /** Adds the removed units' mean contribution to the consumer's bias (FLAP, bias). */
  compensate?: boolean;
  /** Why the method cannot run on this model (e.g. no biases), or undefined. */
  unsupported?(ctx: { architecture: string; hasBiases: boolean; activation: string }): string | undefined;
  /** Scores the channels and/or heads of one block. */
  scoreUnits?(ctx: UnitContext): Promise<BlockUnitScores>;
  /** Scores whole blocks (higher = more important), for --structure layers. */
  scoreBlocks?(ctx: BlockScoresContext): Promise<Float32Array>;
}

/** Declared and listed, not implemented yet: choosing it raises NotImplementedError. */
export interface PlannedMethod extends Declaration {
  kind: MethodKind;
  planned: true;
}

export type MethodPlugin = UnstructuredMethod | StructuredMethod;

export type { BlockShape };
export type { ScoreOptions };
