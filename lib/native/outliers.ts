// Hand-written interface of OWL's outlier count (native/bindings/outlier_bindings.cc,
// native/cpu/outlier_count.h). lib/methods/outlier-ratio.ts is its only user.
import { addon } from './binding';
import type { NativeMatrix } from './kernels';

export interface OutliersNative {
  /** The sum of |W_ij| * act_j (float32 products, summed in double) and how many exceed `threshold`. */
  outlierCount(w: NativeMatrix, act: Float32Array, threshold: number): Promise<{ sum: number; above: number }>;
}

export function outliersNative(): OutliersNative {
  return addon().module as unknown as OutliersNative;
}
