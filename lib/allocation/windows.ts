// A seeded subset of the calibration windows, so that a method that prunes and measures
// the model many times (rl-allocation's episodes) pays for a bounded number of windows.
import type { CalibrationSet } from '../calibration/sample';
import { SeededRandom } from '../util/random';

/**
 * At most `count` of the set's windows, chosen without replacement by `seed` and kept in
 * their original order; the set itself when it has no more than `count`.
 */
export function windowSubset(set: CalibrationSet, count: number, seed: number): CalibrationSet {
  if (set.samples <= count) return set;
  const order = Array.from({ length: set.samples }, (_, i) => i);
  const rng = new SeededRandom(seed);
  // The first `count` places of a seeded Fisher-Yates shuffle.
  for (let i = 0; i < count; i++) {
    const j = rng.int(i, set.samples - 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const chosen = order.slice(0, count).sort((a, b) => a - b);
  const L = set.seqLen;
  const tokens = new Int32Array(count * L);
  chosen.forEach((w, i) => tokens.set(set.tokens.subarray(w * L, (w + 1) * L), i * L));
  return {
    ...set,
    tokens,
    samples: count,
    notes: [...set.notes, `${count} of the ${set.samples} calibration windows (seed ${seed})`],
    reuseWarning: undefined,
  };
}

/** The windows of a set as one token array each (views into set.tokens). */
export function windowsOf(set: CalibrationSet): Int32Array[] {
  return Array.from({ length: set.samples }, (_, w) => set.tokens.subarray(w * set.seqLen, (w + 1) * set.seqLen));
}
