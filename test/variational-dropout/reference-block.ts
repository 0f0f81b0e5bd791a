// A float64 reference of the variational block (native/cpu/vd_block.h), written from the
// math: the transformer block of test/support/reference-forward.ts with each variational
// linear layer's pre-activations sampled by the local reparameterization trick,
//   y = x theta^T + b + sqrt(x^2 (exp log sigma^2)^T + 1e-8) * eps,
// with the eps the native block drew. What the finite differences differentiate.
import { blockShape } from '../../lib/model/shapes';
import { VdBlockKey } from '../../lib/native/vd-block';
import { mustParam, param, RefModel64 } from '../support/reference-forward';
import { act, attention, linear, norm, rope } from '../support/reference-ops';

export interface RefVariational {
  theta: Float64Array;
  logSigma2: Float64Array;
  /** [tokens, out]. */
  eps: Float64Array;
}

function variationalLinear(x: Float64Array, rows: number, v: RefVariational, out: number, inp: number, b?: Float64Array): Float64Array {
  const y = linear(x, rows, v.theta, out, inp, b);
  for (let r = 0; r < rows; ++r)
    for (let o = 0; o < out; ++o) {
      let s = 0;
      for (let k = 0; k < inp; ++k) s += x[r * inp + k] ** 2 * Math.exp(v.logSigma2[o * inp + k]);
      y[r * out + o] += Math.sqrt(s + 1e-8) * v.eps[r * out + o];
    }
  return y;
}

/** Block i over h [batch*seq, hidden] with the matrices in `vars` variational; returns the block's output. */
export function refVariationalBlock(m: RefModel64, i: number, h: Float64Array, batch: number, seq: number, vars: Partial<Record<VdBlockKey, RefVariational>>): Float64Array {
  const c = m.config;
  const T = batch * seq, H = c.hiddenSize, hd = c.headDim;
  const { numHeads: nq, numKvHeads: nk, intermediateSize: I } = blockShape(c, i);
  const p = `blocks.${i}`;
  const gated = param(m, `${p}.mlp.gate.weight`) !== undefined;
  const names: Record<VdBlockKey, string> = { q: 'attn.q', k: 'attn.k', v: 'attn.v', o: 'attn.o', gate: 'mlp.gate', up: gated ? 'mlp.up' : 'mlp.fc1', down: gated ? 'mlp.down' : 'mlp.fc2' };
  const lin = (x: Float64Array, key: VdBlockKey, out: number, inp: number) => {
    const bias = param(m, `${p}.${names[key]}.bias`);
    const v = vars[key];
    return v ? variationalLinear(x, T, v, out, inp, bias) : linear(x, T, mustParam(m, `${p}.${names[key]}.weight`), out, inp, bias);
  };
  const normed = (name: string, x: Float64Array) => norm(c.norm, c.normEps, x, T, H, mustParam(m, `${p}.${name}.weight`), param(m, `${p}.${name}.bias`)).y;
  // x + F(N(x)) (pre-norm) or N(x + F(x)) (post-norm).
  const residual = (normName: string, x: Float64Array, f: (input: Float64Array) => Float64Array) => {
    const y = f(c.preNorm ? normed(normName, x) : x);
    const sum = x.map((v, j) => v + y[j]);
    return c.preNorm ? sum : normed(normName, sum);
  };
  let x = h;
  if (nq > 0)
    x = residual('attn_norm', x, (input) => {
      const q = lin(input, 'q', nq * hd, H), k = lin(input, 'k', nk * hd, H), v = lin(input, 'v', nk * hd, H);
      if (c.rope) {
        rope(c, q, T, seq, nq);
        rope(c, k, T, seq, nk);
      }
      return lin(attention(q, k, v, { batch, seq, nq, nk, hd }).out, 'o', H, nq * hd);
    });
  if (I > 0)
    x = residual('mlp_norm', x, (input) => {
      const up = lin(input, 'up', I, H);
      const gate = gated ? lin(input, 'gate', I, H) : null;
      const mid = gate ? gate.map((g, j) => act(c.activation, g) * up[j]) : up.map((u) => act(c.activation, u));
      return lin(mid, 'down', H, I);
    });
  return x;
}

/** Mean squared error of the reference block's output against target. */
export function refVariationalMse(m: RefModel64, i: number, h: Float64Array, batch: number, seq: number, vars: Partial<Record<VdBlockKey, RefVariational>>, target: ArrayLike<number>): number {
  const out = refVariationalBlock(m, i, h, batch, seq, vars);
  let s = 0;
  for (let j = 0; j < out.length; ++j) s += (out[j] - target[j]) ** 2;
  return s / out.length;
}
