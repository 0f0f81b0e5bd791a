// A recursive-descent parser for score formulas (no JavaScript eval). Grammar, loosest
// binding first:
//   sum     := product (('+' | '-') product)*        left associative
//   product := unary (('*' | '/') unary)*            left associative
//   unary   := '-' unary | power                     -a^b is -(a^b)
//   power   := primary ('^' unary)?                  right associative: a^b^c = a^(b^c)
//   primary := number | input | function '(' sum (',' sum)* ')' | '(' sum ')'
// Numbers: 2, 0.5, .5, 1e-3. Names are case-sensitive (lib/formula/grammar.ts lists them).
// Every error is a FormulaError with the character position of the problem.
import { FormulaError } from '../errors';
import { BinaryOp, FUNCTIONS, FunctionName, INPUTS, InputName, MAX_FORMULA_LENGTH } from './grammar';

export type FormulaNode =
  | { kind: 'num'; value: number }
  | { kind: 'input'; name: InputName }
  | { kind: 'neg'; arg: FormulaNode }
  | { kind: 'binary'; op: BinaryOp; left: FormulaNode; right: FormulaNode }
  | { kind: 'call'; fn: FunctionName; args: FormulaNode[] };

interface Token {
  kind: 'num' | 'name' | 'op' | 'end';
  text: string;
  pos: number;
}

/** Nesting deeper than this is refused (bounds the parser's recursion). */
const MAX_NESTING = 200;

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const num = /^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(src.slice(i));
    if (num) {
      out.push({ kind: 'num', text: num[0], pos: i });
      i += num[0].length;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (name) {
      out.push({ kind: 'name', text: name[0], pos: i });
      i += name[0].length;
      continue;
    }
    if ('+-*/^(),'.includes(c)) {
      out.push({ kind: 'op', text: c, pos: i });
      i++;
      continue;
    }
    throw new FormulaError(src, `unexpected character '${c}'`, i);
  }
  out.push({ kind: 'end', text: '', pos: src.length });
  return out;
}

const known = () => `inputs: ${INPUTS.join(', ')}; functions: ${Object.keys(FUNCTIONS).join(', ')}`;

/** Parses a formula into its expression tree; FormulaError on any problem. */
export function parseFormula(src: string): FormulaNode {
  if (typeof src !== 'string' || src.trim() === '') throw new FormulaError(String(src ?? ''), 'the formula is empty (e.g. --score "abs(W) * xnorm")');
  if (src.length > MAX_FORMULA_LENGTH) throw new FormulaError(src.slice(0, 40) + '...', `longer than ${MAX_FORMULA_LENGTH} characters`);
  const tokens = tokenize(src);
  let k = 0;
  let nesting = 0;
  const peek = () => tokens[k];
  const fail = (t: Token, what: string): never => {
    throw new FormulaError(src, what, t.pos);
  };
  const describe = (t: Token) => (t.kind === 'end' ? 'the end of the formula' : `'${t.text}'`);
  const expect = (text: string) => {
    const t = peek();
    if (t.kind !== 'op' || t.text !== text) fail(t, `expected '${text}', found ${describe(t)}`);
    k++;
  };
  const isOp = (text: string) => peek().kind === 'op' && peek().text === text;
  const nested = <T>(t: Token, f: () => T): T => {
    if (++nesting > MAX_NESTING) fail(t, `nested deeper than ${MAX_NESTING} levels`);
    try {
      return f();
    } finally {
      nesting--;
    }
  };

  function sum(): FormulaNode {
    let left = product();
    while (isOp('+') || isOp('-')) {
      const op = tokens[k++].text as BinaryOp;
      left = { kind: 'binary', op, left, right: product() };
    }
    return left;
  }
  function product(): FormulaNode {
    let left = unary();
    while (isOp('*') || isOp('/')) {
      const op = tokens[k++].text as BinaryOp;
      left = { kind: 'binary', op, left, right: unary() };
    }
    return left;
  }
  function unary(): FormulaNode {
    const t = peek();
    if (isOp('-')) {
      k++;
      return nested(t, () => ({ kind: 'neg', arg: unary() }));
    }
    if (isOp('+')) fail(t, "unary '+' is not part of the grammar (write the operand alone)");
    return power();
  }
  function power(): FormulaNode {
    const base = primary();
    if (!isOp('^')) return base;
    const t = tokens[k++];
    return nested(t, () => ({ kind: 'binary', op: '^', left: base, right: unary() }));
  }
  function primary(): FormulaNode {
    const t = peek();
    if (t.kind === 'num') {
      k++;
      const value = Number(t.text);
      if (!Number.isFinite(value)) fail(t, `the number ${t.text} is not finite`);
      return { kind: 'num', value };
    }
    if (t.kind === 'name') {
      k++;
      if (t.text in FUNCTIONS) {
        const fn = t.text as FunctionName;
        if (!isOp('(')) fail(peek(), `${fn} is a function: write ${fn}(...)`);
        k++;
        const args = nested(t, () => {
          const list = [sum()];
          while (isOp(',')) {
            k++;
            list.push(sum());
          }
          return list;
        });
        expect(')');
        if (args.length !== FUNCTIONS[fn]) fail(t, `${fn} takes ${FUNCTIONS[fn]} argument${FUNCTIONS[fn] > 1 ? 's' : ''}, got ${args.length}`);
        return { kind: 'call', fn, args };
      }
      if ((INPUTS as readonly string[]).includes(t.text)) {
        if (isOp('(')) fail(peek(), `${t.text} is an input, not a function`);
        return { kind: 'input', name: t.text as InputName };
      }
      fail(t, `unknown name '${t.text}' (${known()})`);
    }
    if (isOp('(')) {
      k++;
      const inner = nested(t, sum);
      expect(')');
      return inner;
    }
    return fail(t, `expected a number, an input, a function or '(', found ${describe(t)}`);
  }

  const tree = sum();
  if (peek().kind !== 'end') fail(peek(), `unexpected ${describe(peek())} after a complete formula`);
  return tree;
}
