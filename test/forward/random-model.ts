// Small random models of each family, built in memory in canonical form.
import { ModelConfig, RopeLayout, RopeScaling, Tensor, DType } from '../../lib/model/types';

import { rng } from '../support/random';

export { rng };

/** Nearest-even float16 bits of a number in the normal range (or zero). */
export function numberToHalf(x: number): number {
  const f = Math.fround(x);
  if (f === 0) return 0;
  const sign = f < 0 ? 0x8000 : 0;
  const a = Math.abs(f);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e -= 1;
  if (2 ** (e + 1) <= a) e += 1;
  if (e < -14) return sign; // not used: test values stay normal
  let m = (a / 2 ** e - 1) * 1024;
  const fl = Math.floor(m);
  const frac = m - fl;
  m = frac > 0.5 || (frac === 0.5 && fl % 2 === 1) ? fl + 1 : fl;
  if (m === 1024) {
    m = 0;
    e += 1;
  }
  return sign | ((e + 15) << 10) | m;
}

/** bfloat16 bits by truncating the float32 (a valid bf16 value is all a test needs). */
export function numberToBf16(x: number): number {
  return new Uint32Array(new Float32Array([x]).buffer)[0] >>> 16;
}

export function makeTensor(name: string, shape: number[], vals: number[] | Float32Array, dtype: DType): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (vals.length !== n) throw new Error(`${name}: ${vals.length} values for shape ${shape}`);
  if (dtype === 'f32') return { name, dtype, shape, data: Float32Array.from(vals) };
  const data = new Uint16Array(n);
  for (let i = 0; i < n; ++i) data[i] = dtype === 'f16' ? numberToHalf(vals[i]) : numberToBf16(vals[i]);
  return { name, dtype, shape, data };
}

export interface RandomModelSpec {
  architecture: 'llama' | 'opt' | 'gpt2';
  family?: string;
  hidden?: number;
  intermediate?: number;
  layers?: number;
  heads?: number;
  kvHeads?: number;
  vocab?: number;
  context?: number;
  dtype?: DType;
  ropeLayout?: RopeLayout;
  ropeDim?: number;
  ropeTheta?: number;
  ropeScaling?: RopeScaling;
  qkvBias?: boolean;
  preNorm?: boolean;
  tied?: boolean;
  activation?: ModelConfig['activation'];
  seed?: number;
}

export function randomModel(spec: RandomModelSpec): { config: ModelConfig; tensors: Map<string, Tensor> } {
  const H = spec.hidden ?? 16;
  const I = spec.intermediate ?? 40;
  const L = spec.layers ?? 2;
  const nh = spec.heads ?? 4;
  const nkv = spec.kvHeads ?? nh;
  const hd = H / nh;
  const V = spec.vocab ?? 37;
  const llama = spec.architecture === 'llama';
  const dtype = spec.dtype ?? 'f32';
  const config: ModelConfig = {
    architecture: spec.architecture,
    family: spec.family ?? spec.architecture,
    hiddenSize: H,
    intermediateSize: I,
    numLayers: L,
    numHeads: nh,
    numKvHeads: nkv,
    headDim: hd,
    vocabSize: V,
    contextLength: spec.context ?? 128,
    norm: llama ? 'rmsnorm' : 'layernorm',
    normEps: llama ? 1e-5 : 1e-5,
    activation: spec.activation ?? (llama ? 'silu' : spec.architecture === 'opt' ? 'relu' : 'gelu_tanh'),
    rope: llama
      ? { layout: spec.ropeLayout ?? 'interleaved', theta: spec.ropeTheta ?? 10000, dim: spec.ropeDim ?? hd, scaling: spec.ropeScaling }
      : null,
    positionOffset: spec.architecture === 'opt' ? 2 : 0,
    tiedEmbeddings: spec.tied ?? !llama,
    preNorm: spec.preNorm ?? true,
  };
  const rand = rng(spec.seed ?? 1);
  const tensors = new Map<string, Tensor>();
  const add = (name: string, shape: number[], f: () => number) => {
    const n = shape.reduce((a, b) => a * b, 1);
    tensors.set(name, makeTensor(name, shape, Array.from({ length: n }, f), dtype));
  };
  const w = (fanIn: number) => () => ((rand() * 2 - 1) * 1.7) / Math.sqrt(fanIn);
  const near1 = () => 1 + (rand() - 0.5) * 0.4;
  const small = () => (rand() - 0.5) * 0.2;
  const biases = !llama;
  add('embed.weight', [V, H], () => (rand() * 2 - 1) * 1.0);
  if (!llama) add('pos_embed.weight', [config.contextLength + config.positionOffset, H], () => (rand() * 2 - 1) * 0.5);
  for (let i = 0; i < L; ++i) {
    const p = `blocks.${i}`;
    add(`${p}.attn_norm.weight`, [H], near1);
    if (!llama) add(`${p}.attn_norm.bias`, [H], small);
    add(`${p}.attn.q.weight`, [nh * hd, H], w(H));
    add(`${p}.attn.k.weight`, [nkv * hd, H], w(H));
    add(`${p}.attn.v.weight`, [nkv * hd, H], w(H));
    add(`${p}.attn.o.weight`, [H, nh * hd], w(nh * hd));
    if (biases || spec.qkvBias) {
      add(`${p}.attn.q.bias`, [nh * hd], small);
      add(`${p}.attn.k.bias`, [nkv * hd], small);
      add(`${p}.attn.v.bias`, [nkv * hd], small);
    }
    if (biases) add(`${p}.attn.o.bias`, [H], small);
    add(`${p}.mlp_norm.weight`, [H], near1);
    if (!llama) add(`${p}.mlp_norm.bias`, [H], small);
    if (llama) {
      add(`${p}.mlp.gate.weight`, [I, H], w(H));
      add(`${p}.mlp.up.weight`, [I, H], w(H));
      add(`${p}.mlp.down.weight`, [H, I], w(I));
    } else {
      add(`${p}.mlp.fc1.weight`, [I, H], w(H));
      add(`${p}.mlp.fc1.bias`, [I], small);
      add(`${p}.mlp.fc2.weight`, [H, I], w(I));
      add(`${p}.mlp.fc2.bias`, [H], small);
    }
  }
  if (config.preNorm) {
    add('final_norm.weight', [H], near1);
    if (!llama) add('final_norm.bias', [H], small);
  }
  if (!config.tiedEmbeddings) add('lm_head.weight', [V, H], w(H));
  return { config, tensors };
}

/** Max |a - b| relative to max |b|. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; ++i) {
    if (Number.isNaN(a[i]) && Number.isNaN(b[i])) continue;
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / Math.max(m, 1e-30);
}
