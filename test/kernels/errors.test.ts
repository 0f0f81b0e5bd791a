// Bad input is rejected with the right error class and a message naming the argument;
// nothing is modified when an operation fails.
import {
  applyMask,
  backendsInfo,
  ColumnStats,
  computeScores,
  emptyMask,
  Matrix,
  parsePattern,
  pruneMatrix,
  selectGlobal,
  selectMask,
} from '../../lib';

const w = (): Matrix => ({ data: Float32Array.of(1, 2, 3, 4, 5, 6), dtype: 'f32', rows: 2, cols: 3 });

// Errors are compared by name and code: classes from another realm fail instanceof.
async function rejectsWith(p: Promise<unknown> | (() => unknown), name: string, message: RegExp): Promise<void> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err).toBeDefined();
  expect((err as Error).name).toBe(name);
  expect((err as Error).message).toMatch(message);
}

describe('shape and dtype errors', () => {
  test('wrong data length', () =>
    rejectsWith(pruneMatrix({ ...w(), rows: 3 }, {}, { sparsity: 0.5 }), 'ShapeError', /W\.data .*has 6 elements, expected 9/));
  test('non-integer or zero dimensions', async () => {
    await rejectsWith(pruneMatrix({ ...w(), cols: 0 }, {}, { sparsity: 0.5 }), 'ShapeError', /W\.cols must be a positive integer/);
    await rejectsWith(pruneMatrix({ ...w(), rows: 1.5 }, {}, { sparsity: 0.5 }), 'ShapeError', /W\.rows/);
  });
  test('non-contiguous strides', () =>
    rejectsWith(pruneMatrix({ ...w(), strides: [1, 2] }, {}, { sparsity: 0.5 }), 'ShapeError', /not contiguous/));
  test('plain arrays, Float64Array and DataView are refused', async () => {
    await rejectsWith(pruneMatrix({ ...w(), data: [1, 2, 3, 4, 5, 6] as unknown as Float32Array }, {}, { sparsity: 0.5 }), 'DTypeError', /Float32Array.*got Array/);
    await rejectsWith(pruneMatrix({ ...w(), data: new Float64Array(6) as unknown as Float32Array }, {}, { sparsity: 0.5 }), 'DTypeError', /got Float64Array/);
    await rejectsWith(pruneMatrix({ ...w(), data: new DataView(new ArrayBuffer(24)) as unknown as Float32Array }, {}, { sparsity: 0.5 }), 'DTypeError', /got DataView/);
  });
  test('dtype and array class must agree', async () => {
    await rejectsWith(pruneMatrix({ ...w(), dtype: 'f16' }, {}, { sparsity: 0.5 }), 'DTypeError', /dtype f16.*Uint16Array/);
    await rejectsWith(pruneMatrix({ ...w(), dtype: 'int8' as 'f32' }, {}, { sparsity: 0.5 }), 'DTypeError', /W\.dtype must be one of/);
  });
  test('statistic of the wrong length', () =>
    rejectsWith(pruneMatrix(w(), { q: 1, act: new Float32Array(2) }, { sparsity: 0.5 }), 'ShapeError', /act .*2 elements, expected 3/));
  test('q != 0 without a statistic', () => rejectsWith(computeScores(w(), { q: 1 }), 'ShapeError', /needs a statistic/));
  test('mask of the wrong shape', () => rejectsWith(applyMask(w(), emptyMask(3, 2)), 'ShapeError', /mask is 3x2 but W is 2x3/));
  test('scores of the wrong length', () => rejectsWith(selectMask(new Float32Array(5), 2, 3, { sparsity: 0.5 }), 'ShapeError', /scores .*5 elements, expected 6/));
  test('empty global list', () => rejectsWith(selectGlobal([], 0.5), 'ShapeError', /non-empty/));
});

describe('range errors', () => {
  for (const s of [-0.1, 1, 1.5, NaN, Infinity, '0.5' as unknown as number])
    test(`sparsity ${String(s)}`, async () => {
      let err: unknown;
      try {
        await pruneMatrix(w(), {}, { sparsity: s });
      } catch (e) {
        err = e;
      }
      expect((err as Error).name).toBe('SparsityError');
      expect(err).toBeInstanceOf(RangeError);
      expect((err as Error).message).toMatch(/sparsity must be a number in \[0, 1\)/);
    });
  test('N:M outside 1 <= N < M <= 32', async () => {
    for (const [n, m] of [
      [4, 4],
      [5, 4],
      [0, 4],
      [2, 33],
      [1.5, 4],
    ])
      await rejectsWith(pruneMatrix(w(), {}, { pattern: { n, m } }), 'PatternError', /1 <= N < M <= 32/);
    expect(() => parsePattern('2-4')).toThrow(/N:M/);
    expect(parsePattern(' 2:4 ')).toEqual({ n: 2, m: 4 });
  });
  test('score exponents', async () => {
    await rejectsWith(computeScores(w(), { p: 0 }), 'ArgumentRangeError', /p must be in \(0, 4\]/);
    await rejectsWith(computeScores(w(), { q: -1, act: new Float32Array(3) }), 'ArgumentRangeError', /q must be in \[0, 4\]/);
  });
  test('granularity', () =>
    rejectsWith(pruneMatrix(w(), {}, { sparsity: 0.5, granularity: 'column' as 'row' }), 'ArgumentRangeError', /granularity/));
});

describe('non-finite values', () => {
  for (const bad of [NaN, Infinity, -Infinity])
    test(`${bad} in weights leaves W untouched`, async () => {
      const m = w();
      m.data[4] = bad;
      const before = Array.from(m.data);
      await rejectsWith(pruneMatrix(m, {}, { sparsity: 0.5 }), 'NonFiniteError', /weights .*row 1, column 1/);
      expect(Array.from(m.data)).toEqual(before);
      await rejectsWith(pruneMatrix(m, {}, { sparsity: 0.5, granularity: 'matrix' }), 'NonFiniteError', /row 1, column 1/);
      await rejectsWith(pruneMatrix(m, {}, { pattern: { n: 1, m: 2 } }), 'NonFiniteError', /row 1, column 1/);
      expect(Array.from(m.data)).toEqual(before);
    });
  test('NaN in f16 weights', async () => {
    const m: Matrix = { data: Uint16Array.of(0x3c00, 0x7e00), dtype: 'f16', rows: 1, cols: 2 };
    await rejectsWith(pruneMatrix(m, {}, { sparsity: 0.5 }), 'NonFiniteError', /column 1/);
    expect(Array.from(m.data)).toEqual([0x3c00, 0x7e00]);
  });
  test('NaN, Inf or negative values in the statistic', async () => {
    await rejectsWith(pruneMatrix(w(), { q: 1, act: Float32Array.of(1, NaN, 1) }, { sparsity: 0.5 }), 'NonFiniteError', /statistic .*column 1/);
    await rejectsWith(pruneMatrix(w(), { q: 1, act: Float32Array.of(1, 1, Infinity) }, { sparsity: 0.5 }), 'NonFiniteError', /column 2/);
    await rejectsWith(pruneMatrix(w(), { q: 1, act: Float32Array.of(1, -1, 1) }, { sparsity: 0.5 }), 'ArgumentRangeError', />= 0/);
  });
  test('NaN scores', () => rejectsWith(selectMask(Float32Array.of(1, NaN, 2, 3, 4, 5), 2, 3, { sparsity: 0.5 }), 'NonFiniteError', /scores .*row 0, column 1/));
  test('NaN activations leave the accumulators unchanged', async () => {
    const cs = new ColumnStats(3, { threshold: 1 });
    await cs.add(Float32Array.of(1, 2, 3), 1);
    await rejectsWith(cs.add(Float32Array.of(1, 2, 3, 4, NaN, 6), 2), 'NonFiniteError', /activations .*row 1, column 1/);
    expect(Array.from(cs.sum)).toEqual([1, 2, 3]);
    expect(Array.from(cs.sumSq)).toEqual([1, 4, 9]);
    expect(Array.from(cs.exceed!)).toEqual([0, 1, 1]);
    expect(cs.count).toBe(1);
  });
});

test('the CUDA backend, when absent, is a clear BackendError', async () => {
  const info = backendsInfo();
  if (info.cudaAvailable) return; // covered by test/cuda on a GPU machine
  await rejectsWith(pruneMatrix(w(), {}, { sparsity: 0.5, backend: 'cuda' }), 'BackendError', /CUDA backend unavailable/);
});
