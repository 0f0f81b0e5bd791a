// Every selection mode against the sorting reference, on fresh random inputs of
// several shapes, value ranges and dtypes.
import { computeScores, DType, Matrix, pruneMatrix, selectGlobal, selectMask } from '../../lib';
import {
  decode,
  encode,
  maskToKeep,
  randomValues,
  refScores,
  refSelectMatrix,
  refSelectNM,
  refSelectRow,
  rng,
  ValueKind,
} from '../support/kernel-reference';

const SHAPES: [number, number][] = [
  [1, 1],
  [1, 7],
  [3, 5],
  [7, 13],
  [5, 3],
  [17, 33],
  [9, 64],
  [33, 100],
];
const KINDS: ValueKind[] = ['normal', 'huge', 'tiny', 'ties'];
const DTYPES: DType[] = ['f32', 'f16', 'bf16'];

function makeMatrix(rows: number, cols: number, kind: ValueKind, dtype: DType, seed: number): Matrix {
  let values = randomValues(rows * cols, kind, rng(seed));
  // f16 tops out at 65504: "huge" for it means near that limit, not 1e30.
  if (dtype === 'f16' && kind === 'huge') values = values.map((v) => v * 2e-26);
  return { data: encode(values, dtype), dtype, rows, cols };
}

function firstDiff(a: boolean[], b: boolean[]): number {
  return a.findIndex((v, i) => v !== b[i]);
}

describe('per-row selection (score + select + apply)', () => {
  let seed = 1;
  for (const dtype of DTYPES)
    for (const kind of KINDS)
      test(`${dtype} ${kind}`, async () => {
        for (const [rows, cols] of SHAPES)
          for (const sparsity of [0, 0.1, 0.5, 0.77, 0.999]) {
            const w = makeMatrix(rows, cols, kind, dtype, seed++);
            const before = decode(w.data, dtype);
            const act = randomValues(cols, 'normal', rng(seed++)).map(Math.abs);
            for (const [p, q] of [
              [1, 0],
              [1, 1],
              [2, 0.5],
            ]) {
              const wc: Matrix = { ...w, data: w.data.slice() };
              const mask = await pruneMatrix(wc, { p, q, act }, { sparsity });
              const ref = refSelectRow(refScores(before, cols, p, q, act), rows, cols, sparsity);
              const got = maskToKeep(mask.bits, rows * cols);
              expect({ rows, cols, sparsity, p, q, diff: firstDiff(got, ref) }).toEqual({ rows, cols, sparsity, p, q, diff: -1 });
              const k = Math.floor(sparsity * cols);
              expect(Array.from(mask.prunedPerRow)).toEqual(new Array(rows).fill(k));
              expect(mask.pruned).toBe(k * rows);
              // pruned weights are zero, kept ones unchanged (bit for bit)
              const after = Array.from(wc.data);
              const orig = Array.from(w.data);
              expect(after.every((v, i) => (ref[i] ? Object.is(v, orig[i]) : v === 0))).toBe(true);
            }
          }
      });
});

describe('long rows (sampled bracket path, rows >= 2048)', () => {
  test('every kind of values and sparsity, fused and from scores', async () => {
    let seed = 300;
    for (const kind of [...KINDS, 'sorted', 'reversed', 'constant'] as const)
      for (const cols of [2048, 5003, 11008]) {
        const rows = 3;
        let values: Float32Array;
        if (kind === 'sorted' || kind === 'reversed') {
          values = Float32Array.from({ length: rows * cols }, (_, i) => (kind === 'sorted' ? i % cols : cols - (i % cols)) * 0.001);
        } else if (kind === 'constant') {
          values = new Float32Array(rows * cols).fill(0.25);
        } else {
          values = randomValues(rows * cols, kind, rng(seed++));
        }
        for (const sparsity of [0.0001, 0.01, 0.5, 0.9, 0.9999]) {
          const ref = refSelectRow(Float32Array.from(values, Math.abs), rows, cols, sparsity);
          const w: Matrix = { data: values.slice(), dtype: 'f32', rows, cols };
          const mask = await pruneMatrix(w, {}, { sparsity });
          expect({ kind, cols, sparsity, diff: firstDiff(maskToKeep(mask.bits, rows * cols), ref) }).toEqual({ kind, cols, sparsity, diff: -1 });
          const fromScores = await selectMask(values, rows, cols, { sparsity });
          const refSigned = refSelectRow(values, rows, cols, sparsity);
          expect(firstDiff(maskToKeep(fromScores.bits, rows * cols), refSigned)).toBe(-1);
        }
      }
  });
});

test('adversarial rows whose sampled positions mislead the bracket still select exactly', async () => {
  const cols = 11008;
  const stride = Math.floor(cols / 512);
  const values = Float32Array.from({ length: cols }, (_, j) => (j % stride === stride >> 1 ? 1 : 0.5 + (j % 97) * 1e-4));
  for (const sparsity of [0.1, 0.5, 0.99]) {
    const mask = await selectMask(values, 1, cols, { sparsity });
    expect(firstDiff(maskToKeep(mask.bits, cols), refSelectRow(values, 1, cols, sparsity))).toBe(-1);
  }
});

test('rows with different distributions (a reused bracket misses or is too wide) still select exactly', async () => {
  const rows = 12;
  const cols = 4096;
  const r = rng(99);
  const values = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const scale = [1, 1e3, 1e-3, 1][i % 4];
    const spread = i % 4 === 3 ? 1e6 : 1; // a row much wider than the one before
    for (let j = 0; j < cols; j++) values[i * cols + j] = (r() - 0.5) * scale * (j % 2 ? spread : 1);
  }
  for (const sparsity of [0.2, 0.5, 0.8]) {
    const mask = await selectMask(values, rows, cols, { sparsity });
    expect(firstDiff(maskToKeep(mask.bits, rows * cols), refSelectRow(values, rows, cols, sparsity))).toBe(-1);
    const w: Matrix = { data: values.slice(), dtype: 'f32', rows, cols };
    const m2 = await pruneMatrix(w, {}, { sparsity });
    expect(firstDiff(maskToKeep(m2.bits, rows * cols), refSelectRow(Float32Array.from(values, Math.abs), rows, cols, sparsity))).toBe(-1);
  }
});

describe('selection from precomputed scores', () => {
  test('row, matrix and N:M agree with the reference, including negative scores and ties', async () => {
    let seed = 100;
    for (const kind of KINDS)
      for (const [rows, cols] of SHAPES) {
        const scores = randomValues(rows * cols, kind, rng(seed++)); // may be negative: any real score works
        for (const sparsity of [0, 0.3, 0.5, 0.9]) {
          const row = await selectMask(scores, rows, cols, { sparsity });
          expect(firstDiff(maskToKeep(row.bits, rows * cols), refSelectRow(scores, rows, cols, sparsity))).toBe(-1);
          const mat = await selectMask(scores, rows, cols, { sparsity, granularity: 'matrix' });
          expect(firstDiff(maskToKeep(mat.bits, rows * cols), refSelectMatrix(scores, rows * cols, sparsity))).toBe(-1);
          expect(mat.pruned).toBe(Math.floor(sparsity * rows * cols));
          const perRow = Array.from(mat.prunedPerRow);
          const keep = maskToKeep(mat.bits, rows * cols);
          for (let r = 0; r < rows; r++) expect(perRow[r]).toBe(keep.slice(r * cols, (r + 1) * cols).filter((k) => !k).length);
        }
        for (const [n, m] of [
          [2, 4],
          [4, 8],
          [1, 2],
          [3, 7],
          [1, 32],
          [31, 32],
          [16, 32],
        ]) {
          const mask = await selectMask(scores, rows, cols, { pattern: { n, m } });
          const got = maskToKeep(mask.bits, rows * cols);
          expect({ rows, cols, n, m, diff: firstDiff(got, refSelectNM(scores, rows, cols, n, m)) }).toEqual({ rows, cols, n, m, diff: -1 });
          // invariant: every group of m (the trailing one may be shorter) keeps min(n, size)
          for (let r = 0; r < rows; r++)
            for (let g = 0; g < cols; g += m) {
              const size = Math.min(m, cols - g);
              const kept = got.slice(r * cols + g, r * cols + g + size).filter(Boolean).length;
              expect(kept).toBe(Math.min(n, size));
            }
        }
      }
  });

  test('a large matrix with heavy ties picks exactly k, lower flat index first', async () => {
    const rows = 300;
    const cols = 1000;
    const scores = new Float32Array(rows * cols).fill(1); // all tied
    const mask = await selectMask(scores, rows, cols, { sparsity: 0.25, granularity: 'matrix' });
    const keep = maskToKeep(mask.bits, rows * cols);
    const k = Math.floor(0.25 * rows * cols);
    expect(keep.slice(0, k).every((x) => !x)).toBe(true);
    expect(keep.slice(k).every((x) => x)).toBe(true);
  });
});

describe('global selection across matrices', () => {
  test('one threshold across several matrices, ties in matrix then index order', async () => {
    let seed = 500;
    for (const kind of KINDS) {
      const shapes: [number, number][] = [
        [3, 5],
        [8, 16],
        [1, 9],
        [13, 7],
      ];
      const items = shapes.map(([rows, cols]) => ({ rows, cols, scores: randomValues(rows * cols, kind, rng(seed++)) }));
      for (const sparsity of [0, 0.2, 0.5, 0.95]) {
        const masks = await selectGlobal(items, sparsity);
        const all = new Float32Array(items.reduce((a, it) => a + it.scores.length, 0));
        let off = 0;
        for (const it of items) {
          all.set(it.scores, off);
          off += it.scores.length;
        }
        const ref = refSelectMatrix(all, all.length, sparsity);
        const got = masks.flatMap((m, i) => maskToKeep(m.bits, items[i].rows * items[i].cols));
        expect(firstDiff(got, ref)).toBe(-1);
        expect(masks.reduce((a, m) => a + m.pruned, 0)).toBe(Math.floor(sparsity * all.length));
      }
    }
  });
});

describe('scores', () => {
  test('|W|^p * a^q for general exponents, every dtype', async () => {
    let seed = 900;
    for (const dtype of DTYPES) {
      const w = makeMatrix(6, 11, 'normal', dtype, seed++);
      const act = randomValues(11, 'normal', rng(seed++)).map(Math.abs);
      for (const [p, q] of [
        [1, 0],
        [1, 1],
        [2, 0],
        [0.5, 2],
        [1.5, 0.25],
        [4, 4],
      ]) {
        const got = await computeScores(w, { p, q, act });
        const ref = refScores(decode(w.data, dtype), 11, p, q, act);
        for (let i = 0; i < got.length; i++) expect(got[i]).toBeCloseTo(ref[i], 5);
        if (p === 1 || p === 2) expect(Array.from(got)).toEqual(Array.from(ref)); // exact cases
      }
    }
  });

  test('huge weights and statistics overflow to Inf scores without NaN; selection still works', async () => {
    const w: Matrix = { data: Float32Array.of(3e38, -3e38, 1, 2), dtype: 'f32', rows: 1, cols: 4 };
    const act = Float32Array.of(3e38, 1, 0, 3e38);
    const s = await computeScores(w, { p: 1, q: 1, act });
    expect(Array.from(s)).toEqual([Infinity, Math.fround(3e38), 0, Math.fround(6e38) === Infinity ? Infinity : Math.fround(6e38)]);
    const mask = await pruneMatrix({ ...w, data: w.data.slice() }, { p: 1, q: 1, act }, { sparsity: 0.5 });
    expect(maskToKeep(mask.bits, 4)).toEqual(refSelectRow(s, 1, 4, 0.5));
  });
});

test('a statistic with -0 and +0 entries: zero scores tie, lower index pruned first', async () => {
  const cols = 4096;
  const r = rng(5);
  const w: Matrix = { data: randomValues(2 * cols, 'normal', r), dtype: 'f32', rows: 2, cols };
  const act = Float32Array.from({ length: cols }, (_, j) => (j % 3 === 0 ? -0 : j % 3 === 1 ? 0 : Math.abs(r())));
  const before = Array.from(w.data);
  const mask = await pruneMatrix(w, { p: 1, q: 1, act }, { sparsity: 0.5 });
  expect(firstDiff(maskToKeep(mask.bits, 2 * cols), refSelectRow(refScores(before, cols, 1, 1, act), 2, cols, 0.5))).toBe(-1);
});

describe('views', () => {
  test('a subarray view of a larger buffer is scored and pruned at its own offset', async () => {
    const big = new Float32Array([100, 100, 3, -1, 2, 0.5, 100, 100]);
    const w: Matrix = { data: big.subarray(2, 6), dtype: 'f32', rows: 1, cols: 4 };
    await pruneMatrix(w, {}, { sparsity: 0.5 });
    expect(Array.from(big)).toEqual([100, 100, 3, 0, 2, 0, 100, 100]);
  });
});
