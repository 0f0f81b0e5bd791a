// What a score formula may name: its inputs (per weight, per input column, per output
// row), its functions and its operators, with the numbering the native evaluator uses
// (native/cpu/formula_eval.h: keep both in step). docs/formula.md describes each.

/** The named inputs, in the native numbering (kInW = 0 ...). */
export const INPUTS = ['W', 'xnorm', 'xmean', 'xvar', 'grad', 'fisher', 'hdiag', 'bias', 'rowsum', 'colsum'] as const;
export type InputName = (typeof INPUTS)[number];

export const INPUT_DESCRIPTIONS: Readonly<Record<InputName, string>> = {
  W: 'the weight W_ij',
  xnorm: '||X_j||_2 over the calibration tokens (per input column, as Wanda)',
  xmean: 'mean of X_j over the calibration tokens',
  xvar: 'variance of X_j over the calibration tokens (population)',
  grad: "mean over the calibration sequences of the loss gradient dL/dW_ij (dense model)",
  fisher: 'mean over the calibration sequences of (dL/dW_ij)^2 (empirical Fisher diagonal)',
  hdiag: "[H^-1]_jj, H = 2 X^T X / n + 0.01 mean(diag) I (SparseGPT's damped Hessian; OBS saliency W^2 / hdiag)",
  bias: "the output row's bias b_i (0 when the layer has none)",
  rowsum: 'sum_k |W_ik| over the row',
  colsum: 'sum_k |W_kj| over the column',
};

/** Opcodes (native FormulaOp). */
export const OP = {
  var: 0,
  const: 1,
  '+': 2,
  '-': 3,
  '*': 4,
  '/': 5,
  '^': 6,
  neg: 7,
  abs: 8,
  sqrt: 9,
  log: 10,
  exp: 11,
  square: 12,
  sign: 13,
  min: 14,
  max: 15,
} as const;

export type BinaryOp = '+' | '-' | '*' | '/' | '^';
export const BINARY_OPS: readonly BinaryOp[] = ['+', '-', '*', '/', '^'];

/** Functions by name, with their number of arguments. */
export const FUNCTIONS = { abs: 1, sqrt: 1, log: 1, exp: 1, square: 1, sign: 1, min: 2, max: 2 } as const;
export type FunctionName = keyof typeof FUNCTIONS;

/** Deepest evaluation stack (native kFormulaMaxStack). */
export const MAX_STACK = 64;
/** Longest formula text accepted (a bound on parsing work and on the bytecode). */
export const MAX_FORMULA_LENGTH = 4096;
