// Hand-written interface of the kernel and runtime part of the native addon
// (native/bindings/kernel_bindings.cc, stats_bindings.cc, convert_bindings.cc,
// runtime_bindings.cc, bench_bindings.cc). Everything else in lib/ goes through this
// file (and its siblings, joined in ./addon.ts), never through untyped bindings.
import type { DType } from '../model/types';
import { addon } from './binding';

/** The dtype names the addon takes: shears' one DType (lib/model/types.ts). */
export type NativeDType = DType;
/**
 * Where an op runs, the same for every op that takes it: 'auto' (the default: CUDA
 * when the CUDA build is loaded and a device answers, else the CPU), 'cpu', or 'cuda'
 * (rejects with a BackendError naming why when there is no usable device). Ops
 * without device kernels yet (SparseGPT's Hessian and prune, the forward pass) run
 * on the CPU under a CUDA choice.
 */
export type NativeBackend = 'cpu' | 'cuda' | 'auto';
/** A cap on the CPU instruction sets the kernels use ('auto': all the CPU has). */
export type NativeCpuLevel = 'portable' | 'avx2' | 'avx512';

export interface NativeCpuFeatures {
  /** The level in use (the cap, or the best the CPU has when lower). */
  active: NativeCpuLevel;
  best: NativeCpuLevel;
  supported: NativeCpuLevel[];
}

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
  /** With perWeight: |W|^p * (actScale * act^q + perWeightScale * |perWeight|^perWeightExponent). */
  actScale?: number;
  perWeight?: Float32Array;
  perWeightExponent?: number;
  perWeightScale?: number;
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
  /** Sum over rows of cos(a[r], b[r]) for two [rows, cols] matrices (ShortGPT's block influence). */
  rowCosineSum(a: Float32Array, b: Float32Array, cols: number): number;
  /** sum += g and sumSq += g^2 elementwise (either may be absent), off the JavaScript thread. */
  accumulateMoments(g: Float32Array, sum: Float32Array | undefined, sumSq: Float32Array | undefined): Promise<void>;
  /** Bit i of `bits` set where element i is +0 or -0; returns how many are. */
  zeroMask(data: Float32Array | Uint16Array, dtype: 'f32' | 'f16' | 'bf16', bits: Uint8Array): number;
  convert(src: Float32Array | Uint16Array, srcDtype: NativeDType, dst: Float32Array | Uint16Array, dstDtype: NativeDType): Promise<void>;
  threads(): number;
  /** Resizes the thread pool (0: machine default, at most 1024); safe while ops run. */
  setThreads(n: number): number;
  backends(): NativeBackendsInfo;
  cpuFeatures(): NativeCpuFeatures;
  /** Caps the instruction sets every CPU kernel uses; throws E_BACKEND for one this CPU lacks. */
  setCpuFeatures(level: NativeCpuLevel | 'auto'): NativeCpuFeatures;
  benchCopy(src: Uint8Array, dst: Uint8Array, opts?: { parallel?: boolean }): Promise<void>;
  benchSortSelect(scores: Float32Array, rows: number, cols: number, sparsity: number, bits: Uint8Array): Promise<void>;
}

export function kernelsNative(): KernelsNative {
  return addon().module as unknown as KernelsNative;
}
