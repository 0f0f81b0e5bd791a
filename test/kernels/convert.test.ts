// (F16C against the portable conversion, bit for bit on every value: cpu-features.test.ts.)
import { convertDType, fromFloat32, toFloat32 } from '../../lib';
import { bf16ToNumber, bitsOf, halfToNumber, numberToBf16, numberToHalf, rng } from '../support/kernel-reference';

describe('f16 / bf16 conversion', () => {
  test('every f16 value decodes exactly and re-encodes to the same bits', async () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const f = await toFloat32(all, 'f16');
    const bad: number[] = [];
    for (let i = 0; i < 65536; i++) {
      const ref = halfToNumber(i);
      if (Number.isNaN(ref) ? !Number.isNaN(f[i]) : !Object.is(f[i], Math.fround(ref))) bad.push(i);
    }
    const back = await fromFloat32(f, 'f16');
    for (let i = 0; i < 65536; i++) {
      const isNaN16 = (i & 0x7c00) === 0x7c00 && (i & 0x3ff) !== 0;
      if (isNaN16 ? !((back[i] & 0x7c00) === 0x7c00 && (back[i] & 0x3ff) !== 0) : back[i] !== i) bad.push(i);
    }
    expect(bad).toEqual([]);
  });

  test('every bf16 value round-trips', async () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const f = await toFloat32(all, 'bf16');
    const bad: number[] = [];
    for (let i = 0; i < 65536; i += 1) if (!Number.isNaN(f[i]) && !Object.is(f[i], bf16ToNumber(i))) bad.push(i);
    const back = await fromFloat32(f, 'bf16');
    for (let i = 0; i < 65536; i++) {
      const isNaN16 = (i & 0x7f80) === 0x7f80 && (i & 0x7f) !== 0;
      if (isNaN16 ? !Number.isNaN(bf16ToNumber(back[i])) : back[i] !== i) bad.push(i);
    }
    expect(bad).toEqual([]);
  });

  test('float32 -> f16 / bf16 round to nearest even, with ties, overflow and subnormals', async () => {
    const r = rng(7);
    const vals: number[] = [0, -0, 1, -1, 65504, 65519.99, 65520, 1e6, -1e6, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 2 ** -14, 1e-40, 3.4e38, Infinity, -Infinity];
    // exact halfway points between neighbouring f16 / bf16 values
    for (let i = 0; i < 200; i++) {
      const h = Math.floor(r() * 0x7bff);
      vals.push(Math.fround((halfToNumber(h) + halfToNumber(h + 1)) / 2));
      const b = Math.floor(r() * 0x7f7f);
      vals.push(Math.fround((bf16ToNumber(b) + bf16ToNumber(b + 1)) / 2));
    }
    for (let i = 0; i < 5000; i++) vals.push(Math.fround((r() - 0.5) * 10 ** (r() * 12 - 8)));
    const src = Float32Array.from(vals);
    const h = await fromFloat32(src, 'f16');
    const b = await fromFloat32(src, 'bf16');
    const bad: string[] = [];
    for (let i = 0; i < src.length; i++) {
      if (h[i] !== numberToHalf(src[i])) bad.push(`f16 ${src[i]}: ${h[i]} != ${numberToHalf(src[i])}`);
      if (b[i] !== numberToBf16(src[i])) bad.push(`bf16 ${src[i]}: ${b[i]} != ${numberToBf16(src[i])}`);
    }
    expect(bad).toEqual([]);
    expect(Number.isNaN(halfToNumber((await fromFloat32(Float32Array.of(NaN), 'f16'))[0]))).toBe(true);
    expect(Number.isNaN(bf16ToNumber((await fromFloat32(Float32Array.of(NaN), 'bf16'))[0]))).toBe(true);
    expect(bitsOf(1)).toBe(0x3f800000);
  });

  test('f16 -> bf16 goes through float32', async () => {
    const src = Uint16Array.of(0x3c00, 0xc000, 0x7bff);
    const out = await convertDType(src, 'f16', 'bf16');
    // 65504 has more mantissa bits than bf16 keeps: it rounds to 65536
    expect(Array.from(out, (x) => bf16ToNumber(x))).toEqual([1, -2, bf16ToNumber(numberToBf16(65504))]);
    expect(bf16ToNumber(out[2])).toBe(65536);
  });

  test('a view into a larger buffer is read at its offset', async () => {
    const big = new Uint16Array([0x3c00, 0x4000, 0x4200, 0x4400]);
    const f = await toFloat32(big.subarray(1, 3), 'f16');
    expect(Array.from(f)).toEqual([2, 3]);
  });
});
