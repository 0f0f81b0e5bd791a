// Calibration in time slices (what prune() and sweep run, so the event loop keeps
// turning) must draw exactly the windows that drawing at once draws, for the same seed,
// and must really hand the event loop back between tokenizer calls.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import {
  CalibrationOptions,
  CalibrationSet,
  readCalibrationDocuments,
  readCalibrationDocumentsSliced,
  sampleCalibration,
  sampleCalibrationSliced,
} from '../../lib/calibration';
import { loadModel } from '../../lib/formats/load';
import { drawCalibration } from '../../lib/prune/calibrate';
import { llama2cVocab, parseLlama2cTokenizer } from '../../lib/tokenizer/llama2c-file';
import { SpmTokenizer } from '../../lib/tokenizer/spm-tokenizer';
import { countingTokenizer } from '../support/counting-tokenizer';
import { randomLlama2cVocab, randomText, rng, tokBin } from '../support/tokenizer-fixtures';

const DEMO = path.resolve(__dirname, '..', '..', 'assets', 'demo-model');

const ids = (s: CalibrationSet) => Array.from(s.tokens);

/** Event-loop turns (setImmediate callbacks) taken while `work` runs. */
async function turnsDuring<T>(work: () => Promise<T>): Promise<{ value: T; turns: number }> {
  let turns = 0;
  let running = true;
  const spin = () => {
    if (!running) return;
    turns++;
    setImmediate(spin);
  };
  setImmediate(spin);
  try {
    return { value: await work(), turns };
  } finally {
    running = false;
  }
}

describe('sliced sampling draws what sampling at once draws', () => {
  // Long, short and mixed documents: random windows, random with skipped short
  // documents, all short (packed), and contiguous.
  const mixed = Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? `long document number ${i} `.repeat(3) : `s${i}`));
  const short = Array.from({ length: 120 }, (_, i) => `query ${i}`);
  const cases: [string, string[], CalibrationOptions][] = [
    ['random, mixed lengths', mixed, { samples: 24, seqLen: 32, sampling: 'random', seed: 11 }],
    ['random, all short (packed)', short, { samples: 10, seqLen: 24, sampling: 'random', seed: 2 }],
    ['contiguous', mixed, { samples: 50, seqLen: 40, sampling: 'contiguous', seed: 0 }],
  ];
  test.each(cases)('%s', async (_name, docs, o) => {
    const atOnce = countingTokenizer();
    const expected = sampleCalibration(docs, atOnce, o, 'docs');
    const sliced = countingTokenizer();
    // sliceMs 0: a turn of the event loop after every step.
    const { value, turns } = await turnsDuring(() => sampleCalibrationSliced(docs, sliced, o, 'docs', { sliceMs: 0 }));
    expect(ids(value)).toEqual(ids(expected));
    expect({ ...value, tokens: undefined }).toEqual({ ...expected, tokens: undefined });
    expect(sliced.calls).toEqual(atOnce.calls);
    // at least one turn per tokenizer call
    expect(turns).toBeGreaterThanOrEqual(sliced.calls.length);
  });

  test('errors are the same', async () => {
    const o: CalibrationOptions = { samples: 1, seqLen: 64, sampling: 'random', seed: 0 };
    expect(() => sampleCalibration(['tiny'], countingTokenizer(), o)).toThrow(/5 tokens, fewer than one sequence of 64/);
    await expect(sampleCalibrationSliced(['tiny'], countingTokenizer(), o)).rejects.toThrow(/5 tokens, fewer than one sequence of 64/);
  });

  test('an abort stops it between slices with the signal reason', async () => {
    const ac = new AbortController();
    const tok = countingTokenizer();
    const docs = Array.from({ length: 100 }, (_, i) => `document ${i} `.repeat(8));
    const run = sampleCalibrationSliced(docs, tok, { samples: 100, seqLen: 8, sampling: 'random', seed: 0 }, 'docs', { sliceMs: 0, signal: ac.signal });
    setImmediate(() => ac.abort(new Error('stop now')));
    await expect(run).rejects.toThrow('stop now');
    expect(tok.calls.length).toBeLessThan(100);
  });
});

describe('a SentencePiece tokenizer is cut inside one long encode', () => {
  const r = rng(8);
  const { pieces, scores } = randomLlama2cVocab(r, [' ', 'a', 'b', 'c', 'd', 'e', '\n', 'é'], 120);
  const tok = new SpmTokenizer(llama2cVocab(parseLlama2cTokenizer(tokBin(pieces, scores), 'v.bin'), 'v.bin'));
  // Long enough for several steps of the encoder (thousands of characters and merges each).
  const docs = Array.from({ length: 6 }, () => randomText(r, pieces.slice(259), ['é', '\n'], 6000));

  test.each([
    ['contiguous', { samples: 30, seqLen: 64, sampling: 'contiguous', seed: 0 }],
    ['random', { samples: 30, seqLen: 64, sampling: 'random', seed: 9 }],
  ] as [string, CalibrationOptions][])('%s: same windows, many turns', async (_name, o) => {
    const expected = sampleCalibration(docs, tok, o);
    const { value, turns } = await turnsDuring(() => sampleCalibrationSliced(docs, tok, o, 'docs', { sliceMs: 0 }));
    expect(ids(value)).toEqual(ids(expected));
    // contiguous is one tokenizer call over all the text: it still gave the loop many turns
    expect(turns).toBeGreaterThan(10);
  });

  test('encodeSteps run to the end is encode', () => {
    const text = docs.join('\n\n');
    const steps = tok.encodeSteps(text, { bos: true });
    let n = 0;
    let r2 = steps.next();
    for (; !r2.done; r2 = steps.next()) n++;
    expect(r2.value).toEqual(tok.encode(text, { bos: true }));
    expect(n).toBeGreaterThan(10);
  });
});

describe('sliced reading', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-sliced-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };

  test('text and JSONL give the same documents either way', async () => {
    const text = write('q.txt', Array.from({ length: 3000 }, (_, i) => (i % 7 === 0 ? '' : `line ${i}`)).join('\n'));
    const jsonl = write(
      'c.jsonl',
      [
        '{"text": "a document"}',
        '{"messages": [{"role": "user", "content": "hi"}]}',
        '{"other": 1}',
        '',
        '{"text": "another"}',
      ].join('\n'),
    );
    for (const f of [text, jsonl]) expect(await readCalibrationDocumentsSliced(f, { sliceMs: 0 })).toEqual(readCalibrationDocuments(f));
  });

  test('errors name the file either way', async () => {
    const bad = write('bad.jsonl', '{"text": "ok"}\n{not json');
    expect(() => readCalibrationDocuments(bad)).toThrow(/bad\.jsonl: line 2 is not valid JSON/);
    await expect(readCalibrationDocumentsSliced(bad)).rejects.toThrow(/bad\.jsonl: line 2 is not valid JSON/);
    const missing = path.join(dir, 'missing.txt');
    await expect(readCalibrationDocumentsSliced(missing)).rejects.toThrow(/missing\.txt: cannot read calibration file \(ENOENT\)/);
    await expect(readCalibrationDocumentsSliced(write('blank.txt', '\n \n'))).rejects.toMatchObject({ code: 'E_CALIBRATION' });
  });
});

// SHA-256 of the windows (int32 LE) that the calibration of the demo model drew before
// it was sliced (commit e97c27b, sampleCalibration at once): the sliced path of
// drawCalibration must reproduce them, byte for byte.
const RECORDED: [string, Record<string, unknown>, string][] = [
  ['defaults (128 x 256, random, seed 0: packed)', {}, '85f4b1a2f82b7ecd39c333708539a7a8f9ec4ae1e2bc8dbcf52cb81ebe17fe07'],
  ['16 x 64, seed 7 (packed)', { seed: 7, calibSamples: 16, seqLen: 64 }, 'e50968650a7dd8c37186bedba8d8a59dfff4c5a6db5afcb9ac75d3de68008ddc'],
  ['8 x 128 contiguous', { calibSampling: 'contiguous', calibSamples: 8, seqLen: 128 }, 'dc850b8067ac349568cd1b24447bca8780a5c499e54abc144e3682157e971d63'],
  ['32 x 16, seed 3 (random windows)', { seed: 3, calibSamples: 32, seqLen: 16 }, 'c3819e2594611de55ad22ad743c34662e08d1920ff7640ed43fbd4cab5d430f6'],
];

describe('the demo model: the same windows as before slicing', () => {
  test.each(RECORDED)('%s', async (_name, args, sha) => {
    const model = await loadModel(DEMO);
    try {
      const { set } = await drawCalibration(model, { calib: path.join(DEMO, 'calib.txt'), ...args });
      const bytes = Buffer.from(set.tokens.buffer, set.tokens.byteOffset, set.tokens.byteLength);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(sha);
    } finally {
      model.close();
    }
  });
});
