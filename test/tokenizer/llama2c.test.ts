// llama2.c tokenizers: tok512 (stories260K) and tok105 (BabyLlama) against PROVENANCE.md
// facts and the literal reference encoder; decoding; corrupt files.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeShared, sharedPath } from '../support/shared-data';
import { referenceEncode } from '../support/tokenizer-reference';
import { referenceVocab, tokBin } from '../support/tokenizer-fixtures';
import { llama2cVocab, parseLlama2cTokenizer, readLlama2cTokenizer } from '../../lib/tokenizer/llama2c-file';
import { SpmTokenizer } from '../../lib/tokenizer/spm-tokenizer';
import { loadTokenizer } from '../../lib/tokenizer/load';

function llama2c(file: string, vocabSize?: number): SpmTokenizer {
  return new SpmTokenizer(llama2cVocab(readLlama2cTokenizer(file, vocabSize), file));
}

describeShared('tok512 (stories260K)', () => {
  const file = sharedPath('models', 'stories260K', 'tok512.bin');
  let tok: SpmTokenizer;
  let val: string;
  beforeAll(() => {
    tok = llama2c(file, 512);
    val = fs.readFileSync(sharedPath('text', 'tinystories', 'tinystories_val.txt'), 'utf8');
  });

  test('file facts: max_token_length 7, 512 tokens, ids 1 and 2 are "\\n<s>\\n" and "\\n</s>\\n"', () => {
    const tf = readLlama2cTokenizer(file);
    expect(tf.maxTokenLength).toBe(7);
    expect(tf.pieces.length).toBe(512);
    expect(tok.piece(1)).toBe('\n<s>\n');
    expect(tok.piece(2)).toBe('\n</s>\n');
  });

  test('first 256 ids of tinystories_val.txt start as PROVENANCE.md lists and match the reference encoder', () => {
    const ids = tok.encode(val, { bos: true });
    const first256 = ids.slice(0, 256);
    expect(first256.slice(0, 12)).toEqual([1, 301, 427, 309, 426, 301, 427, 309, 394, 265, 262, 415]);
    // The literal O(n^2) llama2.c algorithm on a prefix long enough to cover 256 ids.
    const prefix = val.slice(0, 2000);
    const ref = referenceEncode(referenceVocab(tok.vocab), prefix, true, false);
    expect(tok.encode(prefix, { bos: true })).toEqual(ref);
    expect(ref.length).toBeGreaterThan(300);
    expect(first256).toEqual(ref.slice(0, 256));
  });

  test('decode round trip on the validation text, with and without BOS', () => {
    const text = val.slice(0, 50000);
    expect(tok.decode(tok.encode(text, { bos: true, eos: true }))).toBe(text);
    expect(tok.decode(tok.encode(text))).toBe(text);
  });

  test('byte fallback on emoji and CJK: byte + 3 per UTF-8 byte, decoded back to the characters', () => {
    for (const ch of ['😀', '中', '文', '🦙']) {
      const ids = tok.encode(ch);
      expect(ids[0]).toBe(tok.encode(' ')[0]);
      expect(ids.slice(1)).toEqual(Array.from(Buffer.from(ch, 'utf8')).map((b) => b + 3));
      expect(tok.decode(ids)).toBe(ch);
    }
    const mixed = 'Lily saw 中文 and 😀 on the 🦙.\n';
    expect(tok.decode(tok.encode(mixed, { bos: true }))).toBe(mixed);
  });

  test('decodeToken follows llama2.c: leading space dropped after BOS, <0xXX> gives the byte', () => {
    const ids = tok.encode('Once upon', { bos: true });
    expect(tok.piece(ids[1]).startsWith(' ')).toBe(true);
    expect(tok.decodeToken(ids[1], 1)).toBe(tok.piece(ids[1]).slice(1));
    expect(tok.decodeToken(ids[1], 5)).toBe(tok.piece(ids[1]));
    expect(tok.decodeToken(13)).toBe('\n');
    expect(Array.from(tok.decodeTokenBytes(0xf0 + 3))).toEqual([0xf0]);
    const streamed = Buffer.concat(ids.slice(1).map((id, i) => tok.decodeTokenBytes(id, ids[i]))).toString('utf8');
    expect(streamed).toBe('Once upon');
  });

  test('empty, space-only and newline strings', () => {
    expect(tok.encode('')).toEqual([]);
    expect(tok.encode('', { bos: true, eos: true })).toEqual([1, 2]);
    for (const s of [' ', '   ', '\n', '\n\n', ' \n ']) {
      expect(tok.encode(s, { bos: true })).toEqual(referenceEncode(referenceVocab(tok.vocab), s, true, false));
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
  });

  test('loadTokenizer checks the count against the model vocabulary size', async () => {
    await expect(loadTokenizer({ kind: 'llama2c', path: file }, { vocabSize: 512 })).resolves.toBeDefined();
    await expect(loadTokenizer({ kind: 'llama2c', path: file }, { vocabSize: 32000 })).rejects.toThrow(/512 tokens but the model's vocabulary size is 32000/);
    await expect(loadTokenizer({ kind: 'llama2c', path: file }, { vocabSize: 500 })).rejects.toThrow(/more than the model's vocabulary size of 500/);
  });
});

describeShared('tok105 (BabyLlama)', () => {
  const file = sharedPath('models', 'babyllama-tok105', 'tok105.bin');
  let tok: SpmTokenizer;
  let val: string;
  beforeAll(() => {
    tok = llama2c(file, 105);
    val = fs.readFileSync(sharedPath('text', 'tinystories', 'tinystories_val.txt'), 'utf8');
  });

  test('no byte tokens and no newline piece: a newline becomes byte + 3 = 13 (the piece "r"), as llama2.c does', () => {
    expect(tok.piece(13)).toBe('r');
    const ids = tok.encode('a\nb');
    expect(ids).toEqual([tok.encode(' ')[0], tok.encode('a')[1], 13, tok.encode('b')[1]]);
    expect(tok.decode(ids)).toBe('arb'); // lossy, as PROVENANCE.md warns
  });

  test('first 256 ids of tinystories_val.txt: one id per character, newlines as 13, equal to the reference', () => {
    const prefix = val.slice(0, 400);
    const ref = referenceEncode(referenceVocab(tok.vocab), prefix, true, false);
    const ids = tok.encode(val, { bos: true }).slice(0, 256);
    expect(ids).toEqual(ref.slice(0, 256));
    const chars = Array.from(' ' + prefix).slice(0, 255);
    expect(ids.slice(1)).toEqual(chars.map((c) => (c === '\n' ? 13 : tok.encode(c)[1])));
  });

  test('a byte whose byte + 3 falls outside the vocabulary becomes unk (0), not an out-of-range id', () => {
    const ids = tok.encode('hi 😀');
    expect(ids.slice(-4)).toEqual([0, 0, 0, 0]);
    expect(ids.every((id) => id >= 0 && id < 105)).toBe(true);
    expect(tok.encode(val).every((id) => id >= 0 && id < 105)).toBe(true);
  });
});

describe('corrupt llama2.c tokenizer files', () => {
  const good = tokBin(['<unk>', 'a', 'bc'], [0, -1, -2]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-tok-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a well-formed file parses', () => {
    const tf = parseLlama2cTokenizer(good, 'good.bin');
    expect(tf.pieces.map((p) => Buffer.from(p).toString())).toEqual(['<unk>', 'a', 'bc']);
    expect(Array.from(tf.scores)).toEqual([0, -1, -2]);
  });

  test('errors name the file and the problem', () => {
    const cases: [Buffer, RegExp, number?][] = [
      [Buffer.alloc(2), /too short for the int32 max_token_length/],
      [good.subarray(0, good.length - 1), /token 2 length 2 runs past the end/],
      [good.subarray(0, 4 + 13 + 9 + 5), /truncated at token 2: 5 bytes left/],
      [good, /holds 3 tokens but the model's vocabulary size is 4/, 4],
      [good, /more than the model's vocabulary size of 2/, 2],
      [tokBin(['abcdef'], [0], 3), /6 bytes long, more than max_token_length 3/],
      [tokBin(['a'], [Number.NaN]), /NaN score/],
      [Buffer.concat([tokBin([], []), Buffer.from([0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff])]), /negative length -1/],
      [Buffer.from([0, 0, 0, 0]), /max_token_length 0/],
    ];
    for (const [buf, re, n] of cases) {
      const f = path.join(dir, 'bad.bin');
      fs.writeFileSync(f, buf);
      expect(() => readLlama2cTokenizer(f, n)).toThrow(re);
      expect(() => readLlama2cTokenizer(f, n)).toThrow(`llama2.c tokenizer ${f}:`);
    }
    expect(() => readLlama2cTokenizer(path.join(dir, 'missing.bin'))).toThrow(/missing\.bin: cannot read/);
  });
});
