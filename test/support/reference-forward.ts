// A plain float64 transformer forward pass, written from the math (not from the
// native code), for tests on small models. Straightforward loops; slow and exact.
// The ops live in reference-ops.ts beside their backward; each block's forward records
// a tape of what reference-backward.ts needs to run it backwards.
import { blockShape } from '../../lib/model/shapes';
import { ModelConfig, Tensor } from '../../lib/model/types';
import { act, attention, embed, linear, nll, norm, NormSaved, rope } from './reference-ops';

export { act as refAct, linear as refLinear, ropeInvFreq as refInvFreq } from './reference-ops';

export interface RefModel {
  config: ModelConfig;
  tensors: Map<string, Tensor>;
}

/** A model with float64 parameters by canonical name: what finite differences perturb. */
export interface RefModel64 {
  config: ModelConfig;
  params: Map<string, Float64Array>;
}

export type AnyRefModel = RefModel | RefModel64;

/** IEEE half bits -> number. */
export function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const man = h & 0x3ff;
  if (exp === 0) return sign * man * 2 ** -24;
  if (exp === 31) return man ? NaN : sign * Infinity;
  return sign * (1 + man / 1024) * 2 ** (exp - 15);
}

/** bfloat16 bits -> number: the top half of a float32. */
export function bf16ToNumber(h: number): number {
  const u = new Uint32Array([h << 16]);
  return new Float32Array(u.buffer)[0];
}

/** The tensor's values as float64. */
export function values(t: Tensor): Float64Array {
  const out = new Float64Array(t.data.length);
  for (let i = 0; i < out.length; ++i) {
    const v = t.data[i];
    out[i] = t.dtype === 'f32' ? v : t.dtype === 'f16' ? halfToNumber(v) : bf16ToNumber(v);
  }
  return out;
}

/** Every tensor of `m` as float64 (a copy). */
export function toFloat64(m: RefModel): RefModel64 {
  return { config: m.config, params: new Map([...m.tensors].map(([name, t]) => [name, values(t)])) };
}

/** The parameter `name` as float64, or undefined when the model lacks it. */
export function param(m: AnyRefModel, name: string): Float64Array | undefined {
  if ('params' in m) return m.params.get(name);
  const t = m.tensors.get(name);
  return t ? values(t) : undefined;
}

export function mustParam(m: AnyRefModel, name: string): Float64Array {
  const v = param(m, name);
  if (!v) throw new Error(`reference: missing ${name}`);
  return v;
}

/** y = x W^T + b of the linear layer `name` (weights `name`.weight, bias `name`.bias if present). */
export function refLinearOf(m: AnyRefModel, name: string, x: Float64Array, rows: number, out: number, inp: number): Float64Array {
  return linear(x, rows, mustParam(m, `${name}.weight`), out, inp, param(m, `${name}.bias`));
}

function normOf(m: AnyRefModel, prefix: string, x: Float64Array, rows: number): { y: Float64Array; saved: NormSaved } {
  const c = m.config;
  return norm(c.norm, c.normEps, x, rows, c.hiddenSize, mustParam(m, `${prefix}.weight`), param(m, `${prefix}.bias`));
}

export function refEmbed(m: AnyRefModel, tokens: number[], seq: number): Float64Array {
  const c = m.config;
  const P = c.rope === null ? mustParam(m, 'pos_embed.weight') : undefined;
  return embed(mustParam(m, 'embed.weight'), P, tokens, seq, c.positionOffset, c.hiddenSize);
}

/** One sublayer's tape: `in` is what its first linear layers read. */
export interface SublayerTape {
  in: Float64Array;
  /** The norm's saved values: of the block stream (pre-norm) or of the residual sum (post-norm). */
  norm: NormSaved;
}

export interface AttnTape extends SublayerTape {
  /** Queries and keys after RoPE, values. */
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
  probs: Float64Array;
  /** The attention output, input of attn.o. */
  oIn: Float64Array;
}

export interface MlpTape extends SublayerTape {
  /** Pre-activations: gate (SwiGLU) and up (SwiGLU) or fc1. */
  gate: Float64Array | null;
  up: Float64Array;
  /** Input of mlp.down / mlp.fc2. */
  downIn: Float64Array;
}

/** Block i's forward record; a sublayer the block does not have is null. */
export interface BlockTape {
  attn: AttnTape | null;
  mlp: MlpTape | null;
  out: Float64Array;
}

/** x + F(N(x)) (pre-norm) or N(x + F(x)) (post-norm), with the norm `normName`. */
function residual<T>(m: AnyRefModel, normName: string, x: Float64Array, rows: number, f: (input: Float64Array) => { y: Float64Array; tape: T }) {
  if (m.config.preNorm) {
    const n = normOf(m, normName, x, rows);
    const r = f(n.y);
    const out = x.slice();
    for (let j = 0; j < out.length; ++j) out[j] += r.y[j];
    return { out, tape: { ...r.tape, in: n.y, norm: n.saved } };
  }
  const input = x.slice();
  const r = f(input);
  const sum = x.slice();
  for (let j = 0; j < sum.length; ++j) sum[j] += r.y[j];
  const n = normOf(m, normName, sum, rows);
  return { out: n.y, tape: { ...r.tape, in: input, norm: n.saved } };
}

/** Block i over h [batch*seq, hidden], with its tape. */
export function refBlockTape(m: AnyRefModel, i: number, h: Float64Array, batch: number, seq: number): BlockTape {
  const c = m.config;
  const T = batch * seq;
  const H = c.hiddenSize;
  const hd = c.headDim;
  const { numHeads: nq, numKvHeads: nk, intermediateSize: I } = blockShape(c, i);
  const p = `blocks.${i}`;
  const lin = (x: Float64Array, name: string, out: number, inp: number) => refLinearOf(m, `${p}.${name}`, x, T, out, inp);

  let x = h;
  let attnTape: AttnTape | null = null;
  if (nq > 0) {
    const r = residual(m, `${p}.attn_norm`, x, T, (input) => {
      const q = lin(input, 'attn.q', nq * hd, H);
      const k = lin(input, 'attn.k', nk * hd, H);
      const v = lin(input, 'attn.v', nk * hd, H);
      if (c.rope) {
        rope(c, q, T, seq, nq);
        rope(c, k, T, seq, nk);
      }
      const a = attention(q, k, v, { batch, seq, nq, nk, hd });
      return { y: lin(a.out, 'attn.o', H, nq * hd), tape: { q, k, v, probs: a.probs, oIn: a.out } };
    });
    x = r.out;
    attnTape = r.tape;
  }

  let mlpTape: MlpTape | null = null;
  if (I > 0) {
    const gated = param(m, `${p}.mlp.gate.weight`) !== undefined;
    const r = residual(m, `${p}.mlp_norm`, x, T, (input) => {
      const gate = gated ? lin(input, 'mlp.gate', I, H) : null;
      const up = lin(input, gated ? 'mlp.up' : 'mlp.fc1', I, H);
      const downIn = gate ? gate.map((g, j) => act(c.activation, g) * up[j]) : up.map((u) => act(c.activation, u));
      return { y: lin(downIn, gated ? 'mlp.down' : 'mlp.fc2', H, I), tape: { gate, up, downIn } };
    });
    x = r.out;
    mlpTape = r.tape;
  }
  return { attn: attnTape, mlp: mlpTape, out: x === h ? h.slice() : x };
}

export interface RefCaptures {
  attnIn: Float64Array;
  oIn: Float64Array;
  mlpIn: Float64Array;
  downIn: Float64Array;
}

/** Block i over h [batch*seq, hidden]; returns the new hidden states and the linear inputs (empty for a missing sublayer). */
export function refBlock(m: AnyRefModel, i: number, h: Float64Array, batch: number, seq: number): { out: Float64Array; cap: RefCaptures } {
  const t = refBlockTape(m, i, h, batch, seq);
  const none = new Float64Array(0);
  return { out: t.out, cap: { attnIn: t.attn?.in ?? none, oIn: t.attn?.oIn ?? none, mlpIn: t.mlp?.in ?? none, downIn: t.mlp?.downIn ?? none } };
}

/** The head's forward record: the final norm's saved values (null without one), the LM head's input and the logits. */
export interface HeadTape {
  norm: NormSaved | null;
  x: Float64Array;
  logits: Float64Array;
}

/** The LM head's weight: lm_head.weight, or embed.weight when tied (absent). */
export function lmHeadName(m: AnyRefModel): string {
  return param(m, 'lm_head.weight') ? 'lm_head.weight' : 'embed.weight';
}

export function refHeadTape(m: AnyRefModel, h: Float64Array, rows: number): HeadTape {
  const c = m.config;
  const n = param(m, 'final_norm.weight') ? normOf(m, 'final_norm', h, rows) : null;
  const x = n ? n.y : h;
  return { norm: n ? n.saved : null, x, logits: linear(x, rows, mustParam(m, lmHeadName(m)), c.vocabSize, c.hiddenSize) };
}

export function refLogits(m: AnyRefModel, h: Float64Array, rows: number): Float64Array {
  return refHeadTape(m, h, rows).logits;
}

/** Per-row NLL of the target (NaN where target < 0). */
export function refNll(m: AnyRefModel, h: Float64Array, targets: number[]): Float64Array {
  return nll(refLogits(m, h, targets.length), m.config.vocabSize, targets);
}

/** Hidden states after all blocks. */
export function refForward(m: AnyRefModel, tokens: number[], batch: number, seq: number): Float64Array {
  let h = refEmbed(m, tokens, seq);
  for (let i = 0; i < m.config.numLayers; ++i) h = refBlock(m, i, h, batch, seq).out;
  return h;
}
