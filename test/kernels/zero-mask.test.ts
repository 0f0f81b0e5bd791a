// The native zero mask (where weights are +0 or -0, the mask fine-tuning holds) against a
// plain reference: f32 and 16-bit storage, signed zeros, a length that is not a multiple
// of 8, and enough bytes for several parallel chunks.
import { zeroBits } from '../../lib/finetune/mask';
import { rng } from '../support/random';

function reference(isZero: (i: number) => boolean, n: number): { bits: Uint8Array; zeros: number } {
  const bits = new Uint8Array(Math.ceil(n / 8));
  let zeros = 0;
  for (let i = 0; i < n; i++)
    if (isZero(i)) {
      bits[i >> 3] |= 1 << (i & 7);
      zeros++;
    }
  return { bits, zeros };
}

const N = 300_005;

test('f32: +0 and -0 count, tiny non-zeros do not', () => {
  const r = rng(1);
  const d = Float32Array.from({ length: N }, () => {
    const u = r();
    return u < 0.3 ? 0 : u < 0.4 ? -0 : u < 0.45 ? 1e-45 : u - 0.5;
  });
  const got = zeroBits({ data: d, dtype: 'f32' });
  expect(got).toEqual(reference((i) => d[i] === 0, N));
  expect(got.zeros).toBeGreaterThan(N / 4);
});

test.each(['f16', 'bf16'] as const)('%s: the sign bit ignored, every other bit counts', (dtype) => {
  const r = rng(2);
  const d = Uint16Array.from({ length: N }, () => {
    const u = r();
    return u < 0.3 ? 0 : u < 0.4 ? 0x8000 : u < 0.45 ? 1 : Math.floor(r() * 0x10000);
  });
  expect(zeroBits({ data: d, dtype })).toEqual(reference((i) => (d[i] & 0x7fff) === 0, N));
});
