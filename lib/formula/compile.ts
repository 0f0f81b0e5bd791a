// A formula tree as the native evaluator's postfix bytecode: (op, arg) pairs, constants
// apart (native/cpu/formula_eval.h). Also which inputs it reads (what the run must gather).
import { FormulaError } from '../errors';
import { INPUTS, InputName, MAX_STACK, OP } from './grammar';
import { FormulaNode, parseFormula } from './parse';
import { formulaText } from './print';

export interface FormulaProgram {
  /** (op, arg) pairs in postfix order. */
  code: Int32Array;
  consts: Float64Array;
  /** The deepest the evaluation stack gets. */
  depth: number;
}

export interface CompiledFormula {
  /** The canonical text (lib/formula/print.ts). */
  text: string;
  tree: FormulaNode;
  program: FormulaProgram;
  /** The inputs it reads, in the grammar's order. */
  inputs: InputName[];
}

export function compileTree(tree: FormulaNode, source = formulaText(tree)): CompiledFormula {
  const code: number[] = [];
  const consts: number[] = [];
  const used = new Set<InputName>();
  let depth = 0;
  let deepest = 0;
  const push = (op: number, arg: number, pops: number) => {
    code.push(op, arg);
    depth = depth - pops + 1;
    deepest = Math.max(deepest, depth);
  };
  const emit = (n: FormulaNode): void => {
    switch (n.kind) {
      case 'num': {
        let i = consts.indexOf(n.value);
        if (i < 0) i = consts.push(n.value) - 1;
        return push(OP.const, i, 0);
      }
      case 'input':
        used.add(n.name);
        return push(OP.var, INPUTS.indexOf(n.name), 0);
      case 'neg':
        emit(n.arg);
        return push(OP.neg, 0, 1);
      case 'call':
        n.args.forEach(emit);
        return push(OP[n.fn], 0, n.args.length);
      case 'binary':
        emit(n.left);
        emit(n.right);
        return push(OP[n.op], 0, 2);
    }
  };
  emit(tree);
  if (deepest > MAX_STACK) throw new FormulaError(source, `needs an evaluation stack of ${deepest} values, more than ${MAX_STACK} (nest less)`);
  return {
    text: formulaText(tree),
    tree,
    program: { code: Int32Array.from(code), consts: Float64Array.from(consts), depth: deepest },
    inputs: INPUTS.filter((x) => used.has(x)),
  };
}

/** Parses and compiles a formula; FormulaError on any problem. */
export const compileFormula = (src: string): CompiledFormula => compileTree(parseFormula(src), src);
