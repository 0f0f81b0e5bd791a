// Hand-written interface of the optimizer part of the native addon
// (native/bindings/optim_bindings.cc). lib/finetune/ is its only user.
import { addon } from './binding';
import { NativeDType } from './kernels';

export interface NativeAdamWState {
  /** First and second moments, float32, one per element (start at zero). */
  m: Float32Array;
  v: Float32Array;
  /** The float32 master copy of an f16/bf16 parameter (the stored values are its rounding). */
  master?: Float32Array;
}

export interface NativeAdamWOptions {
  /** The step number t >= 1 (bias corrections 1 - beta^t). */
  step: number;
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay (w -= lr * weightDecay * w). */
  weightDecay?: number;
  /** Packed keep-mask (bit i, little-endian within bytes; 1 = trains, 0 = held at zero with zero moments). */
  keep?: Uint8Array;
  /** Elastic weight consolidation: grad += lambda * fisher * (w - anchor); the anchor in its own dtype (default f32). */
  ewc?: { lambda: number; fisher: Float32Array; anchor: Float32Array | Uint16Array; anchorDtype?: NativeDType };
}

export interface OptimNative {
  /** One AdamW step on one parameter tensor, in place (param, moments, master), off the JavaScript thread. */
  adamwStep(
    param: { data: Float32Array | Uint16Array; dtype: NativeDType },
    grad: Float32Array,
    state: NativeAdamWState,
    opts: NativeAdamWOptions,
  ): Promise<void>;
  /** sum F (w - anchor)^2 over the weights whose keep bit is set (all without keep), in double (native/cpu/ewc_penalty.h). */
  ewcPenalty(w: Float32Array, fisher: Float32Array, anchor: NativeDTyped, keep?: Uint8Array): number;
  /** Sum and maximum of the finite values, and how many are finite / not (native/cpu/float_summary.h). */
  floatSummary(x: Float32Array): { sum: number; max: number; finite: number; nonfinite: number };
  /** dst = src rounded to dst.dtype; a kept weight (keep bit set) that would round to zero becomes the smallest nonzero value with its sign. */
  castKeepingZeros(src: NativeDTyped, dst: NativeDTyped, keep?: Uint8Array): Promise<void>;
  /** keep = NOT zero over n bits (bits past n - 1 cleared). */
  keepFromZeros(zero: Uint8Array, n: number, keep: Uint8Array): void;
  /** How many of n weights have the keep bit clear and the zero bit clear (pruned, yet nonzero). */
  prunedNonzero(keep: Uint8Array, zero: Uint8Array, n: number): number;
}

/** A tensor's data with its storage dtype (Float32Array for f32, Uint16Array for f16/bf16). */
export interface NativeDTyped {
  data: Float32Array | Uint16Array;
  dtype: NativeDType;
}

export function optimNative(): OptimNative {
  return addon().module as unknown as OptimNative;
}
