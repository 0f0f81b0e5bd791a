// The canonical text of a formula tree: the fewest parentheses that parse back to the
// same tree, single spaces around binary operators. The search caches fitness by it and
// prints it; parseFormula(formulaText(t)) gives t again.
import type { FormulaNode } from './parse';

// Binding strength: + - 1, * / 2, unary minus 3, ^ 4, atoms 5.
function strength(n: FormulaNode): number {
  if (n.kind === 'binary') return n.op === '+' || n.op === '-' ? 1 : n.op === '*' || n.op === '/' ? 2 : 4;
  if (n.kind === 'neg') return 3;
  if (n.kind === 'num' && n.value < 0) return 3;
  return 5;
}

const wrap = (s: string, yes: boolean) => (yes ? `(${s})` : s);

function numberText(v: number): string {
  return v < 0 ? `-${numberText(-v)}` : String(v);
}

export function formulaText(n: FormulaNode): string {
  switch (n.kind) {
    case 'num':
      return numberText(n.value);
    case 'input':
      return n.name;
    case 'call':
      return `${n.fn}(${n.args.map(formulaText).join(', ')})`;
    case 'neg':
      // -(a*b) needs its parentheses; -a^b is -(a^b) already.
      return `-${wrap(formulaText(n.arg), strength(n.arg) < 4)}`;
    case 'binary': {
      const s = strength(n);
      const l = strength(n.left);
      const r = strength(n.right);
      if (n.op === '^') return `${wrap(formulaText(n.left), l <= 4)} ^ ${wrap(formulaText(n.right), r < 3)}`;
      // Left associative: the right operand needs parentheses at equal strength (a - (b - c)).
      return `${wrap(formulaText(n.left), l < s)} ${n.op} ${wrap(formulaText(n.right), r <= s)}`;
    }
  }
}
