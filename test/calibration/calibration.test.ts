import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { readCalibrationDocuments, readTokenIds, sampleCalibration } from '../../lib/calibration';

// A character-level tokenizer for tests: BOS = 1, every UTF-16 unit is its code + 10.
const charTok = {
  encode(text: string, opts: { bos?: boolean } = {}) {
    const ids = Array.from(text, (c) => c.charCodeAt(0) + 10);
    return opts.bos ? [1, ...ids] : ids;
  },
};

let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-calib-'))));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const write = (name: string, content: string) => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, content);
  return f;
};

describe('reading calibration files', () => {
  test('text: one document per non-empty line', () => {
    const d = readCalibrationDocuments(write('q.txt', 'how do I reset my password?\n\n  \nwhat is the refund policy\r\n'));
    expect(d.format).toBe('text');
    expect(d.documents).toEqual(['how do I reset my password?', 'what is the refund policy']);
  });
  test('jsonl: text rows, chat rows (plain or templated), unusable rows skipped', () => {
    const f = write(
      'c.jsonl',
      [
        JSON.stringify({ text: 'a document' }),
        JSON.stringify({ messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }] }),
        JSON.stringify({ url: 'no text here' }),
        '',
      ].join('\n'),
    );
    const plain = readCalibrationDocuments(f);
    expect(plain.documents).toEqual(['a document', 'user: hi\nassistant: hello']);
    expect(plain.chat).toBe('plain');
    expect(plain.skipped).toBe(1);
    const templ = readCalibrationDocuments(f, { renderChat: (m) => m.map((x) => `<${x.role}>${x.content}`).join('') });
    expect(templ.documents[1]).toBe('<user>hi<assistant>hello');
    expect(templ.chat).toBe('template');
  });
  test('no usable text, bad JSON and missing files are clear errors naming the file', () => {
    const empty = write('empty.txt', '\n \n');
    expect(() => readCalibrationDocuments(empty)).toThrow(new RegExp(`${empty}: no usable text`));
    const none = write('none.jsonl', '{"url": "x"}\n');
    expect(() => readCalibrationDocuments(none)).toThrow(/no row has a non-empty "text" field/);
    const bad = write('bad.jsonl', '{"text": "ok"}\n{"text": \n');
    expect(() => readCalibrationDocuments(bad)).toThrow(/bad\.jsonl: line 2 is not valid JSON/);
    expect(() => readCalibrationDocuments(path.join(dir, 'missing.txt'))).toThrow(/missing\.txt: cannot read calibration file \(ENOENT\)/);
  });
  test('token ids', () => {
    expect(Array.from(readTokenIds(write('t.json', '[1, 5, 7]')))).toEqual([1, 5, 7]);
    expect(() => readTokenIds(write('t2.json', '[1, 2.5]'))).toThrow(/element 1 is 2.5/);
    expect(() => readTokenIds(write('t3.json', '[1, 600]'), 512)).toThrow(/element 1 is 600: token ids must be integers in \[0, 512\)/);
    expect(() => readTokenIds(write('t4.json', '{"a":1}'))).toThrow(/expected a JSON array/);
  });
});

describe('sampling', () => {
  const docs = ['x'.repeat(5), 'abcdefghijklmnopqrstuvwxyz'.repeat(4), '0123456789'.repeat(3)];
  test('random windows lie inside one long document and repeat with the seed', () => {
    const o = { samples: 20, seqLen: 16, sampling: 'random' as const, seed: 3 };
    const a = sampleCalibration(docs, charTok, o);
    const b = sampleCalibration(docs, charTok, o);
    expect(Array.from(a.tokens)).toEqual(Array.from(b.tokens));
    expect(a.tokens.length).toBe(20 * 16);
    expect(a.packed).toBe(false);
    const encoded = docs.map((d) => charTok.encode(d, { bos: true }).join(','));
    for (let s = 0; s < 20; s++) {
      const w = Array.from(a.tokens.subarray(s * 16, (s + 1) * 16)).join(',');
      // only documents longer than L tokens qualify: the 6-token one never does
      expect(encoded[1].includes(w) || encoded[2].includes(w)).toBe(true);
    }
    const c = sampleCalibration(docs, charTok, { ...o, seed: 4 });
    expect(Array.from(c.tokens)).not.toEqual(Array.from(a.tokens));
  });
  test('short queries are packed into one stream, and the result says so', () => {
    const short = ['hi there', 'reset password', 'refund?', 'open hours', 'contact'];
    const s = sampleCalibration(short, charTok, { samples: 3, seqLen: 16, sampling: 'random', seed: 0 });
    expect(s.packed).toBe(true);
    expect(s.notes.join(' ')).toMatch(/packed into one stream/);
    const stream = short.flatMap((d) => charTok.encode(d, { bos: true })).join(',');
    for (let i = 0; i < 3; i++) expect(stream.includes(Array.from(s.tokens.subarray(i * 16, i * 16 + 16)).join(','))).toBe(true);
  });
  test('contiguous takes the first windows of the joined text, BOS once', () => {
    const s = sampleCalibration(docs, charTok, { samples: 2, seqLen: 10, sampling: 'contiguous', seed: 0 });
    const stream = charTok.encode(docs.join('\n\n'), { bos: true });
    expect(Array.from(s.tokens)).toEqual(stream.slice(0, 20));
    const many = sampleCalibration(docs, charTok, { samples: 100, seqLen: 10, sampling: 'contiguous', seed: 0 });
    expect(many.samples).toBe(Math.floor(stream.length / 10));
    expect(many.notes[0]).toMatch(/only \d+ contiguous windows/);
  });
  test('fewer calibration tokens than L is an error', () => {
    expect(() => sampleCalibration(['tiny'], charTok, { samples: 1, seqLen: 64, sampling: 'random', seed: 0 })).toThrow(
      /5 tokens, fewer than one sequence of 64/,
    );
    expect(() => sampleCalibration(['tiny'], charTok, { samples: 1, seqLen: 64, sampling: 'contiguous', seed: 0 })).toThrow(/fewer than one sequence/);
  });
});
