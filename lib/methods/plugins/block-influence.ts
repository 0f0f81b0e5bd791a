// ShortGPT's Block Influence (Men et al. 2024): BI_l = 1 - mean over calibration tokens of
// cos(input of block l, output of block l), on the dense model; the blocks that change
// their input least (lowest BI) are removed.
import type { StructuredMethod } from '../plugin';
import { CosineCollector } from '../collectors';

export const method: StructuredMethod = {
  name: 'block-influence',
  description: 'ShortGPT: remove the blocks whose output is most similar to their input (Men et al. 2024)',
  kind: 'structured',
  calibrated: true,
  source: 'Men et al., ShortGPT: Layers in Large Language Models are More Redundant Than You Expect (2024)',
  order: 140,
  structures: ['layers'],
  collect: () => ({ blockCosine: new CosineCollector() }),
  async scoreBlocks(ctx) {
    if (!ctx.meanCosine) throw new TypeError('block-influence needs the blocks\' input/output cosines');
    return Float32Array.from(ctx.meanCosine, (c) => 1 - c);
  },
};
