// The formula method's native ops (native/bindings/formula_bindings.cc), typed, with the
// checks that give typed errors before native code runs.
import { NonFiniteError, nativeCall } from '../errors';
import { addon } from '../native/binding';
import type { NativeMatrix } from '../native/kernels';
import type { Matrix } from '../tensor';
import type { FormulaProgram } from './compile';

/** What a formula may read besides W (absent: not gathered; the native check refuses a program that reads it). */
export interface NativeFormulaInputs {
  colSum?: Float64Array;
  colSumSq?: Float64Array;
  tokens?: number;
  hdiag?: Float32Array;
  gradSum?: Float32Array;
  gradScale?: number;
  fisherSum?: Float32Array;
  fisherScale?: number;
  bias?: { data: Float32Array | Uint16Array; dtype: NativeMatrix['dtype'] };
}

export interface FormulaNative {
  formulaScores(w: NativeMatrix, program: { code: Int32Array; consts: Float64Array }, inputs: NativeFormulaInputs, out: Float32Array): Promise<{ nonFinite: number; first: number }>;
  formulaHdiag(sum: Float64Array | Float32Array, cols: number, count: number, out: Float32Array): Promise<void>;
}

const native = () => addon().module as unknown as FormulaNative;

/** Scores of every weight of w; NonFiniteError (naming `what`) when any is not finite. */
export async function formulaScores(w: Matrix, program: FormulaProgram, inputs: NativeFormulaInputs, what: { formula: string; layer?: string }): Promise<Float32Array> {
  const out = new Float32Array(w.rows * w.cols);
  const r = await nativeCall(() => native().formulaScores({ data: w.data, dtype: w.dtype, rows: w.rows, cols: w.cols }, program, inputs, out));
  if (r.nonFinite > 0) {
    const at = `row ${Math.floor(r.first / w.cols)}, column ${r.first % w.cols}`;
    throw new NonFiniteError(
      `formula "${what.formula}" gives ${r.nonFinite} non-finite score${r.nonFinite > 1 ? 's' : ''}${what.layer ? ` in ${what.layer}` : ''} (first at ${at}): nothing was pruned with them`,
    );
  }
  return out;
}

/** [H^-1]_jj of the damped H = 2 S / count + 0.01 mean(diag) I (S = X^T X, cols x cols). */
export async function formulaHdiag(sum: Float64Array | Float32Array, cols: number, count: number): Promise<Float32Array> {
  const out = new Float32Array(cols);
  await nativeCall(() => native().formulaHdiag(sum, cols, count, out));
  return out;
}
