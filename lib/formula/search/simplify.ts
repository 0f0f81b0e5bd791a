// Exact rewrites of a formula tree (the same score bits under docs/formula.md's
// semantics), so that the search does not spend its budget on spelled-differently
// copies: abs(abs(x)) = abs(x), sqrt(abs(x)) = sqrt(x), x ^ c reads |x| already, --x = x,
// and + - * / min max of two constants folded (float64, as the evaluator computes them).
import type { FormulaNode } from '../parse';

/** Functions whose result is never negative. */
const NON_NEGATIVE = new Set(['abs', 'sqrt', 'exp', 'square']);
/** Functions that read only |x|. */
const READS_ABS = new Set(['abs', 'sqrt', 'log', 'square']);

const isAbs = (n: FormulaNode) => n.kind === 'call' && n.fn === 'abs';

export function simplify(n: FormulaNode): FormulaNode {
  switch (n.kind) {
    case 'num':
    case 'input':
      return n;
    case 'neg': {
      const a = simplify(n.arg);
      if (a.kind === 'neg') return a.arg;
      if (a.kind === 'num') return { kind: 'num', value: -a.value };
      return { kind: 'neg', arg: a };
    }
    case 'call': {
      let args = n.args.map(simplify);
      if (READS_ABS.has(n.fn)) {
        const a = args[0];
        if (isAbs(a) || a.kind === 'neg') args = [a.kind === 'neg' ? a.arg : (a as { args: FormulaNode[] }).args[0]];
        if (n.fn === 'abs' && args[0].kind === 'call' && NON_NEGATIVE.has(args[0].fn)) return args[0];
      }
      if ((n.fn === 'min' || n.fn === 'max') && args[0].kind === 'num' && args[1].kind === 'num')
        return { kind: 'num', value: Math[n.fn](args[0].value, args[1].value) };
      return { ...n, args };
    }
    case 'binary': {
      let left = simplify(n.left);
      const right = simplify(n.right);
      if (n.op === '^' && (isAbs(left) || left.kind === 'neg')) left = left.kind === 'neg' ? left.arg : (left as { args: FormulaNode[] }).args[0];
      if (left.kind === 'num' && right.kind === 'num' && n.op !== '^' && n.op !== '/') {
        const v = n.op === '+' ? left.value + right.value : n.op === '-' ? left.value - right.value : left.value * right.value;
        if (Number.isFinite(v)) return { kind: 'num', value: v };
      }
      return { ...n, left, right };
    }
  }
}
