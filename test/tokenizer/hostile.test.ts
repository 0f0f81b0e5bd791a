// Hostile HF tokenizer files: ids far outside the vocabulary, invalid JSON, a
// post-processor the library chokes on. Each is a FormatError naming the file, from the
// library and through `shears tokenize`, promptly.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { FormatError } from '../../lib/errors';
import { checkTokenizerIds } from '../../lib/tokenizer/hf-ids';
import { HFTokenizerAdapter } from '../../lib/tokenizer/hf';
import { tokenizerArtifacts } from '../../lib/tokenizer/artifacts';
import { loadTokenizer } from '../../lib/tokenizer/load';
import { llamaConfig, llamaTensors, TinyLlamaSpec, writeHFDir } from '../formats/fixtures';
import { runCli } from '../support/cli';

const SPEC: TinyLlamaSpec = { hidden: 16, heads: 4, kvHeads: 2, inter: 24, layers: 1, vocab: 32 };
type Json = Record<string, unknown>;

/** A word-level-ish BPE over <unk> <s> </s> and the letters a..z: 29 entries, ids 0..28. */
function tokenizerJson(): Json {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let i = 0; i < 26; i++) vocab[String.fromCharCode(97 + i)] = 3 + i;
  return {
    version: '1.0',
    added_tokens: [
      { id: 1, content: '<s>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
      { id: 2, content: '</s>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
    ],
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: null,
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', fuse_unk: true, byte_fallback: false, vocab, merges: [] },
  };
}
const CONFIG = { bos_token: '<s>', eos_token: '</s>', add_bos_token: true };

let dir: string;
let n = 0;
/** A tiny HF model folder with the given tokenizer files (strings written as they are). */
function model(json: Json | string, config: Json | string = CONFIG): { dir: string; json: string; config: string } {
  const d = path.join(dir, `m${n++}`);
  writeHFDir(d, llamaConfig(SPEC), llamaTensors(SPEC, 'F32'));
  const j = path.join(d, 'tokenizer.json');
  const c = path.join(d, 'tokenizer_config.json');
  fs.writeFileSync(j, typeof json === 'string' ? json : JSON.stringify(json));
  fs.writeFileSync(c, typeof config === 'string' ? config : JSON.stringify(config));
  return { dir: d, json: j, config: c };
}

const hfSource = (m: { json: string; config: string }) => ({ kind: 'hf' as const, tokenizerJsonPath: m.json, tokenizerConfigPath: m.config });

/** `shears tokenize` on the model: a non-zero code within 5 s, stderr matching `msg`. */
async function expectCliError(d: string, msg: RegExp): Promise<void> {
  const t0 = Date.now();
  const r = await runCli(['tokenize', '--model', d, '--text', 'abc']);
  expect(Date.now() - t0).toBeLessThan(5000);
  expect(r.code).not.toBe(0);
  expect(r.out).toBe('');
  expect(r.err).toMatch(msg);
}

// The first CLI run loads the whole CLI (and the native addon): slow on a busy machine.
// Each failing run is still held to 5 s in expectCliError.
jest.setTimeout(60_000);

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-hostile-tok-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('the clean fixture loads and tokenizes (the cases below differ from it in one field)', async () => {
  const m = model(tokenizerJson());
  const tok = await loadTokenizer(hfSource(m), { vocabSize: SPEC.vocab });
  expect(tok.encode('abc', { bos: true })).toEqual([1, 3, 4, 5]);
  expect(tok.vocabSize).toBe(29);
  const r = await runCli(['tokenize', '--model', m.dir, '--text', 'abc', '--json']);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  expect(JSON.parse(r.out)).toEqual(expect.arrayContaining([3, 4, 5]));
});

describe('ids outside the vocabulary', () => {
  const withAdded = (id: unknown): Json => {
    const j = tokenizerJson();
    (j.added_tokens as Json[]).push({ id, content: '<huge>', special: true });
    return j;
  };

  test('an added token with id 2^31: FormatError naming the file, at once (not minutes in get_vocab)', async () => {
    const m = model(withAdded(2 ** 31));
    const t0 = Date.now();
    const err = await loadTokenizer(hfSource(m), { vocabSize: SPEC.vocab }).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(err).toBeInstanceOf(FormatError);
    expect((err as FormatError).file).toBe(m.json);
    expect((err as Error).message).toBe(
      `${m.json}: added token "<huge>" has id 2147483648: ids must be integers in [0, 32), the model's vocabulary of 32 tokens`,
    );
    await expectCliError(m.dir, /tokenizer\.json: added token "<huge>" has id 2147483648/);
  });

  test("an id the model's embedding lacks (32 of 32) is refused too: encode could return it", async () => {
    const m = model(withAdded(32));
    await expect(loadTokenizer(hfSource(m), { vocabSize: 32 })).rejects.toThrow(/has id 32: ids must be integers in \[0, 32\)/);
    await expectCliError(m.dir, /has id 32/);
  });

  test('without the model: bounded by the entries the file holds', () => {
    expect(checkTokenizerIds('t.json', tokenizerJson())).toBe(31); // 29 vocabulary entries + 2 added
    // One more added token: 32 entries, so 32 is the first id out.
    expect(() => checkTokenizerIds('t.json', withAdded(32))).toThrow(/has id 32: ids must be integers in \[0, 32\), the 32 entries the file holds/);
  });

  test.each([
    ['negative', -1],
    ['fractional', 1.5],
    ['a string', '7'],
    ['missing', undefined],
  ])('an added token id that is %s', (_label, id) => {
    expect(() => checkTokenizerIds('t.json', withAdded(id), 32)).toThrow(FormatError);
  });

  test('vocabulary ids and a Unigram unk_id are checked as well', () => {
    const j = tokenizerJson();
    (j.model as { vocab: Record<string, number> }).vocab.z = 2 ** 40;
    expect(() => checkTokenizerIds('t.json', j, 32)).toThrow(/vocabulary entry "z" has id 1099511627776/);
    const unigram = { model: { type: 'Unigram', unk_id: 5, vocab: [['<unk>', 0], ['a', -1]] } };
    expect(() => checkTokenizerIds('u.json', unigram)).toThrow(/u\.json: model\.unk_id 5 is not an index of the 2-entry vocabulary/);
    expect(() => checkTokenizerIds('v.json', { model: { type: 'BPE', vocab: 'nope' } })).toThrow(/v\.json: "model\.vocab" must be an object/);
    expect(() => checkTokenizerIds('w.json', { model: null })).toThrow(/w\.json: "model" must be an object/);
    // Fuzz finding: an id that is a list nested 20000 deep (rendering it overflowed the stack).
    let deep: unknown = 1;
    for (let i = 0; i < 20000; i++) deep = [deep];
    (j.model as { vocab: Record<string, unknown> }).vocab.z = deep;
    expect(() => checkTokenizerIds('t.json', j, 32)).toThrow(/vocabulary entry "z" has id a list: ids must be integers/);
  });
});

describe('invalid JSON', () => {
  test('tokenizer_config.json: FormatError naming it, from the library and the CLI', async () => {
    const m = model(tokenizerJson(), '{ "bos_token": ');
    const err = await loadTokenizer(hfSource(m)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect((err as FormatError).file).toBe(m.config);
    expect((err as Error).message).toMatch(/tokenizer_config\.json: tokenizer_config\.json is not valid JSON/);
    await expectCliError(m.dir, /tokenizer_config\.json: tokenizer_config\.json is not valid JSON/);
  });

  test('tokenizer.json, and a JSON value that is not an object', async () => {
    const m = model('[1, 2');
    await expectCliError(m.dir, /tokenizer\.json: tokenizer\.json is not valid JSON/);
    const arr = model(tokenizerJson(), '[]');
    await expect(loadTokenizer(hfSource(arr))).rejects.toThrow(`${arr.config}: tokenizer_config.json must hold a JSON object`);
  });

  test('nesting deeper than the model files accept is refused before JSON.parse (same bound as config.json)', async () => {
    const deep = `{"x": ${'['.repeat(20000)}${']'.repeat(20000)}}`;
    const m = model(tokenizerJson(), deep);
    const err = await loadTokenizer(hfSource(m)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect((err as Error).message).toBe(`${m.config}: tokenizer_config.json nests JSON 20001 levels deep, more than the 128 accepted: corrupt or hostile`);
  });
});

describe('tokenizer files copied or converted by writers (convert, prune --out)', () => {
  test('ids are checked before conversion too, and a special_tokens_map.json must be JSON', async () => {
    const j = tokenizerJson();
    (j.added_tokens as Json[]).push({ id: 2 ** 31, content: '<huge>', special: true });
    const huge = model(j);
    await expect(tokenizerArtifacts(hfSource(huge), { vocabSize: 32 })).rejects.toThrow(/tokenizer\.json: added token "<huge>" has id 2147483648/);
    const m = model(tokenizerJson());
    const map = path.join(m.dir, 'special_tokens_map.json');
    fs.writeFileSync(map, '{"bos_token": "<s>"');
    const err = await tokenizerArtifacts(hfSource(m), { vocabSize: 32 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect((err as FormatError).file).toBe(map);
    fs.writeFileSync(map, '{"bos_token": "<s>"}');
    expect((await tokenizerArtifacts(hfSource(m), { vocabSize: 32 })).hfFiles['special_tokens_map.json']).toBe('{"bos_token": "<s>"}');
  });
});

describe('errors from inside the tokenizer library', () => {
  test('a post_processor with single: null ("type is not iterable"): FormatError naming tokenizer.json', async () => {
    const j = tokenizerJson();
    j.post_processor = { type: 'TemplateProcessing', single: null, pair: null, special_tokens: {} };
    const m = model(j);
    const err = await loadTokenizer(hfSource(m)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect((err as Error).message).toMatch(new RegExp(`^${m.json.replace(/[.\\]/g, '\\$&')}: @huggingface/tokenizers cannot encode with this tokenizer \\(.*not iterable`));
    await expectCliError(m.dir, /tokenizer\.json: @huggingface\/tokenizers cannot encode with this tokenizer/);
  });

  test('a tokenizer_config.json the library cannot take: named next to tokenizer.json', async () => {
    const m = model(tokenizerJson(), { ...CONFIG, additional_special_tokens: 7 });
    const err = await loadTokenizer(hfSource(m)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect((err as Error).message).toContain(`${m.json}: @huggingface/tokenizers cannot load this tokenizer together with ${m.config} (`);
  });

  test('encode and decode failures after loading are wrapped the same way', () => {
    const tok = new HFTokenizerAdapter(tokenizerJson(), CONFIG, 'inline/tokenizer.json', { vocabSize: 32 });
    expect(tok.encode('ab')).toEqual([3, 4]);
    const boom = () => {
      throw new TypeError('x is not a function');
    };
    Object.assign(tok.hf, { encode: boom, decode: boom });
    expect(() => tok.encode('ab')).toThrow(FormatError);
    expect(() => tok.encode('ab')).toThrow('inline/tokenizer.json: @huggingface/tokenizers cannot encode with this tokenizer (x is not a function)');
    expect(() => tok.decode([3])).toThrow(/^inline\/tokenizer\.json: @huggingface\/tokenizers cannot decode/);
    expect(() => tok.decodeToken(4, 3)).toThrow(FormatError);
  });
});
