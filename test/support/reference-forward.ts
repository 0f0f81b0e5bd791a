// A plain float64 transformer forward pass, written from the math (not from the
// native code), for tests on small models. Straightforward loops; slow and exact.
import { ModelConfig, Tensor } from '../../lib/model/types';

export interface RefModel {
  config: ModelConfig;
  tensors: Map<string, Tensor>;
}

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

function get(m: RefModel, name: string): Float64Array | undefined {
  const t = m.tensors.get(name);
  return t ? values(t) : undefined;
}

function must(m: RefModel, name: string): Float64Array {
  const v = get(m, name);
  if (!v) throw new Error(`reference: missing ${name}`);
  return v;
}

/** y[n][out] = sum_k x[n][k] w[out][k] + b[out]. */
export function refLinear(x: Float64Array, n: number, w: Float64Array, out: number, inp: number, b?: Float64Array): Float64Array {
  const y = new Float64Array(n * out);
  for (let r = 0; r < n; ++r)
    for (let o = 0; o < out; ++o) {
      let s = b ? b[o] : 0;
      for (let k = 0; k < inp; ++k) s += x[r * inp + k] * w[o * inp + k];
      y[r * out + o] = s;
    }
  return y;
}

function norm(cfg: ModelConfig, x: Float64Array, rows: number, w: Float64Array, b?: Float64Array): Float64Array {
  const H = cfg.hiddenSize;
  const y = new Float64Array(x.length);
  for (let r = 0; r < rows; ++r) {
    const row = x.subarray(r * H, (r + 1) * H);
    let mean = 0;
    if (cfg.norm === 'layernorm') {
      for (const v of row) mean += v;
      mean /= H;
    }
    let varSum = 0;
    for (const v of row) varSum += (v - mean) ** 2;
    const inv = 1 / Math.sqrt(varSum / H + cfg.normEps);
    for (let j = 0; j < H; ++j) y[r * H + j] = (row[j] - mean) * inv * w[j] + (b ? b[j] : 0);
  }
  return y;
}

/** Inverse frequencies of RoPE, with Llama-3 scaling when configured. */
export function refInvFreq(cfg: ModelConfig): number[] {
  const rope = cfg.rope!;
  const out: number[] = [];
  for (let i = 0; i < rope.dim / 2; ++i) {
    let f = 1 / rope.theta ** ((2 * i) / rope.dim);
    const s = rope.scaling;
    if (s) {
      const wavelen = (2 * Math.PI) / f;
      const lowWavelen = s.originalContextLength / s.lowFreqFactor;
      const highWavelen = s.originalContextLength / s.highFreqFactor;
      if (wavelen < highWavelen) {
        // unchanged
      } else if (wavelen > lowWavelen) {
        f = f / s.factor;
      } else {
        const smooth = (s.originalContextLength / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
        f = (1 - smooth) * (f / s.factor) + smooth * f;
      }
    }
    out.push(f);
  }
  return out;
}

function rope(cfg: ModelConfig, x: Float64Array, rows: number, seq: number, nHeads: number): void {
  const r = cfg.rope!;
  const hd = cfg.headDim;
  const half = r.dim / 2;
  const freqs = refInvFreq(cfg);
  for (let row = 0; row < rows; ++row) {
    const pos = row % seq;
    for (let h = 0; h < nHeads; ++h) {
      const base = row * nHeads * hd + h * hd;
      for (let i = 0; i < half; ++i) {
        const a = r.layout === 'interleaved' ? base + 2 * i : base + i;
        const b = r.layout === 'interleaved' ? base + 2 * i + 1 : base + i + half;
        const ang = pos * freqs[i];
        const x0 = x[a];
        const x1 = x[b];
        x[a] = x0 * Math.cos(ang) - x1 * Math.sin(ang);
        x[b] = x0 * Math.sin(ang) + x1 * Math.cos(ang);
      }
    }
  }
}

function erf(x: number): number {
  // Abramowitz-Stegun 7.1.26 is too coarse for 1e-6 checks: integrate the series instead.
  const sign = x < 0 ? -1 : 1;
  const ax = Math.abs(x);
  if (ax > 6) return sign;
  // Maclaurin series converges well for |x| <= 3; continued fraction beyond.
  if (ax <= 3) {
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 200; ++n) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17) break;
    }
    return (sign * 2 * sum) / Math.sqrt(Math.PI);
  }
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...))))
  let f = 0;
  for (let n = 60; n >= 1; --n) f = n / 2 / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return sign * (1 - erfc);
}

export function refAct(kind: ModelConfig['activation'], x: number): number {
  switch (kind) {
    case 'silu':
      return x / (1 + Math.exp(-x));
    case 'relu':
      return Math.max(0, x);
    case 'gelu':
      return 0.5 * x * (1 + erf(x / Math.SQRT2));
    case 'gelu_tanh':
      return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  }
}

export function refEmbed(m: RefModel, tokens: number[], seq: number): Float64Array {
  const H = m.config.hiddenSize;
  const E = must(m, 'embed.weight');
  const P = m.config.rope === null ? must(m, 'pos_embed.weight') : undefined;
  const out = new Float64Array(tokens.length * H);
  tokens.forEach((tok, r) => {
    const p = (r % seq) + m.config.positionOffset;
    for (let j = 0; j < H; ++j) out[r * H + j] = E[tok * H + j] + (P ? P[p * H + j] : 0);
  });
  return out;
}

export interface RefCaptures {
  attnIn: Float64Array;
  oIn: Float64Array;
  mlpIn: Float64Array;
  downIn: Float64Array;
}

/** Block i over h [batch*seq, hidden]; returns the new hidden states and the linear inputs. */
export function refBlock(m: RefModel, i: number, h: Float64Array, batch: number, seq: number): { out: Float64Array; cap: RefCaptures } {
  const c = m.config;
  const T = batch * seq;
  const H = c.hiddenSize;
  const hd = c.headDim;
  const nq = c.numHeads;
  const nk = c.numKvHeads;
  const I = c.intermediateSize;
  const p = `blocks.${i}`;
  const lin = (x: Float64Array, name: string, out: number, inp: number) =>
    refLinear(x, T, must(m, `${p}.${name}.weight`), out, inp, get(m, `${p}.${name}.bias`));

  let x: Float64Array = h.slice();
  const attnIn = c.preNorm ? norm(c, x, T, must(m, `${p}.attn_norm.weight`), get(m, `${p}.attn_norm.bias`)) : x.slice();
  const q = lin(attnIn, 'attn.q', nq * hd, H);
  const k = lin(attnIn, 'attn.k', nk * hd, H);
  const v = lin(attnIn, 'attn.v', nk * hd, H);
  if (c.rope) {
    rope(c, q, T, seq, nq);
    rope(c, k, T, seq, nk);
  }
  const oIn = new Float64Array(T * nq * hd);
  const group = nq / nk;
  for (let b = 0; b < batch; ++b)
    for (let head = 0; head < nq; ++head) {
      const kh = Math.floor(head / group);
      for (let t = 0; t < seq; ++t) {
        const qi = (b * seq + t) * nq * hd + head * hd;
        const scores: number[] = [];
        for (let j = 0; j <= t; ++j) {
          const kj = (b * seq + j) * nk * hd + kh * hd;
          let s = 0;
          for (let d = 0; d < hd; ++d) s += q[qi + d] * k[kj + d];
          scores.push(s / Math.sqrt(hd));
        }
        const mx = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - mx));
        const sum = e.reduce((a, bb) => a + bb, 0);
        for (let d = 0; d < hd; ++d) {
          let acc = 0;
          for (let j = 0; j <= t; ++j) acc += (e[j] / sum) * v[(b * seq + j) * nk * hd + kh * hd + d];
          oIn[qi + d] = acc;
        }
      }
    }
  const attnOut = lin(oIn, 'attn.o', H, nq * hd);
  for (let j = 0; j < x.length; ++j) x[j] += attnOut[j];
  if (!c.preNorm) x = norm(c, x, T, must(m, `${p}.attn_norm.weight`), get(m, `${p}.attn_norm.bias`));

  const mlpIn = c.preNorm ? norm(c, x, T, must(m, `${p}.mlp_norm.weight`), get(m, `${p}.mlp_norm.bias`)) : x.slice();
  const gated = m.tensors.has(`${p}.mlp.gate.weight`);
  let downIn: Float64Array;
  let mlpOut: Float64Array;
  if (gated) {
    const g = lin(mlpIn, 'mlp.gate', I, H);
    const u = lin(mlpIn, 'mlp.up', I, H);
    downIn = g.map((gv, j) => refAct(c.activation, gv) * u[j]);
    mlpOut = lin(downIn, 'mlp.down', H, I);
  } else {
    const f = lin(mlpIn, 'mlp.fc1', I, H);
    downIn = f.map((fv) => refAct(c.activation, fv));
    mlpOut = lin(downIn, 'mlp.fc2', H, I);
  }
  for (let j = 0; j < x.length; ++j) x[j] += mlpOut[j];
  if (!c.preNorm) x = norm(c, x, T, must(m, `${p}.mlp_norm.weight`), get(m, `${p}.mlp_norm.bias`));
  return { out: x, cap: { attnIn, oIn, mlpIn, downIn } };
}

export function refLogits(m: RefModel, h: Float64Array, rows: number): Float64Array {
  const c = m.config;
  const fw = get(m, 'final_norm.weight');
  const x = fw ? norm(c, h, rows, fw, get(m, 'final_norm.bias')) : h;
  const lm = get(m, 'lm_head.weight') ?? must(m, 'embed.weight');
  return refLinear(x, rows, lm, c.vocabSize, c.hiddenSize);
}

/** Per-row NLL of the target (NaN where target < 0). */
export function refNll(m: RefModel, h: Float64Array, targets: number[]): Float64Array {
  const V = m.config.vocabSize;
  const z = refLogits(m, h, targets.length);
  return Float64Array.from(targets, (t, r) => {
    if (t < 0) return NaN;
    const row = z.subarray(r * V, (r + 1) * V);
    const mx = Math.max(...row);
    let s = 0;
    for (const v of row) s += Math.exp(v - mx);
    return mx + Math.log(s) - row[t];
  });
}

/** Hidden states after all blocks. */
export function refForward(m: RefModel, tokens: number[], batch: number, seq: number): Float64Array {
  let h = refEmbed(m, tokens, seq);
  for (let i = 0; i < m.config.numLayers; ++i) h = refBlock(m, i, h, batch, seq).out;
  return h;
}
