// The float64 reverse-mode reference of the whole model's loss: the mean next-token
// NLL over the batch * (seq - 1) predictions (position t predicts token t + 1 of the
// same sequence), and its gradient with respect to every parameter tensor. The forward
// is reference-forward.ts, recording a tape; this file walks the tape backwards with
// the ops' backward halves (reference-ops.ts). For tests: slow and exact.
import { blockShape } from '../../lib/model/shapes';
import {
  AnyRefModel,
  BlockTape,
  HeadTape,
  lmHeadName,
  mustParam,
  param,
  refBlockTape,
  refEmbed,
  refHeadTape,
  RefModel64,
  toFloat64,
} from './reference-forward';
import { act, actGrad, addInto, attentionBack, embedBack, linearBack, nll, nllMeanBack, NormSaved, normBack, rope } from './reference-ops';

export interface RefGradients {
  loss: number;
  /** dLoss/dParameter by canonical name, in the tensor's layout. */
  grads: Map<string, Float64Array>;
}

/** Next-token targets inside each sequence of `seq` tokens; the last position of each predicts nothing (-1). */
export function nextTokenTargets(tokens: readonly number[], seq: number): number[] {
  return tokens.map((_, j) => ((j + 1) % seq === 0 ? -1 : tokens[j + 1]));
}

/** Everything the forward computed that the backward reads. */
export interface ForwardTape {
  /** Each block's input hidden states. */
  inputs: Float64Array[];
  blocks: BlockTape[];
  head: HeadTape;
  targets: number[];
  loss: number;
}

export function refForwardTape(m: AnyRefModel, tokens: number[], batch: number, seq: number): ForwardTape {
  const inputs: Float64Array[] = [];
  const blocks: BlockTape[] = [];
  let h = refEmbed(m, tokens, seq);
  for (let i = 0; i < m.config.numLayers; ++i) {
    inputs.push(h);
    blocks.push(refBlockTape(m, i, h, batch, seq));
    h = blocks[i].out;
  }
  const head = refHeadTape(m, h, tokens.length);
  const targets = nextTokenTargets(tokens, seq);
  const rowNll = nll(head.logits, m.config.vocabSize, targets).filter((v) => !Number.isNaN(v));
  return { inputs, blocks, head, targets, loss: rowNll.reduce((a, b) => a + b, 0) / rowNll.length };
}

/** The mean next-token NLL alone. */
export function refLoss(m: AnyRefModel, tokens: number[], batch: number, seq: number): number {
  return refForwardTape(m, tokens, batch, seq).loss;
}

/** The loss and dLoss/dParameter for every parameter of `m`. */
export function refLossAndGradients(model: AnyRefModel, tokens: number[], batch: number, seq: number): RefGradients {
  const m = 'params' in model ? model : toFloat64(model);
  const tape = refForwardTape(m, tokens, batch, seq);
  const b = new Backward(m, tokens.length, seq);
  let dh = b.head(tape.head, tape.targets);
  for (let i = m.config.numLayers - 1; i >= 0; --i) dh = b.block(i, tape.blocks[i], batch, dh);
  const c = m.config;
  embedBack(dh, tokens, seq, c.positionOffset, c.hiddenSize, b.grad('embed.weight'), c.rope === null ? b.grad('pos_embed.weight') : undefined);
  return { loss: tape.loss, grads: b.grads };
}

/** The backward of each stage, accumulating into one zero-initialised gradient per parameter. */
class Backward {
  readonly grads: Map<string, Float64Array>;

  constructor(
    private readonly m: RefModel64,
    private readonly rows: number,
    private readonly seq: number,
  ) {
    this.grads = new Map([...m.params].map(([name, v]) => [name, new Float64Array(v.length)]));
  }

  grad(name: string): Float64Array {
    const g = this.grads.get(name);
    if (!g) throw new Error(`reference: missing ${name}`);
    return g;
  }

  /** Backward of the linear layer `name` (its bias too, when it has one): the gradient of its input. */
  private linear(name: string, dy: Float64Array, x: Float64Array, out: number, inp: number): Float64Array {
    const hasBias = param(this.m, `${name}.bias`) !== undefined;
    return linearBack(dy, x, this.rows, mustParam(this.m, `${name}.weight`), out, inp, this.grad(`${name}.weight`), hasBias ? this.grad(`${name}.bias`) : undefined);
  }

  private norm(prefix: string, saved: NormSaved, dy: Float64Array): Float64Array {
    const c = this.m.config;
    const hasBias = param(this.m, `${prefix}.bias`) !== undefined;
    const db = hasBias ? this.grad(`${prefix}.bias`) : undefined;
    return normBack(c.norm, saved, dy, this.rows, c.hiddenSize, mustParam(this.m, `${prefix}.weight`), this.grad(`${prefix}.weight`), db);
  }

  /** Final norm and LM head (into embed.weight when tied) under the mean NLL: the gradient of the last hidden states. */
  head(t: HeadTape, targets: number[]): Float64Array {
    const c = this.m.config;
    const dz = nllMeanBack(t.logits, c.vocabSize, targets);
    const lm = lmHeadName(this.m);
    const dx = linearBack(dz, t.x, this.rows, mustParam(this.m, lm), c.vocabSize, c.hiddenSize, this.grad(lm));
    return t.norm ? this.norm('final_norm', t.norm, dx) : dx;
  }

  /** Backward of x + F(N(x)) (pre-norm) or N(x + F(x)) (post-norm), given F's backward. */
  private residual(normName: string, saved: NormSaved, dOut: Float64Array, fBack: (dy: Float64Array) => Float64Array): Float64Array {
    if (this.m.config.preNorm) return addInto(this.norm(normName, saved, fBack(dOut)), dOut);
    const dSum = this.norm(normName, saved, dOut);
    return addInto(fBack(dSum), dSum);
  }

  /** Block i backwards: the gradient of its input from that of its output. */
  block(i: number, t: BlockTape, batch: number, dOut: Float64Array): Float64Array {
    const c = this.m.config;
    const H = c.hiddenSize;
    const hd = c.headDim;
    const { numHeads: nq, numKvHeads: nk, intermediateSize: I } = blockShape(c, i);
    const p = `blocks.${i}`;
    let d = dOut;
    const mlp = t.mlp;
    if (mlp)
      d = this.residual(`${p}.mlp_norm`, mlp.norm, d, (dy) => {
        const gate = mlp.gate;
        const dDownIn = this.linear(`${p}.mlp.${gate ? 'down' : 'fc2'}`, dy, mlp.downIn, H, I);
        if (!gate) return this.linear(`${p}.mlp.fc1`, dDownIn.map((g, j) => g * actGrad(c.activation, mlp.up[j])), mlp.in, I, H);
        // downIn = act(gate) * up
        const dGate = dDownIn.map((g, j) => g * mlp.up[j] * actGrad(c.activation, gate[j]));
        const dUp = dDownIn.map((g, j) => g * act(c.activation, gate[j]));
        return addInto(this.linear(`${p}.mlp.gate`, dGate, mlp.in, I, H), this.linear(`${p}.mlp.up`, dUp, mlp.in, I, H));
      });
    const attn = t.attn;
    if (attn)
      d = this.residual(`${p}.attn_norm`, attn.norm, d, (dy) => {
        const dO = this.linear(`${p}.attn.o`, dy, attn.oIn, H, nq * hd);
        const { dq, dk, dv } = attentionBack(dO, attn.q, attn.k, attn.v, attn.probs, { batch, seq: this.seq, nq, nk, hd });
        if (c.rope) {
          rope(c, dq, this.rows, this.seq, nq, true);
          rope(c, dk, this.rows, this.seq, nk, true);
        }
        const dx = this.linear(`${p}.attn.q`, dq, attn.in, nq * hd, H);
        addInto(dx, this.linear(`${p}.attn.k`, dk, attn.in, nk * hd, H));
        return addInto(dx, this.linear(`${p}.attn.v`, dv, attn.in, nk * hd, H));
      });
    return d;
  }
}
