// shears search-formula (lib/formula/search/): the genetic operators and exact rewrites,
// then the search on the demo model: the same result for a seed, the budget respected,
// every formula accounted for (ok, non-finite, error), the best searched formula at
// least as good as magnitude, and the CLI's refusals (budget 0: nothing written).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { ArgumentRangeError } from '../../lib/errors';
import { parseFormula } from '../../lib/formula/parse';
import { formulaText } from '../../lib/formula/print';
import { searchFormula, SearchFormulaOptions, SearchResult } from '../../lib/formula/search/search';
import { simplify } from '../../lib/formula/search/simplify';
import { crossover, DEFAULT_ALPHABET, depthOf, mutate, randomTree, sizeOf, subtreeAt } from '../../lib/formula/search/trees';
import { SeededRandom } from '../../lib/util/random';
import { runCli } from '../support/cli';
import { ROOT, tempDir } from '../prune/helpers';

const DEMO = path.join(ROOT, 'assets', 'demo-model');
const CALIB = path.join(DEMO, 'calib.txt');

describe('trees', () => {
  test('random trees, crossover and mutation stay within the depth limit, deterministically for a seed', () => {
    const make = (seed: number) => {
      const r = new SeededRandom(seed);
      const out: string[] = [];
      let a = randomTree(r, DEFAULT_ALPHABET, 4, true);
      for (let i = 0; i < 200; i++) {
        const b = randomTree(r, DEFAULT_ALPHABET, r.int(1, 4), i % 2 === 0);
        expect(depthOf(b)).toBeLessThanOrEqual(4);
        const c = crossover(r, a, b, 6) ?? a;
        const m = mutate(r, c, DEFAULT_ALPHABET, 6) ?? c;
        expect(depthOf(c)).toBeLessThanOrEqual(6);
        expect(depthOf(m)).toBeLessThanOrEqual(6);
        // Every tree prints to a formula that parses back to it.
        expect(parseFormula(formulaText(m))).toEqual(m);
        out.push(formulaText(m));
        a = m;
      }
      return out;
    };
    expect(make(3)).toEqual(make(3));
    expect(make(3)).not.toEqual(make(4));
  });

  test('subtrees by preorder index', () => {
    const t = parseFormula('abs(W) * (xnorm + 2)');
    expect(sizeOf(t)).toBe(6);
    expect([0, 1, 2, 3, 4, 5].map((i) => formulaText(subtreeAt(t, i)))).toEqual(['abs(W) * (xnorm + 2)', 'abs(W)', 'W', 'xnorm + 2', 'xnorm', '2']);
  });

  test.each([
    ['abs(abs(W))', 'abs(W)'],
    ['sqrt(abs(W))', 'sqrt(W)'],
    ['abs(square(W))', 'square(W)'],
    ['log(-W)', 'log(W)'],
    ['abs(W) ^ 2', 'W ^ 2'],
    ['--W', 'W'],
    ['W * (2 + 3) - min(1, 4)', 'W * 5 - 1'],
    ['abs(W) * xnorm', 'abs(W) * xnorm'],
    ['W / (1 - 1)', 'W / 0'],
  ])('simplify %s = %s', (src, want) => {
    expect(formulaText(simplify(parseFormula(src)))).toBe(want);
  });
});

describe('the search on the demo model', () => {
  const options: SearchFormulaOptions = { model: DEMO, calib: CALIB, budget: 8, population: 5, calibSamples: 2, seqLen: 48, seed: 1 };
  let first: SearchResult;

  beforeAll(async () => {
    first = await searchFormula(options);
  }, 300_000);

  test('the budget is spent exactly, every formula accounted for', () => {
    expect(first.evaluated).toBe(8);
    expect(first.history).toHaveLength(8);
    expect(new Set(first.history.map((h) => h.formula)).size).toBe(8);
    const ok = first.history.filter((h) => h.status === 'ok').length;
    expect(ok + first.failures.nonFinite + first.failures.errors).toBe(8);
    for (const h of first.history.filter((x) => x.status !== 'ok')) expect(h.message).toBeTruthy();
    expect(first.failures.worseThanMagnitude).toBe(first.history.filter((h) => h.status === 'ok' && h.kl! > first.baselines.magnitude.kl!).length);
    expect(first.generations.length).toBeGreaterThan(0);
    // The learning curve never gets worse (elites are kept).
    for (let g = 1; g < first.generations.length; g++) expect(first.generations[g].bestKl).toBeLessThanOrEqual(first.generations[g - 1].bestKl);
  });

  test('baselines are measured: magnitude and wanda have finite KLs, wanda below magnitude', () => {
    const { magnitude, wanda } = first.baselines;
    expect(magnitude.formula).toBe('abs(W)');
    expect(wanda.formula).toBe('abs(W) * xnorm');
    expect(magnitude.kl).toBeGreaterThan(0);
    expect(wanda.kl).toBeLessThan(magnitude.kl!);
  });

  test("the best searched formula's KL is at most magnitude's", () => {
    const searched = first.history.filter((h) => h.status === 'ok').sort((a, b) => a.kl! - b.kl!);
    expect(searched[0].kl).toBeLessThanOrEqual(first.baselines.magnitude.kl!);
    expect(first.best.kl).toBeLessThanOrEqual(searched[0].kl!);
  });

  test('the same options give the same result', async () => {
    const again = await searchFormula(options);
    expect(again.history).toEqual(first.history);
    expect(again.generations).toEqual(first.generations);
  }, 300_000);
});

describe('refusals and output', () => {
  test('a budget of 0 or below, or not an integer: a clear error, before anything is read', async () => {
    for (const budget of [0, -3, 1.5]) await expect(searchFormula({ model: '/nonexistent', calib: CALIB, budget })).rejects.toThrow(ArgumentRangeError);
    await expect(searchFormula({ model: '/nonexistent', calib: CALIB, budget: 0 })).rejects.toThrow(/--budget must be a positive integer/);
    await expect(searchFormula({ model: DEMO, budget: 3 })).rejects.toThrow(/--calib FILE or --calib-tokens/);
    await expect(searchFormula({ model: DEMO, calib: CALIB, budget: 3, inputs: ['W', 'nope' as 'W'] })).rejects.toThrow(/unknown nope/);
  });

  test('CLI: --budget 0 writes nothing; a search writes its JSON atomically with --out', async () => {
    const dir = tempDir();
    const out = path.join(dir, 'search.json');
    for (const budget of ['0', '-1']) {
      const r = await runCli(['search-formula', '--model', DEMO, '--calib', CALIB, `--budget=${budget}`, '--out', out]);
      expect(r.code).not.toBe(0);
      expect(r.err).toMatch(/--budget must be a positive integer/);
      expect(fs.readdirSync(dir)).toEqual([]);
    }
    const r = await runCli(['search-formula', '--model', DEMO, '--calib', CALIB, '--budget', '3', '--population', '3', '--calib-samples', '2', '--seq-len', '32', '--inputs', 'W,xnorm,rowsum,colsum', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/searched 3 formulas \(budget 3\)/);
    expect(r.out).toMatch(/baselines: magnitude abs\(W\) \d\.\d+; wanda abs\(W\) \* xnorm \d\.\d+/);
    expect(r.out).toMatch(/failures: \d+ non-finite, \d+ errors, \d+ worse than magnitude/);
    expect(r.out).toMatch(/use it: shears prune --method formula --score "/);
    const json = JSON.parse(fs.readFileSync(out, 'utf8')) as SearchResult;
    expect(json.evaluated).toBe(3);
    expect(json.best.formula).toBeTruthy();
    expect(fs.readdirSync(dir)).toEqual(['search.json']);
    // An existing output is not replaced without --force, and nothing is searched.
    const again = await runCli(['search-formula', '--model', DEMO, '--calib', CALIB, '--budget', '3', '--out', out]);
    expect(again.code).not.toBe(0);
    expect(again.err).toMatch(/already exists/);
  }, 300_000);
});
