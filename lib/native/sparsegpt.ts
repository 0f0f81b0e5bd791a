// Hand-written interface of the SparseGPT part of the native addon
// (native/bindings/sparsegpt_bindings.cc).
import { addon } from './binding';
import { NativeBackendOption, NativeMaskOut, NativeMatrix } from './kernels';

export interface NativeSparseGptOptions extends NativeBackendOption {
  sparsity: number;
  /** N:M (keep at most n of every m) when m is given. */
  n?: number;
  m?: number;
  blockSize: number;
  percdamp: number;
  selection: 'block' | 'row';
  /** A packed keep-mask (ceil(rows*cols/8) bytes) that decides what is pruned: no selection, the kept weights are reconstructed. */
  keepBits?: Uint8Array;
}

export interface SparseGptNative {
  /** sum (cols x cols, symmetric) += x^T x; rejects non-finite x before touching sum. */
  hessianAdd(x: Float32Array, rows: number, cols: number, sum: Float64Array | Float32Array, opts?: NativeBackendOption): Promise<void>;
  /** Prunes W in place; resolves with the number of pruned weights. */
  sparsegptPrune(
    w: NativeMatrix,
    sum: Float64Array | Float32Array,
    count: number,
    opts: NativeSparseGptOptions,
    mask: NativeMaskOut,
  ): Promise<number>;
}

export function sparsegptNative(): SparseGptNative {
  return addon().module as unknown as SparseGptNative;
}
