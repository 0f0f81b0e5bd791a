// Statistics collectors: what a method gathers over the calibration set, batch by batch
// (the reference code's add_batch). Each plugin creates its own (lib/methods/plugins/);
// the calibration passes (lib/prune/statistics.ts for masks, denseStatistics in
// lib/prune/structured.ts for removal) only feed them.
import { Backend, ColumnStats } from '../kernels';
import { kernelsNative } from '../native/kernels';
import type { BlockShape, ModelConfig } from '../model/types';

/** One statistic of a layer's inputs: `add` takes rows x width activations. */
export interface Collector {
  /** Takes in a batch; `x` may be reused by the caller once the promise settles (copy what you keep). */
  add(x: Float32Array, rows: number, o?: { backend?: Backend }): Promise<void>;
}

/** Settings every collector of a run shares. */
export interface CollectorSettings {
  /** |x| above which an input activation counts as an outlier (the column statistics'). */
  activationThreshold?: number;
  hessianPrecision?: 'f32' | 'f64';
  backend?: Backend;
}

/** Mean cosine between each token's block input and block output (ShortGPT's Block Influence). */
export class CosineCollector {
  private sum = 0;
  private tokens = 0;

  /** `input` and `output`: rows x width, the same tokens before and after the block. */
  add(input: Float32Array, output: Float32Array, width: number): void {
    this.sum += kernelsNative().rowCosineSum(input, output, width);
    this.tokens += input.length / width;
  }

  mean(): number {
    return this.tokens > 0 ? this.sum / this.tokens : 0;
  }
}

/** What a structured method gathers in one block of the dense model. */
export interface BlockCollectors {
  /** What the MLP's consumer (down, fc2) receives: one column per channel. */
  downIn?: ColumnStats;
  /** What attn.o receives: headDim columns per head. */
  oIn?: ColumnStats;
  /** cos(block input, block output) per token. */
  blockCosine?: CosineCollector;
}

/** What a structured method's collect() is told about the block. */
export interface BlockCollectContext {
  config: ModelConfig;
  block: number;
  shape: BlockShape;
}

/**
 * Column statistics of the inputs of a block's unit consumers (down/fc2 for channels, o for
 * heads), for the sublayers the block still has; `threshold` adds firing counts to the
 * MLP's (|a| > threshold per channel).
 */
export function consumerColumns(ctx: BlockCollectContext, o: { threshold?: number; heads?: boolean } = {}): BlockCollectors {
  const out: BlockCollectors = {};
  if (ctx.shape.intermediateSize > 0) out.downIn = new ColumnStats(ctx.shape.intermediateSize, o.threshold !== undefined ? { threshold: o.threshold } : {});
  if (o.heads !== false && ctx.shape.numHeads > 0) out.oIn = new ColumnStats(ctx.shape.numHeads * ctx.config.headDim);
  return out;
}
