// What a pruning method is to shears: one plugin, one file in lib/methods/plugins/. It
// declares its kind and what it needs; the pipelines (lib/prune/pipeline.ts for masks,
// lib/prune/structured.ts for removal) run every plugin of a kind the same way and never
// ask for a method by name. The registry (registry.ts) finds the plugins by listing that
// folder, so adding a method is one file plus its test.
import type { ScoreOptions } from '../kernels';
import type { BlockShape } from '../model/types';
import type { Strategy } from '../strategies';
import type { UnitContext, BlockScoresContext } from '../prune/unit-context';
import type { BlockCollectContext, BlockCollectors } from './collectors';

/**
 *   score        a per-weight score; the kernels select and mask (magnitude, wanda)
 *   reconstruct  chooses weights while it updates the kept ones (sparsegpt)
 *   structured   scores whole units (MLP channels, heads, blocks) that surgery removes
 *   allocation   decides how much each layer loses, for another method to prune (planned)
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
}

/** Settings some methods take (prune and sweep pass them to every method; the others ignore them). */
export interface MethodOptions {
  /** gradient-sensitive: weight of the gradient term (default 100). */
  alpha?: number;
}

/** Masks weights in place (the model keeps its shapes). */
export interface UnstructuredMethod extends Declaration {
  kind: 'score' | 'reconstruct';
  create(o?: MethodOptions): Strategy;
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
