// Genetic operators over formula trees (as Pruner-Zero's search uses): random trees
// (ramped half-and-half: full and grown trees of depths 1..max), subtree crossover,
// subtree mutation, all seeded, all within a depth limit. Trees are immutable values:
// every operator returns a new tree sharing the untouched subtrees.
import { SeededRandom } from '../../util/random';
import type { FunctionName, InputName } from '../grammar';
import type { FormulaNode } from '../parse';

/** What random trees are made of. */
export interface TreeAlphabet {
  inputs: readonly InputName[];
  constants: readonly number[];
  unary: readonly FunctionName[];
  binary: readonly ('+' | '-' | '*' | '/' | '^' | 'min' | 'max')[];
}

export const DEFAULT_ALPHABET: TreeAlphabet = {
  inputs: ['W', 'xnorm', 'xmean', 'xvar', 'rowsum', 'colsum', 'hdiag', 'grad', 'fisher'],
  constants: [0.5, 1, 2, 3],
  unary: ['abs', 'sqrt', 'log', 'exp', 'square'],
  binary: ['+', '-', '*', '/', '^', 'min', 'max'],
};

/** Depth of a tree: a leaf is 1. */
export function depthOf(n: FormulaNode): number {
  switch (n.kind) {
    case 'num':
    case 'input':
      return 1;
    case 'neg':
      return 1 + depthOf(n.arg);
    case 'binary':
      return 1 + Math.max(depthOf(n.left), depthOf(n.right));
    case 'call':
      return 1 + Math.max(...n.args.map(depthOf));
  }
}

const pick = <T>(r: SeededRandom, xs: readonly T[]): T => xs[r.int(0, xs.length - 1)];

function leaf(r: SeededRandom, a: TreeAlphabet): FormulaNode {
  // Inputs three times as often as constants: a formula of constants ranks nothing.
  if (a.constants.length > 0 && r.next() < 0.25) return { kind: 'num', value: pick(r, a.constants) };
  return { kind: 'input', name: pick(r, a.inputs) };
}

/** A random tree of depth <= depth; full: every branch reaches depth. */
export function randomTree(r: SeededRandom, a: TreeAlphabet, depth: number, full: boolean): FormulaNode {
  if (depth <= 1 || (!full && r.next() < 0.3)) return leaf(r, a);
  const unaryShare = a.unary.length / (a.unary.length + a.binary.length);
  if (r.next() < unaryShare) return { kind: 'call', fn: pick(r, a.unary), args: [randomTree(r, a, depth - 1, full)] };
  const op = pick(r, a.binary);
  const left = randomTree(r, a, depth - 1, full);
  // A power's exponent is a constant when made (a tree there is mostly an overflow).
  const right = op === '^' ? { kind: 'num' as const, value: pick(r, [0.5, 2, 3]) } : randomTree(r, a, depth - 1, full);
  if (op === 'min' || op === 'max') return { kind: 'call', fn: op, args: [left, right] };
  return { kind: 'binary', op, left, right };
}

/** The number of nodes. */
export function sizeOf(n: FormulaNode): number {
  switch (n.kind) {
    case 'num':
    case 'input':
      return 1;
    case 'neg':
      return 1 + sizeOf(n.arg);
    case 'binary':
      return 1 + sizeOf(n.left) + sizeOf(n.right);
    case 'call':
      return 1 + n.args.reduce((s, x) => s + sizeOf(x), 0);
  }
}

function children(n: FormulaNode): FormulaNode[] {
  return n.kind === 'neg' ? [n.arg] : n.kind === 'binary' ? [n.left, n.right] : n.kind === 'call' ? n.args : [];
}

function withChildren(n: FormulaNode, cs: FormulaNode[]): FormulaNode {
  if (n.kind === 'neg') return { kind: 'neg', arg: cs[0] };
  if (n.kind === 'binary') return { ...n, left: cs[0], right: cs[1] };
  if (n.kind === 'call') return { ...n, args: cs };
  return n;
}

/** The subtree at preorder index i. */
export function subtreeAt(n: FormulaNode, i: number): FormulaNode {
  if (i === 0) return n;
  let k = i - 1;
  for (const c of children(n)) {
    const s = sizeOf(c);
    if (k < s) return subtreeAt(c, k);
    k -= s;
  }
  throw new RangeError(`no node ${i}`);
}

/** n with the subtree at preorder index i replaced by `by`. */
export function replaceAt(n: FormulaNode, i: number, by: FormulaNode): FormulaNode {
  if (i === 0) return by;
  let k = i - 1;
  const cs = children(n).slice();
  for (let c = 0; c < cs.length; c++) {
    const s = sizeOf(cs[c]);
    if (k < s) {
      cs[c] = replaceAt(cs[c], k, by);
      return withChildren(n, cs);
    }
    k -= s;
  }
  throw new RangeError(`no node ${i}`);
}

/** One child of subtree crossover: a random subtree of `a` replaced by a random subtree of `b`; undefined when too deep. */
export function crossover(r: SeededRandom, a: FormulaNode, b: FormulaNode, maxDepth: number): FormulaNode | undefined {
  const child = replaceAt(a, r.int(0, sizeOf(a) - 1), subtreeAt(b, r.int(0, sizeOf(b) - 1)));
  return depthOf(child) <= maxDepth ? child : undefined;
}

/** Subtree mutation: a random subtree replaced by a new random tree of depth <= 3; undefined when too deep. */
export function mutate(r: SeededRandom, a: FormulaNode, alphabet: TreeAlphabet, maxDepth: number): FormulaNode | undefined {
  const child = replaceAt(a, r.int(0, sizeOf(a) - 1), randomTree(r, alphabet, r.int(1, 3), false));
  return depthOf(child) <= maxDepth ? child : undefined;
}

/** Point mutation: one node changed in place (another input, constant, function or operator; an exponent redrawn). */
export function pointMutate(r: SeededRandom, a: FormulaNode, alphabet: TreeAlphabet): FormulaNode {
  const i = r.int(0, sizeOf(a) - 1);
  const n = subtreeAt(a, i);
  let m: FormulaNode;
  if (n.kind === 'input') m = { kind: 'input', name: pick(r, alphabet.inputs) };
  else if (n.kind === 'num') m = { kind: 'num', value: pick(r, [0.25, 0.5, 1, 2, 3, ...alphabet.constants]) };
  else if (n.kind === 'neg') m = n.arg;
  else if (n.kind === 'call') m = { ...n, fn: n.args.length === 1 ? pick(r, alphabet.unary) : pick(r, ['min', 'max'] as const) };
  else if (n.op === '^') m = { ...n, right: { kind: 'num', value: pick(r, EXPONENTS) } };
  else m = { ...n, op: pick(r, ['+', '-', '*', '/'] as const) };
  return replaceAt(a, i, m);
}

const EXPONENTS = [-0.5, 0.25, 0.5, 1.5, 2, 3];

/** Scaling mutation: the whole formula times a power of one input (a * xnorm ^ 0.5), exploring around a good score; undefined when too deep. */
export function scaleMutate(r: SeededRandom, a: FormulaNode, alphabet: TreeAlphabet, maxDepth: number): FormulaNode | undefined {
  const factor: FormulaNode = { kind: 'binary', op: '^', left: { kind: 'input', name: pick(r, alphabet.inputs) }, right: { kind: 'num', value: pick(r, EXPONENTS) } };
  const child: FormulaNode = { kind: 'binary', op: '*', left: a, right: factor };
  return depthOf(child) <= maxDepth ? child : undefined;
}
