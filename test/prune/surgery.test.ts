// Structured surgery (lib/prune/surgery.ts): a model with units removed computes what the
// original computes with those units' outputs zeroed (their consumer's columns set to 0),
// for MLP channels, heads (GQA groups), whole sublayers and blocks, in every family.
import { ForwardModel } from '../../lib/forward';
import { blockShape } from '../../lib/model/shapes';
import { ModelConfig, Tensor } from '../../lib/model/types';
import { keepBlocks, keepChannels, keepHeads, modelSize } from '../../lib/prune/surgery';
import { randomModel, RandomModelSpec } from '../forward/random-model';
import { halfToNumber } from '../support/reference-forward';

type M = { config: ModelConfig; tensors: Map<string, Tensor> };

function clone(m: M): M {
  const tensors = new Map<string, Tensor>();
  for (const [n, t] of m.tensors) tensors.set(n, { ...t, shape: t.shape.slice(), data: t.data.slice() });
  return { config: structuredClone(m.config), tensors };
}

/** Sets columns `cols` of matrix `name` to zero (any dtype: 0 bits are 0.0). */
function zeroColumns(m: M, name: string, cols: number[]): void {
  const t = m.tensors.get(name)!;
  const [rows, width] = t.shape;
  for (let r = 0; r < rows; r++) for (const c of cols) t.data[r * width + c] = 0;
}

async function logits(m: M, tokens: number[]): Promise<Float32Array> {
  const fm = new ForwardModel(m);
  const h = await fm.forward(tokens, 1, tokens.length);
  return fm.logits(h);
}

function maxRel(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}

const TOKENS = [1, 5, 9, 3, 7, 2, 11, 4];
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe.each<[string, RandomModelSpec]>([
  ['Llama (GQA, f32)', { architecture: 'llama', heads: 4, kvHeads: 2, layers: 3, seed: 3 }],
  ['Llama (f16)', { architecture: 'llama', heads: 4, kvHeads: 4, layers: 2, dtype: 'f16', seed: 4 }],
  ['OPT (biases)', { architecture: 'opt', heads: 4, layers: 2, seed: 5 }],
  ['GPT-2', { architecture: 'gpt2', heads: 4, layers: 2, seed: 6 }],
])('%s', (_label, spec) => {
  const base = randomModel(spec) as M;
  const consumer = base.config.architecture === 'llama' ? 'mlp.down' : 'mlp.fc2';

  test('removing MLP channels = zeroing their columns in the consumer', async () => {
    const I = base.config.intermediateSize;
    const removed = [1, 4, 7, I - 1];
    const zeroed = clone(base);
    zeroColumns(zeroed, `blocks.1.${consumer}.weight`, removed);
    const cut = clone(base);
    await keepChannels(cut, 1, range(I).filter((c) => !removed.includes(c)));
    expect(blockShape(cut.config, 1).intermediateSize).toBe(I - removed.length);
    expect(blockShape(cut.config, 0).intermediateSize).toBe(I);
    expect(cut.config.blocks).toHaveLength(cut.config.numLayers);
    expect(cut.tensors.get(`blocks.1.${consumer}.weight`)!.shape).toEqual([base.config.hiddenSize, I - removed.length]);
    expect(modelSize(cut).parameters).toBeLessThan(modelSize(base).parameters);
    expect(maxRel(await logits(cut, TOKENS), await logits(zeroed, TOKENS))).toBeLessThan(1e-5);
    // The source tensors are untouched (surgery copies).
    expect(base.tensors.get(`blocks.1.${consumer}.weight`)!.shape[1]).toBe(I);
  });

  test('removing heads = zeroing their columns of attn.o (whole KV groups, or evenly per group)', async () => {
    const c = base.config;
    const d = c.headDim;
    const ratio = c.numHeads / c.numKvHeads;
    // GQA: drop KV group 0 with its query heads; MHA: drop heads 0 and 2.
    const removedHeads = ratio > 1 ? range(ratio) : [0, 2];
    const zeroed = clone(base);
    zeroColumns(zeroed, 'blocks.0.attn.o.weight', removedHeads.flatMap((h) => range(d).map((j) => h * d + j)));
    const cut = clone(base);
    await keepHeads(cut, 0, range(c.numHeads).filter((h) => !removedHeads.includes(h)));
    const s = blockShape(cut.config, 0);
    expect(s.numHeads).toBe(c.numHeads - removedHeads.length);
    expect(s.numHeads % s.numKvHeads).toBe(0);
    expect(maxRel(await logits(cut, TOKENS), await logits(zeroed, TOKENS))).toBeLessThan(1e-5);
  });

  test('removing a whole sublayer; then a whole block', async () => {
    const c = base.config;
    const zeroed = clone(base);
    zeroColumns(zeroed, `blocks.0.${consumer}.weight`, range(c.intermediateSize));
    if (zeroed.tensors.has(`blocks.0.${consumer}.bias`)) zeroed.tensors.get(`blocks.0.${consumer}.bias`)!.data.fill(0);
    const cut = clone(base);
    await keepChannels(cut, 0, []);
    expect(blockShape(cut.config, 0).intermediateSize).toBe(0);
    expect(cut.tensors.has('blocks.0.mlp_norm.weight')).toBe(false);
    if (c.preNorm) expect(maxRel(await logits(cut, TOKENS), await logits(zeroed, TOKENS))).toBeLessThan(1e-5);

    const fewer = clone(base);
    keepBlocks(fewer, range(c.numLayers).filter((b) => b !== 0));
    expect(fewer.config.numLayers).toBe(c.numLayers - 1);
    expect([...fewer.tensors.keys()].some((n) => n.startsWith(`blocks.${c.numLayers - 1}.`))).toBe(false);
    // Block 1 of the original is block 0 now, bit for bit.
    const before = base.tensors.get(`blocks.1.${consumer}.weight`)!.data;
    expect(fewer.tensors.get(`blocks.0.${consumer}.weight`)!.data).toEqual(before);
    expect((await logits(fewer, TOKENS)).every(Number.isFinite)).toBe(true);
  });
});

test('compensation: the bias delta lands in the consumer bias, created in f32 when absent', async () => {
  const m = randomModel({ architecture: 'llama', heads: 2, layers: 1, seed: 9 }) as M;
  const H = m.config.hiddenSize;
  const delta = Float32Array.from(range(H), (i) => i / 10);
  await keepChannels(m, 0, range(m.config.intermediateSize - 2), { downBias: delta });
  const b = m.tensors.get('blocks.0.mlp.down.bias')!;
  expect(b.dtype).toBe('f32');
  expect(Array.from(b.data as Float32Array)).toEqual(Array.from(delta));
  await keepChannels(m, 0, range(m.config.intermediateSize - 3), { downBias: delta });
  expect((m.tensors.get('blocks.0.mlp.down.bias')!.data as Float32Array)[5]).toBeCloseTo(2 * delta[5], 6);
  // A half-precision bias is converted, not reinterpreted.
  const opt = randomModel({ architecture: 'opt', heads: 2, layers: 1, dtype: 'f16', seed: 10 }) as M;
  const old = opt.tensors.get('blocks.0.mlp.fc2.bias')!;
  const first = halfToNumber(old.data[0]);
  await keepChannels(opt, 0, [0, 1, 2], { downBias: delta });
  expect((opt.tensors.get('blocks.0.mlp.fc2.bias')!.data as Float32Array)[0]).toBeCloseTo(first + delta[0], 6);
});

test('impossible structures are refused with the reason', async () => {
  const m = randomModel({ architecture: 'llama', heads: 4, kvHeads: 2, layers: 2, seed: 11 }) as M;
  await expect(keepHeads(m, 0, [0, 2, 3])).rejects.toThrow(/every kept KV head must keep the same number of query heads/);
  await expect(keepHeads(m, 0, [0, 9])).rejects.toThrow(/outside \[0, 4\)/);
  await expect(keepChannels(m, 5, [0])).rejects.toThrow(/block 5 is outside/);
  await expect(keepChannels(m, 0, [1, 1])).rejects.toThrow(/listed twice/);
  expect(() => keepBlocks(m, [])).toThrow(/no model/);
  expect(() => keepBlocks(m, [0, 2])).toThrow(/outside \[0, 2\)/);
  await expect(keepChannels(m, 0, [], { downBias: new Float32Array(m.config.hiddenSize).fill(1) })).rejects.toThrow(/no layer to hold/);
});
