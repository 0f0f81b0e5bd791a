// What rl-allocation's policy knows of a block (policy.ts standardizes them across blocks):
//   depth           b / (B - 1): where the block sits
//   depth^2         lets the policy favour both ends (first and last blocks) at once
//   log size        log of the block's selected weights
//   outlier columns the fraction of the block's matrices' input columns whose |activation|
//                   exceeded the outlier threshold (6, as LLM.int8()) on the calibration
//                   windows: a cheap sensitivity (OWL's observation: blocks with more
//                   outlier features lose more when pruned). Read from the uniform
//                   evaluation's layer results, which the pipeline gathers anyway.
import type { LayerResult } from '../prune/pipeline';
import { blockOf } from '../prune/pipeline';

export const FEATURE_NAMES = ['depth', 'depth^2', 'log_size', 'outlier_column_fraction'] as const;

/** One row of FEATURE_NAMES per block in `blocks` (indices into the model's blocks). */
export function blockFeatures(blocks: readonly number[], numLayers: number, parameters: readonly number[], uniformLayers: readonly LayerResult[]): number[][] {
  return blocks.map((b) => {
    const depth = numLayers > 1 ? b / (numLayers - 1) : 0;
    const mine = uniformLayers.filter((l) => blockOf(l.name) === b);
    const columns = mine.reduce((t, l) => t + l.shape[1], 0);
    const outliers = mine.reduce((t, l) => t + (l.outlierColumns ?? 0), 0);
    return [depth, depth * depth, Math.log(parameters[b]), columns > 0 ? outliers / columns : 0];
  });
}
