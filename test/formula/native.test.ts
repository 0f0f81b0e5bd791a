// The native evaluator against the plain TypeScript reference (test/formula/reference.ts)
// on random inputs: every operator, function and input, their protected cases (division
// by zero, log of 0, overflowing exp, 0 to a negative power), hdiag against a plain
// inversion, f16/bf16 weights, thread-count determinism, and non-finite scores refused.
import { NonFiniteError, ArgumentRangeError } from '../../lib/errors';
import { compileFormula } from '../../lib/formula/compile';
import { formulaHdiag, formulaScores, NativeFormulaInputs } from '../../lib/formula/native';
import { fromFloat32, poolThreads, setPoolThreads } from '../../lib/kernels';
import type { Matrix } from '../../lib/tensor';
import { rng } from '../support/random';
import { referenceScores, ReferenceInputs } from './reference';

const ROWS = 13;
const COLS = 37;

function randomInputs(seed: number): ReferenceInputs {
  const r = rng(seed);
  const n = ROWS * COLS;
  const g = () => (r() - 0.5) * 4;
  const w = Float32Array.from({ length: n }, () => (r() < 0.1 ? 0 : g()));
  const colSumSq = Float64Array.from({ length: COLS }, (_, j) => (j === 3 ? 0 : r() * 50));
  return {
    rows: ROWS,
    cols: COLS,
    w,
    colSum: Float64Array.from({ length: COLS }, (_, j) => (j === 3 ? 0 : g() * 5)),
    colSumSq,
    tokens: 17,
    hdiag: Float32Array.from({ length: COLS }, () => r() * 2),
    gradSum: Float32Array.from({ length: n }, g),
    gradScale: 1 / 3,
    fisherSum: Float32Array.from({ length: n }, () => r() * 3),
    fisherScale: 1 / 3,
    bias: Float32Array.from({ length: ROWS }, g),
  };
}

const matrixOf = (x: ReferenceInputs): Matrix => ({ data: x.w, dtype: 'f32', rows: x.rows, cols: x.cols });
const nativeInputs = (x: ReferenceInputs): NativeFormulaInputs => ({
  colSum: x.colSum,
  colSumSq: x.colSumSq,
  tokens: x.tokens,
  hdiag: x.hdiag,
  gradSum: x.gradSum,
  gradScale: x.gradScale,
  fisherSum: x.fisherSum,
  fisherScale: x.fisherScale,
  bias: x.bias && { data: x.bias, dtype: 'f32' },
});

async function nativeScores(src: string, x: ReferenceInputs, w = matrixOf(x)): Promise<Float32Array> {
  const f = compileFormula(src);
  return formulaScores(w, f.program, nativeInputs(x), { formula: f.text });
}

/** Equal as float32, or within 2 ulp-ish for transcendental functions (libm vs V8). */
function expectClose(got: Float32Array, want: Float32Array, exact: boolean): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    expect(Number.isFinite(got[i])).toBe(true);
    if (exact) expect(got[i]).toBe(want[i]);
    else worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.max(1e-30, Math.abs(want[i])));
  }
  expect(worst).toBeLessThan(5e-7);
}

const EXACT = [
  'W', 'xnorm', 'xmean', 'xvar', 'grad', 'fisher', 'hdiag', 'bias', 'rowsum', 'colsum', '2.5',
  'abs(W)', 'abs(W) * xnorm', 'W + grad', 'W - fisher', 'W * xmean', 'W / xvar', 'W / 0', 'grad / (W - W)', '-W', 'square(W)',
  'sign(W) * 3', 'min(W, grad)', 'max(W, bias)', 'W ^ 2', 'abs(W) ^ 1', 'W ^ 0', '0 ^ -0.5 + 0 ^ 0 + 0 ^ 3', 'sqrt(W)',
  'abs(W) / rowsum + abs(W) / colsum', '(W - xmean) * (bias + 1) - hdiag',
];
const TRANSCENDENTAL = ['log(W)', 'log(0)', 'exp(W)', 'exp(1000) * 0 + 1', 'W ^ 1.7', 'xnorm ^ -0.5', 'abs(W) * sqrt(xnorm) + log(fisher) - exp(-grad) ^ 0.3'];

describe('native evaluation matches the reference', () => {
  const x = randomInputs(1);
  test.each(EXACT)('%s (exactly)', async (src) => {
    expectClose(await nativeScores(src, x), referenceScores(compileFormula(src).tree, x), true);
  });
  test.each(TRANSCENDENTAL)('%s (to rounding)', async (src) => {
    expectClose(await nativeScores(src, x), referenceScores(compileFormula(src).tree, x), false);
  });

  test('f16 and bf16 weights are read as their float32 values', async () => {
    for (const dtype of ['f16', 'bf16'] as const) {
      const bits = (await fromFloat32(x.w, dtype)) as Uint16Array;
      const widened = { ...x, w: new Float32Array(x.w.length) };
      const back = await nativeScores('W', x, { data: bits, dtype, rows: ROWS, cols: COLS });
      widened.w.set(back);
      const src = 'abs(W) * xnorm + colsum / rowsum';
      expectClose(await nativeScores(src, x, { data: bits, dtype, rows: ROWS, cols: COLS }), referenceScores(compileFormula(src).tree, widened), true);
    }
  });

  test('the same bits for any thread count', async () => {
    const before = poolThreads();
    const big = { ...randomInputs(5) };
    const src = 'abs(W) * sqrt(xnorm) / colsum + log(fisher) * rowsum';
    try {
      setPoolThreads(1);
      const one = await nativeScores(src, big);
      setPoolThreads(3);
      expect(await nativeScores(src, big)).toEqual(one);
    } finally {
      setPoolThreads(before);
    }
  });
});

describe('refusals', () => {
  const x = randomInputs(2);
  test('a non-finite score is refused with its count and place, never returned', async () => {
    // exp is capped at e^80, but its square overflows float32.
    await expect(nativeScores('square(exp(W * 100))', x)).rejects.toThrow(NonFiniteError);
    await expect(nativeScores('square(exp(W * 100))', x)).rejects.toThrow(/formula "square\(exp\(W \* 100\)\)" gives \d+ non-finite scores \(first at row \d+, column \d+\)/);
  });

  test('a non-finite weight is refused', async () => {
    const w = x.w.slice();
    w[5] = NaN;
    await expect(nativeScores('abs(W)', x, { data: w, dtype: 'f32', rows: ROWS, cols: COLS })).rejects.toThrow(/W is not finite at row 0, column 5/);
  });

  test('an input the run did not gather is refused before any work', async () => {
    const f = compileFormula('abs(W) * grad');
    await expect(formulaScores(matrixOf(x), f.program, { colSumSq: x.colSumSq }, { formula: f.text })).rejects.toThrow(ArgumentRangeError);
    await expect(formulaScores(matrixOf(x), f.program, {}, { formula: f.text })).rejects.toThrow(/reads grad, which this run did not gather/);
  });

  test('a malformed program is refused', async () => {
    const bad = [
      { code: Int32Array.from([4, 0]), consts: new Float64Array(0) }, // underflow
      { code: Int32Array.from([0, 0, 0, 0]), consts: new Float64Array(0) }, // two values left
      { code: Int32Array.from([0, 99]), consts: new Float64Array(0) }, // unknown input
      { code: Int32Array.from([1, 0]), consts: new Float64Array(0) }, // missing constant
      { code: Int32Array.from([77, 0]), consts: new Float64Array(0) }, // unknown op
    ];
    for (const p of bad) await expect(formulaScores(matrixOf(x), { ...p, depth: 1 }, {}, { formula: 'x' })).rejects.toThrow(/formula program/);
  });
});

describe('hdiag', () => {
  /** diag of the inverse by Gauss-Jordan in float64 (a plain reference). */
  function refHdiag(s: Float64Array, n: number, count: number): Float64Array {
    const h = Array.from({ length: n }, (_, i) => Array.from({ length: 2 * n }, (_, j) => (j < n ? (2 * s[i * n + j]) / count : i === j - n ? 1 : 0)));
    for (let j = 0; j < n; j++) if (h[j][j] === 0) h[j][j] = 1;
    let trace = 0;
    for (let j = 0; j < n; j++) trace += h[j][j];
    for (let j = 0; j < n; j++) h[j][j] += (0.01 * trace) / n;
    for (let c = 0; c < n; c++) {
      const p = h[c][c];
      for (let j = 0; j < 2 * n; j++) h[c][j] /= p;
      for (let i = 0; i < n; i++)
        if (i !== c) {
          const f = h[i][c];
          for (let j = 0; j < 2 * n; j++) h[i][j] -= f * h[c][j];
        }
    }
    return Float64Array.from({ length: n }, (_, j) => h[j][n + j]);
  }

  test('[H^-1]_jj of the damped Hessian, a dead input included', async () => {
    const r = rng(9);
    const n = 12;
    const tokens = 30;
    const x = Array.from({ length: tokens * n }, (_, k) => (k % n === 4 ? 0 : r() - 0.5));
    const s = new Float64Array(n * n);
    for (let t = 0; t < tokens; t++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) s[i * n + j] += x[t * n + i] * x[t * n + j];
    const got = await formulaHdiag(s, n, tokens);
    const want = refHdiag(s, n, tokens);
    for (let j = 0; j < n; j++) expect(Math.abs(got[j] - want[j]) / want[j]).toBeLessThan(1e-6);
    await expect(formulaHdiag(s, n, 0)).rejects.toThrow(/at least one calibration token/);
    const broken = s.slice();
    broken[3] = NaN;
    await expect(formulaHdiag(broken, n, tokens)).rejects.toThrow(NonFiniteError);
  });
});
