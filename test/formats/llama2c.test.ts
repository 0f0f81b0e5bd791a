// llama2.c checkpoints built by the test in both layouts (legacy and version 1), with
// shared and separate classifiers: every tensor comes from the expected place.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { loadModel } from '../../lib/formats/load';
import { writeGGUF } from '../../lib/formats/write-gguf';
import { writeHF } from '../../lib/formats/write-hf';
import { bufOf, buildLlama2cTokenizer, randomData, TINY } from './fixtures';
import { bitsEqual, expectSameTensors, isQK, refToRotateHalf, tempDir } from './helpers';

const S = TINY;
const HD = S.hidden / S.heads;
const KV = S.kvHeads * HD;
const SEQ = 48;

type Seg = { name: string; shape: number[]; perLayer: boolean };
const per = (name: string, shape: number[]): Seg => ({ name, shape, perLayer: true });
const one = (name: string, shape: number[]): Seg => ({ name, shape, perLayer: false });

/** Builds a checkpoint from a segment list, returning the expected canonical tensors. */
function build(version: 0 | 1, shared: boolean): { file: Buffer; expected: Map<string, Float32Array> } {
  const w = [
    per('attn.q.weight', [S.hidden, S.hidden]),
    per('attn.k.weight', [KV, S.hidden]),
    per('attn.v.weight', [KV, S.hidden]),
    per('attn.o.weight', [S.hidden, S.hidden]),
  ];
  const ffn = [per('mlp.gate.weight', [S.inter, S.hidden]), per('mlp.down.weight', [S.hidden, S.inter]), per('mlp.up.weight', [S.inter, S.hidden])];
  const cls = shared ? [] : [one('lm_head.weight', [S.vocab, S.hidden])];
  const freq = one('(freq_cis)', [SEQ, HD]);
  const segs =
    version === 0
      ? [one('embed.weight', [S.vocab, S.hidden]), per('attn_norm.weight', [S.hidden]), ...w, per('mlp_norm.weight', [S.hidden]), ...ffn, one('final_norm.weight', [S.hidden]), freq, ...cls]
      : [per('attn_norm.weight', [S.hidden]), per('mlp_norm.weight', [S.hidden]), one('final_norm.weight', [S.hidden]), one('embed.weight', [S.vocab, S.hidden]), ...w, ...ffn, ...cls];
  const expected = new Map<string, Float32Array>();
  const parts: Buffer[] = [];
  let seed = 1;
  for (const s of segs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    for (let i = 0; i < (s.perLayer ? S.layers : 1); i++) {
      const d = randomData('F32', n, seed++) as Float32Array;
      if (!s.name.startsWith('(')) expected.set(s.perLayer ? `blocks.${i}.${s.name}` : s.name, d);
      parts.push(bufOf(d));
    }
  }
  const ints = [S.hidden, S.inter, S.layers, S.heads, S.kvHeads, version === 0 && !shared ? -S.vocab : S.vocab, SEQ];
  let head: Buffer;
  if (version === 0) {
    head = Buffer.alloc(28);
    ints.forEach((v, i) => head.writeInt32LE(v, 4 * i));
  } else {
    head = Buffer.alloc(256);
    head.writeUInt32LE(0x616b3432, 0);
    head.writeInt32LE(1, 4);
    ints.forEach((v, i) => head.writeInt32LE(v, 8 + 4 * i));
    head.writeUInt8(shared ? 1 : 0, 36);
  }
  return { file: Buffer.concat([head, ...parts]), expected };
}

describe.each([
  [0, true],
  [0, false],
  [1, true],
  [1, false],
] as const)('llama2.c version %i, shared classifier %s', (version, shared) => {
  test('every tensor comes from its place in the file', async () => {
    const { file, expected } = build(version, shared);
    const dir = tempDir();
    const p = path.join(dir, 'model.bin');
    fs.writeFileSync(p, file);
    fs.writeFileSync(path.join(dir, 'tokenizer.bin'), buildLlama2cTokenizer(S.vocab));
    const m = await loadModel(p);
    expect(m.config.tiedEmbeddings).toBe(shared);
    expect(m.config.contextLength).toBe(SEQ);
    expect(m.meta.llama2cVersion).toBe(version === 1 ? 1 : 'legacy');
    expect(m.tokenizer).toEqual({ kind: 'llama2c', path: path.join(dir, 'tokenizer.bin') });
    expect(m.tensors.size).toBe(expected.size);
    for (const [name, d] of expected) expect({ name, same: bitsEqual(m.tensors.get(name)!.data, d) }).toEqual({ name, same: true });
    m.close();
  });

  test('-> HF -> load and -> GGUF -> load', async () => {
    const { file } = build(version, shared);
    const dir = tempDir();
    const p = path.join(dir, 'model.bin');
    fs.writeFileSync(p, file);
    const src = await loadModel(p);
    await writeHF(src, path.join(dir, 'hf'));
    const hf = await loadModel(path.join(dir, 'hf'));
    const c = src.config;
    expectSameTensors(src, hf, (t) => {
      const qk = isQK(t.name);
      return qk ? refToRotateHalf(t.data, qk === 'q' ? c.numHeads : c.numKvHeads, c.headDim) : t.data;
    });
    await writeGGUF(src, path.join(dir, 'm.gguf'));
    const g = await loadModel(path.join(dir, 'm.gguf'));
    expectSameTensors(src, g);
    expect(g.config).toEqual(src.config);
    for (const m of [src, hf, g]) m.close();
  });
});

test('an explicit --tokenizer with the wrong vocabulary size is an error naming it', async () => {
  const dir = tempDir();
  const p = path.join(dir, 'model.bin');
  fs.writeFileSync(p, build(0, true).file);
  const tok = path.join(dir, 'other.bin');
  fs.writeFileSync(tok, buildLlama2cTokenizer(7));
  await expect(loadModel(p, { tokenizer: tok })).rejects.toMatchObject({
    code: 'E_FORMAT',
    file: tok,
    message: expect.stringContaining('tokenizer has 7 tokens but the model'),
  });
});
