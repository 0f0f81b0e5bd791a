// The native file mapping and byte-rearranging ops, against plain TS references.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { filesNative } from '../../lib/native/files';
import { randomData } from './fixtures';
import { bitsEqual, bytes, refToRotateHalf, tempDir } from './helpers';

const n = () => filesNative();

describe('mapFile', () => {
  test('maps a file copy-on-write: writes through the view never reach the file', () => {
    const p = path.join(tempDir(), 'data.bin');
    const content = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]);
    fs.writeFileSync(p, content);
    const buf = n().mapFile(p);
    expect(buf.byteLength).toBe(8);
    const v = new Uint8Array(buf);
    expect(Array.from(v)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    v[0] = 99;
    expect(v[0]).toBe(99);
    expect(fs.readFileSync(p)).toEqual(content);
    n().unmapFile(buf);
    expect(buf.byteLength).toBe(0); // detached
    expect(v.length).toBe(0);
    n().unmapFile(buf); // twice is harmless
  });

  test('unmapFile releases the mapping at once (Linux: gone from /proc/self/maps)', () => {
    const p = path.join(tempDir(), 'mapped-once.bin');
    fs.writeFileSync(p, Buffer.alloc(8192, 1));
    const maps = () => (fs.existsSync('/proc/self/maps') ? fs.readFileSync('/proc/self/maps', 'utf8').includes(p) : undefined);
    const buf = n().mapFile(p);
    if (maps() === undefined) return; // not Linux
    expect(maps()).toBe(true);
    n().unmapFile(buf);
    expect(maps()).toBe(false);
    expect(() => n().unmapFile(new ArrayBuffer(8))).toThrow(/not made by mapFile/);
  });

  test('a zero-length file gives an empty buffer', () => {
    const p = path.join(tempDir(), 'empty.bin');
    fs.writeFileSync(p, '');
    expect(n().mapFile(p).byteLength).toBe(0);
  });

  test('errors name the file', () => {
    const d = tempDir();
    const missing = path.join(d, 'missing.bin');
    expect(() => n().mapFile(missing)).toThrow(expect.objectContaining({ code: 'E_IO', message: expect.stringContaining(missing) }));
    expect(() => n().mapFile(d)).toThrow(expect.objectContaining({ code: 'E_IO', message: `${d}: not a regular file` }));
  });

  test('many mappings left to the garbage collector do not crash', () => {
    const p = path.join(tempDir(), 'data.bin');
    fs.writeFileSync(p, Buffer.alloc(1 << 16, 7));
    let sum = 0;
    for (let i = 0; i < 2000; i++) sum += new Uint8Array(n().mapFile(p))[i % 65536];
    expect(sum).toBe(14000);
  });
});

describe('permuteRopeRows', () => {
  test.each([
    ['f32', 4, 8, 6],
    ['f16', 2, 8, 6],
    ['f32', 3, 4, 1],
  ] as const)('%s: %i heads x %i rows of %i cols, both directions', async (dt, heads, headDim, cols) => {
    const src = randomData(dt === 'f32' ? 'F32' : 'F16', heads * headDim * cols, 3);
    const out = dt === 'f32' ? new Float32Array(src.length) : new Uint16Array(src.length);
    const rowBytes = cols * (dt === 'f32' ? 4 : 2);
    await n().permuteRopeRows(bytes(src), bytes(out), heads, headDim, rowBytes, false);
    expect(bitsEqual(out, refToRotateHalf(src, heads, headDim))).toBe(true);
    const back = dt === 'f32' ? new Float32Array(src.length) : new Uint16Array(src.length);
    await n().permuteRopeRows(bytes(out), bytes(back), heads, headDim, rowBytes, true);
    expect(bitsEqual(back, src)).toBe(true);
  });

  test('rejects wrong sizes and odd head dims', async () => {
    const a = new Uint8Array(48);
    expect(() => n().permuteRopeRows(a, new Uint8Array(48), 2, 3, 8, true)).toThrow(/headDim must be a positive even/);
    expect(() => n().permuteRopeRows(a, new Uint8Array(48), 2, 4, 8, true)).toThrow(/expected heads\*headDim\*rowBytes = 64/);
    expect(() => n().permuteRopeRows(a, new Uint8Array(40), 2, 4, 6, true)).toThrow(/48/);
  });
});

describe('transposeBytes', () => {
  function ref(src: Uint8Array, rows: number, cols: number, eb: number): Uint8Array {
    const out = new Uint8Array(src.length);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out.set(src.subarray((r * cols + c) * eb, (r * cols + c + 1) * eb), (c * rows + r) * eb);
    return out;
  }
  test.each([
    [4, 37, 70, 0],
    [2, 65, 33, 0],
    [4, 5, 7, 1], // unaligned views take the byte path
    [2, 3, 9, 1],
  ])('%i-byte elements, %i x %i, offset %i', async (eb, rows, cols, off) => {
    const raw = new Uint8Array(rows * cols * eb + off);
    const r = randomData('F32', raw.length, 4);
    for (let i = 0; i < raw.length; i++) raw[i] = Math.floor((r[i] + 1) * 127);
    const src = raw.subarray(off);
    const dst = new Uint8Array(raw.length).subarray(off);
    await n().transposeBytes(src, dst, rows, cols, eb);
    expect(Buffer.compare(Buffer.from(dst), Buffer.from(ref(src, rows, cols, eb)))).toBe(0);
  });
});

describe('dequantQ8_0', () => {
  test('rejects a length that is not whole blocks and a wrong output size', () => {
    expect(() => n().dequantQ8_0(new Uint8Array(35), new Float32Array(32))).toThrow(/34-byte Q8_0 block/);
    expect(() => n().dequantQ8_0(new Uint8Array(68), new Float32Array(32))).toThrow(/expected 64/);
  });
});
