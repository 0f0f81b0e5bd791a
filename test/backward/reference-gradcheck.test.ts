// The float64 reference backward (test/support/reference-backward.ts) against central
// finite differences of the reference loss, on tiny random models of every family:
// every parameter tensor; every entry of the small tensors, a seeded sample of the others.
import { refNll, refForward, RefModel64, toFloat64 } from '../support/reference-forward';
import { ForwardTape, nextTokenTargets, refForwardTape, refLossAndGradients } from '../support/reference-backward';
import { rng } from '../support/random';
import { GRAD_CASES } from './gradcheck-models';
import { randomTokens } from './native-helpers';

const BATCH = 2;
const SEQ = 5;
/** Tensors up to this many entries are checked entry by entry; larger ones by a sample. */
const ALL_ENTRIES = 64;
const SAMPLE = 16;
const TOL = 1e-6;

// Step size. The fourth-order central stencil
//   f'(x) ~ [8 (f(x+h) - f(x-h)) - (f(x+2h) - f(x-2h))] / (12 h)
// has truncation error h^4 |f^(5)| / 30 and rounding error about 3 e |f| / (2 h), with e
// the float64 rounding of the loss (|f| ~ log(vocab) ~ 4, e ~ 1e-15 after the sums of a
// forward pass). h = 1e-3 makes the first ~3e-14 |f^(5)| and the second ~6e-12, both
// under the 1e-11 absolute error allowed below (a second-order stencil would need
// h ~ 1e-5 for its h^2 truncation, and its rounding would then be ~100x larger).
// Measured: 1.2e-12 on gradients that are exactly zero (attention's k bias without RoPE).
const H = 1e-3;
// Relative error |a - b| / max(|a|, |b|, FLOOR): entries whose gradient is below FLOOR
// (1% at most here; the 10th to 90th percentiles of the nonzero gradient entries of these
// models are 2e-3 to 2e-1) are held to an absolute error of
// TOL * FLOOR = 1e-11, about 10x the finite differences' own noise; no entry can pass
// by being tiny.
const FLOOR = 1e-5;

function relError(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), FLOOR);
}

/**
 * The entries of gradient g to check: all of them, or a seeded sample, half of it among
 * the nonzero entries (rows of embeddings and positions the batch does not use have
 * none, and would otherwise fill the sample) and half anywhere (zeros must be zeros).
 */
function entries(g: Float64Array, seed: number): number[] {
  if (g.length <= ALL_ENTRIES) return Array.from({ length: g.length }, (_, i) => i);
  const r = rng(seed);
  const nonzero = [...g.keys()].filter((i) => g[i] !== 0);
  const pick = (from: number[]) => Array.from({ length: SAMPLE / 2 }, () => from[Math.floor(r() * from.length)]);
  return [...pick(nonzero), ...pick([...g.keys()])];
}

/** Signs of every ReLU input: where one flips within the stencil, the loss has a kink there. */
function reluSigns(m: RefModel64, tape: ForwardTape): string {
  if (m.config.activation !== 'relu') return '';
  return tape.blocks.map((b) => (b.mlp ? Array.from(b.mlp.up, (v) => (v > 0 ? '1' : '0')).join('') : '')).join('|');
}

describe.each(GRAD_CASES.map((c) => [c.name, c] as const))('%s', (_name, gc) => {
  const model = gc.build();
  const tokens = randomTokens(model.config.vocabSize, BATCH * SEQ, 77);

  test('the reference loss is the mean next-token NLL of the forward reference', () => {
    const { loss } = refLossAndGradients(model, tokens, BATCH, SEQ);
    const nll = refNll(model, refForward(model, tokens, BATCH, SEQ), nextTokenTargets(tokens, SEQ)).filter((v) => !Number.isNaN(v));
    expect(nll.length).toBe(BATCH * (SEQ - 1));
    expect(Math.abs(loss - nll.reduce((a, b) => a + b, 0) / nll.length)).toBeLessThan(1e-14 * loss);
  });

  test(`every parameter tensor: reference gradient vs finite differences, relative error <= ${TOL}`, () => {
    const m = toFloat64(model);
    const { grads } = refLossAndGradients(m, tokens, BATCH, SEQ);
    expect([...grads.keys()].sort()).toEqual([...model.tensors.keys()].sort());
    const base = reluSigns(m, refForwardTape(m, tokens, BATCH, SEQ));
    const worst: Record<string, number> = {};
    let kinks = 0;
    let checked = 0;
    [...m.params].forEach(([name, p], t) => {
      const g = grads.get(name)!;
      expect(g.length).toBe(p.length);
      worst[name] = 0;
      for (const i of entries(g, 1000 + t)) {
        const x = p[i];
        const at = (step: number) => {
          p[i] = x + step;
          const tape = refForwardTape(m, tokens, BATCH, SEQ);
          const crossed = reluSigns(m, tape) !== base;
          p[i] = x;
          return { loss: tape.loss, crossed };
        };
        const f = [at(-2 * H), at(-H), at(H), at(2 * H)];
        // A ReLU input crossing zero inside [x - 2h, x + 2h]: no derivative to compare with.
        if (f.some((v) => v.crossed)) {
          kinks++;
          continue;
        }
        const fd = (8 * (f[2].loss - f[1].loss) - (f[3].loss - f[0].loss)) / (12 * H);
        worst[name] = Math.max(worst[name], relError(g[i], fd));
        checked++;
      }
    });
    const max = Math.max(...Object.values(worst));
    if (process.env.GRADCHECK_REPORT) console.log(`${gc.name}: max relative error ${max.toExponential(2)} over ${checked} entries (${kinks} at ReLU kinks)`, worst);
    // Kinks are rare: a handful of entries at most, so nearly all of each tensor is checked.
    expect(kinks).toBeLessThanOrEqual(checked / 50);
    for (const [name, e] of Object.entries(worst)) expect({ name, e, ok: e <= TOL }).toEqual({ name, e, ok: true });
  });
});
