// A plain TypeScript evaluator of formula trees, one weight at a time in float64 with the
// semantics docs/formula.md states: the reference the native evaluator is tested against.
import type { FormulaNode } from '../../lib/formula/parse';
import type { InputName } from '../../lib/formula/grammar';

export interface ReferenceInputs {
  rows: number;
  cols: number;
  w: Float32Array;
  colSum: Float64Array;
  colSumSq: Float64Array;
  tokens: number;
  hdiag: Float32Array;
  gradSum: Float32Array;
  gradScale: number;
  fisherSum: Float32Array;
  fisherScale: number;
  bias?: Float32Array;
}

const FUNCTIONS: Record<string, (a: number, b: number) => number> = {
  abs: (a) => Math.abs(a),
  sqrt: (a) => Math.sqrt(Math.abs(a)),
  log: (a) => Math.log(Math.max(Math.abs(a), 1e-30)),
  exp: (a) => Math.exp(Math.min(a, 80)),
  square: (a) => a * a,
  sign: (a) => (a > 0 ? 1 : a < 0 ? -1 : 0),
  min: (a, b) => Math.min(a, b),
  max: (a, b) => Math.max(a, b),
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / (Math.abs(b) < 1e-12 ? (b < 0 ? -1e-12 : 1e-12) : b),
  '^': (a, b) => {
    const x = Math.abs(a);
    if (x === 0) return b > 0 ? 0 : b === 0 ? 1 : Math.pow(1e-30, b);
    return Math.pow(x, b);
  },
};

function value(n: FormulaNode, get: (name: InputName) => number): number {
  switch (n.kind) {
    case 'num':
      return n.value;
    case 'input':
      return get(n.name);
    case 'neg':
      return -value(n.arg, get);
    case 'call':
      return FUNCTIONS[n.fn](value(n.args[0], get), n.args[1] ? value(n.args[1], get) : 0);
    case 'binary':
      return FUNCTIONS[n.op](value(n.left, get), value(n.right, get));
  }
}

/** The float32 score of every weight (NaN where it is not finite as a float32). */
export function referenceScores(tree: FormulaNode, x: ReferenceInputs): Float32Array {
  const { rows, cols, w } = x;
  const colsum = new Float64Array(cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) colsum[j] += Math.abs(w[i * cols + j]);
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    let rowsum = 0;
    for (let j = 0; j < cols; j++) rowsum += Math.abs(w[i * cols + j]);
    for (let j = 0; j < cols; j++) {
      const k = i * cols + j;
      const mean = x.colSum[j] / x.tokens;
      const get = (name: InputName): number => {
        switch (name) {
          case 'W': return w[k];
          case 'xnorm': return Math.fround(Math.sqrt(x.colSumSq[j]));
          case 'xmean': return mean;
          case 'xvar': return Math.max(0, x.colSumSq[j] / x.tokens - mean * mean);
          case 'grad': return x.gradSum[k] * x.gradScale;
          case 'fisher': return x.fisherSum[k] * x.fisherScale;
          case 'hdiag': return x.hdiag[j];
          case 'bias': return x.bias ? x.bias[i] : 0;
          case 'rowsum': return rowsum;
          case 'colsum': return colsum[j];
        }
      };
      out[k] = Math.fround(value(tree, get));
    }
  }
  return out;
}
