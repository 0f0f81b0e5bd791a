// What a stock Hugging Face config cannot describe is refused before any file exists:
// per-block widths, blocks that all lost a sublayer, tensors that do not match the
// config; and the reader's check of the MLP biases it now accepts.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { FormatError, ShapeError } from '../../lib/errors';
import { checkHFStructuredRun, HFStructureError } from '../../lib/formats/hf-structure';
import { loadModel } from '../../lib/formats/load';
import { writeHF } from '../../lib/formats/write-hf';
import { withBlockShapes } from '../../lib/model/shapes';
import { prune } from '../../lib/prune/run';
import { randomModel } from '../forward/random-model';
import { llamaConfig, llamaTensors, TINY, writeHFDir } from './fixtures';
import { tempDir } from './helpers';
import { asLoaded, keepChannels, Reducible } from './hf-structured-slice';

function tiny(): Reducible {
  const m = randomModel({ architecture: 'llama', hidden: 16, heads: 4, kvHeads: 2, intermediate: 40, layers: 2 });
  return { config: { ...m.config }, tensors: new Map(m.tensors) };
}

/** Runs a write that must fail, and checks that the folder it would write in is left as it was. */
async function refused(m: Reducible, before: (dir: string) => void = () => {}): Promise<Error> {
  const dir = tempDir('shears-hf-refused-');
  before(dir);
  const listing = fs.readdirSync(dir, { recursive: true });
  const err = await writeHF(asLoaded(m), path.join(dir, 'out'), { tokenizer: false, force: true }).catch((e: Error) => e);
  expect(err).toBeInstanceOf(Error);
  expect(fs.readdirSync(dir, { recursive: true })).toEqual(listing);
  return err as Error;
}

describe('HF outputs that a stock config cannot describe', () => {
  test('per-block MLP widths: a typed error naming the widths and suggesting --uniform or .gguf; nothing written', async () => {
    const err = await refused(keepChannels(tiny(), 24, 0));
    expect(err).toBeInstanceOf(HFStructureError);
    expect(err).toMatchObject({ code: 'E_HF_STRUCTURE' });
    expect(err.message).toMatch(/different widths \(block 0: 4 heads, 2 KV heads, MLP 24; block 1: 4 heads, 2 KV heads, MLP 40\)/);
    expect(err.message).toMatch(/--uniform/);
    expect(err.message).toMatch(/\.gguf/);
  });

  test('with --force over an existing output, the refusal leaves that output untouched', async () => {
    const err = await refused(keepChannels(tiny(), 24, 1), (dir) => {
      fs.mkdirSync(path.join(dir, 'out'));
      fs.writeFileSync(path.join(dir, 'out', 'config.json'), '{"kept": true}');
    });
    expect(err).toBeInstanceOf(HFStructureError);
  });

  test('every block without its MLP: refused (the stock classes build one in every block)', async () => {
    const m = tiny();
    for (const name of [...m.tensors.keys()]) if (/\.(mlp\.|mlp_norm)/.test(name)) m.tensors.delete(name);
    m.config = withBlockShapes(m.config, [0, 1].map(() => ({ numHeads: 4, numKvHeads: 2, intermediateSize: 0 })));
    const err = await refused(m);
    expect(err).toBeInstanceOf(HFStructureError);
    expect(err.message).toMatch(/every block has lost its MLP/);
  });

  test('tensors that do not match the config are a ShapeError before writing', async () => {
    const m = tiny();
    m.config = { ...m.config, intermediateSize: 24 }; // the tensors still have 40 channels
    const err = await refused(m);
    expect(err).toBeInstanceOf(ShapeError);
    expect(err.message).toMatch(/blocks\.0\.mlp\.gate\.weight has shape \[40, 16\], expected \[24, 16\]/);
  });

  test('checkHFStructuredRun refuses, before pruning, runs whose HF output could not be written', () => {
    const llama = tiny().config;
    const opt = randomModel({ architecture: 'opt' }).config;
    expect(() => checkHFStructuredRun(opt, { structure: 'width', uniform: true })).toThrow(/--structure width removes attention heads.*OPT.*--structure channels/);
    expect(() => checkHFStructuredRun(llama, { structure: 'channels', uniform: false })).toThrow(/without --uniform.*add --uniform, or write a \.gguf/);
    for (const structure of ['channels', 'heads', 'width'] as const) expect(() => checkHFStructuredRun(llama, { structure, uniform: true })).not.toThrow();
    expect(() => checkHFStructuredRun(opt, { structure: 'channels', uniform: true })).not.toThrow();
    expect(() => checkHFStructuredRun(opt, { structure: 'layers', uniform: false })).not.toThrow();
  });

  test('prune to an HF directory without --uniform: refused, no output and no scratch left', async () => {
    const dir = tempDir('shears-hf-refused-');
    const out = path.join(dir, 'pruned');
    const demo = path.resolve(__dirname, '..', '..', 'assets', 'demo-model');
    const err = await prune({ model: demo, method: 'l1', structure: 'channels', sparsity: 0.2, out }).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'E_HF_STRUCTURE', message: expect.stringMatching(/--uniform/) });
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  test('the reader refuses biases the stock class of config.json would not create (transformers drops them)', async () => {
    const root = tempDir('shears-hf-refused-');
    const cases: [string, Record<string, unknown>, string, RegExp][] = [
      ['llama', {}, 'model.layers.0.self_attn.o_proj.bias', /blocks\.0\.attn\.o\.bias .* llama class without attention_bias: true has no such bias/],
      ['llama', { attention_bias: true }, 'model.layers.1.mlp.down_proj.bias', /blocks\.1\.mlp\.down\.bias .* set mlp_bias: true/],
      ['mistral', {}, 'model.layers.0.self_attn.q_proj.bias', /stock mistral class has no such bias/],
      ['qwen2', { attention_bias: true }, 'model.layers.0.self_attn.o_proj.bias', /blocks\.0\.attn\.o\.bias .* stock qwen2 class has no such bias/],
    ];
    for (const [type, flags, extra, message] of cases) {
      const dir = path.join(root, `${type}-${extra}`);
      const n = extra.includes('o_proj') || extra.includes('down_proj') ? TINY.hidden : (TINY.hidden / TINY.heads) * TINY.heads;
      const tensors = [...llamaTensors(TINY, 'F32'), { name: extra, dtype: 'F32' as const, shape: [n], data: new Float32Array(n) }];
      writeHFDir(dir, llamaConfig(TINY, { model_type: type, ...flags }), tensors);
      const err = await loadModel(dir).catch((e: Error) => e);
      expect(err).toBeInstanceOf(FormatError);
      expect((err as Error).message).toMatch(message);
    }
    // With the flag set, the same Llama o bias is read.
    const ok = path.join(root, 'ok');
    writeHFDir(ok, llamaConfig(TINY, { attention_bias: true }), [...llamaTensors(TINY, 'F32'), { name: 'model.layers.0.self_attn.o_proj.bias', dtype: 'F32', shape: [TINY.hidden], data: new Float32Array(TINY.hidden) }]);
    const m = await loadModel(ok);
    expect(m.tensors.get('blocks.0.attn.o.bias')?.shape).toEqual([TINY.hidden]);
    m.close();
  });

  test('the reader checks the shapes of Llama MLP biases', async () => {
    const dir = path.join(tempDir('shears-hf-refused-'), 'model');
    const tensors = llamaTensors(TINY, 'F32');
    tensors.push({ name: 'model.layers.1.mlp.down_proj.bias', dtype: 'F32', shape: [5], data: new Float32Array(5) });
    writeHFDir(dir, llamaConfig(TINY, { mlp_bias: true }), tensors);
    const err = await loadModel(dir).catch((e: Error) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect((err as Error).message).toMatch(/blocks\.1\.mlp\.down\.bias has shape \[5\], expected \[16\]/);
  });
});
