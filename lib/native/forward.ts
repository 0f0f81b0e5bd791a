// Hand-written interface of the forward-pass part of the native addon
// (native/bindings/forward_bindings.cc). lib/forward/ is its only user.
import { addon } from './binding';
export type { NativeBackend } from './kernels';
import { NativeBackend, NativeDType, NativeMatrix } from './kernels';

/** A vector (norm weight, bias) in its stored dtype: Float32Array for f32, Uint16Array bits otherwise. */
export interface NativeVector {
  data: Float32Array | Uint16Array;
  dtype: NativeDType;
}

export interface NativeNorm {
  kind: 'rmsnorm' | 'layernorm';
  eps: number;
  weight?: NativeVector | null;
  bias?: NativeVector | null;
}

export interface NativeRope {
  layout: 'interleaved' | 'rotate_half';
  theta: number;
  dim: number;
  scaling?: { factor: number; lowFreqFactor: number; highFreqFactor: number; originalContextLength: number } | null;
}

/** One block. `gate` present: SwiGLU-style gated MLP; absent: up = fc1, down = fc2. */
/** heads 0: no attention sublayer (attnNorm, q/k/v/o null); intermediate 0: no MLP (mlpNorm, up/down null). */
export interface NativeBlockSpec {
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  intermediate: number;
  activation: 'silu' | 'relu' | 'gelu' | 'gelu_tanh';
  preNorm: boolean;
  rope: NativeRope | null;
  attnNorm: NativeNorm | null;
  mlpNorm: NativeNorm | null;
  q: NativeMatrix | null;
  k: NativeMatrix | null;
  v: NativeMatrix | null;
  o: NativeMatrix | null;
  qBias?: NativeVector | null;
  kBias?: NativeVector | null;
  vBias?: NativeVector | null;
  oBias?: NativeVector | null;
  gate?: NativeMatrix | null;
  gateBias?: NativeVector | null;
  up: NativeMatrix | null;
  upBias?: NativeVector | null;
  down: NativeMatrix | null;
  downBias?: NativeVector | null;
}

/** Float32Array buffers a block fills with the inputs of its linear layers ([tokens, width] each). */
export interface NativeCaptures {
  attnIn?: Float32Array;
  oIn?: Float32Array;
  mlpIn?: Float32Array;
  downIn?: Float32Array;
}

/** Final norm (null: none) and LM head [vocab, hidden]. */
export interface NativeHeadSpec {
  norm: NativeNorm | null;
  lm: NativeMatrix;
}

export interface ForwardOptions {
  backend?: NativeBackend;
}

/** One block's KV cache: [batch, capacity, kvHeads*headDim] keys and values; the new tokens go at `start`. */
export interface NativeKv {
  k: Float32Array;
  v: Float32Array;
  capacity: number;
  start: number;
}

export interface ForwardNative {
  fwdMatmul(x: Float32Array, n: number, w: NativeMatrix, bias: Float32Array | null, y: Float32Array, opts?: ForwardOptions): Promise<void>;
  fwdEmbed(
    tokens: Int32Array,
    seq: number,
    table: NativeMatrix,
    pos: NativeMatrix | null,
    posOffset: number,
    out: Float32Array,
    opts?: ForwardOptions & { start?: number },
  ): Promise<void>;
  fwdBlock(
    spec: NativeBlockSpec,
    hidden: Float32Array,
    batch: number,
    seq: number,
    captures: NativeCaptures | null,
    opts?: ForwardOptions & { kv?: NativeKv },
  ): Promise<void>;
  fwdNll(head: NativeHeadSpec, hidden: Float32Array, rows: number, targets: Int32Array, out: Float32Array, opts?: ForwardOptions): Promise<{ sum: number; count: number }>;
  fwdLogits(head: NativeHeadSpec, hidden: Float32Array, rows: number, out: Float32Array, opts?: ForwardOptions): Promise<void>;
  fwdArgmax(x: Float32Array, rows: number, cols: number, out: Int32Array, opts?: ForwardOptions): Promise<void>;
  fwdKlTop1(
    a: Float32Array,
    b: Float32Array,
    rows: number,
    vocab: number,
    kl: Float64Array,
    argA: Int32Array,
    argB: Int32Array,
    opts?: ForwardOptions,
  ): Promise<{ klMean: number; top1Agreement: number }>;
}

export function forwardNative(): ForwardNative {
  return addon().module as unknown as ForwardNative;
}
