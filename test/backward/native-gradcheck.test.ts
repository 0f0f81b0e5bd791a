// Native gradients against central finite differences of the forward pass's own loss
// (ForwardModel.forward + nll, which the native loss equals bit for bit), for a sample
// of entries of every parameter tensor of tiny random Llama, OPT and GPT-2 models.
//
// Tolerance (float32 throughout): the loss (~4-7) is rounded to within a few float32
// ulps (ulp ~5e-7), so a central difference with step h = 1e-2 carries rounding noise
// of a few times 5e-7 / 2h ~ 2.5e-5, and truncation h^2 f''' / 6 of up to ~1e-4 for
// these O(1) weights (both measured: halving h moves the difference by that much, at
// random for the noise). So |g - fd| <~ 2e-4, i.e. <= 2e-3 of the gradient scale
// max(largest |g| of the tensor, 0.1): the floor keeps tensors whose gradient is
// exactly zero (the attention k bias, invariant under softmax shifts: ~1e-8 after
// rounding) from turning noise into huge ratios. A wrong term in the backward moves
// gradients by their own size (ratios ~0.1-1). A ReLU kink inside [w - h, w + h]
// makes the difference meaningless (OPT: measured up to 5e-4 at h = 1e-2, 3e-5 at
// h = 5e-3): an entry over TOL / 2 is rechecked with h = 2e-3, held to the same TOL
// (the rounding noise grows as 1/h, to ~1.2e-4 there: still well inside it).
import { lossAndGradients } from '../../lib/backward/gradients';
import { LoadedModel } from '../../lib/model/types';
import { RandomModelSpec, rng } from '../forward/random-model';
import { GRAD_SPECS } from './gradcheck-models';
import { centralDifference, model, randomTokens, withoutSublayer } from './native-helpers';

const H = 1e-2;
const TOL = 2e-3;
const SAMPLES = 4;

/** Max over sampled entries of |g - fd| / max(max|g| of the tensor, 0.1), per tensor. */
async function check(m: LoadedModel, batch: number, seq: number, seed: number): Promise<Map<string, number>> {
  const tokens = randomTokens(m.config.vocabSize, batch * seq, seed);
  // keepActivationBytes 0: every block but the last recomputed from its saved input.
  const { grads } = await lossAndGradients(m, tokens, { batch, seq, keepActivationBytes: 0 });
  const r = rng(seed + 100);
  const errors = new Map<string, number>();
  for (const [name, g] of grads) {
    let argmax = 0;
    for (let i = 1; i < g.length; ++i) if (Math.abs(g[i]) > Math.abs(g[argmax])) argmax = i;
    const scale = Math.max(Math.abs(g[argmax]), 0.1);
    const entries = [argmax, ...Array.from({ length: SAMPLES - 1 }, () => Math.floor(r() * g.length))];
    let worst = 0;
    for (const i of entries) {
      let err = Math.abs((await centralDifference(m, name, i, H, tokens, batch, seq)) - g[i]) / scale;
      if (err > TOL / 2) err = Math.min(err, Math.abs((await centralDifference(m, name, i, H / 5, tokens, batch, seq)) - g[i]) / scale);
      worst = Math.max(worst, err);
    }
    errors.set(name, worst);
  }
  return errors;
}

function expectWithin(errors: Map<string, number>, names: string[]): number {
  for (const n of names) expect(errors.has(n)).toBe(true);
  const bad = [...errors].filter(([, e]) => !(e <= TOL));
  expect(bad).toEqual([]);
  return Math.max(...errors.values());
}

const CASES: { name: string; spec: RandomModelSpec; expect: string[] }[] = [
  {
    name: 'llama: GQA, interleaved RoPE, untied',
    spec: GRAD_SPECS.llamaGqa,
    expect: ['embed.weight', 'lm_head.weight', 'final_norm.weight', 'blocks.1.attn.k.weight', 'blocks.0.mlp.gate.weight'],
  },
  {
    name: 'llama: rotate_half, partial rotary dim, Llama-3 scaling, tied, q/k/v biases',
    spec: { ...GRAD_SPECS.llamaRotateHalf, qkvBias: true },
    expect: ['embed.weight', 'blocks.0.attn.q.bias', 'blocks.1.attn.v.weight'],
  },
  {
    name: 'OPT: LayerNorm, biases, ReLU, learned positions (offset 2), tied',
    spec: GRAD_SPECS.optPreNorm,
    expect: ['pos_embed.weight', 'final_norm.bias', 'blocks.0.mlp.fc1.bias', 'blocks.1.attn.o.bias'],
  },
  {
    name: 'OPT post-norm (do_layer_norm_before = false)',
    spec: GRAD_SPECS.optPostNorm,
    expect: ['blocks.0.attn_norm.weight', 'blocks.1.mlp_norm.bias'],
  },
  { name: 'GPT-2: GELU-tanh, learned positions', spec: GRAD_SPECS.gpt2, expect: ['pos_embed.weight', 'blocks.1.mlp.fc2.weight'] },
  { name: 'GPT-2 shape with exact GELU', spec: GRAD_SPECS.gpt2ExactGelu, expect: ['blocks.0.mlp.fc1.weight'] },
];

describe('native gradients vs central finite differences (float32)', () => {
  for (const c of CASES)
    test(c.name, async () => {
      const worst = expectWithin(await check(model(c.spec), 2, 6, 3), c.expect);
      // The measured worst case, for the record (the test's bound is TOL).
      if (process.env.GRADCHECK_REPORT) console.log(`${c.name}: max |g - fd| / scale = ${worst.toExponential(2)}`);
    });

  test('sequences longer than one 64-query chunk of the attention (seq 70)', async () => {
    const m = model({ ...GRAD_SPECS.llamaGqa, context: 128, seed: 10 });
    const worst = expectWithin(await check(m, 1, 70, 11), ['blocks.0.attn.q.weight', 'blocks.0.attn.k.weight', 'blocks.1.attn.v.weight']);
    if (process.env.GRADCHECK_REPORT) console.log(`seq 70: max |g - fd| / scale = ${worst.toExponential(2)}`);
  });

  test('the head over several tiles of rows (256) and of vocabulary (512): 2 x 150 tokens, 600 ids', async () => {
    const m = model({ architecture: 'llama', hidden: 16, heads: 4, kvHeads: 2, intermediate: 24, vocab: 600, context: 160, tied: false, seed: 12 });
    const worst = expectWithin(await check(m, 2, 150, 13), ['lm_head.weight', 'final_norm.weight', 'embed.weight']);
    if (process.env.GRADCHECK_REPORT) console.log(`head tiles: max |g - fd| / scale = ${worst.toExponential(2)}`);
  });

  test('blocks without attention and without MLP (per-block widths)', async () => {
    let m = model({ architecture: 'llama', hidden: 16, heads: 4, kvHeads: 2, intermediate: 24, layers: 3, tied: false, seed: 8 });
    m = withoutSublayer(withoutSublayer(m, 0, 'attention'), 2, 'mlp');
    const errors = await check(m, 2, 5, 9);
    expect(errors.has('blocks.0.attn.q.weight')).toBe(false);
    expect(errors.has('blocks.2.mlp.down.weight')).toBe(false);
    const worst = expectWithin(errors, ['blocks.0.mlp.down.weight', 'blocks.2.attn.o.weight', 'blocks.1.attn_norm.weight']);
    if (process.env.GRADCHECK_REPORT) console.log(`no attention / no MLP: max |g - fd| / scale = ${worst.toExponential(2)}`);
  });
});
