// Random units for --structure (random and random-pattern's structured form): channels,
// heads or blocks scored uniformly at random from the run's --seed (the structured
// pipeline's seeded generator, ctx.random()), so the same seed removes the same units.
import type { StructuredMethod } from './plugin';

export const randomUnits: StructuredMethod = {
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
