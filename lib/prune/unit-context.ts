// What a structured method sees of one block when it scores units (lib/methods/plugin.ts):
// the block's widths and tensors, the dense model's statistics of what each unit's
// consumer receives, native column/row norms of any matrix, and a seeded PRNG.
import { ColumnStats, computeScores } from '../kernels';
import { BlockShape, ModelConfig, Tensor } from '../model/types';
import { asMatrix } from './pipeline';
import { filesNative } from '../native/files';
import { fromNative } from '../errors';
import { SeededRandom } from '../util/random';

/** Sum and sum of squares of |W| along one axis (L1 and squared L2 norms). */
export interface AxisNorms {
  l1: Float64Array;
  sq: Float64Array;
}

export interface UnitContext {
  block: number;
  config: ModelConfig;
  shape: BlockShape;
  /** Canonical names of the MLP's producer weights (gate+up, or fc1) and its consumer (down or fc2). */
  mlp: { producers: string[]; consumer: string };
  tensor(name: string): Tensor | undefined;
  /** Statistics of the consumers' inputs on the dense model (when the method asks): downIn per channel, oIn per head column. */
  downIn?: ColumnStats;
  oIn?: ColumnStats;
  /** Per-column norms of matrix `name` (one per input: a consumer's columns are the units). */
  columnNorms(name: string): Promise<AxisNorms>;
  /** Per-row norms of matrix `name` (a producer's rows are the units). */
  rowNorms(name: string): Promise<AxisNorms>;
  /** Uniform in [0, 1), seeded per run and block. */
  random(): number;
}

export interface BlockScoresContext {
  config: ModelConfig;
  /** Mean over calibration tokens of cos(block input, block output), per block (when asked). */
  meanCosine?: Float64Array;
  /** Mean |W| over each block's weights. */
  meanAbsWeight(block: number): Promise<number>;
  random(): number;
}

/** Column sums of |W| and W^2 of a tensor, natively: |W| by the score kernel, sums by ColumnStats. */
export async function columnNorms(t: Tensor): Promise<AxisNorms> {
  const m = asMatrix(t);
  const abs = await computeScores(m, { p: 1, q: 0 });
  const s = new ColumnStats(m.cols);
  await s.add(abs, m.rows);
  return { l1: s.sum, sq: s.sumSq };
}

/** Row sums of |W| and W^2: the column sums of the transposed |W|. */
export async function rowNorms(t: Tensor): Promise<AxisNorms> {
  const m = asMatrix(t);
  const abs = await computeScores(m, { p: 1, q: 0 });
  const tr = new Float32Array(abs.length);
  try {
    await filesNative().transposeBytes(new Uint8Array(abs.buffer), new Uint8Array(tr.buffer), m.rows, m.cols, 4);
  } catch (e) {
    throw fromNative(e);
  }
  const s = new ColumnStats(m.rows);
  await s.add(tr, m.cols);
  return { l1: s.sum, sq: s.sumSq };
}

/** Sums of consecutive groups of `size` values (a head's headDim columns, a KV group's heads). */
export function groupSums(values: ArrayLike<number>, size: number): Float32Array {
  const out = new Float32Array(Math.floor(values.length / size));
  for (let g = 0; g < out.length; g++) {
    let s = 0;
    for (let j = 0; j < size; j++) s += values[g * size + j];
    out[g] = s;
  }
  return out;
}

/** A seeded PRNG as a function (the calibration sampler's, lib/util/random.ts). */
export function seeded(seed: number): () => number {
  const r = new SeededRandom(seed);
  return () => r.next();
}
