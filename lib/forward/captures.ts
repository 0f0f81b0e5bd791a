// The per-block activation captures: what the linear layers of a block receive,
// recorded by the forward pass (native/bindings/forward_bindings.cc reads exactly these
// names) and turned into pruning statistics (lib/prune/layers.ts maps every linear
// layer onto one). The one list of their names.
import { blockShape } from '../model/shapes';
import { ModelConfig } from '../model/types';

export const CAPTURE_NAMES = ['attnIn', 'oIn', 'mlpIn', 'downIn'] as const;
export type CaptureName = (typeof CAPTURE_NAMES)[number];

/**
 * Inputs of a block's linear layers, [tokens, width] row-major each: attnIn feeds
 * q/k/v, oIn feeds o, mlpIn feeds gate/up (or fc1), downIn feeds down (or fc2).
 */
export type BlockCaptures = Partial<Record<CaptureName, Float32Array>>;

/** Floats per token of each capture of block `block` (blocks may differ in width). */
export function captureWidths(c: ModelConfig, block = 0): Record<CaptureName, number> {
  const b = blockShape(c, block);
  return { attnIn: c.hiddenSize, oIn: b.numHeads * c.headDim, mlpIn: c.hiddenSize, downIn: b.intermediateSize };
}
