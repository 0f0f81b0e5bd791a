// shears' BPE merge step (lib/tokenizer/bpe-merge.ts, put in place by hf-fast-bpe.ts)
// against @huggingface/tokenizers' own merge loop: the same ids on real text, on random
// text with random merge tables, and for every option of the BPE model that changes merging.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BpeMerger } from '../../lib/tokenizer/bpe-merge';
import { HFTokenizerAdapter } from '../../lib/tokenizer/hf';
import { describeShared, sharedPath } from '../support/shared-data';
import { rng } from '../support/random';

const DEMO = path.join(__dirname, '..', '..', 'assets', 'demo-model');
const demoJson = JSON.parse(fs.readFileSync(path.join(DEMO, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
const demoConfig = JSON.parse(fs.readFileSync(path.join(DEMO, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;

/** The fast and the library's tokenizer for one tokenizer.json. */
function pair(json: Record<string, unknown>, config: Record<string, unknown> = {}) {
  const fast = new HFTokenizerAdapter(json, config, 'tokenizer.json');
  const library = new HFTokenizerAdapter(json, config, 'tokenizer.json', { fastBpe: false });
  return { fast, library };
}

function expectSameIds(json: Record<string, unknown>, texts: string[], config: Record<string, unknown> = {}): void {
  const { fast, library } = pair(json, config);
  expect(fast.fastBpe).toBe(true);
  expect(library.fastBpe).toBe(false);
  for (const text of texts) {
    const want = library.encode(text);
    const got = fast.encode(text);
    if (got.length !== want.length || got.some((id, i) => id !== want[i])) {
      // The text in the message, so that a failure can be reproduced.
      expect({ text, got }).toEqual({ text, got: want });
    }
  }
}

const UNICODE = ['é', 'ü', '中', '文', '😀', '🦙', '\n', '\t', '\r', '\ud800', '\udc00', '<s>', '▁', '  '];

/** Random text over `alphabet` with spaces, newlines and characters no merge names. */
function randomText(r: () => number, alphabet: string[], length: number): string {
  let s = '';
  while (s.length < length) {
    const x = r();
    if (x < 0.7) s += alphabet[Math.floor(r() * alphabet.length)];
    else if (x < 0.9) s += ' ';
    else s += UNICODE[Math.floor(r() * UNICODE.length)];
  }
  return s;
}

/**
 * A BPE tokenizer.json whose merges join random earlier symbols (many overlapping pairs,
 * so rank order and the leftmost-first rule decide). `rightMayStartWithSpace`: false keeps
 * "▁" out of every merge's right side, so "▁" starts words only (the merger then cuts long
 * words before it); true lets merges hold "▁" inside (no cuts).
 */
function randomBpe(
  seed: number,
  o: {
    merges?: number;
    rightMayStartWithSpace?: boolean;
    model?: Record<string, unknown>;
    normalizer?: unknown;
    pre_tokenizer?: unknown;
    mergesAsStrings?: boolean;
    duplicates?: boolean;
  } = {},
): { json: Record<string, unknown>; alphabet: string[] } {
  const r = rng(seed);
  const alphabet = ['a', 'b', 'c', 'd', 'e', 'n', 't', '▁'];
  const symbols = alphabet.slice();
  const merges: [string, string][] = [];
  for (let i = 0; i < (o.merges ?? 120); i++) {
    const a = symbols[Math.floor(r() * symbols.length)];
    const b = symbols[Math.floor(r() * symbols.length)];
    if (!o.rightMayStartWithSpace && b.startsWith('▁')) continue;
    if ((a + b).length > 8) continue;
    if (!o.duplicates && merges.some(([x, y]) => x === a && y === b)) continue;
    merges.push([a, b]);
    if (!symbols.includes(a + b)) symbols.push(a + b);
  }
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = Object.keys(vocab).length;
  for (const s of symbols) if (!(s in vocab)) vocab[s] = Object.keys(vocab).length;
  const json = {
    version: '1.0',
    added_tokens: [
      { id: 0, content: '<unk>', special: true, normalized: false, lstrip: false, rstrip: false, single_word: false },
      { id: 1, content: '<s>', special: true, normalized: false, lstrip: false, rstrip: false, single_word: false },
      { id: 2, content: '</s>', special: true, normalized: false, lstrip: false, rstrip: false, single_word: false },
    ],
    normalizer: o.normalizer ?? {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: o.pre_tokenizer ?? null,
    post_processor: null,
    decoder: null,
    model: {
      type: 'BPE',
      unk_token: '<unk>',
      fuse_unk: true,
      byte_fallback: true,
      vocab,
      merges: o.mergesAsStrings ? merges.map(([a, b]) => `${a} ${b}`) : merges,
      ...o.model,
    },
  };
  return { json, alphabet };
}

describe('BpeMerger', () => {
  test('lowest rank first; on equal rank the leftmost pair', () => {
    const m = new BpeMerger([
      ['a', 'a'],
      ['b', 'c'],
      ['a', 'b'],
      ['ab', 'c'],
    ]);
    expect(m.pieces('aaa')).toEqual(['aa', 'a']);
    expect(m.pieces('abc')).toEqual(['a', 'bc']); // b+c (rank 1) before a+b (rank 2)
    expect(m.pieces('abab')).toEqual(['ab', 'ab']);
    expect(m.pieces('x')).toEqual(['x']);
    expect(m.pieces('')).toEqual([]);
  });

  test('a later duplicate of a merge gives its rank', () => {
    const m = new BpeMerger([
      ['a', 'b'],
      ['b', 'c'],
      ['a', 'b'],
    ]);
    expect(m.pieces('abc')).toEqual(['a', 'bc']);
  });

  test('suffixes: end_of_word on the last character, continuing_subword on all pieces but the last', () => {
    const m = new BpeMerger(
      [
        ['a', 'b</w>'],
        ['c', 'a'],
      ],
      { endOfWordSuffix: '</w>', continuingSubwordSuffix: '##' },
    );
    expect(m.pieces('cab')).toEqual(['c##', 'ab</w>']);
  });

  test('a long word is cut only before characters that no merge holds inside', () => {
    const word = '▁the'.repeat(80); // 320 characters: long enough to be cut
    const plain = new BpeMerger([
      ['▁', 't'],
      ['h', 'e'],
      ['▁t', 'he'],
    ]);
    expect(plain.pieces(word)).toEqual(Array(80).fill('▁the'));
    // "e▁" holds "▁" inside, and merges first: no cut before "▁" is allowed any more.
    const inner = new BpeMerger([
      ['e', '▁'],
      ['▁', 't'],
      ['h', 'e'],
      ['▁t', 'he'],
    ]);
    const middle: string[] = [];
    for (let k = 0; k < 78; k++) middle.push('e▁', 't', 'h');
    expect(inner.pieces(word)).toEqual(['▁t', 'h', ...middle, 'e▁', 't', 'he']);
  });
});

describe('the fast merge gives the library ids', () => {
  test('the demo tokenizer: installed, and equal on the demo texts and edge cases', () => {
    const evalText = fs.readFileSync(path.join(DEMO, 'eval.txt'), 'utf8');
    const texts = [
      evalText.slice(0, 40_000),
      fs.readFileSync(path.join(DEMO, 'calib.txt'), 'utf8'),
      fs.readFileSync(path.join(DEMO, 'queries.txt'), 'utf8'),
      '',
      ' ',
      '  two  spaces  ',
      'emoji 😀🦙 and 中文 and a lone \ud800 surrogate',
      '<s>Once upon a time</s> <s>',
      'x'.repeat(600),
      ' '.repeat(600),
    ];
    expectSameIds(demoJson, texts, demoConfig);
  });

  test('random merge tables and texts, "▁" at word starts only (long words are cut)', () => {
    for (let seed = 1; seed <= 12; seed++) {
      const { json, alphabet } = randomBpe(seed);
      const r = rng(1000 + seed);
      expectSameIds(json, [randomText(r, alphabet, 40), randomText(r, alphabet, 700), randomText(r, alphabet, 3000)]);
    }
  });

  test('random merge tables with "▁" inside merges (no cuts)', () => {
    for (let seed = 20; seed <= 28; seed++) {
      const { json, alphabet } = randomBpe(seed, { rightMayStartWithSpace: true });
      const r = rng(2000 + seed);
      expectSameIds(json, [randomText(r, alphabet, 50), randomText(r, alphabet, 2000)]);
    }
  });

  test('duplicate merges, and merges in the older "a b" string form', () => {
    for (const [seed, o] of [
      [40, { duplicates: true }],
      [41, { mergesAsStrings: true }],
    ] as const) {
      const { json, alphabet } = randomBpe(seed, { merges: 200, ...o });
      const r = rng(3000 + seed);
      expectSameIds(json, [randomText(r, alphabet, 100), randomText(r, alphabet, 1500)]);
    }
  });

  test('split words (Metaspace, Whitespace pre-tokenizers) and the model options that change merging', () => {
    const cases: Parameters<typeof randomBpe>[1][] = [
      { pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true }, normalizer: null },
      { pre_tokenizer: { type: 'WhitespaceSplit' }, normalizer: null, model: { end_of_word_suffix: '▁' } },
      { pre_tokenizer: { type: 'WhitespaceSplit' }, normalizer: null, model: { continuing_subword_suffix: 'a' } },
      { model: { ignore_merges: true } },
      { model: { byte_fallback: false, fuse_unk: false } },
    ];
    cases.forEach((o, k) => {
      const { json, alphabet } = randomBpe(50 + k, { rightMayStartWithSpace: true, ...o });
      const r = rng(4000 + k);
      expectSameIds(json, [randomText(r, alphabet, 80), randomText(r, alphabet, 1200)]);
    });
  });

  test('a model that is not BPE keeps the library untouched', () => {
    const json = {
      version: '1.0',
      added_tokens: [],
      normalizer: null,
      pre_tokenizer: { type: 'WhitespaceSplit' },
      post_processor: null,
      decoder: null,
      model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: { '[UNK]': 0, a: 1, '##b': 2 } },
    };
    const t = new HFTokenizerAdapter(json, {}, 'tokenizer.json');
    expect(t.fastBpe).toBe(false);
    expect(t.encode('ab a')).toEqual([1, 2, 1]);
  });
});

describeShared('the fast merge on the shared corpora (demo tokenizer)', () => {
  test.each([
    ['tinyshakespeare/input.txt', 0],
    ['wikitext-2/test.txt', 0],
    ['tinystories/tinystories_val.txt', 100_000],
  ])('%s', (file, from) => {
    const text = fs.readFileSync(sharedPath('text', file), 'utf8').slice(from, from + 30_000);
    expectSameIds(demoJson, [text], demoConfig);
  });

  test('C4 documents (mixed scripts, emoji, byte fallback)', () => {
    const lines = fs.readFileSync(sharedPath('text', 'c4', 'c4-en-train.00000-of-01024.head1000.jsonl'), 'utf8').split('\n');
    const docs = lines
      .filter((l) => l.trim())
      .slice(0, 60)
      .map((l) => (JSON.parse(l) as { text: string }).text);
    expectSameIds(demoJson, docs, demoConfig);
  });
});
