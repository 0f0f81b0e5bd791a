import { ColumnStats } from '../../lib';
import { randomValues, rng } from '../support/kernel-reference';

// The native code sums each batch in double (rows in order) and then adds the batch
// totals to the accumulators: the reference does the same, so results are bit-identical.
test('column statistics equal a plain double-precision accumulation in row order', async () => {
  const r = rng(42);
  for (const [rows, cols] of [
    [1, 1],
    [5, 3],
    [64, 77],
    [300, 130],
  ]) {
    const cs = new ColumnStats(cols, { threshold: 0.75 });
    const sum = new Float64Array(cols);
    const sq = new Float64Array(cols);
    const ex = new Float64Array(cols);
    for (let batch = 0; batch < 3; batch++) {
      const x = randomValues(rows * cols, 'normal', r);
      await cs.add(x, rows);
      for (let j = 0; j < cols; j++) {
        let s = 0;
        let q = 0;
        let e = 0;
        for (let i = 0; i < rows; i++) {
          const v = x[i * cols + j];
          s += v;
          q += v * v;
          e += Math.abs(v) > 0.75 ? 1 : 0;
        }
        sum[j] += s;
        sq[j] += q;
        ex[j] += e;
      }
    }
    expect(cs.count).toBe(3 * rows);
    expect(Array.from(cs.sum)).toEqual(Array.from(sum));
    expect(Array.from(cs.sumSq)).toEqual(Array.from(sq));
    expect(Array.from(cs.exceed!)).toEqual(Array.from(ex));
    expect(Array.from(cs.l2Norms())).toEqual(Array.from(sq, (v) => Math.fround(Math.sqrt(v))));
    expect(cs.outlierColumns()).toBe(Array.from(ex).filter((e) => e > 0).length);
  }
});

test('zero rows is a no-op, concurrent adds are serialized', async () => {
  const cs = new ColumnStats(2);
  await cs.add(new Float32Array(0), 0);
  await Promise.all([cs.add(Float32Array.of(1, 2), 1), cs.add(Float32Array.of(3, 4), 1)]);
  expect(Array.from(cs.sum)).toEqual([4, 6]);
  expect(cs.count).toBe(2);
  expect(cs.exceed).toBeUndefined();
});
