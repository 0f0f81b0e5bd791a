// The native backward pass (lib/backward/gradients.ts, float32) against the float64
// reference backward (test/support/reference-backward.ts) on the tiny models of every
// family (test/backward/gradcheck-models.ts), plus f16/bf16 weights and sequences long
// enough to cross the native attention's query chunks and key slices.
//
// Tolerance. The native pass rounds every product and sum to float32 (unit roundoff
// u = 2^-24 ~ 6e-8). Its forward agrees with the float64 reference to 1e-4 relative
// (test/forward/model.test.ts); the backward runs the same kind of dot products (length
// <= hidden, intermediate, vocab or seq, i.e. <= ~300 terms: error ~ sqrt(n) u ~ 1e-6
// relative each) through a few dozen ops, so each gradient entry carries an error of a
// few 1e-6 of the gradients it is summed from. The error is measured per tensor as
// max |native - reference| over the tensor, divided by the tensor's largest reference
// gradient; that scale is floored at FLOOR x the model's largest gradient, because a
// gradient that is exactly zero in exact arithmetic (attention's k bias without RoPE:
// softmax is shift-invariant) is a float32 cancellation of terms of ordinary size.
// Measured: at most 2.4e-6 (an exactly-zero k bias, against the floor), ~1e-6 elsewhere,
// and 4e-8 on the loss; TOL = 2e-5 leaves a margin of ~8x.
import { lossAndGradients } from '../../lib/backward/gradients';
import { refLossAndGradients } from '../support/reference-backward';
import { RefModel } from '../support/reference-forward';
import { randomModel } from '../forward/random-model';
import { GRAD_CASES, GradCase } from './gradcheck-models';
import { loaded, randomTokens } from './native-helpers';

const TOL = 2e-5;
const FLOOR = 1e-2;

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; ++i) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Per-tensor errors of the native gradients against the reference (see the tolerance above), and of the loss. */
async function compare(m: RefModel, batch: number, seq: number, seed: number): Promise<{ loss: number; tensors: Record<string, number> }> {
  const tokens = randomTokens(m.config.vocabSize, batch * seq, seed);
  const native = await lossAndGradients(loaded(m), tokens, { batch, seq });
  const ref = refLossAndGradients(m, tokens, batch, seq);
  expect([...native.grads.keys()].sort()).toEqual([...ref.grads.keys()].sort());
  const global = Math.max(...[...ref.grads.values()].map(maxAbs));
  const tensors: Record<string, number> = {};
  for (const [name, r] of ref.grads) {
    const g = native.grads.get(name)!;
    expect(g.length).toBe(r.length);
    let d = 0;
    for (let i = 0; i < r.length; ++i) d = Math.max(d, Math.abs(g[i] - r[i]));
    tensors[name] = d / Math.max(maxAbs(r), FLOOR * global);
  }
  return { loss: Math.abs(native.loss - ref.loss) / ref.loss, tensors };
}

async function expectAgreement(m: RefModel, batch: number, seq: number, seed: number, what: string): Promise<void> {
  const e = await compare(m, batch, seq, seed);
  const max = Math.max(...Object.values(e.tensors));
  if (process.env.GRADCHECK_REPORT) console.log(`${what}: loss ${e.loss.toExponential(2)}, max over tensors ${max.toExponential(2)}`, e.tensors);
  expect(e.loss).toBeLessThan(TOL);
  for (const [name, err] of Object.entries(e.tensors)) expect({ name, err, ok: err <= TOL }).toEqual({ name, err, ok: true });
}

const EXTRA: GradCase[] = [
  { name: 'qwen2 shape, bf16 weights', build: () => randomModel({ architecture: 'llama', family: 'qwen2', qkvBias: true, ropeLayout: 'rotate_half', heads: 4, kvHeads: 2, dtype: 'bf16', seed: 13 }) },
  { name: 'GPT-2 shape, f16 weights', build: () => randomModel({ architecture: 'gpt2', dtype: 'f16', seed: 19 }) },
];

describe.each([...GRAD_CASES, ...EXTRA].map((c) => [c.name, c] as const))('%s', (name, gc) => {
  test('native loss and gradients of every tensor match the float64 reference (2 sequences of 5 tokens)', async () => {
    await expectAgreement(gc.build(), 2, 5, 77, name);
  });
});

test('one sequence of 70 tokens (more than one 64-query chunk)', async () => {
  await expectAgreement(GRAD_CASES[0].build(), 1, 70, 78, 'llama, 70 tokens');
});

test('a sequence of 300 tokens (attention sums over more than one 256-key slice)', async () => {
  const m = randomModel({ architecture: 'llama', hidden: 16, heads: 2, kvHeads: 1, intermediate: 24, layers: 1, context: 512, seed: 41 });
  await expectAgreement(m, 1, 300, 79, 'llama, 300 tokens');
});
