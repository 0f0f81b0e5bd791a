// shears info / shears convert, runConvert's tokenizer handling, and the atomic writer.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { runConvert, writeModelAs } from '../../lib/formats/convert';
import { loadModel } from '../../lib/formats/load';
import { writeGGUF } from '../../lib/formats/write-gguf';
import { writeHF } from '../../lib/formats/write-hf';
import { LoadedModel, TokenizerSource } from '../../lib/model/types';
import { buildLlama2cLegacy, buildLlama2cTokenizer, llamaConfig, llamaTensors, TINY, writeHFDir } from './fixtures';
import { tempDir } from './helpers';
import { runCli } from '../support/cli';

const cli = runCli;

function llama2cDir(): { dir: string; model: string } {
  const dir = tempDir();
  const model = path.join(dir, 'model.bin');
  fs.writeFileSync(model, buildLlama2cLegacy(TINY, 64));
  fs.writeFileSync(path.join(dir, 'tok32.bin'), buildLlama2cTokenizer(32));
  return { dir, model };
}

describe('shears info', () => {
  test('prints the facts of a model, as text and JSON', async () => {
    const { model, dir } = llama2cDir();
    const t = await cli(['info', '--model', model]);
    expect(t.code).toBe(0);
    expect(t.out).toMatch(/format\s+llama2c \(llama2\.c legacy\)/);
    expect(t.out).toMatch(/heads \/ kv heads\s+4 \/ 2 \(head dim 4\)/);
    expect(t.out).toMatch(/positions\s+rope, interleaved layout, theta 10000/);
    const j = await cli(['info', '--model', model, '--json']);
    const s = JSON.parse(j.out);
    const expectedParams = 32 * 16 + 2 * (16 + 16 * 16 * 2 + 8 * 16 * 2 + 16 + 3 * 24 * 16) + 16;
    expect(s).toMatchObject({ format: 'llama2c', parameters: expectedParams, layers: 2, vocab: 32, contextLength: 64, dtypes: { f32: 2 * 9 + 2 } });
    expect(s.tokenizer).toBe('llama2c');
    expect(s.tokenizerDetail).toBe(path.join(dir, 'tok32.bin'));
  });

  test('a corrupt file gives a one-line error naming it and a non-zero exit code', async () => {
    const p = path.join(tempDir(), 'bad.gguf');
    fs.writeFileSync(p, Buffer.from('GGUF\x03\x00\x00\x00'));
    const r = await cli(['info', '--model', p]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`^shears: ${p}: .*past the end`));
    expect(r.out).toBe('');
  });
});

describe('shears convert', () => {
  test('a failed convert writes nothing', async () => {
    const d = tempDir();
    const bad = path.join(d, 'bad.bin');
    fs.writeFileSync(bad, buildLlama2cLegacy(TINY, 64).subarray(0, 500));
    const before = fs.readdirSync(d);
    const r = await cli(['convert', '--model', bad, '--out', path.join(d, 'out')]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(bad);
    const g = await cli(['convert', '--model', bad, '--out', path.join(d, 'out.gguf')]);
    expect(g.code).toBe(1);
    expect(fs.readdirSync(d)).toEqual(before);
  });

  test('llama2.c -> HF and GGUF: converts the tokenizer; refuses to overwrite without --force', async () => {
    const { model, dir } = llama2cDir();
    const out = path.join(dir, 'hf');
    const r = await cli(['convert', '--model', model, '--out', out, '--dtype', 'bf16']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/tokenizer converted/);
    expect(fs.existsSync(path.join(out, 'tokenizer.json'))).toBe(true);
    const m = await loadModel(out);
    expect(m.tensors.get('embed.weight')!.dtype).toBe('bf16');
    m.close();
    const again = await cli(['convert', '--model', model, '--out', out]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/already exists \(use --force/);
    expect(again.err).not.toMatch(/warning/); // refused before loading anything
    const forced = await cli(['convert', '--model', model, '--out', out, '--force']);
    expect(forced.code).toBe(0);
    const f = await loadModel(out);
    expect(f.tensors.get('embed.weight')!.dtype).toBe('f32');
    f.close();
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('.shears-tmp'))).toEqual([]);
    const bad = await cli(['convert', '--model', model, '--out', path.join(dir, 'x.gguf'), '--dtype', 'q4']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/--dtype must be f32, f16 or bf16, got 'q4'/);
  });

  test('refuses to write into the input model', async () => {
    const root = tempDir();
    const dir = path.join(root, 'hf');
    writeHFDir(dir, llamaConfig(TINY), llamaTensors(TINY, 'F32'));
    const r = await cli(['convert', '--model', dir, '--out', dir, '--force']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/refusing to write over or into the input model/);
    const inside = await cli(['convert', '--model', dir, '--out', path.join(dir, 'sub.gguf'), '--force']);
    expect(inside.code).toBe(1);
    const m = await loadModel(dir); // untouched
    const g = path.join(root, 'm.gguf');
    await writeGGUF(m, g);
    m.close();
    const self = await cli(['convert', '--model', g, '--out', g, '--force']);
    expect(self.code).toBe(1);
  });

  test('HF -> HF copies the tokenizer files', async () => {
    const root = tempDir();
    const a = path.join(root, 'a');
    writeHFDir(a, llamaConfig(TINY), llamaTensors(TINY, 'F32'));
    const r = await runConvert({ model: a, out: path.join(root, 'b') });
    expect(r).toEqual({ out: path.join(root, 'b'), format: 'hf', tokenizer: 'copied', warnings: [] });
    expect(fs.readFileSync(path.join(root, 'b', 'tokenizer.json'), 'utf8')).toBe(fs.readFileSync(path.join(a, 'tokenizer.json'), 'utf8'));
    expect(fs.existsSync(path.join(root, 'b', 'tokenizer_config.json'))).toBe(true);
  });

  test('other combinations use the injected tokenizer converter', async () => {
    const { model, dir } = llama2cDir();
    const seen: TokenizerSource[] = [];
    const deps = {
      tokenizerArtifacts: async (s: TokenizerSource) => {
        seen.push(s);
        return {
          hfFiles: { 'tokenizer.json': '{"converted": true}' },
          ggufEntries: [
            { key: 'tokenizer.ggml.model', type: 'string' as const, value: 'llama' },
            { key: 'tokenizer.ggml.tokens', type: 'array' as const, itemType: 'string' as const, value: Array.from({ length: 32 }, (_, i) => `t${i}`) },
            { key: 'tokenizer.ggml.scores', type: 'array' as const, itemType: 'float32' as const, value: Array.from({ length: 32 }, (_, i) => -i) },
          ],
        };
      },
    };
    const h = await runConvert({ model, out: path.join(dir, 'hf') }, deps);
    expect(h.tokenizer).toBe('converted');
    expect(fs.readFileSync(path.join(dir, 'hf', 'tokenizer.json'), 'utf8')).toBe('{"converted": true}');
    const g = await runConvert({ model, out: path.join(dir, 'm.gguf') }, deps);
    expect(g.tokenizer).toBe('converted');
    expect(seen).toEqual([
      { kind: 'llama2c', path: path.join(dir, 'tok32.bin') },
      { kind: 'llama2c', path: path.join(dir, 'tok32.bin') },
    ]);
    const m = await loadModel(path.join(dir, 'm.gguf'));
    expect(m.tokenizer).toMatchObject({ kind: 'gguf-llama', bos: 1, eos: 2 });
    // GGUF -> GGUF keeps the entries without a converter
    const k = await runConvert({ model: path.join(dir, 'm.gguf'), out: path.join(dir, 'n.gguf') });
    expect(k.tokenizer).toBe('kept');
    const n = await loadModel(path.join(dir, 'n.gguf'));
    expect(n.tokenizer).toEqual(m.tokenizer);
    n.close();
    m.close();
  });
});

describe('writeModelAs', () => {
  test('weights changed in place (copy-on-write) are written out; the input file stays as it was', async () => {
    const root = tempDir();
    const a = path.join(root, 'a');
    writeHFDir(a, llamaConfig(TINY), llamaTensors(TINY, 'F32'));
    const before = fs.readFileSync(path.join(a, 'model.safetensors'));
    const m = await loadModel(a);
    const w = m.tensors.get('blocks.0.mlp.up.weight')!.data as Float32Array;
    w.fill(0, 0, 100); // "pruning" in place
    const r = await writeModelAs(m, path.join(root, 'b.gguf'), { dtype: 'f16' });
    expect(r).toMatchObject({ format: 'gguf', tokenizer: 'not converted' });
    expect(r.warnings[0]).toMatch(/tokenizer not converted/);
    m.close();
    expect(fs.readFileSync(path.join(a, 'model.safetensors'))).toEqual(before);
    const b = await loadModel(path.join(root, 'b.gguf'));
    const u = b.tensors.get('blocks.0.mlp.up.weight')!;
    expect(u.dtype).toBe('f16');
    expect(Array.from(u.data.subarray(0, 100)).every((x) => x === 0)).toBe(true);
    expect(u.data[100]).not.toBe(0);
    b.close();
  });
});

describe('atomic writes', () => {
  test('an error while writing removes the temporary output and keeps the old one', async () => {
    const root = tempDir();
    const src = path.join(root, 'src');
    writeHFDir(src, llamaConfig(TINY), llamaTensors(TINY, 'F32'));
    const m = await loadModel(src);
    const out = path.join(root, 'out');
    await writeHF(m, out);
    const before = fs.readFileSync(path.join(out, 'model.safetensors'));
    // A tensor whose data is shorter than its shape: the writer fails mid-stream.
    const broken: LoadedModel = { ...m, tensors: new Map(m.tensors) };
    const t = broken.tensors.get('final_norm.weight')!;
    broken.tensors.set('final_norm.weight', { ...t, data: t.data.subarray(0, 3) });
    await expect(writeHF(broken, out, { force: true })).rejects.toThrow(/model\.norm\.weight: produced 12 bytes, expected 64/);
    await expect(writeGGUF(broken, path.join(root, 'x.gguf'))).rejects.toThrow(/output_norm\.weight: produced 12 bytes/);
    expect(fs.readdirSync(root).sort()).toEqual(['out', 'src']);
    expect(fs.readFileSync(path.join(out, 'model.safetensors'))).toEqual(before);
    m.close();
  });
});
