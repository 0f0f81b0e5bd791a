// The heap encoder against the literal llama2.c algorithm (test/support/tokenizer-reference)
// on random vocabularies with many tied scores and on random and real strings.
import * as fs from 'node:fs';
import { describeShared, sharedPath } from '../support/shared-data';
import { referenceEncode } from '../support/tokenizer-reference';
import { randomLlama2cVocab, randomText, referenceVocab, rng, tokBin } from '../support/tokenizer-fixtures';
import { llama2cVocab, parseLlama2cTokenizer, readLlama2cTokenizer } from '../../lib/tokenizer/llama2c-file';
import { SpmTokenizer } from '../../lib/tokenizer/spm-tokenizer';

const EXTRA = ['é', 'ü', '中', '文', '😀', '🦙', '\t', '\u00a0', '\u2581', '\r\n', '<', '>', '0x', '\uD800', 'Z'];

function check(tok: SpmTokenizer, text: string): void {
  const ref = referenceVocab(tok.vocab);
  for (const bos of [false, true]) {
    expect(tok.encode(text, { bos, eos: bos })).toEqual(referenceEncode(ref, text, bos, bos));
  }
}

describe('heap encoder == reference encoder on random vocabularies (tied scores, duplicates)', () => {
  for (let seed = 1; seed <= 12; seed++) {
    test(`vocabulary seed ${seed}`, () => {
      const r = rng(seed);
      const alphabet = [' ', 'a', 'b', 'c', 'd', 'e', '\n', 'é', 'x'];
      const { pieces, scores } = randomLlama2cVocab(r, alphabet, 40 + seed * 10);
      const tok = new SpmTokenizer(llama2cVocab(parseLlama2cTokenizer(tokBin(pieces, scores), `seed${seed}.bin`), `seed${seed}.bin`));
      for (let k = 0; k < 25; k++) check(tok, randomText(r, pieces.slice(259), EXTRA, Math.floor(r() * 120)));
      for (const s of ['', ' ', '    ', '\n', 'aaaaaaaaaaaa', 'ababababab', ' a b c ', '😀😀', '\uD800x']) check(tok, s);
    });
  }
});

describeShared('heap encoder == reference encoder on the real vocabularies', () => {
  let val: string;
  let wiki: string;
  beforeAll(() => {
    val = fs.readFileSync(sharedPath('text', 'tinystories', 'tinystories_val.txt'), 'utf8');
    wiki = fs.readFileSync(sharedPath('text', 'wikitext-2', 'wiki.test.raw'), 'utf8');
  });
  for (const [name, rel, n] of [
    ['tok512', ['models', 'stories260K', 'tok512.bin'], 512],
    ['tok105', ['models', 'babyllama-tok105', 'tok105.bin'], 105],
  ] as const) {
    test(`${name}: random strings and slices of TinyStories / WikiText-2`, () => {
      const file = sharedPath(...rel);
      const tok = new SpmTokenizer(llama2cVocab(readLlama2cTokenizer(file, n), file));
      const r = rng(n);
      const pieces = tok.vocab.display.slice(3);
      for (let k = 0; k < 30; k++) check(tok, randomText(r, pieces, EXTRA, Math.floor(r() * 200)));
      for (let k = 0; k < 8; k++) {
        const at = Math.floor(r() * (val.length - 600));
        check(tok, val.slice(at, at + 300 + Math.floor(r() * 300)));
        const wt = Math.floor(r() * (wiki.length - 600));
        check(tok, wiki.slice(wt, wt + 300 + Math.floor(r() * 300)));
      }
    });
  }

  test('tok512 on a whole megabyte file: every id valid, lossless round trip', () => {
    const file = sharedPath('models', 'stories260K', 'tok512.bin');
    const tok = new SpmTokenizer(llama2cVocab(readLlama2cTokenizer(file, 512), file));
    const ids = tok.encode(wiki, { bos: true });
    expect(ids.every((id) => Number.isInteger(id) && id >= 0 && id < 512)).toBe(true);
    expect(tok.decode(ids)).toBe(wiki);
  });
});
