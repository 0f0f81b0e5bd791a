// Distillation loss of the backward pass (lossAndGradients' teacherLogits): the mean
// over the predicting rows of KL(softmax(teacher) || softmax(model)). Checked against a
// float64 KL computed here from the forward pass's own logits, and its gradients
// against central differences of that KL (tolerance argued in native-gradcheck.test.ts:
// the same float32 rounding of an O(1) loss, so the same 2e-3 of the gradient scale).
import { accumulateGradientMoments, lossAndGradients } from '../../lib/backward/gradients';
import { ShapeError } from '../../lib/errors';
import { ForwardModel } from '../../lib/forward/model';
import { LoadedModel } from '../../lib/model/types';
import { rng } from '../forward/random-model';
import { GRAD_SPECS } from './gradcheck-models';
import { model, randomTokens } from './native-helpers';

const BATCH = 2;
const SEQ = 5;

async function logitsOf(m: LoadedModel, tokens: number[]): Promise<Float32Array> {
  const fm = new ForwardModel(m);
  return fm.logits(await fm.forward(tokens, BATCH, SEQ), BATCH * SEQ);
}

/** Mean over rows t % SEQ != SEQ - 1 of KL(softmax(teacher_t) || softmax(student_t)), float64. */
function klMean(teacher: Float32Array, student: Float32Array, vocab: number): number {
  const lse = (z: Float32Array, o: number) => {
    let m = -Infinity;
    for (let j = 0; j < vocab; ++j) m = Math.max(m, z[o + j]);
    let s = 0;
    for (let j = 0; j < vocab; ++j) s += Math.exp(z[o + j] - m);
    return m + Math.log(s);
  };
  let sum = 0;
  let rows = 0;
  for (let r = 0; r < BATCH * SEQ; ++r) {
    if (r % SEQ === SEQ - 1) continue;
    const o = r * vocab;
    const lt = lse(teacher, o);
    const ls = lse(student, o);
    for (let j = 0; j < vocab; ++j) {
      const lp = teacher[o + j] - lt;
      sum += Math.exp(lp) * (lp - (student[o + j] - ls));
    }
    rows += 1;
  }
  return sum / rows;
}

describe('lossAndGradients with teacherLogits (distillation)', () => {
  for (const [label, spec] of [
    ['llama', GRAD_SPECS.llamaGqa],
    ['OPT', GRAD_SPECS.optPreNorm],
    ['GPT-2', GRAD_SPECS.gpt2],
  ] as const) {
    test(`${label}: the loss is the float64 KL of the forward logits; gradients match central differences`, async () => {
      const student = model(spec);
      const teacher = model({ ...spec, seed: (spec.seed ?? 1) + 17 });
      const V = student.config.vocabSize;
      const tokens = randomTokens(V, BATCH * SEQ, 3);
      const t = await logitsOf(teacher, tokens);
      const { loss, grads } = await lossAndGradients(student, tokens, { batch: BATCH, seq: SEQ, teacherLogits: t, keepActivationBytes: 0 });
      const ref = klMean(t, await logitsOf(student, tokens), V);
      expect(ref).toBeGreaterThan(0.01);
      expect(Math.abs(loss - ref)).toBeLessThan(1e-5 * Math.max(1, ref));
      const r = rng(5);
      const names = [...grads.keys()].filter((n) => /weight$/.test(n));
      expect(names.length).toBeGreaterThan(4);
      for (const name of names) {
        const g = grads.get(name)!;
        let argmax = 0;
        for (let i = 1; i < g.length; ++i) if (Math.abs(g[i]) > Math.abs(g[argmax])) argmax = i;
        const scale = Math.max(Math.abs(g[argmax]), 0.1);
        const data = student.tensors.get(name)!.data as Float32Array;
        for (const i of [argmax, Math.floor(r() * g.length)]) {
          const w = data[i];
          const h = 2e-3;
          data[i] = w + h;
          const up = klMean(t, await logitsOf(student, tokens), V);
          data[i] = w - h;
          const down = klMean(t, await logitsOf(student, tokens), V);
          data[i] = w;
          const fd = (up - down) / (Math.fround(w + h) - Math.fround(w - h));
          expect({ name, i, err: Math.abs(fd - g[i]) / scale < 2e-3 }).toEqual({ name, i, err: true });
        }
      }
    });
  }

  test('a teacher equal to the model: zero loss and zero gradients', async () => {
    const m = model(GRAD_SPECS.llamaGqa);
    const tokens = randomTokens(m.config.vocabSize, BATCH * SEQ, 4);
    const { loss, grads } = await lossAndGradients(m, tokens, { batch: BATCH, seq: SEQ, teacherLogits: await logitsOf(m, tokens) });
    expect(Math.abs(loss)).toBeLessThan(1e-6);
    for (const [, g] of grads) for (const v of g) expect(Math.abs(v)).toBeLessThan(1e-5);
  });

  test('accumulate mode with a teacher: the same loss and, for the wanted matrices, the same gradient bits', async () => {
    const m = model(GRAD_SPECS.llamaGqa);
    const tokens = randomTokens(m.config.vocabSize, BATCH * SEQ, 8);
    const t = await logitsOf(model({ ...GRAD_SPECS.llamaGqa, seed: 42 }), tokens);
    const full = await lossAndGradients(m, tokens, { batch: BATCH, seq: SEQ, teacherLogits: t });
    const names = ['blocks.1.attn.q.weight', 'blocks.1.mlp.down.weight'];
    const acc = new Map(names.map((n) => [n, { sum: new Float32Array(full.grads.get(n)!.length) }]));
    const loss = await accumulateGradientMoments(m, tokens, acc, { batch: BATCH, seq: SEQ, teacherLogits: t });
    expect(loss).toBe(full.loss);
    for (const n of names) expect(Buffer.from(acc.get(n)!.sum.buffer).equals(Buffer.from(full.grads.get(n)!.buffer))).toBe(true);
  });

  test('the same bits on a second call; a teacher of the wrong size is a ShapeError', async () => {
    const m = model(GRAD_SPECS.gpt2);
    const tokens = randomTokens(m.config.vocabSize, BATCH * SEQ, 6);
    const t = await logitsOf(model({ ...GRAD_SPECS.gpt2, seed: 99 }), tokens);
    const a = await lossAndGradients(m, tokens, { batch: BATCH, seq: SEQ, teacherLogits: t });
    const b = await lossAndGradients(m, tokens, { batch: BATCH, seq: SEQ, teacherLogits: t });
    expect(b.loss).toBe(a.loss);
    for (const [n, g] of a.grads) expect(Buffer.from(b.grads.get(n)!.buffer).equals(Buffer.from(g.buffer))).toBe(true);
    await expect(lossAndGradients(m, tokens, { batch: BATCH, seq: SEQ, teacherLogits: t.subarray(1) })).rejects.toThrow(ShapeError);
  });
});
