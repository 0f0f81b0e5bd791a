// Corrupt and unsupported inputs: each gives a FormatError (code E_FORMAT) that names the
// file and the problem, never a crash.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { loadModel } from '../../lib/formats/load';
import {
  buildGGUF,
  buildLlama2cLegacy,
  buildLlama2cTokenizer,
  GgufKV,
  GgufTensorIn,
  llamaConfig,
  llamaKVs,
  llamaTensors,
  TINY,
  tinyGGUFTensors,
  writeHFDir,
} from './fixtures';
import { expectFormatError } from './expect-format-error';
import { tempDir } from './helpers';

const ggufTensors = (type = 0): GgufTensorIn[] => tinyGGUFTensors(TINY, type);

function writeFile(name: string, data: Buffer): string {
  const p = path.join(tempDir(), name);
  fs.writeFileSync(p, data);
  return p;
}

describe('llama2.c', () => {
  const good = buildLlama2cLegacy(TINY, 64);

  test('the synthetic checkpoint itself loads (and has no tokenizer beside it)', async () => {
    const p = writeFile('model.bin', good);
    const m = await loadModel(p);
    expect(m.config.vocabSize).toBe(32);
    expect(m.tokenizer.kind).toBe('none');
    m.close();
  });

  test('a tok*.bin with the matching vocabulary is found; another size is not', async () => {
    const p = writeFile('model.bin', good);
    fs.writeFileSync(path.join(path.dirname(p), 'tok16.bin'), buildLlama2cTokenizer(16));
    let m = await loadModel(p);
    expect(m.tokenizer.kind).toBe('none');
    if (m.tokenizer.kind === 'none') expect(m.tokenizer.reason).toContain('tok16.bin');
    m.close();
    fs.writeFileSync(path.join(path.dirname(p), 'tok32.bin'), buildLlama2cTokenizer(32));
    m = await loadModel(p);
    expect(m.tokenizer).toEqual({ kind: 'llama2c', path: path.join(path.dirname(p), 'tok32.bin') });
    m.close();
  });

  test('truncated file', async () => {
    const p = writeFile('model.bin', good.subarray(0, good.length - 10));
    await expectFormatError(p, p, /truncated/);
  });

  test('garbage header', async () => {
    const b = Buffer.from(good);
    b.writeInt32LE(-7, 0);
    const p = writeFile('model.bin', b);
    await expectFormatError(p, p, /header dim = -7/);
  });

  test('short header, empty file', async () => {
    const p = writeFile('model.bin', good.subarray(0, 10));
    await expectFormatError(p, p, /past the end/);
    const e = writeFile('empty.bin', Buffer.alloc(0));
    await expectFormatError(e, e, /empty file/);
  });
});

describe('GGUF', () => {
  test('truncated tensor data', async () => {
    const g = buildGGUF(llamaKVs(TINY), ggufTensors());
    const p = writeFile('m.gguf', g.subarray(0, g.length - 100));
    await expectFormatError(p, p, /past the end of the file/);
  });

  test('truncated inside the metadata', async () => {
    const g = buildGGUF(llamaKVs(TINY), ggufTensors());
    const p = writeFile('m.gguf', g.subarray(0, 60));
    await expectFormatError(p, p, /past the end|implausibly large/);
  });

  test('string length past the end', async () => {
    const g = buildGGUF(llamaKVs(TINY), ggufTensors());
    g.writeBigUInt64LE(10n ** 12n, 24); // length of the first key
    const p = writeFile('m.gguf', g);
    await expectFormatError(p, p, /metadata key 0 length = 1000000000000 is implausibly large/);
  });

  test('huge tensor count', async () => {
    const g = buildGGUF(llamaKVs(TINY), ggufTensors());
    g.writeBigUInt64LE(2n ** 60n, 8);
    const p = writeFile('m.gguf', g);
    await expectFormatError(p, p, /tensor count/);
  });

  test('unknown and unsupported tensor types', async () => {
    const t = ggufTensors();
    t[3] = { ...t[3], type: 99 };
    const p = writeFile('m.gguf', buildGGUF(llamaKVs(TINY), t));
    await expectFormatError(p, p, /tensor type unknown \(99\)/);
    const u = ggufTensors();
    u[2] = { ...u[2], type: 2 };
    const q = writeFile('m.gguf', buildGGUF(llamaKVs(TINY), u));
    await expectFormatError(q, q, /Q4_0/);
  });

  test('tensor offset out of range, misaligned, overlapping', async () => {
    const t = ggufTensors();
    t[5] = { ...t[5], offset: 1 << 20 };
    const p = writeFile('m.gguf', buildGGUF(llamaKVs(TINY), t));
    await expectFormatError(p, p, /past the end of the file/);
    const a = ggufTensors();
    a[5] = { ...a[5], offset: 40 };
    const q = writeFile('m.gguf', buildGGUF(llamaKVs(TINY), a));
    await expectFormatError(q, q, /not a multiple of the alignment 32/);
    const o = ggufTensors();
    o[5] = { ...o[5], offset: 0 };
    const r = writeFile('m.gguf', buildGGUF(llamaKVs(TINY), o));
    await expectFormatError(r, r, /overlap/);
  });

  test('shape does not match the config', async () => {
    const t = ggufTensors();
    const i = t.findIndex((x) => x.name === 'blk.1.attn_k.weight');
    t[i] = { ...t[i], ne: [8, 16], data: t[i].data.subarray(0, 8 * 16 * 4) }; // [16, 8] instead of [8, 16]
    const p = writeFile('m.gguf', buildGGUF(llamaKVs(TINY), t));
    await expectFormatError(p, p, /blocks\.1\.attn\.k\.weight has shape \[16, 8\], expected \[8, 16\]/);
  });

  test('non-finite metadata and unsupported architecture', async () => {
    const kvs = llamaKVs(TINY).map((k): GgufKV => (k.key === 'llama.attention.layer_norm_rms_epsilon' ? { ...k, value: NaN } : k));
    const p = writeFile('m.gguf', buildGGUF(kvs, ggufTensors()));
    await expectFormatError(p, p, /layer_norm_rms_epsilon = NaN is not a finite number/);
    const arch = llamaKVs(TINY).map((k): GgufKV => (k.key === 'general.architecture' ? { ...k, value: 'falcon' } : k));
    const q = writeFile('m.gguf', buildGGUF(arch, ggufTensors()));
    await expectFormatError(q, q, /unsupported architecture .*'falcon'/);
  });

  test('bad magic with a .gguf name, unsupported version', async () => {
    const p = writeFile('m.gguf', Buffer.from('NOPE and more bytes'));
    await expectFormatError(p, p, /not a GGUF file/);
    const g = buildGGUF(llamaKVs(TINY), ggufTensors(), 1);
    const q = writeFile('m.gguf', g);
    await expectFormatError(q, q, /GGUF version 1 is not supported/);
  });
});

describe('Hugging Face', () => {
  function dirWith(mutate: (dir: string) => void, tensors = llamaTensors(TINY, 'F32'), config = llamaConfig(TINY)): string {
    const dir = path.join(tempDir(), 'hf');
    writeHFDir(dir, config, tensors);
    mutate(dir);
    return dir;
  }
  const st = (dir: string) => path.join(dir, 'model.safetensors');

  test('truncated safetensors', async () => {
    const d = dirWith((dir) => fs.truncateSync(st(dir), fs.statSync(st(dir)).size - 4));
    await expectFormatError(d, st(d), /past the end of the data/);
  });

  test('header length past the end', async () => {
    const d = dirWith((dir) => {
      const b = fs.readFileSync(st(dir));
      b.writeBigUInt64LE(BigInt(b.length), 0);
      fs.writeFileSync(st(dir), b);
    });
    await expectFormatError(d, st(d), /header length \d+ lies past the end of the file/);
  });

  function rewriteHeader(dir: string, edit: (h: Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>) => void): void {
    const b = fs.readFileSync(st(dir));
    const n = Number(b.readBigUInt64LE(0));
    const h = JSON.parse(b.subarray(8, 8 + n).toString());
    edit(h);
    const json = Buffer.from(JSON.stringify(h).padEnd(n, ' '));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    fs.writeFileSync(st(dir), Buffer.concat([len, json, b.subarray(8 + n)]));
  }

  test('overlapping offsets', async () => {
    const d = dirWith((dir) =>
      rewriteHeader(dir, (h) => {
        const e = h['model.layers.0.input_layernorm.weight'];
        const o = h['model.embed_tokens.weight'].data_offsets[0];
        e.data_offsets = [o, o + 64];
      }),
    );
    await expectFormatError(d, st(d), /overlap/);
  });

  test('offsets out of range', async () => {
    const d = dirWith((dir) =>
      rewriteHeader(dir, (h) => {
        h['model.norm.weight'].data_offsets = [10 ** 9, 10 ** 9 + 64];
      }),
    );
    await expectFormatError(d, st(d), /model\.norm\.weight data_offsets .* lie past the end/);
  });

  test('unknown dtype', async () => {
    const d = dirWith((dir) =>
      rewriteHeader(dir, (h) => {
        h['model.norm.weight'].dtype = 'I64';
      }),
    );
    await expectFormatError(d, st(d), /model\.norm\.weight has dtype I64/);
  });

  test('shape/size mismatch in the header and against the config', async () => {
    const d = dirWith((dir) =>
      rewriteHeader(dir, (h) => {
        h['model.norm.weight'].shape = [17];
      }),
    );
    await expectFormatError(d, st(d), /shape \[17\] of f32 needs 68 bytes but data_offsets span 64/);
    const ts = llamaTensors(TINY, 'F32').map((t) => (t.name === 'model.layers.1.mlp.up_proj.weight' ? { ...t, shape: [16, 24] } : t));
    const e = dirWith(() => undefined, ts);
    await expectFormatError(e, e, /blocks\.1\.mlp\.up\.weight has shape \[16, 24\], expected \[24, 16\]/);
  });

  test('missing tensor and unexpected tensor', async () => {
    const d = dirWith(() => undefined, llamaTensors(TINY, 'F32').filter((t) => t.name !== 'model.layers.1.mlp.up_proj.weight'));
    await expectFormatError(d, d, /missing tensor blocks\.1\.mlp\.up\.weight/);
    const extra = [...llamaTensors(TINY, 'F32'), { name: 'model.vision.weight', dtype: 'F32' as const, shape: [2], data: new Float32Array(2) }];
    const e = dirWith(() => undefined, extra);
    await expectFormatError(e, st(e), /unexpected tensor model\.vision\.weight/);
  });

  test('unsupported architecture, bad config values, invalid JSON', async () => {
    const d = dirWith(() => undefined, llamaTensors(TINY, 'F32'), { ...llamaConfig(TINY), model_type: 'bert', architectures: ['BertModel'] });
    await expectFormatError(d, path.join(d, 'config.json'), /unsupported model_type 'bert' \(architectures: BertModel\)/);
    const e = dirWith(() => undefined, llamaTensors(TINY, 'F32'), { ...llamaConfig(TINY), rms_norm_eps: 'tiny' });
    await expectFormatError(e, path.join(e, 'config.json'), /rms_norm_eps must be a finite number/);
    const f = dirWith((dir) => fs.writeFileSync(path.join(dir, 'config.json'), '{"model_type": '));
    await expectFormatError(f, path.join(f, 'config.json'), /config\.json: the file is not valid JSON/);
    const g = dirWith(() => undefined, llamaTensors(TINY, 'F32'), { ...llamaConfig(TINY), num_key_value_heads: 3 });
    await expectFormatError(g, path.join(g, 'config.json'), /heads \(4\) must be a multiple of kv heads \(3\)/);
  });

  test('missing shard, no weights, not a model directory, missing path', async () => {
    const d = path.join(tempDir(), 'sh');
    writeHFDir(d, llamaConfig(TINY), llamaTensors(TINY, 'F32'), 2);
    fs.rmSync(path.join(d, 'model-00002-of-00002.safetensors'));
    await expectFormatError(d, path.join(d, 'model-00002-of-00002.safetensors'), /cannot read/);
    const e = dirWith((dir) => fs.rmSync(st(dir)));
    await expectFormatError(e, e, /no model.safetensors/);
    const empty = tempDir();
    await expectFormatError(empty, empty, /no config\.json/);
    const part = path.join(e, 'config.json');
    await expectFormatError(part, part, /pass its directory/);
    const missing = path.join(empty, 'nope');
    await expectFormatError(missing, missing, /cannot read/);
  });
});
