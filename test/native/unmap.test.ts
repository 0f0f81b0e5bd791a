// unmapFile while a native op still reads the mapping: the buffer is detached at once
// (JavaScript can no longer reach it), the op finishes on valid data, and the mapping
// goes away when the op settles.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { filesNative } from '../../lib/native/files';
import { sparsegptNative } from '../../lib/native/sparsegpt';
import { rng } from '../support/random';

let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-unmap-'))));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Whether the process maps `file` now (/proc/self/maps lists each mapping with its path). */
const mapped = (file: string) => fs.readFileSync('/proc/self/maps', 'utf8').includes(file);
const tick = () => new Promise((r) => setImmediate(r));

function writeFloats(name: string, n: number, seed: number): string {
  const r = rng(seed);
  const file = path.join(dir, name);
  fs.writeFileSync(file, Float32Array.from({ length: n }, () => r() * 2 - 1));
  return file;
}

const onLinux = process.platform === 'linux' ? test : test.skip;

onLinux('unmap during a pending op is deferred until the op finishes, and the op sees the file', async () => {
  const rows = 4096, cols = 256;
  const file = writeFloats('x.f32', rows * cols, 5);
  const buf = filesNative().mapFile(file);
  const x = new Float32Array(buf);
  const copy = x.slice();

  const sum = new Float64Array(cols * cols);
  const op = sparsegptNative().hessianAdd(x, rows, cols, sum, { backend: 'cpu' });
  expect(filesNative().unmapFile(buf)).toBe(false); // deferred: the op holds the mapping
  expect(x.length).toBe(0); // detached at once
  expect(mapped(file)).toBe(true);
  await op;
  await tick();
  expect(mapped(file)).toBe(false);

  const expected = new Float64Array(cols * cols);
  await sparsegptNative().hessianAdd(copy, rows, cols, expected, { backend: 'cpu' });
  expect(Buffer.from(sum.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
});

onLinux('a failing op releases its hold too', async () => {
  const rows = 64, cols = 32;
  const file = writeFloats('bad.f32', rows * cols, 6);
  const buf = filesNative().mapFile(file);
  const x = new Float32Array(buf);
  x[7 * cols + 3] = NaN; // a private copy-on-write page: the file is unchanged
  const op = sparsegptNative().hessianAdd(x, rows, cols, new Float64Array(cols * cols), { backend: 'cpu' });
  expect(filesNative().unmapFile(buf)).toBe(false);
  await expect(op).rejects.toMatchObject({ code: 'E_NONFINITE', message: expect.stringMatching(/row 7, column 3/) });
  await tick();
  expect(mapped(file)).toBe(false);
});

onLinux('unmap with nothing pending unmaps at once; a second unmap is a no-op', () => {
  const file = writeFloats('idle.f32', 1024, 7);
  const buf = filesNative().mapFile(file);
  expect(new Float32Array(buf)[0]).toBe(new Float32Array(fs.readFileSync(file).buffer.slice(0, 4))[0]);
  expect(mapped(file)).toBe(true);
  expect(filesNative().unmapFile(buf)).toBe(true);
  expect(mapped(file)).toBe(false);
  expect(filesNative().unmapFile(buf)).toBe(true);
});

onLinux('two pending ops over one mapping: it goes away after the last', async () => {
  const rows = 2048, cols = 128;
  const file = writeFloats('two.f32', rows * cols, 8);
  const buf = filesNative().mapFile(file);
  const x = new Float32Array(buf);
  const half = rows / 2;
  const a = new Float64Array(cols * cols), b = new Float64Array(cols * cols);
  const opA = sparsegptNative().hessianAdd(x.subarray(0, half * cols), half, cols, a, { backend: 'cpu' });
  const opB = sparsegptNative().hessianAdd(x.subarray(half * cols), half, cols, b, { backend: 'cpu' });
  expect(filesNative().unmapFile(buf)).toBe(false);
  await Promise.all([opA, opB]);
  await tick();
  expect(mapped(file)).toBe(false);
  expect(a.some((v) => v !== 0) && b.some((v) => v !== 0)).toBe(true);
});
