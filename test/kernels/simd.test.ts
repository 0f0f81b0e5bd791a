// The hand-vectorized loops (used when the CPU has AVX-512) and the portable loops
// give identical masks and weights, and both equal the reference.
import { Matrix, pruneMatrix, selectMask, setSimd } from '../../lib';
import { maskToKeep, randomValues, refSelectRow, rng } from '../support/kernel-reference';

afterAll(() => setSimd(true));

test('SIMD and portable paths agree with the reference on long rows, aligned or not', async () => {
  const simdAvailable = setSimd(true);
  if (!simdAvailable) console.warn('this CPU has no AVX-512: only the portable path is exercised');
  let seed = 77;
  for (const cols of [2048, 2051, 4099, 11008])
    for (const kind of ['normal', 'ties'] as const)
      for (const dtype of ['f32', 'bf16'] as const) {
        const rows = 5;
        const values = randomValues(rows * cols, kind, rng(seed++));
        const data = dtype === 'f32' ? values : Uint16Array.from(values, (v) => new Uint32Array(Float32Array.of(v).buffer)[0] >>> 16);
        const results: { bits: number[]; w: number[] }[] = [];
        for (const simd of [true, false]) {
          setSimd(simd);
          const w: Matrix = { data: data.slice(), dtype, rows, cols };
          const mask = await pruneMatrix(w, {}, { sparsity: 0.6 });
          results.push({ bits: Array.from(mask.bits), w: Array.from(w.data) });
          const m2 = await selectMask(values, rows, cols, { sparsity: 0.3 });
          expect(maskToKeep(m2.bits, rows * cols)).toEqual(refSelectRow(values, rows, cols, 0.3));
        }
        expect(results[0]).toEqual(results[1]);
      }
});
