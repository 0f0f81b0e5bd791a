// Generated HF tokenizer.json (from llama2.c / GGUF vocabularies) run through
// @huggingface/tokenizers against our encoder; HF sources; HF -> GGUF conversion.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeShared, sharedPath } from '../support/shared-data';
import { randomLlama2cVocab, randomText, rng, tokBin } from '../support/tokenizer-fixtures';
import { loadTokenizer } from '../../lib/tokenizer/load';
import { tokenizerArtifacts } from '../../lib/tokenizer/artifacts';
import { HFTokenizerAdapter } from '../../lib/tokenizer/hf';
import { SpmTokenizer } from '../../lib/tokenizer/spm-tokenizer';
import { ggufVocab } from '../../lib/tokenizer/gguf-vocab';
import type { GGUFEntry } from '../../lib/model/types';
import type { Tokenizer } from '../../lib/tokenizer/types';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-hf-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Writes artifacts' HF files into a fresh directory and loads them as an HF source. */
async function hfFromArtifacts(files: Record<string, string>, name: string): Promise<Tokenizer> {
  const d = path.join(dir, name);
  fs.mkdirSync(d, { recursive: true });
  for (const [f, content] of Object.entries(files)) fs.writeFileSync(path.join(d, f), content);
  return loadTokenizer({ kind: 'hf', tokenizerJsonPath: path.join(d, 'tokenizer.json'), tokenizerConfigPath: path.join(d, 'tokenizer_config.json') });
}

function ggufSourceOf(entries: GGUFEntry[]) {
  const get = (k: string): unknown => entries.find((e) => e.key === `tokenizer.ggml.${k}`)?.value;
  return {
    kind: 'gguf-llama' as const,
    tokens: get('tokens') as string[],
    scores: get('scores') as number[],
    tokenTypes: get('token_type') as number[],
    bos: get('bos_token_id') as number | undefined,
    eos: get('eos_token_id') as number | undefined,
    unk: get('unknown_token_id') as number | undefined,
  };
}

const EDGE = ['', ' ', '   ', '\n', '\n\n', ' leading', 'trailing ', 'a  b', 'tab\there', 'héllo wörld', '😀', 'emoji 😀🦙 and 中文', '<0x0A>', 'x\r\ny'];

describe('generated tokenizer.json on a random vocabulary', () => {
  test('HF BPE reproduces the SentencePiece merges (no tied scores) and decodes back', async () => {
    const r = rng(99);
    const { pieces, scores } = randomLlama2cVocab(r, [' ', 'a', 'b', 'c', 'd', 'é', 'x'], 80);
    // Distinct scores (ties are the documented difference) and unique pieces (tokenizer.json needs them).
    const seen = new Set<string>();
    const keep = pieces.map((p, i) => i < 259 || (!seen.has(p) && seen.add(p) !== undefined));
    const ps = pieces.filter((_, i) => keep[i]);
    const ss = scores.filter((_, i) => keep[i]).map((s, i) => (i < 259 ? 0 : -i));
    const file = path.join(dir, 'rand.bin');
    fs.writeFileSync(file, tokBin(ps, ss));
    const ours = await loadTokenizer({ kind: 'llama2c', path: file });
    const hf = await hfFromArtifacts((await tokenizerArtifacts({ kind: 'llama2c', path: file })).hfFiles, 'rand');
    for (let k = 0; k < 40; k++) {
      const s = randomText(r, ps.slice(259), ['😀', 'é', '\n', 'Z'], Math.floor(r() * 150));
      expect(hf.encode(s, { bos: true })).toEqual(ours.encode(s, { bos: true }));
      expect(hf.decode(hf.encode(s))).toBe(s);
    }
  });
});

describeShared('generated tokenizer.json for tok512 (stories260K)', () => {
  const tokFile = sharedPath('models', 'stories260K', 'tok512.bin');
  let val: string;
  let ours: Tokenizer;
  let hf: Tokenizer;
  let files: Record<string, string>;

  beforeAll(async () => {
    val = fs.readFileSync(sharedPath('text', 'tinystories', 'tinystories_val.txt'), 'utf8');
    ours = await loadTokenizer({ kind: 'llama2c', path: tokFile }, { vocabSize: 512 });
    files = (await tokenizerArtifacts({ kind: 'llama2c', path: tokFile }, { contextLength: 512 })).hfFiles;
    hf = await hfFromArtifacts(files, 'tok512');
  });

  test('writes tokenizer.json, tokenizer_config.json and special_tokens_map.json', () => {
    expect(Object.keys(files).sort()).toEqual(['special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json']);
    const cfg = JSON.parse(files['tokenizer_config.json']);
    expect(cfg).toMatchObject({ add_bos_token: true, add_eos_token: false, bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', model_max_length: 512 });
    expect(JSON.parse(files['special_tokens_map.json'])).toEqual({ bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>' });
    expect(hf.bosId).toBe(1);
    expect(hf.eosId).toBe(2);
    expect(hf.vocabSize).toBe(512);
  });

  test('encodes the first 200 KB of TinyStories validation identically', () => {
    const text = val.slice(0, 200_000);
    const a = ours.encode(text, { bos: true });
    expect(hf.encode(text, { bos: true })).toEqual(a);
    expect(a.slice(0, 12)).toEqual([1, 301, 427, 309, 426, 301, 427, 309, 394, 265, 262, 415]);
    expect(hf.decode(a)).toBe(text);
  });

  test('edge cases encode identically: empty, spaces, newlines, unicode, emoji (byte fallback)', () => {
    for (const s of EDGE) {
      expect({ s, ids: hf.encode(s) }).toEqual({ s, ids: ours.encode(s) });
      expect(hf.decode(hf.encode(s))).toBe(s);
    }
  });

  test('streaming decodeToken agrees with llama2.c decode on the generated tokenizer', () => {
    const ids = ours.encode('Once upon a time, Lily saw a big dog.\nIt was happy.', { bos: true });
    for (let i = 1; i < ids.length; i++) expect(hf.decodeToken(ids[i], ids[i - 1])).toBe(ours.decodeToken(ids[i], ids[i - 1]));
    expect(hf.addBos).toBe(true);
  });

  test('known differences: special-token text and a literal U+2581', () => {
    // HF splits added special tokens out of the text; llama2.c encodes "<s>" as characters.
    expect(hf.encode('a<s>b')).toContain(1);
    expect(ours.encode('a<s>b')).not.toContain(1);
    // HF turns spaces into U+2581 before the model, so a literal U+2581 reads as a space;
    // llama2.c keeps it a character (three byte tokens here).
    expect(hf.encode('a\u2581b')).toEqual(ours.encode('a b'));
    expect(ours.encode('a\u2581b')).not.toEqual(ours.encode('a b'));
  });

  test('HF -> GGUF conversion of the generated tokenizer.json encodes like the original', async () => {
    const d = path.join(dir, 'tok512');
    const art = await tokenizerArtifacts({ kind: 'hf', tokenizerJsonPath: path.join(d, 'tokenizer.json'), tokenizerConfigPath: path.join(d, 'tokenizer_config.json') });
    expect(art.hfFiles['tokenizer.json']).toBe(files['tokenizer.json']);
    expect(art.hfFiles['special_tokens_map.json']).toBe(files['special_tokens_map.json']);
    const src = ggufSourceOf(art.ggufEntries);
    expect(src.tokens.slice(0, 5)).toEqual(['<unk>', '<s>', '</s>', '<0x00>', '<0x01>']);
    expect(src.tokenTypes.slice(0, 4)).toEqual([2, 3, 3, 6]);
    expect([src.bos, src.eos, src.unk]).toEqual([1, 2, 0]);
    const viaGguf = new SpmTokenizer(ggufVocab(src));
    const text = val.slice(0, 100_000);
    expect(viaGguf.encode(text, { bos: true })).toEqual(ours.encode(text, { bos: true }));
    for (const s of EDGE) expect(viaGguf.encode(s)).toEqual(ours.encode(s));
  });
});

describeShared('generated tokenizer.json for tok105 (BabyLlama)', () => {
  test('equal except where llama2.c maps a missing character to byte + 3: HF gives <unk>', async () => {
    const tokFile = sharedPath('models', 'babyllama-tok105', 'tok105.bin');
    const ours = await loadTokenizer({ kind: 'llama2c', path: tokFile }, { vocabSize: 105 });
    const hf = await hfFromArtifacts((await tokenizerArtifacts({ kind: 'llama2c', path: tokFile })).hfFiles, 'tok105');
    // Single newlines only: HF's fuse_unk would also merge a run of newlines into one <unk>.
    const val = fs.readFileSync(sharedPath('text', 'tinystories', 'tinystories_val.txt'), 'utf8').slice(0, 20_000).replace(/\n+/g, '\n');
    const line = val.split('\n')[0];
    expect(hf.encode(line, { bos: true })).toEqual(ours.encode(line, { bos: true }));
    expect(ours.encode('a\nb')[2]).toBe(13);
    expect(hf.encode('a\nb')[2]).toBe(0);
    expect(hf.encode('a\n\nb')).toEqual(hf.encode('a\nb'));
    const a = ours.encode(val);
    const b = hf.encode(val);
    expect(b.length).toBe(a.length);
    a.forEach((id, i) => {
      if (id !== b[i]) expect([id, b[i]]).toEqual([13, 0]); // only newlines differ
    });
  });
});

describe('HF sources', () => {
  const byteLevel = {
    version: '1.0',
    added_tokens: [{ id: 3, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab: { a: 0, b: 1, ab: 2 }, merges: [['a', 'b']] },
  };

  test('byte-level BPE: tokenizer files pass through, GGUF conversion is a clear NotImplementedError', async () => {
    const d = path.join(dir, 'bytelevel');
    fs.mkdirSync(d);
    fs.writeFileSync(path.join(d, 'tokenizer.json'), JSON.stringify(byteLevel));
    fs.writeFileSync(path.join(d, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', add_bos_token: false }));
    const src = { kind: 'hf' as const, tokenizerJsonPath: path.join(d, 'tokenizer.json'), tokenizerConfigPath: path.join(d, 'tokenizer_config.json') };
    const tok = await loadTokenizer(src);
    expect(tok.encode('abab')).toEqual([2, 2]);
    expect(tok.encode('ab', { bos: true, eos: true })).toEqual([3, 2, 3]);
    expect(tok.decode([2, 3, 0])).toBe('aba');
    expect(tok.addBos).toBe(false);
    const art = await tokenizerArtifacts(src);
    expect(art.hfFiles['tokenizer.json']).toBe(JSON.stringify(byteLevel));
    expect(() => art.ggufEntries).toThrow(/not a Llama\/SentencePiece-style BPE.*not implemented/);
  });

  test('bad files and the none source give clear errors', async () => {
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, '{ nope');
    await expect(loadTokenizer({ kind: 'hf', tokenizerJsonPath: bad })).rejects.toThrow(`${bad}: tokenizer.json is not valid JSON`);
    await expect(loadTokenizer({ kind: 'hf', tokenizerJsonPath: path.join(dir, 'absent.json') })).rejects.toThrow(/absent\.json: cannot read/);
    await expect(loadTokenizer({ kind: 'none', reason: 'the GGUF has no tokenizer.ggml.tokens' })).rejects.toThrow(
      'this model has no usable tokenizer: the GGUF has no tokenizer.ggml.tokens',
    );
    await expect(tokenizerArtifacts({ kind: 'none', reason: 'no tokenizer files' })).rejects.toThrow(/no tokenizer files/);
    const cfg = path.join(dir, 'cfg.json');
    fs.writeFileSync(cfg, JSON.stringify({ bos_token: '<nope>' }));
    fs.writeFileSync(path.join(dir, 'bl.json'), JSON.stringify(byteLevel));
    await expect(loadTokenizer({ kind: 'hf', tokenizerJsonPath: path.join(dir, 'bl.json'), tokenizerConfigPath: cfg })).rejects.toThrow(/bos_token "<nope>" is not in the vocabulary/);
    const hf = new HFTokenizerAdapter(byteLevel, {}, 'inline');
    expect(() => hf.encode('a', { bos: true })).toThrow(/names no bos_token/);
    expect(() => hf.decode([7])).toThrow(/token id 7 is outside the 4-token vocabulary/);
  });
});
