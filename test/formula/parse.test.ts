// The formula parser and printer: precedence, associativity, unary minus, functions, and
// typed errors that point at the problem.
import { FormulaError } from '../../lib/errors';
import { compileFormula } from '../../lib/formula/compile';
import { INPUTS } from '../../lib/formula/grammar';
import { parseFormula } from '../../lib/formula/parse';
import { formulaText } from '../../lib/formula/print';

/** Fully parenthesized form of a tree: shows how it was grouped. */
function grouped(src: string): string {
  const show = (n: ReturnType<typeof parseFormula>): string => {
    switch (n.kind) {
      case 'num':
        return String(n.value);
      case 'input':
        return n.name;
      case 'neg':
        return `(-${show(n.arg)})`;
      case 'call':
        return `${n.fn}(${n.args.map(show).join(',')})`;
      case 'binary':
        return `(${show(n.left)}${n.op}${show(n.right)})`;
    }
  };
  return show(parseFormula(src));
}

describe('precedence and associativity', () => {
  test.each([
    ['W + xnorm * 2', '(W+(xnorm*2))'],
    ['W * xnorm + 2', '((W*xnorm)+2)'],
    ['W - xnorm - 2', '((W-xnorm)-2)'],
    ['W / xnorm / 2', '((W/xnorm)/2)'],
    ['W ^ 2 ^ 3', '(W^(2^3))'],
    ['W * xnorm ^ 2', '(W*(xnorm^2))'],
    ['-W ^ 2', '(-(W^2))'],
    ['W ^ -2', '(W^(-2))'],
    ['-W * xnorm', '((-W)*xnorm)'],
    ['W - -xnorm', '(W-(-xnorm))'],
    ['--W', '(-(-W))'],
    ['(W + xnorm) * 2', '((W+xnorm)*2)'],
    ['abs(W) * sqrt(xnorm)', '(abs(W)*sqrt(xnorm))'],
    ['max(W, min(xnorm, 1e-3)) + .5', '(max(W,min(xnorm,0.001))+0.5)'],
    ['2.5E+2 * W', '(250*W)'],
  ])('%s groups as %s', (src, want) => {
    expect(grouped(src)).toBe(want);
  });

  test('the canonical text parses back to the same tree, with the fewest parentheses', () => {
    for (const src of ['W - (xnorm - 2)', '(W ^ 2) ^ 3', '-(W * xnorm)', 'abs(W)*xnorm+  colsum/rowsum', '(-W) ^ 2', 'W / (xnorm * 2)', '-W ^ 2', 'W ^ -xnorm']) {
      const t = parseFormula(src);
      const text = formulaText(t);
      expect(parseFormula(text)).toEqual(t);
    }
    expect(formulaText(parseFormula('((W))*((xnorm))'))).toBe('W * xnorm');
    expect(formulaText(parseFormula('W - (xnorm - 2)'))).toBe('W - (xnorm - 2)');
    expect(formulaText(parseFormula('(W ^ 2) ^ 3'))).toBe('(W ^ 2) ^ 3');
    expect(formulaText(parseFormula('-(W * xnorm)'))).toBe('-(W * xnorm)');
  });

  test('every input and function is known, and compiling lists the inputs read', () => {
    for (const name of INPUTS) expect(parseFormula(name)).toEqual({ kind: 'input', name });
    const f = compileFormula('sign(W) * square(grad) + log(exp(fisher)) - hdiag / max(colsum, rowsum) + bias * xvar ^ xmean');
    expect(f.inputs).toEqual(['W', 'xmean', 'xvar', 'grad', 'fisher', 'hdiag', 'bias', 'rowsum', 'colsum']);
    expect(compileFormula('abs(W) * 2 + 2').program.consts).toEqual(Float64Array.from([2]));
  });
});

describe('errors name the problem and point at it', () => {
  const error = (src: string): FormulaError => {
    try {
      compileFormula(src);
    } catch (e) {
      expect(e).toBeInstanceOf(FormulaError);
      return e as FormulaError;
    }
    throw new Error(`"${src}" parsed`);
  };

  test.each([
    ['abs(W) * x', 9, /unknown name 'x' \(inputs: W, xnorm, xmean, xvar, grad, fisher, hdiag, bias, rowsum, colsum; functions: abs/],
    ['abs(W', 5, /expected '\)', found the end of the formula/],
    ['W +', 3, /expected a number, an input, a function or '\(', found the end/],
    ['W * * 2', 4, /found '\*'/],
    ['W xnorm', 2, /unexpected 'xnorm' after a complete formula/],
    ['W $ 2', 2, /unexpected character '\$'/],
    ['abs W', 4, /abs is a function: write abs\(\.\.\.\)/],
    ['W(2)', 1, /W is an input, not a function/],
    ['min(W)', 0, /min takes 2 arguments, got 1/],
    ['sqrt(W, xnorm)', 0, /sqrt takes 1 argument, got 2/],
    ['+W', 0, /unary '\+'/],
    ['w', 0, /unknown name 'w'/],
    ['1e999 * W', 0, /not finite/],
  ])('%s: position %d', (src, pos, message) => {
    const e = error(src);
    expect(e.position).toBe(pos);
    expect(e.message).toMatch(message);
    expect(e.code).toBe('E_FORMULA');
    // The caret sits under the offending character.
    const lines = e.message.split('\n');
    expect(lines[1]).toBe(`  ${src}`);
    expect(lines[2]).toBe(`  ${' '.repeat(pos)}^`);
  });

  test('empty and whitespace-only formulas', () => {
    for (const src of ['', '   ']) expect(error(src).message).toMatch(/the formula is empty/);
  });

  test('bounded work: deep nesting and long texts are refused, not recursed into', () => {
    expect(error('('.repeat(5000) + 'W' + ')'.repeat(5000)).message).toMatch(/longer than 4096 characters/);
    expect(error('('.repeat(300) + 'W' + ')'.repeat(300)).message).toMatch(/nested deeper than 200 levels/);
    expect(error('-'.repeat(300) + 'W').message).toMatch(/nested deeper than 200 levels/);
    // A right-leaning chain deeper than the evaluation stack.
    const deep = Array.from({ length: 70 }, () => 'W + (').join('') + 'W' + ')'.repeat(70);
    expect(error(deep).message).toMatch(/evaluation stack of \d+ values, more than 64/);
  });
});
