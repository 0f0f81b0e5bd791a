import { ArgumentRangeError, HessianAccumulator, NonFiniteError, ShapeError } from '../../lib';
import { refXtX } from '../support/sparsegpt-reference';
import { correlatedX, randomF32 } from './helpers';

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, rel: number) {
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) {
    if (Math.abs(got[i] - want[i]) > rel * scale) throw new Error(`element ${i}: got ${got[i]}, want ${want[i]}`);
  }
}

describe('HessianAccumulator', () => {
  test.each([1, 7, 64, 70, 130])('f64 X^T X over several batches matches the reference (cols %i)', async (cols) => {
    const sizes = [5, 0, 300, 1];
    const h = new HessianAccumulator(cols);
    const all: number[] = [];
    for (const [i, rows] of sizes.entries()) {
      const x = randomF32(rows * cols, 100 + i);
      await h.add(x, rows);
      all.push(...x);
    }
    expect(h.count).toBe(306);
    expect(h.precision).toBe('f64');
    expectClose(h.sum, refXtX(all, 306, cols), 1e-12);
    for (let i = 0; i < cols; i++) for (let j = 0; j < i; j++) expect(h.sum[i * cols + j]).toBe(h.sum[j * cols + i]);
  });

  test('f32 accumulation is close to the float64 reference', async () => {
    const cols = 45;
    const x = correlatedX(270, cols, 7);
    const h = new HessianAccumulator(cols, { precision: 'f32' });
    await Promise.all([h.add(x.subarray(0, 100 * cols), 100), h.add(x.subarray(100 * cols), 170)]);
    expect(h.sum).toBeInstanceOf(Float32Array);
    expect(h.count).toBe(270);
    expectClose(h.sum, refXtX(x, 270, cols), 1e-5);
  });

  test.each([
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Inf'],
  ])('a non-finite activation (%s) is rejected by row and column; the accumulator is unchanged', async (bad) => {
    const cols = 9;
    const h = new HessianAccumulator(cols);
    await h.add(randomF32(4 * cols, 1), 4);
    const before = Float64Array.from(h.sum);
    const x = randomF32(6 * cols, 2);
    x[3 * cols + 5] = bad;
    x[4 * cols + 1] = bad;
    const err = await h.add(x, 6).catch((e: Error) => e);
    expect(err).toBeInstanceOf(NonFiniteError);
    expect((err as Error).message).toMatch(/row 3, column 5/);
    expect(Array.from(h.sum)).toEqual(Array.from(before));
    expect(h.count).toBe(4);
    await h.add(randomF32(cols, 3), 1); // still usable
    expect(h.count).toBe(5);
  });

  test('bad arguments are rejected with typed errors', () => {
    expect(() => new HessianAccumulator(0)).toThrow(ShapeError);
    expect(() => new HessianAccumulator(4, { precision: 'f16' as never })).toThrow(ArgumentRangeError);
    const h = new HessianAccumulator(4);
    expect(() => h.add(new Float32Array(7), 2)).toThrow(ShapeError);
    expect(() => h.add(new Float32Array(8), -1)).toThrow(ShapeError);
  });

  test('reset clears the statistic', async () => {
    const h = new HessianAccumulator(3);
    await h.add(new Float32Array([1, 2, 3]), 1);
    await h.reset();
    expect(h.count).toBe(0);
    expect(Array.from(h.sum)).toEqual(new Array(9).fill(0));
  });
});
