// The forward matmul against a float64 reference, for odd shapes (tails in every
// blocking dimension), every storage dtype and every instruction-set variant the CPU has.
import { matmul, matmulIsa, setMatmulIsa, MatmulIsa } from '../../lib/forward';
import { refLinear, values } from '../support/reference-forward';
import { makeTensor, rng } from './random-model';
import { TensorDType } from '../../lib/model/types';

const isas = matmulIsa().supported as MatmulIsa[];
afterAll(() => setMatmulIsa('auto'));

// n x in x out: one or two rows (the gemv path), remainders of the register tile (6 / 12 rows, 16 / 32
// columns), more than one K slice (256) and more than one column tile.
const shapes: [number, number, number][] = [
  [1, 1, 1],
  [1, 7, 3],
  [1, 520, 70],
  [2, 300, 45],
  [3, 17, 5],
  [5, 33, 17],
  [13, 300, 45],
  [7, 520, 9],
  [25, 64, 530],
];

describe.each(isas)('matmul, %s kernel', (isa) => {
  beforeAll(() => expect(setMatmulIsa(isa).active).toBe(isa));

  test.each(['f32', 'f16', 'bf16'] as TensorDType[])('%s weights, with and without bias', async (dtype) => {
    const r = rng(7);
    for (const [n, inp, out] of shapes) {
      const wt = makeTensor('w', [out, inp], Array.from({ length: out * inp }, () => r() * 2 - 1), dtype);
      const x = Float32Array.from({ length: n * inp }, () => r() * 2 - 1);
      const bias = Float32Array.from({ length: out }, () => r() - 0.5);
      const w64 = values(wt);
      for (const b of [undefined, bias]) {
        const y = await matmul(x, { data: wt.data, dtype, rows: out, cols: inp }, { bias: b });
        const ref = refLinear(Float64Array.from(x), n, w64, out, inp, b ? Float64Array.from(b) : undefined);
        // float32 accumulation: error bounded by ~ sqrt(in) * eps * sum |x||w|
        let worst = 0;
        for (let i = 0; i < y.length; ++i) {
          const row = Math.floor(i / out);
          const o = i % out;
          let mag = 0;
          for (let k = 0; k < inp; ++k) mag += Math.abs(x[row * inp + k] * w64[o * inp + k]);
          worst = Math.max(worst, Math.abs(y[i] - ref[i]) / (2e-7 * Math.sqrt(inp) * mag + 1e-6 * mag + 1e-6));
        }
        expect(worst).toBeLessThanOrEqual(1);
      }
    }
  });
});

test('an unsupported or unknown ISA is refused with a clear error', () => {
  expect(() => setMatmulIsa('bogus' as MatmulIsa)).toThrow(/portable, avx2 or avx512/);
  if (!isas.includes('avx512')) expect(() => setMatmulIsa('avx512')).toThrow(/does not support/);
});

test('matmul checks shapes', async () => {
  const w = { data: new Float32Array(6), dtype: 'f32' as const, rows: 2, cols: 3 };
  await expect(matmul(new Float32Array(4), w)).rejects.toThrow(/multiple of W.cols 3/);
  await expect(matmul(new Float32Array(3), w, { bias: new Float32Array(3) })).rejects.toThrow(/bias has 3 elements, expected 2/);
});
