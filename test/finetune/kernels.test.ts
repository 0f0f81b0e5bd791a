// The fine-tuning kernels (native/cpu/ewc_penalty, float_summary, cast_keeping_zeros,
// keep_from_zeros, pruned_nonzero; the anchor dtype of adamw) against plain references,
// over sizes that span several thread-pool chunks, with signed zeros and odd tails.
import { convertDType } from '../../lib/kernels';
import { castKeepingZeros } from '../../lib/finetune/mask';
import { optimNative } from '../../lib/native/optim';
import { SeededRandom } from '../../lib/util/random';
import { bf16ToNumber, halfToNumber } from '../support/kernel-reference';

const rng = new SeededRandom(11);
const randn = (n: number, scale = 1) => Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * scale);
const bits = (n: number, p: number) => {
  const b = new Uint8Array(Math.ceil(n / 8));
  for (let i = 0; i < n; ++i) if (rng.next() < p) b[i >> 3] |= 1 << (i & 7);
  return b;
};
const bit = (b: Uint8Array, i: number) => ((b[i >> 3] >> (i & 7)) & 1) === 1;
const SIZES = [1, 7, 8, 13, 40_003];

describe('ewcPenalty', () => {
  it.each(SIZES)('is sum F (w - a)^2 over the kept weights, anchor in f32 or f16 (n = %i)', async (n) => {
    const w = randn(n);
    const f = randn(n).map(Math.abs);
    const a32 = randn(n);
    const a16 = (await convertDType(a32, 'f32', 'f16')) as Uint16Array;
    const keep = bits(n, 0.6);
    for (const [anchor, value] of [
      [{ data: a32, dtype: 'f32' as const }, (i: number) => a32[i]],
      [{ data: a16, dtype: 'f16' as const }, (i: number) => halfToNumber(a16[i])],
    ] as const) {
      let want = 0;
      let wantAll = 0;
      for (let i = 0; i < n; ++i) {
        const term = f[i] * (w[i] - value(i)) ** 2;
        wantAll += term;
        if (bit(keep, i)) want += term;
      }
      expect(optimNative().ewcPenalty(w, f, anchor, keep)).toBeCloseTo(want, 8);
      expect(optimNative().ewcPenalty(w, f, anchor)).toBeCloseTo(wantAll, 8);
    }
  });

  it('refuses arrays of different lengths', () => {
    expect(() => optimNative().ewcPenalty(new Float32Array(4), new Float32Array(3), { data: new Float32Array(4), dtype: 'f32' })).toThrow(/fisher/);
    expect(() => optimNative().ewcPenalty(new Float32Array(4), new Float32Array(4), { data: new Float32Array(5), dtype: 'f32' })).toThrow(/anchor/);
  });
});

describe('floatSummary', () => {
  it.each(SIZES)('sums and maximizes the finite values, counts the others (n = %i)', (n) => {
    const x = randn(n, 3);
    x[0] = Number.NaN;
    if (n > 5) x[5] = Number.POSITIVE_INFINITY;
    let sum = 0;
    let max = -Infinity;
    let finite = 0;
    for (const v of x)
      if (Number.isFinite(v)) {
        sum += v;
        max = Math.max(max, v);
        ++finite;
      }
    const s = optimNative().floatSummary(x);
    expect(s.finite).toBe(finite);
    expect(s.nonfinite).toBe(n - finite);
    expect(s.sum).toBeCloseTo(sum, 8);
    expect(s.max).toBe(finite ? max : 0);
  });
});

describe('castKeepingZeros', () => {
  it.each([
    ['f32', 'f16'],
    ['f32', 'bf16'],
    ['f16', 'f32'],
    ['f16', 'bf16'],
    ['bf16', 'f16'],
  ] as const)('%s -> %s: the converter, with kept weights that round to zero nudged to the smallest value of their sign', async (from, to) => {
    const n = 40_003;
    // Values down to 1e-9 round to zero in f16; signed zeros stay where the keep bit is clear.
    const x32 = Float32Array.from(randn(n), (v, i) => (i % 5 === 0 ? v * 1e-9 : i % 7 === 0 ? (v < 0 ? -0 : 0) : v));
    const src = from === 'f32' ? x32 : ((await convertDType(x32, 'f32', from)) as Uint16Array);
    const keep = bits(n, 0.7);
    // the plain reference: the converter, then the fix-up as the TypeScript loop did it
    const want = await convertDType(src, from, to);
    for (let i = 0; i < n; ++i) {
      if (!bit(keep, i)) continue;
      const negative = from === 'f32' ? Object.is(src[i], -0) || src[i] < 0 : (src[i] & 0x8000) !== 0;
      if (to === 'f32') {
        if (want[i] === 0) want[i] = negative ? -1.4e-45 : 1.4e-45;
      } else if ((want[i] & 0x7fff) === 0) want[i] = negative ? 0x8001 : 0x0001;
    }
    const got = await castKeepingZeros({ name: 'w', dtype: from, shape: [n], data: src }, to, keep);
    expect(got.dtype).toBe(to);
    expect(Buffer.from(got.data.buffer).equals(Buffer.from(want.buffer))).toBe(true);
    const plain = await castKeepingZeros({ name: 'w', dtype: from, shape: [n], data: src }, to, undefined);
    expect(Buffer.from(plain.data.buffer).equals(Buffer.from((await convertDType(src, from, to)).buffer))).toBe(true);
  });
});

describe('keepFromZeros and prunedNonzero', () => {
  it.each(SIZES)('complement with a clear tail; pruned yet nonzero counted (n = %i)', (n) => {
    const zero = bits(n, 0.5);
    zero[zero.length - 1] |= 0x80; // a stray bit past the end (n % 8 != 0) must not leak
    const keep = new Uint8Array(zero.length).fill(0xaa);
    optimNative().keepFromZeros(zero, n, keep);
    const wrong = Array.from({ length: zero.length * 8 }, (_, i) => i).filter((i) => bit(keep, i) !== (i < n ? !bit(zero, i) : false));
    expect(wrong).toEqual([]);
    const now = bits(n, 0.5);
    let want = 0;
    for (let i = 0; i < n; ++i) if (!bit(keep, i) && !bit(now, i)) ++want;
    expect(optimNative().prunedNonzero(keep, now, n)).toBe(want);
    expect(optimNative().prunedNonzero(keep, zero, n)).toBe(0);
  });
});

describe('adamwStep with an f16 / bf16 anchor', () => {
  it('takes the same step as with the anchor converted to float32', async () => {
    const n = 20_001;
    for (const dtype of ['f16', 'bf16'] as const) {
      const anchor = (await convertDType(randn(n), 'f32', dtype)) as Uint16Array;
      const anchor32 = Float32Array.from(anchor, (h) => (dtype === 'f16' ? halfToNumber(h) : bf16ToNumber(h)));
      const w0 = randn(n);
      const g = randn(n, 0.1);
      const f = randn(n).map(Math.abs);
      const run = async (ewcAnchor: { anchor: Float32Array | Uint16Array; anchorDtype?: 'f16' | 'bf16' }) => {
        const data = w0.slice();
        const state = { m: new Float32Array(n), v: new Float32Array(n) };
        await optimNative().adamwStep({ data, dtype: 'f32' }, g, state, { step: 1, lr: 1e-2, ewc: { lambda: 3, fisher: f, ...ewcAnchor } });
        return data;
      };
      const a = await run({ anchor, anchorDtype: dtype });
      const b = await run({ anchor: anchor32 });
      expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
      expect(Buffer.from(a.buffer).equals(Buffer.from(w0.buffer))).toBe(false);
    }
  });
});
