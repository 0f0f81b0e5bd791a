// What rl-allocation's policy knows of a block (policy.ts standardizes them across blocks):
//   depth          b / (B - 1): where the block sits
//   depth^2        lets the policy favour both ends (first and last blocks) at once
//   log size       log of the block's selected weights
//   outlier ratio  OWL's layer-wise outlier ratio (lib/methods/outlier-ratio.ts): the share
//                  of the block's weights whose Wanda score |W_ij| * ||X_j|| exceeds 5 times
//                  the block's mean score, on the dense model's activations. A cheap
//                  sensitivity: OWL's observation is that blocks with more outliers lose
//                  more when pruned. One dense calibration pass over the episode windows.
import type { CalibrationSet } from '../calibration/sample';
import type { Backend } from '../kernels';
import { blockOutlierRatios } from '../methods/outlier-ratio';
import type { LoadedModel } from '../model/types';

export const FEATURE_NAMES = ['depth', 'depth^2', 'log_size', 'owl_outlier_ratio'] as const;

export interface FeatureOptions {
  include?: string[];
  exclude?: string[];
  backend?: Backend;
  batch?: number;
  signal?: AbortSignal;
}

/** One row of FEATURE_NAMES per block in `blocks` (the blocks with selected weights). */
export async function blockFeatures(model: LoadedModel, windows: CalibrationSet, blocks: readonly number[], parameters: readonly number[], o: FeatureOptions): Promise<number[][]> {
  const outliers = await blockOutlierRatios(model, windows, o);
  const B = model.config.numLayers;
  return blocks.map((b) => {
    const depth = B > 1 ? b / (B - 1) : 0;
    return [depth, depth * depth, Math.log(parameters[b]), outliers.ratio[b] ?? 0];
  });
}
