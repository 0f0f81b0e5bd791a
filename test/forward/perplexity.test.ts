// The perplexity protocol on a model whose next-token probabilities are known by
// hand: a bigram table P[k][v]. Blocks are all zero (identity), embeddings are one-hot,
// the final RMSNorm scales e_k by sqrt(hidden) = 2 and the LM head holds log P / 2.
import { ForwardModel } from '../../lib/forward';
import { perplexity } from '../../lib/eval/perplexity';
import { ModelConfig, Tensor } from '../../lib/model/types';
import { makeTensor } from './random-model';

// P[k][(k+1)%4] = 1/2, P[k][(k+2)%4] = 1/4, the other two 1/8.
function bigram(k: number, v: number): number {
  if (v === (k + 1) % 4) return 0.5;
  if (v === (k + 2) % 4) return 0.25;
  return 0.125;
}

function bigramModel(): ForwardModel {
  const V = 4;
  const config: ModelConfig = {
    architecture: 'llama',
    family: 'llama',
    hiddenSize: V,
    intermediateSize: 4,
    numLayers: 1,
    numHeads: 1,
    numKvHeads: 1,
    headDim: V,
    vocabSize: V,
    contextLength: 8,
    norm: 'rmsnorm',
    normEps: 1e-12,
    activation: 'silu',
    rope: { layout: 'interleaved', theta: 10000, dim: V },
    positionOffset: 0,
    tiedEmbeddings: false,
    preNorm: true,
  };
  const t = new Map<string, Tensor>();
  const put = (name: string, shape: number[], f: (i: number) => number) =>
    t.set(name, makeTensor(name, shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => f(i)), 'f32'));
  put('embed.weight', [V, V], (i) => (Math.floor(i / V) === i % V ? 1 : 0));
  for (const n of ['attn_norm', 'mlp_norm']) put(`blocks.0.${n}.weight`, [V], () => 1);
  for (const n of ['attn.q', 'attn.k', 'attn.v', 'attn.o', 'mlp.gate', 'mlp.up', 'mlp.down']) put(`blocks.0.${n}.weight`, [4, 4], () => 0);
  put('final_norm.weight', [V], () => 1);
  // lm_head[v][k] = log P[k][v] / 2
  put('lm_head.weight', [V, V], (i) => Math.log(bigram(i % V, Math.floor(i / V))) / 2);
  return new ForwardModel({ config, tensors: t });
}

const tokens = [0, 1, 2, 3, 0, 2, 1, 3, 3, 3];
const LN2 = Math.log(2);

test('n = floor(N/L) windows, L-1 predictions each, exp of the mean of window means', async () => {
  const m = bigramModel();
  // L = 4: windows [0,1,2,3] (three 1/2 steps: ln 2) and [0,2,1,3] (1/4, 1/8, 1/4: 7/3 ln 2); [3,3] dropped.
  const r = await perplexity(m, tokens, { seqLen: 4 });
  expect(r.windows).toBe(2);
  expect(r.tokens).toBe(8);
  expect(r.seqLen).toBe(4);
  expect(r.windowNll[0]).toBeCloseTo(LN2, 5);
  expect(r.windowNll[1]).toBeCloseTo((7 / 3) * LN2, 5);
  expect(r.meanNll).toBeCloseTo((5 / 3) * LN2, 5);
  expect(r.perplexity).toBeCloseTo(2 ** (5 / 3), 4);
  expect(r.seconds).toBeGreaterThanOrEqual(0);

  // L = 5: [0,1,2,3,0] (ln 2 each) and [2,1,3,3,3] (3, 2, 3, 3 ln 2 / 4).
  const r5 = await perplexity(m, tokens, { seqLen: 5 });
  expect(r5.windows).toBe(2);
  expect(r5.perplexity).toBeCloseTo(2 ** (15 / 8), 4);
});

test('the trailing partial window is ignored, maxWindows and batch are honoured', async () => {
  const m = bigramModel();
  const other = await perplexity(m, [...tokens.slice(0, 8), 1, 0, 2], { seqLen: 4 });
  expect(other.perplexity).toBeCloseTo(2 ** (5 / 3), 4);
  const one = await perplexity(m, tokens, { seqLen: 4, maxWindows: 1 });
  expect(one.windows).toBe(1);
  expect(one.perplexity).toBeCloseTo(2, 5);
  const batched = await perplexity(m, Int32Array.from(tokens), { seqLen: 4, batch: 2 });
  expect(batched.windowNll).toEqual((await perplexity(m, tokens, { seqLen: 4 })).windowNll);
});

test('too few tokens or a bad window length is a clear error', async () => {
  const m = bigramModel();
  await expect(perplexity(m, [0, 1, 2], { seqLen: 4 })).rejects.toThrow(/at least one window of 4 tokens \(seqLen, --seq-len\), got 3 tokens/);
  await expect(perplexity(m, tokens, { seqLen: 1 })).rejects.toThrow(/seqLen \(--seq-len\) must be an integer >= 2/);
  await expect(perplexity(m, tokens, { seqLen: 4, maxWindows: 0 })).rejects.toThrow(/maxWindows/);
  await expect(perplexity(m, [0, 1, 9, 2], { seqLen: 4 })).rejects.toThrow(/token id 9 at position 2 is outside the vocabulary \[0, 4\)/);
});
