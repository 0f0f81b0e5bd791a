// Hostile model files (issue 8, items 1 and 3): counts far beyond what the file holds,
// huge lengths, duplicate keys, wrong JSON types, big valid metadata. Each gives a typed
// FormatError naming the file and the field within a few seconds, or loads in memory far
// below the file's size.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { loadModel } from '../../lib/formats/load';
import { writeGGUF } from '../../lib/formats/write-gguf';
import { GGUFEntry } from '../../lib/model/types';
import { hfToGGUFEntries } from '../../lib/tokenizer/gguf-entries';
import { runCli } from '../support/cli';
import { expectFormatError } from './expect-format-error';
import {
  buildGGUF,
  GgufKV,
  llamaConfig,
  llamaKVs,
  llamaTensors,
  randomData,
  TINY,
  tinyGGUFTensors,
  writeGGUFWithBigArray,
  writeHFDir,
  writeSafetensors,
} from './fixtures';
import { tempDir } from './helpers';

const SECONDS = 5;

/** expectFormatError, and it answered within SECONDS. */
async function rejectsQuickly(p: string, file: string, fragment: string | RegExp): Promise<Error> {
  const t0 = Date.now();
  const err = await expectFormatError(p, file, fragment);
  expect((Date.now() - t0) / 1000).toBeLessThan(SECONDS);
  return err;
}

function writeFile(name: string, data: Buffer): string {
  const p = path.join(tempDir('shears-hostile-'), name);
  fs.writeFileSync(p, data);
  return p;
}

/** A tiny llama GGUF with `kvs` replacing (by key) or extending the usual metadata. */
function gguf(kvs: GgufKV[] = [], tensors = tinyGGUFTensors(TINY)): Buffer {
  const base = llamaKVs(TINY).filter((kv) => !kvs.some((k) => k.key === kv.key));
  return buildGGUF([...base, ...kvs], tensors);
}

const U32 = 4;
const F32 = 6;
const STR = 8;
const ARR = 9;
const U64 = 10;

describe('GGUF counts beyond what the file holds', () => {
  test.each([
    ['block_count 2^30', { key: 'llama.block_count', type: U32, value: 2 ** 30 }, /llama\.block_count\) = 1073741824, but the model holds 20 tensors/],
    ['block_count 2^32 - 1', { key: 'llama.block_count', type: U32, value: 2 ** 32 - 1 }, /layers \(llama\.block_count\) must be a positive integer at most 2\^30, got 4294967295/],
    ['block_count 2^62 (uint64)', { key: 'llama.block_count', type: U64, value: 2n ** 62n }, /llama\.block_count\) must be a positive integer/],
    ['block_count 2.5 (float32)', { key: 'llama.block_count', type: F32, value: 2.5 }, /llama\.block_count\) must be a positive integer at most 2\^30, got 2\.5/],
    ['block_count as a string', { key: 'llama.block_count', type: STR, value: '2' }, /metadata llama\.block_count = 2 is not a finite number/],
    ['block_count as an array', { key: 'llama.block_count', type: ARR, itemType: U32, value: [2] }, /metadata llama\.block_count = \(an array\) is not a finite number/],
    ['head_count 2^30', { key: 'llama.attention.head_count', type: U32, value: 2 ** 30 }, /head dim \(llama\.attention\.key_length\) must be a positive integer/],
    ['head_count_kv 0', { key: 'llama.attention.head_count_kv', type: U32, value: 0 }, /kv heads \(llama\.attention\.head_count_kv\) must be a positive integer/],
    ['embedding_length 2^30', { key: 'llama.embedding_length', type: U32, value: 2 ** 30 }, /tensor embed\.weight has shape \[32, 16\], expected \[32, 1073741824\]/],
    ['feed_forward_length 2^30', { key: 'llama.feed_forward_length', type: U32, value: 2 ** 30 }, /expected \[1073741824, 16\]/],
    ['context_length 2^40 (uint64)', { key: 'llama.context_length', type: U64, value: 2n ** 40n }, /context length \(llama\.context_length\) must be a positive integer at most 2\^30/],
  ] as [string, GgufKV, RegExp][])('%s', async (_name, kv, fragment) => {
    const p = writeFile('m.gguf', gguf([kv]));
    await rejectsQuickly(p, p, fragment);
  });

  test('the header counts, key and name lengths, array lengths', async () => {
    const g = gguf();
    const patched = (offset: number, v: bigint) => {
      const b = Buffer.from(g);
      b.writeBigUInt64LE(v, offset);
      return writeFile('m.gguf', b);
    };
    let p = patched(8, 2n ** 40n); // tensor count
    await rejectsQuickly(p, p, /tensor count = 1099511627776 is implausibly large/);
    p = patched(16, 2n ** 64n - 1n); // metadata count
    await rejectsQuickly(p, p, /metadata count = 18446744073709551615 is implausibly large/);
    p = patched(24, 70000n); // first key length: over the spec's 65535 even where the file is long enough
    await rejectsQuickly(p, p, /metadata key 0 length = 70000 is implausibly large/);
    const longName = tinyGGUFTensors(TINY);
    longName[0] = { ...longName[0], name: `${'x'.repeat(64)}.weight` };
    p = writeFile('m.gguf', buildGGUF(llamaKVs(TINY), longName));
    await rejectsQuickly(p, p, /tensor 0 name length = 71 is implausibly large \(at most 63/);
    const arr = gguf([{ key: 'test.arr', type: ARR, itemType: U32, value: [1, 2, 3] }]);
    const at = arr.indexOf('test.arr') + 'test.arr'.length + 8; // past the key, the type and the item type
    arr.writeBigUInt64LE(2n ** 63n, at);
    p = writeFile('m.gguf', arr);
    await rejectsQuickly(p, p, /metadata test\.arr array length = 9223372036854775808 is implausibly large/);
  });

  test('a string array element whose length runs past the end', async () => {
    const g = gguf([{ key: 'test.strs', type: ARR, itemType: STR, value: ['ab', 'cd'] }]);
    const second = g.indexOf('cd') - 8;
    g.writeBigUInt64LE(2n ** 40n, second);
    const p = writeFile('m.gguf', g);
    await rejectsQuickly(p, p, /metadata test\.strs element 1 length = 1099511627776 is implausibly large/);
  });

  test('duplicate metadata keys (llama.cpp rejects them)', async () => {
    const p = writeFile('m.gguf', buildGGUF([...llamaKVs(TINY), { key: 'llama.block_count', type: U32, value: 2 }], tinyGGUFTensors(TINY)));
    await rejectsQuickly(p, p, /metadata key llama\.block_count appears twice/);
  });

  test('tensor dimensions whose product overflows, offsets out of place, a bad alignment', async () => {
    const t = tinyGGUFTensors(TINY);
    t[1] = { ...t[1], ne: [2 ** 40, 2 ** 40] };
    let p = writeFile('m.gguf', buildGGUF(llamaKVs(TINY), t));
    await rejectsQuickly(p, p, /tensor blk\.0\.attn_norm\.weight has an invalid shape \[1099511627776, 1099511627776\]/);
    const u = tinyGGUFTensors(TINY);
    u[2] = { ...u[2], offset: 2 ** 50 };
    p = writeFile('m.gguf', buildGGUF(llamaKVs(TINY), u));
    await rejectsQuickly(p, p, /offset 1125899906842624 lies past the end of the file/);
    p = writeFile('m.gguf', gguf([{ key: 'general.alignment', type: STR, value: '32' }]));
    await rejectsQuickly(p, p, /general\.alignment 32 is not a uint32 power of two/);
    p = writeFile('m.gguf', gguf([{ key: 'general.alignment', type: U32, value: 48 }]));
    await rejectsQuickly(p, p, /general\.alignment 48 is not a uint32 power of two/);
  });

  test('a vocabulary that does not match the embedding', async () => {
    const tok = (n: number): GgufKV[] => [
      { key: 'tokenizer.ggml.model', type: STR, value: 'llama' },
      { key: 'tokenizer.ggml.tokens', type: ARR, itemType: STR, value: Array.from({ length: n }, (_, i) => `t${i}`) },
      { key: 'tokenizer.ggml.scores', type: ARR, itemType: F32, value: Array.from({ length: n }, (_, i) => -i) },
    ];
    let p = writeFile('m.gguf', gguf(tok(TINY.vocab + 1)));
    await rejectsQuickly(p, p, /tokenizer\.ggml\.tokens has 33 tokens but token_embd\.weight has 32 rows/);
    // A special token id outside the vocabulary is ignored, as llama.cpp does.
    p = writeFile('m.gguf', gguf([...tok(TINY.vocab), { key: 'tokenizer.ggml.bos_token_id', type: U32, value: 4_000_000_000 }]));
    const m = await loadModel(p);
    expect(m.tokenizer).toMatchObject({ kind: 'gguf-llama', bos: undefined });
    expect(m.config.bosTokenId).toBeUndefined();
    if (m.tokenizer.kind === 'gguf-llama') expect(m.tokenizer.tokens.slice(0, 3)).toEqual(['t0', 't1', 't2']);
    m.close();
  });
});

describe('big valid GGUF metadata stays out of the JS heap', () => {
  const root = tempDir('shears-hostile-big-');
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  /** Loads `file` and returns the growth of rss, heapUsed and arrayBuffers while it is loaded, in MB. */
  async function loadGrowth(file: string, check: (entry: GGUFEntry) => void): Promise<{ rss: number; heap: number; arrayBuffers: number; seconds: number }> {
    global.gc?.();
    const before = process.memoryUsage();
    const t0 = Date.now();
    const m = await loadModel(file);
    const seconds = (Date.now() - t0) / 1000;
    const after = process.memoryUsage();
    try {
      check((m.meta.gguf as GGUFEntry[]).find((e) => e.key === 'test.big')!);
    } finally {
      m.close();
    }
    const mb = (k: 'rss' | 'heapUsed' | 'arrayBuffers') => (after[k] - before[k]) / 2 ** 20;
    return { rss: mb('rss'), heap: mb('heapUsed'), arrayBuffers: mb('arrayBuffers'), seconds };
  }

  test.each([32, 300])('a %i MB uint8 array: a view of the mapping, memory far below the file', async (mb) => {
    const file = path.join(root, `big${mb}.gguf`);
    writeGGUFWithBigArray(file, llamaKVs(TINY), tinyGGUFTensors(TINY), 'test.big', mb * 2 ** 20);
    const g = await loadGrowth(file, (e) => {
      expect(e.itemType).toBe('uint8');
      expect(e.value).toBeInstanceOf(Uint8Array);
      expect((e.value as Uint8Array).length).toBe(mb * 2 ** 20);
      expect((e.value as Uint8Array)[12345]).toBe(0);
    });
    // Before: 338 MB for the 32 MB file (10 bytes of JS per element); the 300 MB one aborted V8.
    expect(g.seconds).toBeLessThan(SECONDS);
    expect(g.heap).toBeLessThan(16);
    expect(g.rss).toBeLessThan(64);
    fs.rmSync(file);
  }, 60_000);

  test('GGUF -> GGUF keeps a 32 MB array byte for byte; info reads it through the CLI', async () => {
    const file = path.join(root, 'src.gguf');
    writeGGUFWithBigArray(file, llamaKVs(TINY), tinyGGUFTensors(TINY), 'test.big', 32 * 2 ** 20);
    const m = await loadModel(file);
    const out = path.join(root, 'out.gguf');
    await writeGGUF(m, out);
    m.close();
    const b = await loadModel(out);
    const big = (b.meta.gguf as GGUFEntry[]).find((e) => e.key === 'test.big')!;
    expect(big.value).toBeInstanceOf(Uint8Array);
    expect((big.value as Uint8Array).length).toBe(32 * 2 ** 20);
    b.close();
    const r = await runCli(['info', '--model', file]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('llama');
  }, 60_000);

  test('a 130 MB string value is past the absolute metadata budget (256 MiB as UTF-16): refused before decoding', async () => {
    const file = path.join(root, 'string.gguf');
    writeGGUFWithBigArray(file, llamaKVs(TINY), tinyGGUFTensors(TINY), 'test.big', 130 * 2 ** 20, 'string');
    await rejectsQuickly(file, file, /metadata test\.big takes the header past its memory budget \(268435456 bytes/);
    fs.rmSync(file);
  }, 60_000);
});

describe('Hugging Face config.json and safetensors', () => {
  function hfDir(extra: Record<string, unknown>, tensors = llamaTensors(TINY, 'F32')): string {
    const dir = path.join(tempDir('shears-hostile-hf-'), 'm');
    writeHFDir(dir, llamaConfig(TINY, extra), tensors);
    return dir;
  }
  const config = (dir: string) => path.join(dir, 'config.json');

  test.each([
    ['num_hidden_layers 1e9', { num_hidden_layers: 1e9 }, /layers \(num_hidden_layers\) = 1000000000, but the model holds 21 tensors/, 'config'],
    ['num_hidden_layers 1.5', { num_hidden_layers: 1.5 }, /num_hidden_layers must be a positive integer at most 2\^30, got 1\.5/, 'config'],
    ['num_hidden_layers -3', { num_hidden_layers: -3 }, /num_hidden_layers must be a positive integer/, 'config'],
    ['num_hidden_layers "2"', { num_hidden_layers: '2' }, /num_hidden_layers must be a finite number, got "2"/, 'config'],
    ['hidden_size 2^40', { hidden_size: 2 ** 40 }, /hidden_size must be a positive integer at most 2\^30/, 'config'],
    ['num_attention_heads 0', { num_attention_heads: 0 }, /num_attention_heads must be a positive integer/, 'config'],
    ['hidden_size not a multiple of heads', { hidden_size: 18 }, /hidden_size 18 is not a multiple of num_attention_heads 4/, 'config'],
    ['vocab_size not the embedding rows', { vocab_size: 33 }, /embed\.weight has 32 rows but the vocabulary size \(vocab_size\) is 33/, 'dir'],
    ['bos_token_id outside the vocabulary', { bos_token_id: 32 }, /bos token id \(bos_token_id\) 32 is outside the 32-token vocabulary/, 'config'],
    ['tie_word_embeddings "yes"', { tie_word_embeddings: 'yes' }, /tie_word_embeddings must be true or false, got "yes"/, 'config'],
    ['rope_scaling a string', { rope_scaling: 'llama3' }, /rope_scaling must be an object/, 'config'],
  ] as [string, Record<string, unknown>, RegExp, 'config' | 'dir'][])('%s', async (_name, extra, fragment, named) => {
    // Config errors name config.json; a tensor that contradicts it names the model directory.
    const dir = hfDir(extra);
    await rejectsQuickly(dir, named === 'dir' ? dir : config(dir), fragment);
  });

  test('config.json that is not an object, or too many JSON values', async () => {
    const dir = hfDir({});
    fs.writeFileSync(config(dir), '[1, 2]');
    await rejectsQuickly(dir, config(dir), /must hold a JSON object \(got an array\)/);
    fs.writeFileSync(config(dir), `{"model_type": "llama", "x": [${'0,'.repeat(5_000_000)}0]}`);
    await rejectsQuickly(dir, config(dir), /holds about 5000004 JSON values, more than the 4194304 accepted/);
    // Fuzz finding F3: nesting 20000 deep overflowed the stack of the messages' JSON.stringify.
    fs.writeFileSync(config(dir), `{"model_type": "llama", "vocab_size": ${'['.repeat(20000)}${']'.repeat(20000)}}`);
    await rejectsQuickly(dir, config(dir), /the file nests JSON 20001 levels deep, more than the 128 accepted/);
  });

  test('safetensors: header over 100 MB, too many values, gaps, trailing bytes, bad metadata, dtype/shape mismatch', async () => {
    const dir = hfDir({});
    const st = path.join(dir, 'model.safetensors');
    const good = fs.readFileSync(st);
    const headerLen = Number(good.readBigUInt64LE(0));
    const header = JSON.parse(good.subarray(8, 8 + headerLen).toString()) as Record<string, { data_offsets: number[]; shape: number[] }>;
    const withHeader = (h: unknown, data = good.subarray(8 + headerLen)) => {
      const json = Buffer.from(JSON.stringify(h));
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(json.length));
      fs.writeFileSync(st, Buffer.concat([len, json, data]));
    };
    // A sparse 101 MB file whose header length claims all of it.
    const big = Buffer.alloc(8);
    big.writeBigUInt64LE(100_000_001n);
    fs.writeFileSync(st, big);
    fs.truncateSync(st, 100_000_009 + 8);
    await rejectsQuickly(dir, st, /header length 100000001 exceeds the format's 100 MB limit/);
    withHeader({ ...header, __metadata__: { a: 'b' }, x: { dtype: 'F32', shape: Array(5_000_000).fill(0), data_offsets: [0, 0] } });
    await rejectsQuickly(dir, st, /safetensors header holds about 5000\d{3} JSON values/);
    const deep = Buffer.from(`{"x": {"dtype": ${'['.repeat(200)}${']'.repeat(200)}}}`);
    const deepLen = Buffer.alloc(8);
    deepLen.writeBigUInt64LE(BigInt(deep.length));
    fs.writeFileSync(st, Buffer.concat([deepLen, deep]));
    await rejectsQuickly(dir, st, /the safetensors header nests JSON 202 levels deep/);
    withHeader({ ...header, __metadata__: { format: 1 } });
    await rejectsQuickly(dir, st, /__metadata__ format is not a string/);
    withHeader(header, Buffer.concat([good.subarray(8 + headerLen), Buffer.alloc(4)]));
    await rejectsQuickly(dir, st, /the tensors cover \d+ of the \d+ data bytes: trailing bytes/);
    const first = Object.keys(header)[0];
    withHeader({ ...header, [first]: { ...header[first], data_offsets: [header[first].data_offsets[0] + 4, header[first].data_offsets[1] + 4] } });
    await rejectsQuickly(dir, st, /leaving a gap|overlap/);
    withHeader({ ...header, [first]: { ...header[first], shape: [...header[first].shape, 2] } });
    await rejectsQuickly(dir, st, /needs \d+ bytes but data_offsets span \d+/);
    withHeader({ ...header, [first]: { ...header[first], shape: [1.5] } });
    await rejectsQuickly(dir, st, /has an invalid shape \[1\.5\]/);
    // Fuzz finding F1: an entry without data_offsets (or shape) once escaped as a TypeError.
    withHeader({ ...header, [first]: { dtype: 'F32', shape: header[first].shape } });
    await rejectsQuickly(dir, st, /has invalid data_offsets undefined/);
    withHeader({ ...header, [first]: { dtype: 'F32', data_offsets: header[first].data_offsets } });
    await rejectsQuickly(dir, st, /has an invalid shape undefined/);
  });

  test('a single small valid file still loads (the tiling check accepts writeSafetensors output)', async () => {
    const dir = path.join(tempDir('shears-hostile-hf-'), 'ok');
    fs.mkdirSync(dir);
    fs.writeFileSync(config(dir), JSON.stringify(llamaConfig(TINY)));
    writeSafetensors(path.join(dir, 'model.safetensors'), llamaTensors(TINY, 'F16'), 3);
    const m = await loadModel(dir);
    expect(m.config.numLayers).toBe(TINY.layers);
    m.close();
  });
});

describe('llama2.c headers', () => {
  test('n_layers beyond the file answers at once', async () => {
    const hd = TINY.hidden / TINY.heads;
    const head = Buffer.alloc(28);
    [TINY.hidden, TINY.inter, 1 << 24, TINY.heads, TINY.kvHeads, TINY.vocab, 64].forEach((v, i) => head.writeInt32LE(v, 4 * i));
    const p = writeFile('model.bin', Buffer.concat([head, Buffer.from(randomData('F32', 1000 * hd, 1).buffer)]));
    await rejectsQuickly(p, p, /header \(dim 16, hidden 24, layers 16777216.*\) implies \d+: truncated/);
  });
});

describe('through the CLI', () => {
  test('info on a GGUF with block_count 2^30: non-zero exit and a message naming the file and the key', async () => {
    const p = writeFile('m.gguf', gguf([{ key: 'llama.block_count', type: U32, value: 2 ** 30 }]));
    const t0 = Date.now();
    const r = await runCli(['info', '--model', p]);
    expect((Date.now() - t0) / 1000).toBeLessThan(SECONDS);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain(p);
    expect(r.err).toContain('llama.block_count');
  });

  test('info on an HF directory with num_hidden_layers 1e9', async () => {
    const dir = path.join(tempDir('shears-hostile-cli-'), 'm');
    writeHFDir(dir, llamaConfig(TINY, { num_hidden_layers: 1e9 }), llamaTensors(TINY, 'F32'));
    const r = await runCli(['info', '--model', dir]);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain(path.join(dir, 'config.json'));
    expect(r.err).toContain('num_hidden_layers');
  });
});

describe('HF tokenizer -> GGUF entries (convert)', () => {
  test('an added token id of 2^32 is refused without sizing an array by it', () => {
    const json = {
      model: { type: 'BPE', vocab: { a: 0, b: 1 }, merges: [] },
      normalizer: { type: 'Metaspace' },
      added_tokens: [{ id: 2 ** 32, content: '<x>', special: true }],
    };
    expect(() => hfToGGUFEntries(json, {}, 'tokenizer.json')).toThrow(/tokenizer tokenizer\.json: no token has id 2; GGUF needs contiguous ids/);
  });
});
