// Tag stripping and detokenization of the Brown corpus (scripts/demo-model/prepare-corpus.js),
// checked on hand-written Brown-style token lists.
import * as path from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const prep = require(path.resolve(__dirname, '..', '..', 'scripts', 'demo-model', 'prepare-corpus.js')) as {
  detokenize: (words: string[]) => string;
  wordOf: (token: string, file: string) => string;
  queryLike: (s: { words: string[] }) => { kind: string; text: string } | null;
};

describe('prepare-corpus', () => {
  test('strips the tag after the last slash', () => {
    expect(prep.wordOf('Atlanta\'s/np$', 'x')).toBe("Atlanta's");
    expect(prep.wordOf('1/2/cd', 'x')).toBe('1/2');
    expect(() => prep.wordOf('notag', 'ca01')).toThrow(/malformed token "notag" in ca01/);
  });

  test('detokenizes punctuation, brackets and quotes', () => {
    expect(prep.detokenize(['``', 'Only', 'a', 'handful', "''", ',', 'the', 'jury', 'said', '.'])).toBe(
      '"Only a handful", the jury said.',
    );
    expect(prep.detokenize(['It', 'rose', '(', 'slowly', ')', ';', 'why', '?'])).toBe('It rose (slowly); why?');
    expect(prep.detokenize(['the', "'", 'Met', "'", 'again', '--', 'now'])).toBe("the 'Met' again -- now");
  });

  test('keeps short questions and sentences as query-like lines, drops the rest', () => {
    const q = prep.queryLike({ words: ['``', 'Where', 'are', 'you', 'going', '?', "''"] });
    expect(q).toEqual({ kind: 'question', text: 'Where are you going?' });
    expect(prep.queryLike({ words: ['Fill', 'the', 'hole', 'with', 'clay', '.'] })).toEqual({
      kind: 'statement',
      text: 'Fill the hole with clay.',
    });
    expect(prep.queryLike({ words: ['too', 'short', 'here', '?'] })).toBeNull(); // lower-case start
    expect(prep.queryLike({ words: ['He', 'said', '``', 'no', "''", 'twice', '?'] })).toBeNull();
  });
});
