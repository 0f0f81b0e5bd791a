// Deep Compression's weight sharing for one pruned matrix (Han et al. 2016): its kept
// weights clustered into 2^bits shared values by 1-D k-means with linear initialization,
// written back in place in the matrix's dtype (the native op: native/cpu/kmeans1d.h), and
// the size its codebook + index form would take.
import { ArgumentRangeError, nativeCall } from '../errors';
import { maskBytes, checkMatrix, checkTypedArray, Mask, Matrix } from '../tensor';
import { kmeansNative, NativeKmeansResult } from '../native/kmeans';

/** Assignment steps at most (each is k - 1 binary searches on the sorted kept weights). */
export const DEFAULT_MAX_ITERATIONS = 1000;
/** Bits of a relative index: Deep Compression's choice for fully connected layers. */
export const RELATIVE_INDEX_BITS = 5;

export interface ClusterOptions {
  bits: number;
  maxIterations?: number;
  indexBits?: number;
}

export interface Clustering extends NativeKmeansResult {
  bits: number;
  indexBits: number;
}

export function checkBits(bits: unknown, name = '--bits'): number {
  if (typeof bits !== 'number' || !Number.isInteger(bits) || bits < 1 || bits > 8)
    throw new ArgumentRangeError(`${name} must be an integer in [1, 8] (2^bits shared values per matrix), got ${String(bits)}`);
  return bits;
}

/** Clusters the kept weights of w (mask bit set) into 2^bits shared values, written into w; pruned weights are left as they are. */
export async function clusterKept(w: Matrix, mask: Mask, o: ClusterOptions): Promise<Clustering> {
  checkMatrix(w);
  checkTypedArray(mask.bits, 'Uint8Array', maskBytes(w.rows, w.cols), 'mask.bits');
  const bits = checkBits(o.bits, 'bits');
  const indexBits = o.indexBits ?? RELATIVE_INDEX_BITS;
  const maxIterations = o.maxIterations ?? DEFAULT_MAX_ITERATIONS;
  const r = await nativeCall(() => kmeansNative().kmeansCluster(w, mask.bits, { bits, maxIterations, indexBits }));
  return { ...r, bits, indexBits };
}

/** Bytes of one matrix stored densely and in the codebook + index form. */
export interface CompressedSize {
  dense: number;
  /** The smallest index form (none when every weight is kept, a keep bitmap of one bit per weight, or relative indices) + bits per stored entry + the codebook. */
  compressed: number;
  form: 'none' | 'bitmap' | 'relative';
}

/**
 * The codebook + index form of Deep Compression: each stored entry is a `bits`-bit index into
 * a codebook of 2^bits values in the matrix's dtype (2 bytes for f16 and bf16, 4 for f32); which
 * entries are stored is said either by a keep bitmap (one bit per weight) or, as the paper
 * does, by relative indices of `indexBits` bits with filler zeros in gaps too long for them.
 * The smaller of the two is counted; a matrix with every weight kept needs neither.
 */
export function compressedSize(c: Clustering, rows: number, cols: number, bytesPerValue: number): CompressedSize {
  const n = rows * cols;
  const codebook = 2 ** c.bits * bytesPerValue;
  const bitmap = Math.ceil((n + c.kept * c.bits) / 8);
  const relative = Math.ceil((c.relativeEntries * (c.indexBits + c.bits)) / 8);
  // Nothing pruned: the indices alone, no positions.
  if (c.kept === n) return { dense: n * bytesPerValue, compressed: Math.ceil((n * c.bits) / 8) + codebook, form: 'none' };
  const form = relative < bitmap ? 'relative' : 'bitmap';
  return { dense: n * bytesPerValue, compressed: Math.min(bitmap, relative) + codebook, form };
}
