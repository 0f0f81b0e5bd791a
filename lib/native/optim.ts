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
  /** Elastic weight consolidation: grad += lambda * fisher * (w - anchor). */
  ewc?: { lambda: number; fisher: Float32Array; anchor: Float32Array };
}

export interface OptimNative {
  /** One AdamW step on one parameter tensor, in place (param, moments, master), off the JavaScript thread. */
  adamwStep(
    param: { data: Float32Array | Uint16Array; dtype: NativeDType },
    grad: Float32Array,
    state: NativeAdamWState,
    opts: NativeAdamWOptions,
  ): Promise<void>;
}

export function optimNative(): OptimNative {
  return addon().module as unknown as OptimNative;
}
