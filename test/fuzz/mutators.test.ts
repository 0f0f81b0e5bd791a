// The structure-aware mutators change the field they say they change, and the GGUF
// walker finds every header record of a known file.
import { ggufFields, mutateGgufField } from '../../scripts/fuzz/gguf-fields';
import { mutateLlama2cHeader } from '../../scripts/fuzz/llama2c-fields';
import { mutateSafetensors } from '../../scripts/fuzz/safetensors-fields';
import { Rng } from '../../scripts/fuzz/rng';
import { tinyGguf, tinyLlama2cV1 } from '../../scripts/fuzz/seeds';
import { llamaTensors, TINY, writeSafetensors } from '../formats/fixtures';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

test('the GGUF walker finds the header, every metadata entry and every tensor info of the tiny seed', () => {
  const g = tinyGguf(0);
  const fields = ggufFields(g);
  const kvs = Number(g.readBigUInt64LE(16));
  const tensors = Number(g.readBigUInt64LE(8));
  expect(fields.filter((f) => f.kind === 'kv-type')).toHaveLength(kvs);
  expect(fields.filter((f) => f.kind === 'tensor-type')).toHaveLength(tensors);
  expect(fields.filter((f) => f.kind === 'offset')).toHaveLength(tensors);
  // Each tensor's n_dims field holds the number of dim fields that follow it.
  for (const nd of fields.filter((f) => f.kind === 'n-dims')) {
    const name = nd.what.replace(/ n_dims$/, '');
    expect(fields.filter((f) => f.kind === 'dim' && f.what.startsWith(`${name} `))).toHaveLength(g.readUInt32LE(nd.at));
  }
});

test('a GGUF field mutation writes the value it describes at the offset it names', () => {
  const g = tinyGguf(0);
  for (let i = 0; i < 200; i++) {
    const m = mutateGgufField(g, new Rng(i))!;
    const at = /at 0x([0-9a-f]+)\) := (\S+)$/.exec(m.desc);
    expect(at).not.toBeNull();
    const off = parseInt(at![1], 16);
    const bits = /\((\d+)-bit at/.exec(m.desc)?.[1];
    if (bits === '64') expect(m.data.readBigUInt64LE(off)).toBe(BigInt(at![2]));
    else if (bits === '32') expect(m.data.readUInt32LE(off)).toBe(Number(at![2]));
    else if (m.desc.includes(' item [')) {
      const v = Number(at![2]);
      expect(m.desc.includes('scores') ? m.data.readFloatLE(off) : m.data.readInt32LE(off)).toBe(m.desc.includes('scores') ? Math.fround(v) : v);
    } else throw new Error(`unparsed mutation ${m.desc}`);
    // Nothing else moved: the file keeps its length.
    expect(m.data.length).toBe(g.length);
  }
});

test('a llama2.c header mutation changes one header int (version 1 layout included)', () => {
  const v1 = tinyLlama2cV1();
  const names = ['dim', 'hidden_dim', 'n_layers', 'n_heads', 'n_kv_heads', 'vocab_size', 'seq_len'];
  for (let i = 0; i < 100; i++) {
    const m = mutateLlama2cHeader(v1, new Rng(i))!;
    const h = /header (\w+) := (-?\d+)$/.exec(m.desc);
    if (!h) continue; // the version or classifier flag
    expect(m.data.readInt32LE(8 + 4 * names.indexOf(h[1]))).toBe(Number(h[2]));
    expect(m.data.subarray(256).equals(v1.subarray(256))).toBe(true);
  }
});

test('a safetensors header mutation keeps the header length consistent unless it mutates that length', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-fuzz-mut-'));
  const file = path.join(dir, 'm.safetensors');
  writeSafetensors(file, llamaTensors(TINY, 'F32'));
  const st = fs.readFileSync(file);
  fs.rmSync(dir, { recursive: true, force: true });
  for (let i = 0; i < 100; i++) {
    const m = mutateSafetensors(st, new Rng(i))!;
    if (m.desc.startsWith('safetensors header length')) continue;
    const n = Number(m.data.readBigUInt64LE(0));
    expect(() => JSON.parse(m.data.toString('utf8', 8, 8 + n))).not.toThrow();
    expect(m.data.length - 8 - n).toBe(st.length - 8 - Number(st.readBigUInt64LE(0)));
  }
});
