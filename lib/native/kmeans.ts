// Hand-written interface of weight sharing by 1-D k-means (native/bindings/kmeans_bindings.cc,
// native/cpu/kmeans1d.h). lib/methods/kmeans-cluster.ts is its only user.
import { addon } from './binding';
import type { NativeMatrix } from './kernels';

export interface NativeKmeansResult {
  /** Kept weights clustered. */
  kept: number;
  /** Assignment steps run; converged: the last one changed nothing. */
  iterations: number;
  converged: boolean;
  /** Sums of squared errors over the kept weights: linear initialization, final centroids (unrounded), values written in the dtype. */
  sseInitial: number;
  sseFinal: number;
  sseWritten: number;
  /** 2^bits each, ascending: the final centroids, the values written (rounded to the dtype), the kept weights per cluster. */
  centroids: Float64Array;
  written: Float32Array;
  counts: Float64Array;
  /** Entries of Deep Compression's relative-index form: kept weights plus filler zeros where a gap exceeds 2^indexBits. */
  relativeEntries: number;
}

export interface KmeansNative {
  /** Clusters the kept weights (keep bit set) of w into 2^bits shared values, written into w in place. */
  kmeansCluster(w: NativeMatrix, keep: Uint8Array, opts: { bits: number; maxIterations: number; indexBits: number }): Promise<NativeKmeansResult>;
}

export function kmeansNative(): KmeansNative {
  return addon().module as unknown as KmeansNative;
}
