// Reading deci GGUFs: empty blocks and the last-block stand-in, files whose per-layer
// metadata or stand-ins are wrong (a FormatError naming the file and the key), and
// `shears info` showing per-block widths (text table and JSON).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { runInfo } from '../../lib/cli/commands/info';
import { ForwardModel } from '../../lib/forward/model';
import { FormatError } from '../../lib/errors';
import { parseGGUF } from '../../lib/formats/gguf';
import { encodeGGUFHeader } from '../../lib/formats/gguf-encode';
import { loadModel } from '../../lib/formats/load';
import { MappedFile } from '../../lib/formats/mapped';
import { writeGGUF } from '../../lib/formats/write-gguf';
import { BlockShape, GGUFEntry, LoadedModel } from '../../lib/model/types';
import { sliceModel } from './gguf-structured-fixtures';
import { runCli } from '../support/cli';
import { tempDir } from './helpers';

const DEMO = path.join(__dirname, '..', '..', 'assets', 'demo-model');
const FULL: BlockShape = { numHeads: 4, numKvHeads: 2, intermediateSize: 512 };
const EMPTY: BlockShape = { numHeads: 0, numKvHeads: 0, intermediateSize: 0 };

/** A copy of GGUF `file` with its metadata edited and, optionally, one byte of a tensor's data set. */
function rewrite(file: string, out: string, edit: (e: GGUFEntry[]) => GGUFEntry[], poke?: { tensor: string; value: number }): void {
  const f = MappedFile.open(file);
  try {
    const g = parseGGUF(f);
    const plain = (e: GGUFEntry): GGUFEntry => (ArrayBuffer.isView(e.value) ? { ...e, value: Array.from(e.value as unknown as ArrayLike<number>) } : e);
    const header = encodeGGUFHeader(
      edit(g.entries.map(plain)),
      g.tensors.map((t) => ({ name: t.name, shape: [...t.ne].reverse(), type: t.type, offset: t.offset - g.dataStart })),
    );
    const data = Buffer.from(f.bytes.subarray(g.dataStart));
    if (poke) data[g.tensors.find((t) => t.name === poke.tensor)!.offset - g.dataStart + 1] = poke.value;
    fs.writeFileSync(out, Buffer.concat([header, Buffer.alloc(Math.ceil(header.length / 32) * 32 - header.length), data]));
  } finally {
    f.close();
  }
}

async function expectFormatError(file: string, message: RegExp): Promise<void> {
  const err = await loadModel(file).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(FormatError);
  expect((err as Error).message).toContain(path.basename(file));
  expect((err as Error).message).toMatch(message);
}

describe('deci GGUF: reading', () => {
  let demo: LoadedModel;
  let file: string;
  const shapes = [FULL, EMPTY, { numHeads: 2, numKvHeads: 1, intermediateSize: 0 }, EMPTY];
  beforeAll(async () => {
    demo = await loadModel(DEMO);
    file = path.join(tempDir(), 'e.gguf');
    await writeGGUF(sliceModel(demo, shapes), file, { tokenizer: false });
  });
  afterAll(() => demo.close());

  test('an empty middle block has no tensors; an empty last block and an attention-only block get zero MLPs; read back as written', async () => {
    const f = MappedFile.open(file);
    try {
      const g = parseGGUF(f);
      expect(g.tensors.filter((t) => t.name.startsWith('blk.1.'))).toEqual([]);
      expect(Array.from(g.byKey.get('deci.feed_forward_length')!.value as Int32Array)).toEqual([512, 0, 1, 1]);
      expect(Array.from(g.byKey.get('shears.zero_mlp_blocks')!.value as Uint32Array)).toEqual([2, 3]);
    } finally {
      f.close();
    }
    const back = await loadModel(file);
    try {
      expect(back.config.blocks).toEqual(shapes);
      expect([...back.tensors.keys()].filter((n) => /^blocks\.[123]\.mlp/.test(n))).toEqual([]);
    } finally {
      back.close();
    }
  });

  test('bad per-layer metadata and stand-ins are FormatErrors naming the key', async () => {
    const out = path.join(tempDir(), 'bad.gguf');
    const set = (key: string, value: unknown, itemType: GGUFEntry['itemType'] = 'int32') => (es: GGUFEntry[]) =>
      es.map((e) => (e.key === key ? { ...e, itemType, value } : e));
    rewrite(file, out, set('deci.feed_forward_length', [512, 0, 1]));
    await expectFormatError(out, /deci\.feed_forward_length has 3 entries for 4 blocks/);
    rewrite(file, out, set('deci.attention.head_count_kv', [0, 0, 1, 0]));
    await expectFormatError(out, /block 0 has 4 heads and no KV heads/);
    rewrite(file, out, set('shears.zero_mlp_blocks', [0, 3], 'uint32'));
    await expectFormatError(out, /shears\.zero_mlp_blocks lists block 0/);
    rewrite(file, out, (es) => es, { tensor: 'blk.3.ffn_down.weight', value: 0x3c });
    await expectFormatError(out, /blk\.3\.ffn_down\.weight of a zero stand-in .* is not all zeros/);
    rewrite(file, out, set('deci.attention.head_count_kv', [2, 0, 3, 0]));
    await expectFormatError(out, /block 2 has 2 query heads and 3 KV heads/);
  });

  test('deci with one scalar width for all blocks and a block count past the tensors is refused', async () => {
    const out = path.join(tempDir(), 'scalar.gguf');
    rewrite(file, out, (es) =>
      es.map((e) =>
        e.key === 'deci.block_count' ? { ...e, value: 2 ** 30 } : e.key.startsWith('deci.') && e.type === 'array' && e.key !== 'deci.attention.head_count_kv' ? { key: e.key, type: 'uint32', value: 4 } : e,
      ),
    );
    await expectFormatError(out, /deci\.block_count = 1073741824, but the model holds \d+ tensors/);
  });

  test('shears eval --tokens on a deci file: the perplexity of the model it was written from', async () => {
    const dir = tempDir();
    const ids = Array.from({ length: 64 }, (_, i) => (i * 37 + 5) % 2048);
    const tokens = path.join(dir, 'ids.json');
    fs.writeFileSync(tokens, JSON.stringify(ids));
    const r = await runCli(['eval', '--model', file, '--tokens', tokens, '--seq-len', '32', '--json']);
    expect(r.code).toBe(0);
    const fm = new ForwardModel(sliceModel(demo, shapes), { backend: 'cpu' });
    const means = await Promise.all([0, 1].map(async (w) => {
      const win = ids.slice(32 * w, 32 * w + 32);
      return (await fm.nll(await fm.forward(win, 1, 32), [...win.slice(1), -1])).mean;
    }));
    const want = Math.exp((means[0] + means[1]) / 2);
    expect(Math.abs(JSON.parse(r.out).perplexity - want) / want).toBeLessThan(1e-5);
  });

  test('shears info: per-block table and JSON', async () => {
    let text = '';
    await runInfo({ model: file }, (s) => (text += s));
    expect(text).toMatch(/architecture\s+llama \(family llama, GGUF deci\)/);
    expect(text).toMatch(/heads \/ kv heads\s+per block \(head dim 64\)/);
    const table = text.slice(text.indexOf('per-block widths:')).split('\n').slice(1, 6).map((l) => l.trim().split(/\s{2,}/));
    expect(table).toEqual([
      ['block', 'heads', 'kv heads', 'MLP width'],
      ['0', '4', '2', '512'],
      ['1', 'removed', 'removed', 'removed'],
      ['2', '2', '1', 'removed'],
      ['3', 'removed', 'removed', 'removed'],
    ]);
    let json = '';
    await runInfo({ model: file, json: true }, (s) => (json += s));
    const s = JSON.parse(json);
    expect(s.ggufArchitecture).toBe('deci');
    expect(s.blocks).toEqual(shapes.map((b, block) => ({ block, heads: b.numHeads, kvHeads: b.numKvHeads, intermediate: b.intermediateSize })));
  });
});
