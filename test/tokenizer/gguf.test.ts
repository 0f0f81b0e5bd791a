// The GGUF vocabulary of stories260K.gguf (parsed here with @huggingface/gguf, independently
// of shears' own GGUF reader) against tok512.bin, and the GGUF entries we would write.
import * as fs from 'node:fs';
import { gguf } from '@huggingface/gguf';
import { describeShared, sharedPath } from '../support/shared-data';
import { referenceEncode } from '../support/tokenizer-reference';
import { rng, randomText } from '../support/tokenizer-fixtures';
import type { TokenizerSource } from '../../lib/model/types';
import { loadTokenizer } from '../../lib/tokenizer/load';
import { tokenizerArtifacts } from '../../lib/tokenizer/artifacts';
import { SpmTokenizer } from '../../lib/tokenizer/spm-tokenizer';
import { ggufVocab } from '../../lib/tokenizer/gguf-vocab';

type Meta = Record<string, unknown>;

async function ggufMeta(file: string): Promise<Meta> {
  const { metadata } = await gguf(file, { allowLocalFile: true });
  return metadata as unknown as Meta;
}

function sourceFrom(m: Meta): Extract<TokenizerSource, { kind: 'gguf-llama' }> {
  return {
    kind: 'gguf-llama',
    tokens: m['tokenizer.ggml.tokens'] as string[],
    scores: m['tokenizer.ggml.scores'] as number[],
    tokenTypes: m['tokenizer.ggml.token_type'] as number[],
    bos: Number(m['tokenizer.ggml.bos_token_id']),
    eos: Number(m['tokenizer.ggml.eos_token_id']),
    unk: Number(m['tokenizer.ggml.unknown_token_id']),
  };
}

describeShared('GGUF vocabulary of stories260K.gguf', () => {
  let meta: Meta;
  let src: Extract<TokenizerSource, { kind: 'gguf-llama' }>;
  let fromGguf: SpmTokenizer;
  let fromBin: SpmTokenizer;
  let val: string;

  beforeAll(async () => {
    val = fs.readFileSync(sharedPath('text', 'tinystories', 'tinystories_val.txt'), 'utf8');
    meta = await ggufMeta(sharedPath('models', 'stories260K', 'stories260K.gguf'));
    src = sourceFrom(meta);
    fromGguf = (await loadTokenizer(src)) as SpmTokenizer;
    fromBin = (await loadTokenizer({ kind: 'llama2c', path: sharedPath('models', 'stories260K', 'tok512.bin') }, { vocabSize: 512 })) as SpmTokenizer;
  });

  test('equals tok512.bin: same strings (U+2581 as space, ids 1/2 named <s></s>) and scores', () => {
    expect(meta['tokenizer.ggml.model']).toBe('llama');
    expect(src.tokens.length).toBe(512);
    for (let id = 0; id < 512; id++) {
      if (id !== 1 && id !== 2) expect(src.tokens[id].replace(/\u2581/g, ' ')).toBe(fromBin.piece(id));
      expect(src.scores[id]).toBe(fromBin.vocab.scores[id]);
    }
    expect([src.tokens[1], src.tokens[2]]).toEqual(['<s>', '</s>']);
    expect(fromGguf.bosId).toBe(1);
    expect(fromGguf.eosId).toBe(2);
  });

  test('encodes the whole validation text exactly like tok512.bin, and decodes it back', () => {
    const a = fromGguf.encode(val, { bos: true });
    expect(a).toEqual(fromBin.encode(val, { bos: true }));
    expect(a.slice(0, 12)).toEqual([1, 301, 427, 309, 426, 301, 427, 309, 394, 265, 262, 415]);
    expect(fromGguf.decode(a)).toBe(val);
  });

  test('matches the reference encoder with control/unknown/byte tokens excluded from lookups', () => {
    const types = src.tokenTypes as number[];
    const ref = {
      pieces: src.tokens.map((t) => Buffer.from(t.replace(/\u2581/g, ' '), 'utf8').toString('latin1')),
      scores: Float32Array.from(src.scores),
      lookupable: (id: number) => types[id] === 1,
      byteFallback: (b: number) => src.tokens.indexOf(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`),
      bos: 1,
      eos: 2,
    };
    const r = rng(7);
    for (let k = 0; k < 20; k++) {
      const s = randomText(r, src.tokens.slice(259), ['😀', '中', '<s>', '</s>', '<unk>', '<0x0A>', '\n'], 150);
      expect(fromGguf.encode(s, { bos: true })).toEqual(referenceEncode(ref, s, true, false));
    }
    expect(fromGguf.encode('<s>')).not.toContain(1); // control tokens are never produced from text
  });

  test('a vocabulary without byte tokens falls back to unk, with no unk it is a clear error', () => {
    const noBytes = { ...src, tokenTypes: (src.tokenTypes as number[]).map((t) => (t === 6 ? 5 : t)), tokens: src.tokens.map((t, i) => (i >= 3 && i < 259 ? `unused${i}` : t)) };
    expect(new SpmTokenizer(ggufVocab(noBytes)).encode('\n')).toEqual([fromGguf.encode(' ')[0], 0]);
    expect(() => new SpmTokenizer(ggufVocab({ ...noBytes, unk: undefined })).encode('\n')).toThrow(/neither a byte token for 0xa nor an unk token/);
  });

  test('GGUF entries of the GGUF source pass its own metadata through', async () => {
    const art = await tokenizerArtifacts(src);
    const byKey = new Map(art.ggufEntries.map((e) => [e.key, e]));
    for (const key of ['tokenizer.ggml.model', 'tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'tokenizer.ggml.token_type']) {
      expect(byKey.get(key)?.value).toEqual(meta[key]);
    }
    for (const key of ['tokenizer.ggml.bos_token_id', 'tokenizer.ggml.eos_token_id', 'tokenizer.ggml.unknown_token_id']) {
      expect(byKey.get(key)).toEqual({ key, type: 'uint32', value: Number(meta[key]) });
    }
  });

  test('HF files generated from the GGUF vocabulary equal those generated from tok512.bin', async () => {
    const fromGgufFiles = (await tokenizerArtifacts(src)).hfFiles;
    const fromBinFiles = (await tokenizerArtifacts({ kind: 'llama2c', path: sharedPath('models', 'stories260K', 'tok512.bin') })).hfFiles;
    expect(fromGgufFiles).toEqual(fromBinFiles);
  });

  test('GGUF entries generated from tok512.bin equal the GGUF file (llama.cpp built it from tok512)', async () => {
    const art = await tokenizerArtifacts({ kind: 'llama2c', path: sharedPath('models', 'stories260K', 'tok512.bin') });
    const byKey = new Map(art.ggufEntries.map((e) => [e.key, e.value]));
    for (const key of ['tokenizer.ggml.model', 'tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'tokenizer.ggml.token_type']) {
      expect(byKey.get(key)).toEqual(meta[key]);
    }
    expect(byKey.get('tokenizer.ggml.bos_token_id')).toBe(1);
    expect(byKey.get('tokenizer.ggml.eos_token_id')).toBe(2);
    expect(byKey.get('tokenizer.ggml.unknown_token_id')).toBe(0);
  });
});
