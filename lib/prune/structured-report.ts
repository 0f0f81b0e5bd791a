// The `structured` part of prune-report.json: sizes before and after, every block's
// widths, removed blocks, and (bias method) how often the MLP's neurons fired.
import { BlockShape } from '../model/types';
import type { StructuredResult } from './structured';

export interface StructuredReport {
  structure: string;
  uniform: boolean;
  /** Fraction of the prunable block parameters removed. */
  achieved_sparsity: number;
  parameters: { before: number; after: number };
  bytes: { before: number; after: number };
  block_parameters: { before: number; after: number };
  /** Per block, before and after: query heads, KV heads, MLP width (0: sublayer removed). */
  widths: { before: BlockWidths[]; after: BlockWidths[] };
  removed_blocks: number[];
  /** MLP channels and query heads removed, and their fraction of all channels / heads. */
  removed_units: { channels: number; channel_fraction: number; heads: number; head_fraction: number };
  /** bias: channels whose firing probability is in [k/10, (k+1)/10), k = 0..9. */
  firing_probability_histogram?: number[];
}

interface BlockWidths {
  heads: number;
  kv_heads: number;
  mlp: number;
}

const widths = (b: BlockShape): BlockWidths => ({ heads: b.numHeads, kv_heads: b.numKvHeads, mlp: b.intermediateSize });

export function structuredReport(r: StructuredResult): StructuredReport {
  return {
    structure: r.structure,
    uniform: r.uniform,
    achieved_sparsity: r.achievedSparsity,
    parameters: { before: r.before.parameters, after: r.after.parameters },
    bytes: { before: r.before.bytes, after: r.after.bytes },
    block_parameters: { before: r.before.blockParameters, after: r.after.blockParameters },
    widths: { before: r.widthsBefore.map(widths), after: r.widthsAfter.map(widths) },
    removed_blocks: r.removedBlocks,
    removed_units: {
      channels: r.removedUnits.channels,
      channel_fraction: r.removedUnits.channelFraction,
      heads: r.removedUnits.heads,
      head_fraction: r.removedUnits.headFraction,
    },
    ...(r.firingHistogram ? { firing_probability_histogram: r.firingHistogram } : {}),
  };
}
