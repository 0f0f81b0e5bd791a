// Hand-written interface of the kernel part of the native addon. Everything else in
// lib/ goes through this file (and its siblings), never through untyped bindings.
import { addon } from './binding';

export type NativeDType = 'f32' | 'f16' | 'bf16';
export type NativeBackend = 'cpu' | 'cuda' | 'auto';

export interface NativeMatrix {
  data: Float32Array | Uint16Array;
  dtype: NativeDType;
  rows: number;
  cols: number;
}

export interface NativeScoreOptions {
  p: number;
  q: number;
  act?: Float32Array;
  backend?: NativeBackend;
}

export interface NativeSelection {
  sparsity: number;
  granularity: 'row' | 'matrix';
  n?: number;
  m?: number;
}

export interface NativeMaskOut {
  bits: Uint8Array;
  prunedPerRow?: Uint32Array;
}

export interface NativeBackendOption {
  backend?: NativeBackend;
}

export interface NativeColumnAccumulators extends NativeBackendOption {
  sum: Float64Array;
  sumSq: Float64Array;
  exceed?: Float64Array;
  threshold?: number;
}

export interface NativeBackendsInfo {
  cudaCompiled: boolean;
  cudaAvailable: boolean;
  cudaStatus: string;
}

export interface KernelsNative {
  score(w: NativeMatrix, opts: NativeScoreOptions, out: Float32Array): Promise<void>;
  select(
    scores: Float32Array,
    rows: number,
    cols: number,
    sel: NativeSelection,
    mask: NativeMaskOut,
    opts?: NativeBackendOption,
  ): Promise<number | undefined>;
  selectGlobal(
    items: { scores: Float32Array; rows: number; cols: number; mask: NativeMaskOut }[],
    sparsity: number,
    opts?: NativeBackendOption,
  ): Promise<(number | undefined)[]>;
  /** Resolves with the number pruned when mask.prunedPerRow is given. */
  applyMask(w: NativeMatrix, mask: NativeMaskOut, opts?: NativeBackendOption): Promise<number | undefined>;
  prune(
    w: NativeMatrix,
    score: NativeScoreOptions,
    sel: NativeSelection,
    mask: NativeMaskOut,
    opts?: NativeBackendOption,
  ): Promise<number | undefined>;
  columnStats(x: Float32Array, rows: number, cols: number, acc: NativeColumnAccumulators): Promise<void>;
  columnNorms(sumSq: Float64Array, out: Float32Array): void;
  countPositive(x: Float64Array): number;
  convert(src: Float32Array | Uint16Array, srcDtype: NativeDType, dst: Float32Array | Uint16Array, dstDtype: NativeDType): Promise<void>;
  threads(): number;
  setThreads(n: number): number;
  /** Switches the hand-vectorized CPU loops on or off; returns whether they are in use. */
  setSimd(on?: boolean): boolean;
  backends(): NativeBackendsInfo;
  benchCopy(src: Uint8Array, dst: Uint8Array, opts?: { parallel?: boolean }): Promise<void>;
  benchSortSelect(scores: Float32Array, rows: number, cols: number, sparsity: number, bits: Uint8Array): Promise<void>;
}

export function kernelsNative(): KernelsNative {
  return addon().module as unknown as KernelsNative;
}
