// Round trips of the real stories260K checkpoint through the writers.
import * as path from 'node:path';

import { loadModel } from '../../lib/formats/load';
import { writeGGUF } from '../../lib/formats/write-gguf';
import { writeHF } from '../../lib/formats/write-hf';
import { plainGGUFValue } from '../../lib/formats/gguf-strings';
import { GGUFEntry, Tensor } from '../../lib/model/types';
import { describeShared, sharedPath } from '../support/shared-data';
import { expectSameTensors, isQK, refToRotateHalf, tempDir } from './helpers';

const bin = sharedPath('models', 'stories260K', 'stories260K.bin');
const gguf = sharedPath('models', 'stories260K', 'stories260K.gguf');

describeShared('stories260K round trips', () => {
  test('bin -> HF -> load: Q/K in rotate-half order, everything else bit-identical', async () => {
    const src = await loadModel(bin);
    const out = path.join(tempDir(), 'hf');
    await writeHF(src, out);
    const hf = await loadModel(out);
    expect(hf.format).toBe('hf');
    expect(hf.config.rope?.layout).toBe('rotate_half');
    expect({ ...hf.config, rope: null }).toEqual({ ...src.config, rope: null });
    expect(hf.config.rope?.theta).toBe(10000);
    const c = src.config;
    expectSameTensors(src, hf, (t: Tensor) => {
      const qk = isQK(t.name);
      return qk ? refToRotateHalf(t.data, qk === 'q' ? c.numHeads : c.numKvHeads, c.headDim) : t.data;
    });
    hf.close();
    src.close();
  });

  test('bin -> GGUF -> load is bit-identical (no permutation: both interleaved)', async () => {
    const src = await loadModel(bin);
    const out = path.join(tempDir(), 'm.gguf');
    await writeGGUF(src, out);
    const g = await loadModel(out);
    expect(g.format).toBe('gguf');
    expect(g.config).toEqual(src.config);
    expectSameTensors(src, g);
    g.close();
    src.close();
  });

  test('GGUF -> GGUF keeps every metadata entry', async () => {
    const src = await loadModel(gguf);
    const out = path.join(tempDir(), 'm.gguf');
    await writeGGUF(src, out);
    const g = await loadModel(out);
    // Arrays are typed views and lazily decoded strings: compare plain values.
    const keys = (m: typeof g) => new Map((m.meta.gguf as GGUFEntry[]).map((e) => [e.key, plainGGUFValue(e)]));
    const a = keys(src);
    const b = keys(g);
    for (const [k, v] of a) expect({ k, v: b.get(k) }).toEqual({ k, v });
    expect(g.tokenizer).toEqual(src.tokenizer);
    expectSameTensors(src, g);
    g.close();
    src.close();
  });

  test('GGUF -> HF -> GGUF -> HF: bit-identical', async () => {
    const src = await loadModel(gguf);
    const d = tempDir();
    await writeHF(src, path.join(d, 'hf1'));
    const hf1 = await loadModel(path.join(d, 'hf1'));
    await writeGGUF(hf1, path.join(d, 'back.gguf'));
    const g2 = await loadModel(path.join(d, 'back.gguf'));
    expectSameTensors(src, g2);
    await writeHF(g2, path.join(d, 'hf2'));
    const hf2 = await loadModel(path.join(d, 'hf2'));
    expectSameTensors(hf1, hf2);
    for (const m of [src, hf1, g2, hf2]) m.close();
  });
});
