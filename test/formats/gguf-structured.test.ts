// GGUF output of structurally smaller models: uniform widths as 'llama', per-block
// widths and removed sublayers as 'deci' (zero stand-ins where llama.cpp needs them),
// GPT-2 as 'gpt2'; each read back by shears with the same tensors and the same forward
// result. The models are cut by hand (gguf-structured-fixtures.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { NotImplementedError } from '../../lib/errors';
import { ForwardModel } from '../../lib/forward/model';
import { convertDType } from '../../lib/kernels';
import { parseGGUF } from '../../lib/formats/gguf';
import { plainGGUFValue } from '../../lib/formats/gguf-strings';
import { loadModel } from '../../lib/formats/load';
import { MappedFile } from '../../lib/formats/mapped';
import { writeGGUF } from '../../lib/formats/write-gguf';
import { blockShapes } from '../../lib/model/shapes';
import { BlockShape, LoadedModel } from '../../lib/model/types';
import { rng } from './fixtures';
import { plainVocabEntries, sliceModel, writeTinyGPT2, writeTinyQwen2 } from './gguf-structured-fixtures';
import { bitsEqual, refToRotateHalf, tempDir } from './helpers';

const DEMO = path.join(__dirname, '..', '..', 'assets', 'demo-model');

/** Mean next-token NLL of one random sequence of `n` tokens. */
async function meanNll(m: LoadedModel, n = 48, seed = 7): Promise<number> {
  const r = rng(seed);
  const ids = Array.from({ length: n }, () => Math.floor(r() * m.config.vocabSize));
  const fm = new ForwardModel(m, { backend: 'cpu' });
  const hidden = await fm.forward(ids, 1, n);
  return (await fm.nll(hidden, [...ids.slice(1), -1])).mean;
}

/** GGUF tensor names and the metadata of a written file. */
function ggufOf(file: string): { names: string[]; meta: Map<string, unknown> } {
  const f = MappedFile.open(file);
  try {
    const g = parseGGUF(f);
    const meta = new Map<string, unknown>();
    for (const e of g.entries) meta.set(e.key, plainGGUFValue(e));
    return { names: g.tensors.map((t) => t.name), meta };
  } finally {
    f.close();
  }
}

/**
 * Same canonical tensors, bit for bit; Q/K compared in the source's (rotate-half) order,
 * 1-D tensors (written as float32, as llama.cpp wants) after the same conversion.
 */
async function expectSameWeights(src: LoadedModel, back: LoadedModel): Promise<void> {
  expect([...back.tensors.keys()].sort()).toEqual([...src.tensors.keys()].sort());
  for (const [name, t] of src.tensors) {
    const u = back.tensors.get(name)!;
    expect({ name, shape: u.shape }).toEqual({ name, shape: t.shape });
    const block = Number(/^blocks\.(\d+)/.exec(name)?.[1] ?? 0);
    const b = blockShapes(back.config)[block];
    const qk = /^blocks\.\d+\.attn\.([qk])\.(weight|bias)$/.exec(name)?.[1];
    const data =
      qk && src.config.rope?.layout !== back.config.rope?.layout ? refToRotateHalf(u.data, qk === 'q' ? b.numHeads : b.numKvHeads, back.config.headDim) : u.data;
    const want = t.dtype === u.dtype ? t.data : await convertDType(t.data, t.dtype, u.dtype);
    if (!bitsEqual(want, data)) throw new Error(`tensor ${name} differs`);
  }
}

/** Same tensors and the same mean NLL (relative `tol`). */
async function expectSameModel(src: LoadedModel, back: LoadedModel, tol = 1e-5): Promise<void> {
  await expectSameWeights(src, back);
  const [a, b] = [await meanNll(src), await meanNll(back)];
  expect(Math.abs(a - b) / a).toBeLessThan(tol);
}

async function roundTrip(src: LoadedModel, file: string) {
  await writeGGUF(src, file, { tokenizer: false });
  const back = await loadModel(file);
  return back;
}

describe('structured GGUF: Llama family', () => {
  let demo: LoadedModel;
  beforeAll(async () => {
    demo = await loadModel(DEMO);
  });
  afterAll(() => demo.close());

  test('uniform reduced widths: llama, scalar widths, same tensors and forward', async () => {
    const shapes = Array.from({ length: 4 }, () => ({ numHeads: 2, numKvHeads: 1, intermediateSize: 320 }));
    const src = sliceModel(demo, shapes);
    expect(src.config.blocks).toBeUndefined();
    const file = path.join(tempDir(), 'u.gguf');
    const back = await roundTrip(src, file);
    try {
      const { meta } = ggufOf(file);
      expect(meta.get('general.architecture')).toBe('llama');
      expect(meta.get('llama.feed_forward_length')).toBe(320);
      expect(meta.get('llama.attention.head_count')).toBe(2);
      expect(meta.get('llama.attention.head_count_kv')).toBe(1);
      // head dim 64 != 256 / 2: llama.cpp needs it stated
      expect(meta.get('llama.attention.key_length')).toBe(64);
      expect(meta.get('llama.attention.value_length')).toBe(64);
      expect(back.config.blocks).toBeUndefined();
      expect(blockShapes(back.config)).toEqual(shapes);
      await expectSameModel(src, back);
    } finally {
      back.close();
    }
  });

  test('per-block widths with removed attention and MLP: deci arrays, stand-ins dropped on reading, same forward', async () => {
    const shapes: BlockShape[] = [
      { numHeads: 0, numKvHeads: 0, intermediateSize: 256 }, // no attention in block 0: zero stand-in attention
      { numHeads: 4, numKvHeads: 2, intermediateSize: 0 }, // attention without MLP: zero stand-in MLP
      { numHeads: 2, numKvHeads: 1, intermediateSize: 512 },
      { numHeads: 0, numKvHeads: 0, intermediateSize: 128 }, // no attention, llama.cpp's own n_head = 0
    ];
    const src = sliceModel(demo, shapes);
    expect(src.config.blocks).toEqual(shapes);
    const file = path.join(tempDir(), 'd.gguf');
    const back = await roundTrip(src, file);
    try {
      const { names, meta } = ggufOf(file);
      expect(meta.get('general.architecture')).toBe('deci');
      expect(meta.get('deci.attention.head_count')).toEqual([1, 4, 2, 0]);
      expect(meta.get('deci.attention.head_count_kv')).toEqual([1, 2, 1, 0]);
      expect(meta.get('deci.feed_forward_length')).toEqual([256, 1, 512, 128]);
      expect(meta.get('deci.attention.key_length')).toBe(64);
      expect(meta.get('shears.zero_attention_blocks')).toEqual([0]);
      expect(meta.get('shears.zero_mlp_blocks')).toEqual([1]);
      expect(names).toContain('blk.0.attn_q.weight');
      expect(names).toContain('blk.1.ffn_down.weight');
      expect(names.filter((n) => n.startsWith('blk.3.attn'))).toEqual([]);
      expect(back.config.blocks).toEqual(shapes);
      expect(back.tensors.has('blocks.0.attn.q.weight')).toBe(false);
      expect(back.tensors.has('blocks.1.mlp.down.weight')).toBe(false);
      await expectSameModel(src, back);
      // and again: a deci file read back writes the same tensors and metadata
      const again = path.join(tempDir(), 'd2.gguf');
      await writeGGUF(back, again, { tokenizer: false });
      expect(ggufOf(again)).toEqual(ggufOf(file));
    } finally {
      back.close();
    }
  });

  test('compensation biases llama.cpp reads (o, down) are written; a norm bias is refused by name, nothing written', async () => {
    const shapes = [0, 1, 2, 3].map((i) => ({ numHeads: 4, numKvHeads: 2, intermediateSize: i === 2 ? 384 : 512 }));
    const src = sliceModel(demo, shapes);
    const h = src.config.hiddenSize;
    const bias = (name: string) => src.tensors.set(name, { name, dtype: 'f32', shape: [h], data: Float32Array.from({ length: h }, (_, i) => (i % 7) / 50) });
    bias('blocks.1.attn.o.bias');
    bias('blocks.2.mlp.down.bias');
    const file = path.join(tempDir(), 'b.gguf');
    const back = await roundTrip(src, file);
    try {
      expect(ggufOf(file).names).toEqual(expect.arrayContaining(['blk.1.attn_output.bias', 'blk.2.ffn_down.bias']));
      await expectSameModel(src, back);
    } finally {
      back.close();
    }
    bias('blocks.0.attn_norm.bias');
    const bad = path.join(tempDir(), 'bad.gguf');
    const err = await writeGGUF(src, bad, { tokenizer: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotImplementedError);
    expect((err as Error).message).toMatch(/deci architecture does not read tensor blocks\.0\.attn_norm\.bias/);
    expect(fs.existsSync(bad)).toBe(false);
  });
});

describe('structured GGUF: a GGUF source', () => {
  test('llama GGUF -> deci keeps the tokenizer and general keys, drops the llama.* keys; a removed attention has 0 KV heads', async () => {
    const dir = tempDir();
    const demo = await loadModel(DEMO);
    const dense = path.join(dir, 'dense.gguf');
    try {
      await writeGGUF(demo, dense);
    } finally {
      demo.close();
    }
    const src = await loadModel(dense);
    try {
      const cut = sliceModel(src, [0, 1, 2, 3].map((i) => ({ numHeads: i === 2 ? 0 : 4, numKvHeads: i === 2 ? 0 : 2, intermediateSize: 128 * (i + 1) })));
      // as a pruner may leave it: no heads, KV heads still stated
      cut.config.blocks![2].numKvHeads = 2;
      const file = path.join(dir, 'cut.gguf');
      await writeGGUF(cut, file);
      const { meta } = ggufOf(file);
      expect([...meta.keys()].filter((k) => k.startsWith('llama.'))).toEqual([]);
      expect(meta.get('general.name')).toBe(ggufOf(dense).meta.get('general.name'));
      expect(meta.get('tokenizer.ggml.tokens')).toEqual(ggufOf(dense).meta.get('tokenizer.ggml.tokens'));
      expect(meta.get('deci.attention.head_count_kv')).toEqual([2, 2, 0, 2]);
      const back = await loadModel(file);
      try {
        expect(back.config.blocks![2]).toEqual({ numHeads: 0, numKvHeads: 0, intermediateSize: 384 });
        expect(back.tokenizer.kind).toBe('gguf-llama');
      } finally {
        back.close();
      }
    } finally {
      src.close();
    }
  });
});

describe('structured GGUF: Qwen2 (q/k/v biases, rotate-half Q/K)', () => {
  test('qwen2 while its loader fits; fewer heads as llama, per-block widths as deci, biases permuted with their rows', async () => {
    const qwen = await loadModel(writeTinyQwen2(path.join(tempDir(), 'qwen2')));
    try {
      const cases: [BlockShape[], string][] = [
        [blockShapes(qwen.config), 'qwen2'],
        [[0, 1, 2].map(() => ({ numHeads: 2, numKvHeads: 1, intermediateSize: 96 })), 'llama'],
        [[{ numHeads: 4, numKvHeads: 2, intermediateSize: 48 }, { numHeads: 2, numKvHeads: 1, intermediateSize: 0 }, { numHeads: 0, numKvHeads: 0, intermediateSize: 96 }], 'deci'],
      ];
      for (const [shapes, arch] of cases) {
        const src = sliceModel(qwen, shapes);
        const file = path.join(tempDir(), `${arch}.gguf`);
        const back = await roundTrip(src, file);
        try {
          expect(ggufOf(file).meta.get('general.architecture')).toBe(arch);
          expect(back.config.rope!.layout).toBe(arch === 'qwen2' ? 'rotate_half' : 'interleaved');
          expect(blockShapes(back.config)).toEqual(shapes);
          await expectSameModel(src, back);
        } finally {
          back.close();
        }
      }
    } finally {
      qwen.close();
    }
  });
});

describe('structured GGUF: GPT-2', () => {
  let gpt2: LoadedModel;
  beforeAll(async () => {
    gpt2 = await loadModel(writeTinyGPT2(path.join(tempDir(), 'gpt2')));
  });
  afterAll(() => gpt2.close());

  test('gpt2: fused attn_qkv, biases, positions; read back with the same tensors and forward', async () => {
    const file = path.join(tempDir(), 'g.gguf');
    await writeGGUF(gpt2, file, { tokenizer: { hfFiles: {}, ggufEntries: plainVocabEntries(40) } });
    const { names, meta } = ggufOf(file);
    expect(meta.get('general.architecture')).toBe('gpt2');
    expect(meta.get('gpt2.attention.layer_norm_epsilon')).toBeCloseTo(1e-5, 10);
    expect(names).toEqual(expect.arrayContaining(['position_embd.weight', 'blk.0.attn_qkv.weight', 'blk.0.attn_qkv.bias', 'blk.1.ffn_up.bias', 'output_norm.bias']));
    expect(names.some((n) => /attn_[qkv]\./.test(n))).toBe(false);
    const back = await loadModel(file);
    try {
      expect(back.config).toMatchObject({ architecture: 'gpt2', norm: 'layernorm', activation: 'gelu_tanh', rope: null, tiedEmbeddings: true });
      expect(back.tokenizer.kind).toBe('gguf-llama');
      await expectSameModel(gpt2, back, 1e-6);
    } finally {
      back.close();
    }
  });

  test('gpt2 without some biases: llama.cpp requires them, written as zeros (same forward); a partial q/k/v bias is refused', async () => {
    const src = sliceModel(gpt2, blockShapes(gpt2.config));
    for (const n of ['blocks.0.attn.q.bias', 'blocks.0.attn.k.bias', 'blocks.0.attn.v.bias', 'blocks.1.attn.o.bias', 'final_norm.bias']) src.tensors.delete(n);
    const file = path.join(tempDir(), 'nb.gguf');
    const back = await roundTrip(src, file);
    try {
      expect(ggufOf(file).names).toEqual(expect.arrayContaining(['blk.0.attn_qkv.bias', 'blk.1.attn_output.bias', 'output_norm.bias']));
      expect(back.tensors.get('blocks.1.attn.o.bias')!.data.every((v) => v === 0)).toBe(true);
      const [a, b] = [await meanNll(src), await meanNll(back)];
      expect(Math.abs(a - b) / a).toBeLessThan(1e-6);
    } finally {
      back.close();
    }
    src.tensors.delete('blocks.1.attn.k.bias');
    const err = await writeGGUF(src, path.join(tempDir(), 'p.gguf'), { tokenizer: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotImplementedError);
    expect((err as Error).message).toMatch(/block 1 has some of the q\/k\/v biases but not all/);
  });

  test('gpt2 with fewer MLP channels (uniform) is written; per-block widths or pruned heads are refused', async () => {
    const narrow = sliceModel(gpt2, [0, 1].map(() => ({ numHeads: 4, numKvHeads: 4, intermediateSize: 24 })));
    const file = path.join(tempDir(), 'n.gguf');
    const back = await roundTrip(narrow, file);
    try {
      expect(ggufOf(file).meta.get('gpt2.feed_forward_length')).toBe(24);
      await expectSameWeights(narrow, back);
    } finally {
      back.close();
    }
    const cases: [BlockShape[], RegExp][] = [
      [[{ numHeads: 4, numKvHeads: 4, intermediateSize: 24 }, { numHeads: 4, numKvHeads: 4, intermediateSize: 48 }], /one MLP width and head count for every block/],
      [[0, 1].map(() => ({ numHeads: 2, numKvHeads: 2, intermediateSize: 48 })), /heads x head dim = hidden size/],
    ];
    for (const [shapes, message] of cases) {
      const out = path.join(tempDir(), 'x.gguf');
      const err = await writeGGUF(sliceModel(gpt2, shapes), out, { tokenizer: false }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NotImplementedError);
      expect((err as Error).message).toMatch(message);
      expect(fs.existsSync(out)).toBe(false);
    }
  });
});
