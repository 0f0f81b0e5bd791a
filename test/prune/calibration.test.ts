// Random calibration sampling as the reference code does it: draw a document, keep it
// only when it has more than L tokens, so only the documents drawn are tokenized.
import { sampleCalibration } from '../../lib/calibration';
import { countingTokenizer } from '../support/counting-tokenizer';

const o = { samples: 8, seqLen: 16, sampling: 'random' as const, seed: 5 };

test('a large corpus: only the drawn documents are tokenized', () => {
  const docs = Array.from({ length: 5000 }, (_, i) => `document ${i} `.repeat(4));
  const tok = countingTokenizer();
  const s = sampleCalibration(docs, tok, o);
  expect(s.samples).toBe(8);
  expect(s.packed).toBe(false);
  expect(new Set(tok.calls).size).toBe(tok.calls.length); // each at most once
  expect(tok.calls.length).toBeLessThanOrEqual(8);
  for (let k = 0; k < 8; k++) {
    const w = Array.from(s.tokens.subarray(k * 16, (k + 1) * 16)).join(',');
    expect(tok.calls.some((d) => [1, ...Array.from(d, (c) => c.charCodeAt(0) + 10)].join(',').includes(w))).toBe(true);
  }
});

test('short documents are skipped; windows come from the long ones only', () => {
  const long = 'the quick brown fox jumps over the lazy dog';
  const docs = [...Array.from({ length: 50 }, (_, i) => `q${i}`), long];
  const s = sampleCalibration(docs, countingTokenizer(), { ...o, samples: 20 });
  const enc = [1, ...Array.from(long, (c) => c.charCodeAt(0) + 10)].join(',');
  for (let k = 0; k < 20; k++) expect(enc.includes(Array.from(s.tokens.subarray(k * 16, (k + 1) * 16)).join(','))).toBe(true);
  expect(s.notes.join(' ')).toMatch(/windows drawn from 1 documents longer than 16 tokens; \d+ drawn documents were too short/);
});

test('all documents short: packed into one stream, each tokenized once', () => {
  const docs = Array.from({ length: 200 }, (_, i) => `query ${i}`);
  const tok = countingTokenizer();
  const s = sampleCalibration(docs, tok, o);
  expect(s.packed).toBe(true);
  expect(tok.calls.length).toBe(200);
  expect(new Set(tok.calls).size).toBe(200);
});

test('the same seed gives the same windows', () => {
  const docs = Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? `long document number ${i} `.repeat(2) : `s${i}`));
  const a = sampleCalibration(docs, countingTokenizer(), o);
  const b = sampleCalibration(docs, countingTokenizer(), o);
  const c = sampleCalibration(docs, countingTokenizer(), { ...o, seed: 6 });
  expect(Array.from(a.tokens)).toEqual(Array.from(b.tokens));
  expect(Array.from(c.tokens)).not.toEqual(Array.from(a.tokens));
});
