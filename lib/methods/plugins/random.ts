// The structured baseline: units (or blocks) removed uniformly at random, seeded (--seed).
import type { StructuredMethod } from '../plugin';

export const method: StructuredMethod = {
  name: 'random',
  description: 'uniformly random channels, heads or blocks (seeded baseline)',
  kind: 'structured',
  calibrated: false,
  order: 110,
  structures: ['channels', 'heads', 'width', 'layers'],
  async scoreUnits(ctx) {
    const draw = (n: number) => Float32Array.from({ length: n }, () => ctx.random());
    return {
      channels: ctx.shape.intermediateSize > 0 ? draw(ctx.shape.intermediateSize) : undefined,
      heads: ctx.shape.numHeads > 0 ? draw(ctx.shape.numHeads) : undefined,
    };
  },
  async scoreBlocks(ctx) {
    return Float32Array.from({ length: ctx.config.numLayers }, () => ctx.random());
  },
};
