// The native forward pass against the float64 reference (test/support/reference-forward.ts)
// on small random models of every family: embeddings, each block's output and the
// inputs of its linear layers, per-position NLL and logits.
import { ForwardModel, CAPTURE_NAMES } from '../../lib/forward';
import { refBlock, refEmbed, refLogits, refNll, RefModel } from '../support/reference-forward';
import { randomModel, RandomModelSpec, relErr, rng } from './random-model';

const TOL = 1e-4;

const cases: [string, RandomModelSpec][] = [
  ['llama, GQA, interleaved RoPE', { architecture: 'llama', hidden: 32, heads: 4, kvHeads: 2, intermediate: 48, seed: 11 }],
  [
    'llama, rotate-half RoPE, Llama-3 scaling, partial rotary',
    {
      architecture: 'llama',
      hidden: 32,
      heads: 4,
      kvHeads: 1,
      ropeLayout: 'rotate_half',
      ropeDim: 6,
      ropeTheta: 10000,
      ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContextLength: 64 },
      seed: 12,
    },
  ],
  ['qwen2-style q/k/v biases, bf16 weights', { architecture: 'llama', family: 'qwen2', qkvBias: true, ropeLayout: 'rotate_half', heads: 4, kvHeads: 2, dtype: 'bf16', seed: 13 }],
  ['llama, f16 weights', { architecture: 'llama', hidden: 24, heads: 3, kvHeads: 3, dtype: 'f16', seed: 14 }],
  ['llama, untied head, silu', { architecture: 'llama', tied: false, seed: 15 }],
  ['OPT pre-norm (ReLU, positions offset 2)', { architecture: 'opt', seed: 16 }],
  ['OPT post-norm (do_layer_norm_before = false)', { architecture: 'opt', preNorm: false, seed: 17 }],
  ['GPT-2 (GELU-tanh, learned positions)', { architecture: 'gpt2', seed: 18 }],
  ['GPT-2 shape with exact GELU, f16', { architecture: 'gpt2', activation: 'gelu', dtype: 'f16', seed: 19 }],
];

// Runs the native model `native` and the reference model `m` on the same tokens;
// returns the largest relative error over everything compared.
async function maxError(m: RefModel, batch: number, seq: number, seed: number, native: RefModel = m): Promise<number> {
  const fm = new ForwardModel(native);
  let worst = 0;
  const check = (what: string, e: number) => {
    worst = Math.max(worst, Number.isNaN(e) ? Infinity : e);
    return what;
  };
  const V = m.config.vocabSize;
  const r = rng(seed);
  const tokens = Array.from({ length: batch * seq }, () => Math.floor(r() * V));
  const T = batch * seq;

  const hidden = await fm.embed(tokens, batch, seq);
  let ref = refEmbed(m, tokens, seq);
  check('embed', relErr(hidden, ref));

  for (let i = 0; i < m.config.numLayers; ++i) {
    const cap = fm.allocCaptures(T);
    await fm.runBlock(i, hidden, { batch, seq, capture: cap });
    const rb = refBlock(m, i, ref, batch, seq);
    for (const k of CAPTURE_NAMES) check(`block ${i} ${k}`, relErr(cap[k]!, rb.cap[k]));
    check(`block ${i} output`, relErr(hidden, rb.out));
    ref = rb.out;
  }

  // Next-token targets inside each sequence; the last position of each predicts nothing.
  const targets = tokens.map((_, j) => ((j + 1) % seq === 0 ? -1 : tokens[j + 1]));
  const nll = await fm.nll(hidden, targets);
  const refN = refNll(m, ref, targets);
  check('nll', relErr(nll.nll, refN));
  expect(nll.count).toBe(batch * (seq - 1));
  let s = 0;
  refN.forEach((v) => (s += Number.isNaN(v) ? 0 : v));
  check('nll sum', Math.abs(nll.sum - s) / Math.abs(s));
  for (let j = seq - 1; j < T; j += seq) expect(Number.isNaN(nll.nll[j])).toBe(true);

  const logits = await fm.logits(hidden);
  expect(logits.length).toBe(T * V);
  check('logits', relErr(logits, refLogits(m, ref, T)));
  return worst;
}

describe.each(cases)('%s', (_name, spec) => {
  test('batch of 2 sequences of 5 tokens', async () => {
    expect(await maxError(randomModel(spec), 2, 5, 100)).toBeLessThan(TOL);
  });
  test('one sequence of 70 tokens (attention over more than one 64-query chunk)', async () => {
    expect(await maxError(randomModel(spec), 1, 70, 101)).toBeLessThan(TOL);
  });
});

test('a sequence of 300 tokens (attention sums over more than one 256-key slice)', async () => {
  const spec: RandomModelSpec = { architecture: 'llama', hidden: 16, heads: 2, kvHeads: 1, intermediate: 24, layers: 1, context: 512, seed: 41 };
  expect(await maxError(randomModel(spec), 1, 300, 102)).toBeLessThan(TOL);
});

// The comparison above can tell the variants apart: a model run with a detail of its
// configuration changed disagrees with the reference by more than the tolerance, and by
// far more than the right configuration does.
describe('the comparison is sensitive to each configuration detail', () => {
  const alter = (spec: RandomModelSpec, change: (c: RefModel['config']) => void): [RefModel, RefModel] => {
    const m = randomModel(spec);
    const config = structuredClone(m.config);
    change(config);
    return [m, { config, tensors: m.tensors }];
  };
  const llama3: RandomModelSpec = cases[1][1];
  test.each([
    ['RoPE layout', { architecture: 'llama', seed: 1 } as RandomModelSpec, (c: RefModel['config']) => (c.rope!.layout = 'rotate_half')],
    ['Llama-3 scaling', llama3, (c: RefModel['config']) => (c.rope!.scaling = undefined)],
    ['rotary dim', llama3, (c: RefModel['config']) => (c.rope!.dim = 8)],
    ['rope theta', { architecture: 'llama', seed: 2 } as RandomModelSpec, (c: RefModel['config']) => (c.rope!.theta = 500000)],
    ['norm order', { architecture: 'opt', seed: 3 } as RandomModelSpec, (c: RefModel['config']) => (c.preNorm = false)],
    ['position offset', { architecture: 'opt', seed: 4 } as RandomModelSpec, (c: RefModel['config']) => (c.positionOffset = 0)],
    ['GELU flavour', { architecture: 'gpt2', seed: 5 } as RandomModelSpec, (c: RefModel['config']) => (c.activation = 'gelu')],
  ])('%s', async (_what, spec, change) => {
    const [m, wrong] = alter(spec, change);
    const right = await maxError(m, 1, 45, 7);
    const err = await maxError(m, 1, 45, 7, wrong);
    // GELU-tanh is within 3e-4 of exact GELU, so that difference is the smallest one here.
    expect(err).toBeGreaterThan(TOL);
    expect(err).toBeGreaterThan(20 * right);
  });
});
