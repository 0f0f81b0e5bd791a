// The stories260K checkpoint in three formats and BabyLlama, against PROVENANCE.md facts.
import * as fs from 'node:fs';

import { loadModel } from '../../lib/formats/load';
import { LoadedModel } from '../../lib/model/types';
import { describeShared, sharedPath } from '../support/shared-data';

const dir = sharedPath('models', 'stories260K');

function bitsEqual(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

describeShared('stories260K in llama2.c legacy, version 1 and GGUF', () => {
  let bin: LoadedModel, v1: LoadedModel, gguf: LoadedModel;
  beforeAll(async () => {
    bin = await loadModel(`${dir}/stories260K.bin`);
    v1 = await loadModel(`${dir}/stories260K_v1.bin`);
    gguf = await loadModel(`${dir}/stories260K.gguf`);
  });
  afterAll(() => [bin, v1, gguf].forEach((m) => m?.close()));

  test('headers match PROVENANCE.md', () => {
    for (const m of [bin, v1, gguf]) {
      const c = m.config;
      expect([c.hiddenSize, c.intermediateSize, c.numLayers, c.numHeads, c.numKvHeads, c.vocabSize]).toEqual([64, 172, 5, 8, 4, 512]);
      expect(c.headDim).toBe(8);
      expect(c.rope?.layout).toBe('interleaved');
      expect(c.rope?.dim).toBe(8);
      expect(c.normEps).toBeCloseTo(1e-5, 10);
      expect(c.architecture).toBe('llama');
    }
    expect(bin.format).toBe('llama2c');
    expect(bin.meta.llama2cVersion).toBe('legacy');
    expect(v1.meta.llama2cVersion).toBe(1);
    expect(bin.config.contextLength).toBe(512);
    expect(v1.config.contextLength).toBe(512);
    expect(bin.config.tiedEmbeddings).toBe(true);
    expect(v1.config.tiedEmbeddings).toBe(true);
    expect(gguf.format).toBe('gguf');
    expect(gguf.meta.ggufVersion).toBe(3);
    expect((gguf.meta.gguf as unknown[]).length).toBe(19);
    expect(Object.keys(gguf.meta.sourceTensorTypes as object).length).toBe(48);
    expect(gguf.config.contextLength).toBe(2048);
    expect(gguf.config.tiedEmbeddings).toBe(false); // separate output.weight
  });

  test('tokenizer sources', () => {
    expect(bin.tokenizer).toEqual({ kind: 'llama2c', path: `${dir}/tok512.bin` });
    expect(v1.tokenizer.kind).toBe('llama2c');
    const t = gguf.tokenizer;
    expect(t.kind).toBe('gguf-llama');
    if (t.kind !== 'gguf-llama') return;
    expect(t.tokens.length).toBe(512);
    expect(t.scores.length).toBe(512);
    expect(t.tokenTypes?.length).toBe(512);
    expect([t.bos, t.eos, t.unk]).toEqual([1, 2, 0]);
  });

  test('every tensor is bit-identical across the three files', () => {
    const names = [...bin.tensors.keys()];
    expect(names.length).toBe(1 + 1 + 5 * 9); // embed, final norm, 9 per block
    expect([...v1.tensors.keys()].sort()).toEqual([...names].sort());
    for (const name of names) {
      const a = bin.tensors.get(name)!;
      for (const other of [v1, gguf]) {
        const b = other.tensors.get(name)!;
        expect(b.shape).toEqual(a.shape);
        expect(b.dtype).toBe('f32');
        expect(bitsEqual(a.data, b.data)).toBe(true);
      }
    }
    expect(bitsEqual(gguf.tensors.get('lm_head.weight')!.data, bin.tensors.get('embed.weight')!.data)).toBe(true);
  });

  test('tensors are views of the mapped file, not copies', () => {
    const size = fs.statSync(`${dir}/stories260K.bin`).size;
    const e = bin.tensors.get('embed.weight')!.data;
    expect(e.buffer.byteLength).toBe(size);
    expect(e.byteOffset).toBe(28);
  });
});

describeShared('BabyLlama (tok105)', () => {
  test('loads with the header facts of PROVENANCE.md and finds tok105.bin', async () => {
    const d = sharedPath('models', 'babyllama-tok105');
    const m = await loadModel(`${d}/model5000.bin`);
    try {
      const c = m.config;
      expect([c.hiddenSize, c.intermediateSize, c.numLayers, c.numHeads, c.numKvHeads, c.vocabSize, c.contextLength]).toEqual([128, 352, 5, 8, 4, 105, 256]);
      expect(c.tiedEmbeddings).toBe(true);
      expect(m.tokenizer).toEqual({ kind: 'llama2c', path: `${d}/tok105.bin` });
    } finally {
      m.close();
    }
  });
});
