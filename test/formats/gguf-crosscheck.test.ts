// Cross-check of our GGUF parser and writer against @huggingface/gguf (an independent
// parser; used only here): metadata values, tensor infos and the data offset agree.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { gguf } from '@huggingface/gguf';

import { parseGGUF } from '../../lib/formats/gguf';
import { plainGGUFValue } from '../../lib/formats/gguf-strings';
import { loadModel } from '../../lib/formats/load';
import { MappedFile } from '../../lib/formats/mapped';
import { writeGGUF } from '../../lib/formats/write-gguf';
import { hasSharedData, sharedPath } from '../support/shared-data';
import { llamaConfig, llamaTensors, TINY, writeHFDir } from './fixtures';
import { tempDir } from './helpers';

async function crossCheck(file: string): Promise<number> {
  const theirs = await gguf(file, { allowLocalFile: true });
  const f = MappedFile.open(file);
  try {
    const ours = parseGGUF(f);
    expect(BigInt(ours.dataStart)).toBe(theirs.tensorDataOffset);
    const meta = theirs.metadata as unknown as Record<string, unknown>;
    expect(Number(meta.version)).toBe(ours.version);
    expect(ours.entries.length).toBe(Number(meta.kv_count));
    for (const e of ours.entries) {
      const norm = (v: unknown): unknown => (Array.isArray(v) ? v.map(norm) : typeof v === 'bigint' ? v.toString() : v);
      expect({ key: e.key, value: norm(meta[e.key]) }).toEqual({ key: e.key, value: norm(plainGGUFValue(e)) });
    }
    expect(ours.tensors.length).toBe(theirs.tensorInfos.length);
    ours.tensors.forEach((t, i) => {
      const u = theirs.tensorInfos[i];
      expect({ name: u.name, ne: u.shape.map(Number), type: Number(u.dtype), offset: Number(u.offset) }).toEqual({
        name: t.name,
        ne: t.ne,
        type: t.type,
        offset: t.offset - ours.dataStart,
      });
    });
    return ours.tensors.length;
  } finally {
    f.close();
  }
}

describe('GGUF cross-check with @huggingface/gguf', () => {
  (hasSharedData ? test : test.skip)('stories260K.gguf', async () => {
    expect(await crossCheck(sharedPath('models', 'stories260K', 'stories260K.gguf'))).toBe(48);
  });

  test('a file written by writeGGUF (f16, with tokenizer entries)', async () => {
    const root = tempDir();
    writeHFDir(path.join(root, 'a'), llamaConfig(TINY), llamaTensors(TINY, 'F32'));
    const m = await loadModel(path.join(root, 'a'));
    const out = path.join(root, 'm.gguf');
    await writeGGUF(m, out, {
      dtype: 'f16',
      tokenizer: {
        hfFiles: {},
        ggufEntries: [
          { key: 'tokenizer.ggml.model', type: 'string', value: 'llama' },
          { key: 'tokenizer.ggml.tokens', type: 'array', itemType: 'string', value: Array.from({ length: 32 }, (_, i) => `tok${i}`) },
          { key: 'tokenizer.ggml.scores', type: 'array', itemType: 'float32', value: Array.from({ length: 32 }, (_, i) => -i / 4) },
          { key: 'tokenizer.ggml.add_bos_token', type: 'bool', value: true },
        ],
      },
    });
    m.close();
    expect(fs.statSync(out).size).toBeGreaterThan(0);
    expect(await crossCheck(out)).toBe(1 + 2 * 9 + 2);
  });
});
