// Bias compensation (FLAP; the bias method): when units go, what they added on average
// stays. For consumer W [out, in] and removed input columns R, the delta to the
// consumer's output bias is W[:, R] · mean(X_R): one native matmul of W with the mean
// input vector restricted to R (zeros elsewhere).
import { ColumnStats } from '../kernels';
import { matmul } from '../forward/matmul';
import { Tensor } from '../model/types';
import { asMatrix } from './pipeline';

export async function compensationDelta(w: Tensor, stats: ColumnStats, removed: readonly number[]): Promise<Float32Array> {
  const n = Math.max(1, stats.count);
  const mean = new Float32Array(stats.cols);
  for (const j of removed) mean[j] = stats.sum[j] / n;
  return matmul(mean, asMatrix(w));
}
