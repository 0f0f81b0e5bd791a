// The float64 ops of the reference transformer (reference-forward.ts composes the
// forward halves, reference-backward.ts the backward halves), each forward beside its
// backward, written from the math. A backward takes what its forward saved and the
// gradient of the forward's output; it returns the gradient of the op's input and adds
// parameter gradients into the accumulators it is given. Arrays are row-major
// [rows, width]; plain loops, slow and exact.
import { ModelConfig } from '../../lib/model/types';

/** a += b, element by element; returns a. */
export function addInto(a: Float64Array, b: Float64Array): Float64Array {
  for (let j = 0; j < a.length; ++j) a[j] += b[j];
  return a;
}

// ---- Embedding: row r = E[token r] (+ P[position of r + offset] for learned positions).

export function embed(E: Float64Array, P: Float64Array | undefined, tokens: readonly number[], seq: number, offset: number, H: number): Float64Array {
  const out = new Float64Array(tokens.length * H);
  tokens.forEach((tok, r) => {
    const p = (r % seq) + offset;
    for (let j = 0; j < H; ++j) out[r * H + j] = E[tok * H + j] + (P ? P[p * H + j] : 0);
  });
  return out;
}

export function embedBack(dy: Float64Array, tokens: readonly number[], seq: number, offset: number, H: number, dE: Float64Array, dP?: Float64Array): void {
  tokens.forEach((tok, r) => {
    const p = (r % seq) + offset;
    for (let j = 0; j < H; ++j) {
      dE[tok * H + j] += dy[r * H + j];
      if (dP) dP[p * H + j] += dy[r * H + j];
    }
  });
}

// ---- Linear: y[n][out] = sum_k x[n][k] w[out][k] + b[out].

export function linear(x: Float64Array, n: number, w: Float64Array, out: number, inp: number, b?: Float64Array): Float64Array {
  const y = new Float64Array(n * out);
  for (let r = 0; r < n; ++r)
    for (let o = 0; o < out; ++o) {
      let s = b ? b[o] : 0;
      for (let k = 0; k < inp; ++k) s += x[r * inp + k] * w[o * inp + k];
      y[r * out + o] = s;
    }
  return y;
}

/** dx = dy w; dw += dy^T x; db += column sums of dy. */
export function linearBack(dy: Float64Array, x: Float64Array, n: number, w: Float64Array, out: number, inp: number, dw: Float64Array, db?: Float64Array): Float64Array {
  const dx = new Float64Array(n * inp);
  for (let r = 0; r < n; ++r)
    for (let o = 0; o < out; ++o) {
      const g = dy[r * out + o];
      if (db) db[o] += g;
      for (let k = 0; k < inp; ++k) {
        dx[r * inp + k] += g * w[o * inp + k];
        dw[o * inp + k] += g * x[r * inp + k];
      }
    }
  return dx;
}

// ---- RMSNorm / LayerNorm over rows of width H: y = xhat * w + b, where
// xhat = (x - mean) * inv, inv = 1 / sqrt(var + eps) (RMSNorm: mean taken as 0).

export interface NormSaved {
  xhat: Float64Array;
  inv: Float64Array;
}

export function norm(kind: ModelConfig['norm'], eps: number, x: Float64Array, rows: number, H: number, w: Float64Array, b?: Float64Array): { y: Float64Array; saved: NormSaved } {
  const y = new Float64Array(rows * H);
  const xhat = new Float64Array(rows * H);
  const inv = new Float64Array(rows);
  for (let r = 0; r < rows; ++r) {
    const row = x.subarray(r * H, (r + 1) * H);
    let mean = 0;
    if (kind === 'layernorm') {
      for (const v of row) mean += v;
      mean /= H;
    }
    let varSum = 0;
    for (const v of row) varSum += (v - mean) ** 2;
    inv[r] = 1 / Math.sqrt(varSum / H + eps);
    for (let j = 0; j < H; ++j) {
      xhat[r * H + j] = (row[j] - mean) * inv[r];
      y[r * H + j] = xhat[r * H + j] * w[j] + (b ? b[j] : 0);
    }
  }
  return { y, saved: { xhat, inv } };
}

/**
 * With g = dy * w: dx = inv * (g - mean(g) - xhat * mean(g * xhat)), the mean(g) term
 * only for LayerNorm (whose mean depends on x); dw += dy * xhat; db += dy.
 */
export function normBack(kind: ModelConfig['norm'], s: NormSaved, dy: Float64Array, rows: number, H: number, w: Float64Array, dw: Float64Array, db?: Float64Array): Float64Array {
  const dx = new Float64Array(rows * H);
  for (let r = 0; r < rows; ++r) {
    let gMean = 0;
    let gxMean = 0;
    for (let j = 0; j < H; ++j) {
      const i = r * H + j;
      const g = dy[i] * w[j];
      gMean += g / H;
      gxMean += (g * s.xhat[i]) / H;
      dw[j] += dy[i] * s.xhat[i];
      if (db) db[j] += dy[i];
    }
    if (kind !== 'layernorm') gMean = 0;
    for (let j = 0; j < H; ++j) {
      const i = r * H + j;
      dx[i] = s.inv[r] * (dy[i] * w[j] - gMean - s.xhat[i] * gxMean);
    }
  }
  return dx;
}

// ---- RoPE: rotates the pairs of each head by pos * freq. The backward is the rotation
// by minus the angle (the transpose of a rotation).

/** Inverse frequencies of RoPE, with Llama-3 scaling when configured. */
export function ropeInvFreq(cfg: ModelConfig): number[] {
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

/** Rotates x [rows, nHeads * headDim] in place; `inverse` rotates back (the backward). */
export function rope(cfg: ModelConfig, x: Float64Array, rows: number, seq: number, nHeads: number, inverse = false): void {
  const r = cfg.rope!;
  const hd = cfg.headDim;
  const half = r.dim / 2;
  const freqs = ropeInvFreq(cfg);
  for (let row = 0; row < rows; ++row) {
    const pos = row % seq;
    for (let h = 0; h < nHeads; ++h) {
      const base = row * nHeads * hd + h * hd;
      for (let i = 0; i < half; ++i) {
        const a = r.layout === 'interleaved' ? base + 2 * i : base + i;
        const b = r.layout === 'interleaved' ? base + 2 * i + 1 : base + i + half;
        const ang = (inverse ? -pos : pos) * freqs[i];
        const x0 = x[a];
        const x1 = x[b];
        x[a] = x0 * Math.cos(ang) - x1 * Math.sin(ang);
        x[b] = x0 * Math.sin(ang) + x1 * Math.cos(ang);
      }
    }
  }
}

// ---- Causal attention with grouped KV heads: query head h reads KV head h / (nq / nk).
// out_t = sum_{j <= t} p_tj v_j, p_t = softmax_j(q_t . k_j / sqrt(hd)).

export interface AttnShape {
  batch: number;
  seq: number;
  nq: number;
  nk: number;
  hd: number;
}

/**
 * Calls f for every query (sequence b, query head, position t) with t, the offset of its
 * query (and output) row, kv(j): the offset of its KV head at position j of the same
 * sequence, and the offset of its row of probabilities.
 */
function forEachQuery(s: AttnShape, f: (t: number, qi: number, kv: (j: number) => number, pi: number) => void): void {
  const { batch, seq, nq, nk, hd } = s;
  const group = nq / nk;
  for (let b = 0; b < batch; ++b)
    for (let head = 0; head < nq; ++head) {
      const kh = Math.floor(head / group);
      const kv = (j: number) => (b * seq + j) * nk * hd + kh * hd;
      for (let t = 0; t < seq; ++t) f(t, (b * seq + t) * nq * hd + head * hd, kv, ((b * nq + head) * seq + t) * seq);
    }
}

/** Output [T, nq*hd] and the probabilities p [batch, nq, seq, seq] (zero above the diagonal). */
export function attention(q: Float64Array, k: Float64Array, v: Float64Array, s: AttnShape): { out: Float64Array; probs: Float64Array } {
  const { batch, seq, nq, hd } = s;
  const out = new Float64Array(batch * seq * nq * hd);
  const probs = new Float64Array(batch * nq * seq * seq);
  forEachQuery(s, (t, qi, kv, pi) => {
    const scores: number[] = [];
    for (let j = 0; j <= t; ++j) {
      let dot = 0;
      for (let d = 0; d < hd; ++d) dot += q[qi + d] * k[kv(j) + d];
      scores.push(dot / Math.sqrt(hd));
    }
    const mx = Math.max(...scores);
    const e = scores.map((sc) => Math.exp(sc - mx));
    const sum = e.reduce((a, bb) => a + bb, 0);
    for (let j = 0; j <= t; ++j) probs[pi + j] = e[j] / sum;
    for (let d = 0; d < hd; ++d) {
      let acc = 0;
      for (let j = 0; j <= t; ++j) acc += probs[pi + j] * v[kv(j) + d];
      out[qi + d] = acc;
    }
  });
  return { out, probs };
}

/**
 * dv_j += p_tj dout_t; dp_tj = dout_t . v_j; the softmax gives ds_tj = p_tj (dp_tj - sum_i p_ti dp_ti),
 * and the scores dq_t += ds_tj k_j / sqrt(hd), dk_j += ds_tj q_t / sqrt(hd).
 */
export function attentionBack(dout: Float64Array, q: Float64Array, k: Float64Array, v: Float64Array, probs: Float64Array, s: AttnShape): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const hd = s.hd;
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  forEachQuery(s, (t, qi, kv, pi) => {
    const p = probs.subarray(pi, pi + t + 1);
    const dp = new Float64Array(t + 1);
    let pdp = 0;
    for (let j = 0; j <= t; ++j) {
      for (let d = 0; d < hd; ++d) {
        dp[j] += dout[qi + d] * v[kv(j) + d];
        dv[kv(j) + d] += p[j] * dout[qi + d];
      }
      pdp += p[j] * dp[j];
    }
    for (let j = 0; j <= t; ++j) {
      const ds = (p[j] * (dp[j] - pdp)) / Math.sqrt(hd);
      for (let d = 0; d < hd; ++d) {
        dq[qi + d] += ds * k[kv(j) + d];
        dk[kv(j) + d] += ds * q[qi + d];
      }
    }
  });
  return { dq, dk, dv };
}

// ---- Activations and their derivatives.

function erf(x: number): number {
  // Abramowitz-Stegun 7.1.26 is too coarse for 1e-6 checks: sum the series instead.
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

const GELU_C = Math.sqrt(2 / Math.PI);

export function act(kind: ModelConfig['activation'], x: number): number {
  switch (kind) {
    case 'silu':
      return x / (1 + Math.exp(-x));
    case 'relu':
      return Math.max(0, x);
    case 'gelu':
      return 0.5 * x * (1 + erf(x / Math.SQRT2));
    case 'gelu_tanh':
      return 0.5 * x * (1 + Math.tanh(GELU_C * (x + 0.044715 * x ** 3)));
  }
}

/** d act(x) / dx (ReLU: 0 at x = 0, where it has no derivative). */
export function actGrad(kind: ModelConfig['activation'], x: number): number {
  switch (kind) {
    case 'silu': {
      const s = 1 / (1 + Math.exp(-x));
      return s * (1 + x * (1 - s));
    }
    case 'relu':
      return x > 0 ? 1 : 0;
    case 'gelu':
      return 0.5 * (1 + erf(x / Math.SQRT2)) + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI);
    case 'gelu_tanh': {
      const t = Math.tanh(GELU_C * (x + 0.044715 * x ** 3));
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * 0.044715 * x * x);
    }
  }
}

// ---- Next-token NLL of logits z [rows, V]: nll_r = logsumexp(z_r) - z_r[target_r].

/** Per-row NLL (NaN where the target is < 0). */
export function nll(z: Float64Array, V: number, targets: readonly number[]): Float64Array {
  return Float64Array.from(targets, (t, r) => {
    if (t < 0) return NaN;
    const row = z.subarray(r * V, (r + 1) * V);
    const mx = Math.max(...row);
    let s = 0;
    for (const v of row) s += Math.exp(v - mx);
    return mx + Math.log(s) - row[t];
  });
}

/** dLoss/dz for loss = mean of nll over the rows with a target: (softmax(z_r) - onehot(target_r)) / count. */
export function nllMeanBack(z: Float64Array, V: number, targets: readonly number[]): Float64Array {
  const count = targets.filter((t) => t >= 0).length;
  const dz = new Float64Array(z.length);
  targets.forEach((t, r) => {
    if (t < 0) return;
    const row = z.subarray(r * V, (r + 1) * V);
    const mx = Math.max(...row);
    let s = 0;
    for (const v of row) s += Math.exp(v - mx);
    for (let j = 0; j < V; ++j) dz[r * V + j] = (Math.exp(row[j] - mx) / s - (j === t ? 1 : 0)) / count;
  });
  return dz;
}
