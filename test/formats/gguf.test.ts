// GGUF files built by the test's own encoder: metadata of every type, F16 and Q8_0
// tensors (dequantized natively, checked against a TS reference), and writing back.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { loadModel } from '../../lib/formats/load';
import { summarizeModel } from '../../lib/formats/summary';
import { writeGGUF } from '../../lib/formats/write-gguf';
import { plainGGUFValue } from '../../lib/formats/gguf-strings';
import { GGUFEntry } from '../../lib/model/types';
import { buildGGUF, GgufKV, ggufLlamaNames, llamaKVs, randomData, rng, TINY } from './fixtures';
import { bitsEqual, expectSameTensors, tempDir } from './helpers';

/** Random Q8_0 blocks: finite f16 scale + 32 int8 quants each. */
function randomQ8(nBlocks: number, seed: number): Uint8Array {
  const r = rng(seed);
  const b = Buffer.alloc(nBlocks * 34);
  for (let i = 0; i < nBlocks; i++) {
    b.writeUInt16LE(((10 + Math.floor(r() * 8)) << 10) | Math.floor(r() * 1024), i * 34); // positive normal f16
    for (let j = 0; j < 32; j++) b.writeInt8(Math.floor(r() * 256) - 128, i * 34 + 2 + j);
  }
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

function f16ToF32(h: number): number {
  const e = (h >> 10) & 31;
  const m = h & 1023;
  const s = h & 0x8000 ? -1 : 1;
  if (e === 0) return s * m * 2 ** -24;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Plain reference of Q8_0 dequantization. */
function refDequant(q: Uint8Array): Float32Array {
  const v = new DataView(q.buffer, q.byteOffset, q.byteLength);
  const out = new Float32Array((q.length / 34) * 32);
  for (let b = 0; b < q.length / 34; b++) {
    const d = Math.fround(f16ToF32(v.getUint16(b * 34, true)));
    for (let j = 0; j < 32; j++) out[b * 32 + j] = Math.fround(d * v.getInt8(b * 34 + 2 + j));
  }
  return out;
}

const EXTRA_KVS: GgufKV[] = [
  { key: 'general.name', type: 8, value: 'tiny test' },
  { key: 'test.u8', type: 0, value: 200 },
  { key: 'test.i8', type: 1, value: -5 },
  { key: 'test.u16', type: 2, value: 65000 },
  { key: 'test.i16', type: 3, value: -30000 },
  { key: 'test.i32', type: 5, value: -123456 },
  { key: 'test.u64', type: 10, value: 2n ** 40n + 3n },
  { key: 'test.i64', type: 11, value: -(2n ** 40n) },
  { key: 'test.f64', type: 12, value: 0.1 },
  { key: 'test.bool', type: 7, value: true },
  { key: 'test.arr_i32', type: 9, itemType: 5, value: [1, -2, 3] },
  { key: 'test.arr_f32', type: 9, itemType: 6, value: [0.5, -1.25] },
  { key: 'test.arr_bool', type: 9, itemType: 7, value: [true, false] },
  { key: 'test.arr_str', type: 9, itemType: 8, value: ['a', 'héllo', ''] },
  { key: 'tokenizer.ggml.model', type: 8, value: 'llama' },
  { key: 'tokenizer.ggml.tokens', type: 9, itemType: 8, value: Array.from({ length: 32 }, (_, i) => `<t${i}>`) },
  { key: 'tokenizer.ggml.scores', type: 9, itemType: 6, value: Array.from({ length: 32 }, (_, i) => -i) },
  { key: 'tokenizer.ggml.token_type', type: 9, itemType: 5, value: Array.from({ length: 32 }, () => 1) },
  { key: 'tokenizer.ggml.bos_token_id', type: 4, value: 1 },
  { key: 'tokenizer.ggml.eos_token_id', type: 4, value: 2 },
  { key: 'tokenizer.ggml.unknown_token_id', type: 4, value: 0 },
  { key: 'tokenizer.ggml.add_bos_token', type: 7, value: true },
];

// Q8_0 rows must be whole 32-weight blocks: hidden and intermediate sizes are multiples of 32.
const Q8SPEC = { hidden: 32, heads: 4, kvHeads: 2, inter: 64, layers: 2, vocab: 32 };

function build(kind: 'q8' | 'f16', version = 3) {
  const quants = new Map<string, Uint8Array>();
  const spec = kind === 'q8' ? Q8SPEC : TINY;
  const tensors = ggufLlamaNames(spec).map(([name, shape], i) => {
    const numel = shape.reduce((a, b) => a * b, 1);
    const ne = [...shape].reverse();
    if (shape.length === 2 && kind === 'q8') {
      const q = randomQ8(numel / 32, 50 + i);
      quants.set(name, q);
      return { name, ne, type: 8, data: q };
    }
    const d = randomData(shape.length === 1 ? 'F32' : 'F16', numel, 50 + i);
    return { name, ne, type: shape.length === 1 ? 0 : 1, data: new Uint8Array(d.buffer) };
  });
  return { file: buildGGUF(llamaKVs(spec, EXTRA_KVS), tensors, version), quants, tensors };
}

describe('GGUF', () => {
  test('Q8_0 tensors are dequantized natively exactly like the TS reference', async () => {
    const { file, quants } = build('q8');
    const p = path.join(tempDir(), 'q8.gguf');
    fs.writeFileSync(p, file);
    const m = await loadModel(p);
    expect(quants.size).toBe(1 + 2 * 7);
    const embd = m.tensors.get('embed.weight')!;
    expect(embd.dtype).toBe('f32');
    expect(embd.shape).toEqual([32, 32]);
    expect(bitsEqual(embd.data, refDequant(quants.get('token_embd.weight')!))).toBe(true);
    expect(bitsEqual(m.tensors.get('blocks.1.mlp.down.weight')!.data, refDequant(quants.get('blk.1.ffn_down.weight')!))).toBe(true);
    expect(bitsEqual(m.tensors.get('blocks.0.attn.k.weight')!.data, refDequant(quants.get('blk.0.attn_k.weight')!))).toBe(true);
    expect(m.config).toMatchObject({ numKvHeads: 2, headDim: 8, contextLength: 64, tiedEmbeddings: true, normEps: 1e-5, bosTokenId: 1, eosTokenId: 2 });
    expect((m.meta.sourceTensorTypes as Record<string, string>)['blk.0.attn_q.weight']).toBe('Q8_0');
    expect(summarizeModel(m)).toMatchObject({ dtypes: { f32: 2 * 9 + 2 }, storedTypes: { Q8_0: 15, F32: 5 } });
    m.close();
  });

  test.each([2, 3])('metadata of every type survives reading (v%i) and GGUF -> GGUF writing', async (version) => {
    const { file, tensors } = build('f16', version);
    const root = tempDir();
    const p = path.join(root, 'a.gguf');
    fs.writeFileSync(p, file);
    const m = await loadModel(p);
    const entries = m.meta.gguf as GGUFEntry[];
    // Arrays come back as typed arrays and lazily decoded strings: compare their plain values.
    const plain = (e: GGUFEntry | undefined) => e && { ...e, value: plainGGUFValue(e) };
    const get = (k: string) => plain(entries.find((e) => e.key === k));
    expect(get('test.u64')).toEqual({ key: 'test.u64', type: 'uint64', value: 2n ** 40n + 3n });
    expect(get('test.i64')?.value).toBe(-(2n ** 40n));
    expect(get('test.i16')?.value).toBe(-30000);
    expect(get('test.f64')?.value).toBe(0.1);
    expect(get('test.arr_str')).toEqual({ key: 'test.arr_str', type: 'array', itemType: 'string', value: ['a', 'héllo', ''] });
    expect(get('test.arr_bool')?.value).toEqual([true, false]);
    expect(get('test.arr_f32')?.value).toEqual([0.5, -1.25]);
    expect(m.tokenizer).toMatchObject({ kind: 'gguf-llama', bos: 1, eos: 2, unk: 0, addBos: true });
    // F16 tensors are zero-copy views
    const q = m.tensors.get('blocks.0.attn.q.weight')!;
    expect(q.dtype).toBe('f16');
    expect(q.data.buffer.byteLength).toBe(file.length);
    expect(bitsEqual(q.data, tensors.find((t) => t.name === 'blk.0.attn_q.weight')!.data)).toBe(true);

    await writeGGUF(m, path.join(root, 'b.gguf'));
    const b = await loadModel(path.join(root, 'b.gguf'));
    expect(b.meta.ggufVersion).toBe(3);
    const after = b.meta.gguf as GGUFEntry[];
    for (const e of entries) expect(plain(after.find((x) => x.key === e.key))).toEqual(plain(e));
    expect(b.tokenizer).toEqual(m.tokenizer);
    expect(b.config).toEqual(m.config);
    expectSameTensors(m, b);
    m.close();
    b.close();
  });

  test('non-llama tokenizer models are flagged as kind none', async () => {
    const kvs = llamaKVs(TINY, [{ key: 'tokenizer.ggml.model', type: 8, value: 'gpt2' }]);
    const tensors = ggufLlamaNames(TINY).map(([name, shape], i) => {
      const d = randomData('F32', shape.reduce((a, b) => a * b, 1), i);
      return { name, ne: [...shape].reverse(), type: 0, data: new Uint8Array(d.buffer) };
    });
    const p = path.join(tempDir(), 'g.gguf');
    fs.writeFileSync(p, buildGGUF(kvs, tensors));
    const m = await loadModel(p);
    expect(m.tokenizer.kind).toBe('none');
    if (m.tokenizer.kind === 'none') expect(m.tokenizer.reason).toContain("'gpt2'");
    m.close();
  });
});
