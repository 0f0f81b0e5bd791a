// lossAndGradients (lib/backward/gradients.ts): the loss is the forward pass's, the
// gradients cover exactly the tensors the forward pass reads, in float32 whatever the
// stored dtype, with the same bits for any thread count; bad input is a typed error.
import { lossAndGradients } from '../../lib/backward/gradients';
import { ArgumentRangeError, NonFiniteError, ShapeError } from '../../lib/errors';
import { ForwardModel } from '../../lib/forward/model';
import { asTable } from '../../lib/forward/tensors';
import { poolThreads, setPoolThreads, toFloat32 } from '../../lib/kernels';
import { backwardNative } from '../../lib/native/backward';
import { LoadedModel, Tensor } from '../../lib/model/types';
import { forwardLoss, loaded, model, randomTokens, withoutSublayer } from './native-helpers';

const SPECS = {
  llama: { architecture: 'llama', hidden: 16, heads: 4, kvHeads: 2, intermediate: 24, tied: false, seed: 1 },
  opt: { architecture: 'opt', hidden: 16, intermediate: 24, seed: 4 },
  gpt2: { architecture: 'gpt2', hidden: 16, intermediate: 24, seed: 6 },
} as const;

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

describe('lossAndGradients', () => {
  for (const [family, spec] of Object.entries(SPECS))
    test(`${family}: the loss is the forward pass's mean NLL; one float32 gradient per parameter tensor, same size`, async () => {
      const m = model(spec);
      const batch = 3;
      const seq = 7;
      const tokens = randomTokens(m.config.vocabSize, batch * seq, 11);
      const r = await lossAndGradients(m, tokens, { batch, seq });
      const f = await forwardLoss(m, tokens, batch, seq);
      // Same kernels in the same order: equal to float32 precision (the bits agree here).
      expect(Math.abs(r.loss - f)).toBeLessThanOrEqual(1e-6 * Math.abs(f));
      expect([...r.grads.keys()].sort()).toEqual([...m.tensors.keys()].sort());
      for (const [name, g] of r.grads) {
        expect(g).toBeInstanceOf(Float32Array);
        expect(g.length).toBe(m.tensors.get(name)!.data.length);
        expect(g.every(Number.isFinite)).toBe(true);
      }
      // The learned positions past the sequence get no gradient; those used do.
      if (family !== 'llama') {
        const pos = r.grads.get('pos_embed.weight')!;
        const H = m.config.hiddenSize;
        const used = (seq + m.config.positionOffset) * H;
        expect(pos.subarray(used).every((v) => v === 0)).toBe(true);
        expect(pos.subarray(m.config.positionOffset * H, used).some((v) => v !== 0)).toBe(true);
      }
    });

  for (const [family, spec] of Object.entries(SPECS))
    test(`${family}: reused buffers (into) are overwritten: the same bits as fresh ones, whatever they held`, async () => {
      const m = model({ ...spec, tied: true });
      const tokens = randomTokens(m.config.vocabSize, 2 * 6, 21);
      const fresh = await lossAndGradients(m, tokens, { batch: 2, seq: 6 });
      const into = new Map([...fresh.grads].map(([n, g]) => [n, new Float32Array(g.length).fill(Number.NaN)]));
      const reused = await lossAndGradients(m, tokens, { batch: 2, seq: 6, into });
      expect(reused.grads).toBe(into);
      expect(reused.loss).toBe(fresh.loss);
      for (const [name, g] of fresh.grads) expect(sameBits(into.get(name)!, g)).toBe(true);
      // A buffer of the wrong size is named.
      into.set('embed.weight', new Float32Array(3));
      await expect(lossAndGradients(m, tokens, { batch: 2, seq: 6, into })).rejects.toThrow(ShapeError);
      await expect(lossAndGradients(m, tokens, { batch: 2, seq: 6, into })).rejects.toThrow(/embed\.weight/);
    });

  test('the same bits with 1 and 2 threads (tiles of rows and vocabulary split across threads)', async () => {
    const m = model({ architecture: 'llama', hidden: 64, heads: 4, kvHeads: 2, intermediate: 176, vocab: 1100, layers: 2, tied: true, seed: 12 });
    const batch = 4;
    const seq = 70;
    const tokens = randomTokens(m.config.vocabSize, batch * seq, 13);
    const before = poolThreads();
    try {
      setPoolThreads(1);
      const one = await lossAndGradients(m, tokens, { batch, seq });
      setPoolThreads(2);
      const two = await lossAndGradients(m, tokens, { batch, seq });
      expect(two.loss).toBe(one.loss);
      // 280 rows, 3 vocabulary tiles: the head backward's row tiles are the forward's, so is the loss.
      expect(one.loss).toBe(await forwardLoss(m, tokens, batch, seq));
      for (const [name, g] of one.grads) expect([name, sameBits(g, two.grads.get(name)!)]).toEqual([name, true]);
    } finally {
      setPoolThreads(before);
    }
  });

  test('checkpointing: the same bits whether block activations are kept or recomputed from the block inputs', async () => {
    const cases = [
      model({ ...SPECS.llama, layers: 3 }),
      model({ ...SPECS.opt, layers: 3, preNorm: false }),
      withoutSublayer(model({ ...SPECS.gpt2, layers: 3 }), 1, 'mlp'),
    ];
    // 0: the last block only; 30000 bytes: the last two of these (~13 KB each at 18 tokens); default: all.
    for (const m of cases) {
      const tokens = randomTokens(m.config.vocabSize, 2 * 9, 7);
      const kept = await lossAndGradients(m, tokens, { batch: 2, seq: 9 });
      for (const keepActivationBytes of [0, 30000]) {
        const r = await lossAndGradients(m, tokens, { batch: 2, seq: 9, keepActivationBytes });
        expect(r.loss).toBe(kept.loss);
        for (const [name, g] of kept.grads) expect([keepActivationBytes, name, sameBits(g, r.grads.get(name)!)]).toEqual([keepActivationBytes, name, true]);
      }
    }
    await expect(lossAndGradients(cases[0], [1, 2, 3], { batch: 1, seq: 3, keepActivationBytes: -1 })).rejects.toThrow(ArgumentRangeError);
  });

  test('bwdModel writes the gradient buffers whatever they held (NaN here), tied head included', async () => {
    const m = model({ ...SPECS.opt, layers: 2 });
    const tokens = randomTokens(m.config.vocabSize, 2 * 6, 21);
    const want = await lossAndGradients(m, tokens, { batch: 2, seq: 6 });
    const fm = new ForwardModel(m);
    const c = m.config;
    const nan = (name: string) => new Float32Array(m.tensors.get(name)!.data.length).fill(NaN);
    const got = new Map<string, Float32Array>([...m.tensors.keys()].map((n) => [n, nan(n)]));
    const blocks = Array.from({ length: c.numLayers }, (_, i) => fm.blockSpec(i));
    const b = (i: number, n: string) => got.get(`blocks.${i}.${n}`)!;
    const grads = {
      blocks: blocks.map((_, i) => ({
        attnNormWeight: b(i, 'attn_norm.weight'),
        attnNormBias: b(i, 'attn_norm.bias'),
        q: b(i, 'attn.q.weight'),
        k: b(i, 'attn.k.weight'),
        v: b(i, 'attn.v.weight'),
        o: b(i, 'attn.o.weight'),
        qBias: b(i, 'attn.q.bias'),
        kBias: b(i, 'attn.k.bias'),
        vBias: b(i, 'attn.v.bias'),
        oBias: b(i, 'attn.o.bias'),
        mlpNormWeight: b(i, 'mlp_norm.weight'),
        mlpNormBias: b(i, 'mlp_norm.bias'),
        up: b(i, 'mlp.fc1.weight'),
        upBias: b(i, 'mlp.fc1.bias'),
        down: b(i, 'mlp.fc2.weight'),
        downBias: b(i, 'mlp.fc2.bias'),
      })),
      embed: got.get('embed.weight')!,
      pos: got.get('pos_embed.weight')!,
      head: { normWeight: got.get('final_norm.weight')!, normBias: got.get('final_norm.bias')!, lm: got.get('embed.weight')! },
    };
    const spec = {
      blocks,
      embed: asTable(fm.tensor('embed.weight'), 'embed.weight', c.hiddenSize),
      pos: asTable(fm.tensor('pos_embed.weight'), 'pos_embed.weight', c.hiddenSize),
      posOffset: c.positionOffset,
      head: fm.headSpec(),
    };
    const r = await backwardNative().bwdModel(spec, Int32Array.from(tokens), 2, 6, grads);
    expect(r.sum / r.count).toBe(want.loss);
    for (const [name, g] of want.grads) expect([name, sameBits(g, got.get(name)!)]).toEqual([name, true]);
  });

  test('f16 and bf16 weights: float32 gradients, equal to those of the f32 model holding the same values', async () => {
    for (const dtype of ['f16', 'bf16'] as const) {
      const half = model({ ...SPECS.opt, dtype });
      const tensors = new Map<string, Tensor>();
      for (const [name, t] of half.tensors)
        tensors.set(name, { ...t, dtype: 'f32', data: await toFloat32(t.data as Uint16Array, dtype) });
      const f32 = loaded({ config: half.config, tensors });
      const tokens = randomTokens(half.config.vocabSize, 2 * 5, 17);
      const a = await lossAndGradients(half, tokens, { batch: 2, seq: 5 });
      const b = await lossAndGradients(f32, tokens, { batch: 2, seq: 5 });
      expect(a.loss).toBe(b.loss);
      for (const [name, g] of a.grads) {
        expect(g).toBeInstanceOf(Float32Array);
        expect([dtype, name, sameBits(g, b.grads.get(name)!)]).toEqual([dtype, name, true]);
      }
    }
  });

  test('blocks without attention or MLP: their gradients are absent, the rest present', async () => {
    const m = withoutSublayer(withoutSublayer(model({ ...SPECS.llama, layers: 3 }), 1, 'attention'), 2, 'mlp');
    const r = await lossAndGradients(m, randomTokens(m.config.vocabSize, 8, 5), { batch: 1, seq: 8 });
    expect([...r.grads.keys()].sort()).toEqual([...m.tensors.keys()].sort());
    expect(r.grads.has('blocks.1.attn.q.weight')).toBe(false);
    expect(r.grads.has('blocks.2.mlp.up.weight')).toBe(false);
  });

  describe('bad input', () => {
    const m: LoadedModel = model(SPECS.llama);
    const V = m.config.vocabSize;
    test('a token id outside the vocabulary', async () => {
      const tokens = randomTokens(V, 8, 1);
      tokens[5] = V;
      await expect(lossAndGradients(m, tokens, { batch: 2, seq: 4 })).rejects.toThrow(ArgumentRangeError);
      await expect(lossAndGradients(m, tokens, { batch: 2, seq: 4 })).rejects.toThrow(/token id 37 at position 5/);
      tokens[5] = -1;
      await expect(lossAndGradients(m, tokens, { batch: 2, seq: 4 })).rejects.toThrow(ArgumentRangeError);
      tokens[5] = 1.5;
      await expect(lossAndGradients(m, tokens, { batch: 2, seq: 4 })).rejects.toThrow(ArgumentRangeError);
    });
    test('seq < 2, batch or seq not positive integers', async () => {
      await expect(lossAndGradients(m, [1, 2], { batch: 2, seq: 1 })).rejects.toThrow(/seq must be at least 2/);
      await expect(lossAndGradients(m, [1, 2], { batch: 0, seq: 2 })).rejects.toThrow(ArgumentRangeError);
      await expect(lossAndGradients(m, [1, 2], { batch: 1, seq: 2.5 })).rejects.toThrow(ArgumentRangeError);
    });
    test('tokens.length != batch * seq', async () => {
      await expect(lossAndGradients(m, [1, 2, 3, 4, 5], { batch: 2, seq: 3 })).rejects.toThrow(ShapeError);
    });
    test('a sequence longer than the learned positions', async () => {
      const opt = model({ ...SPECS.opt, context: 8 });
      await expect(lossAndGradients(opt, randomTokens(opt.config.vocabSize, 9, 2), { batch: 1, seq: 9 })).rejects.toThrow(/learned positions/);
    });
    test('a non-finite weight gives a NonFiniteError, not NaN gradients', async () => {
      const bad = model(SPECS.llama);
      (bad.tensors.get('blocks.0.mlp.up.weight')!.data as Float32Array)[3] = NaN;
      await expect(lossAndGradients(bad, [1, 2, 3, 4], { batch: 1, seq: 4 })).rejects.toThrow(NonFiniteError);
    });
    test('a missing weight is a ShapeError naming it', async () => {
      const tensors = new Map(m.tensors);
      tensors.delete('blocks.1.mlp.down.weight');
      await expect(lossAndGradients(loaded({ config: m.config, tensors }), [1, 2, 3, 4], { batch: 1, seq: 4 })).rejects.toThrow(
        /blocks\.1\.mlp\.down\.weight/,
      );
    });
    test('an aborted signal rejects with its reason, before or during the run', async () => {
      const before = new AbortController();
      before.abort(new Error('stop now'));
      await expect(lossAndGradients(m, [1, 2, 3, 4], { batch: 1, seq: 4, signal: before.signal })).rejects.toThrow('stop now');
      const during = new AbortController();
      const run = lossAndGradients(model({ ...SPECS.llama, layers: 6 }), randomTokens(V, 4 * 64, 3), { batch: 4, seq: 64, signal: during.signal });
      during.abort(new Error('stopped while running'));
      await expect(run).rejects.toThrow('stopped while running');
    });
  });
});
