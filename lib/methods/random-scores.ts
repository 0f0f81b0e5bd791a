// The random baselines' masks (random, random-pattern): seeded uniform scores drawn
// natively per matrix (native/cpu/random_scores.h: splitmix64 of the seed, a hash of the
// matrix's name and the weight's index, so the draws depend on neither the thread count
// nor the order the matrices are pruned in), then the usual selection: per row, per
// matrix, N:M, or one threshold across matrices (scoreMatrix).
import { ArgumentRangeError, nativeCall } from '../errors';
import { applyMask, Granularity, selectMask } from '../kernels';
import { refineNative } from '../native/refine';
import type { Strategy } from '../strategies';
import { checkDims } from '../tensor';

/** One uniform score in [0, 1) per weight of the matrix `name` (rows x cols), seeded. */
export async function randomScores(rows: number, cols: number, seed: number, name: string): Promise<Float32Array> {
  checkDims(rows, cols, name);
  if (!Number.isSafeInteger(seed)) throw new ArgumentRangeError(`--seed must be an integer of magnitude below 2^53, got ${String(seed)}`);
  const out = new Float32Array(rows * cols);
  await nativeCall(() => refineNative().randomScores(out, seed, name));
  return out;
}

/**
 * A strategy that keeps weights at random: each matrix's scores from (seed, its name),
 * selected at the run's sparsity, granularity or N:M pattern (row by default).
 */
export function randomStrategy(name: string, seed: number, defaultGranularity: Granularity = 'row'): Strategy {
  return {
    name,
    needs: [],
    defaultGranularity,
    allowsGlobal: true,
    scoreOptions() {
      throw new TypeError(`${name} draws its scores (scoreMatrix): it has no |W|^p * act^q score`);
    },
    scoreMatrix: (w, _stats, layer) => randomScores(w.rows, w.cols, seed, layer.name),
    async prune(w, _stats, selection, layer) {
      // Without a name (a caller outside the pipelines) every matrix draws the same stream.
      const scores = await randomScores(w.rows, w.cols, seed, layer?.name ?? '');
      const mask = await selectMask(scores, w.rows, w.cols, { granularity: defaultGranularity, ...selection });
      await applyMask(w, mask, { backend: selection.backend });
      return mask;
    },
  };
}
