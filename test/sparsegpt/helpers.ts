// Seeded random problems for the SparseGPT tests.
import { maskKept, Mask } from '../../lib';

import { rng } from '../support/random';

export { rng };

export function gaussian(rand: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** Correlated activations: x = z A with a random mixing A and decaying column scales. */
export function correlatedX(tokens: number, cols: number, seed: number, rank = Math.max(2, Math.ceil(cols / 3))): Float32Array {
  const g = gaussian(rng(seed));
  const a = new Float64Array(rank * cols);
  for (let k = 0; k < rank; k++) for (let j = 0; j < cols; j++) a[k * cols + j] = g() / (1 + k * 0.3);
  const x = new Float32Array(tokens * cols);
  for (let t = 0; t < tokens; t++) {
    const z = Array.from({ length: rank }, g);
    for (let j = 0; j < cols; j++) {
      let v = 0.05 * g(); // a little independent noise keeps H well conditioned
      for (let k = 0; k < rank; k++) v += z[k] * a[k * cols + j];
      x[t * cols + j] = v;
    }
  }
  return x;
}

export function randomF32(n: number, seed: number, scale = 1): Float32Array {
  const g = gaussian(rng(seed));
  return Float32Array.from({ length: n }, () => scale * g());
}

/** Pruned flags (1 = pruned) from a keep-mask. */
export function prunedFlags(mask: Mask): Uint8Array {
  const out = new Uint8Array(mask.rows * mask.cols);
  for (let r = 0; r < mask.rows; r++) for (let c = 0; c < mask.cols; c++) out[r * mask.cols + c] = maskKept(mask, r, c) ? 0 : 1;
  return out;
}

/** ||W X^T - W' X^T||_F for w, w2 [rows, cols] and x [tokens, cols]. */
export function reconstructionError(w: ArrayLike<number>, w2: ArrayLike<number>, x: ArrayLike<number>, rows: number, cols: number, tokens: number): number {
  let sum = 0;
  for (let r = 0; r < rows; r++)
    for (let t = 0; t < tokens; t++) {
      let d = 0;
      for (let j = 0; j < cols; j++) d += (w[r * cols + j] - w2[r * cols + j]) * x[t * cols + j];
      sum += d * d;
    }
  return Math.sqrt(sum);
}
