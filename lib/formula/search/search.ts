// `shears search-formula`: genetic programming over the formula grammar, as Pruner-Zero
// searches symbolic pruning metrics. A seeded population of known formulas (magnitude,
// Wanda, RIA, OBS, gradient, Fisher, ...) and random trees evolves by tournament
// selection, subtree crossover, subtree / point / scaling mutation within a depth limit, two elites kept
// per generation. Each distinct formula (by canonical text: the cache) costs one unit of
// --budget; its fitness is the calibration KL(dense || pruned) of lib/formula/search/
// fitness.ts, lower is better. Formulas that fail (non-finite scores, other errors) are
// kept in the record with their reason, and counted in the result, as are those worse than
// magnitude. Seeded: the same options give the same result.
import * as path from 'node:path';

import type { CalibrationSet } from '../../calibration/sample';
import { ArgumentRangeError, FormulaError, NonFiniteError, ShearsError } from '../../errors';
import { loadModel } from '../../formats/load';
import { checkSparsity } from '../../kernels';
import type { Backend } from '../../kernels';
import { drawCalibration } from '../../prune/calibrate';
import { SeededRandom } from '../../util/random';
import { compileTree } from '../compile';
import { INPUTS, InputName } from '../grammar';
import { FormulaNode, parseFormula } from '../parse';
import { formulaText } from '../print';
import { FormulaFitness } from './fitness';
import { simplify } from './simplify';
import { crossover, DEFAULT_ALPHABET, mutate, pointMutate, randomTree, scaleMutate, TreeAlphabet } from './trees';

/** Known formulas the population starts from (those whose inputs the search may read). */
export const SEED_FORMULAS: readonly { name: string; formula: string }[] = [
  { name: 'magnitude', formula: 'abs(W)' },
  { name: 'wanda', formula: 'abs(W) * xnorm' },
  { name: 'ria', formula: '(abs(W) / rowsum + abs(W) / colsum) * sqrt(xnorm)' },
  { name: 'obs (sparsegpt saliency)', formula: 'square(W) / hdiag' },
  { name: 'gradient', formula: 'abs(W) * abs(grad)' },
  { name: 'fisher', formula: 'square(W) * fisher' },
  { name: 'gradient-sensitive', formula: 'abs(W) * (xnorm + 100 * sqrt(fisher))' },
  { name: 'wanda with variance', formula: 'abs(W) * sqrt(xvar + square(xmean))' },
];

export interface SearchFormulaOptions {
  model: string;
  tokenizer?: string;
  calib?: string;
  calibTokens?: string;
  /** Distinct formulas evaluated, besides the two baselines (>= 1). */
  budget: number;
  /** Default 0.5, compared per output row. */
  sparsity?: number;
  seed?: number;
  /** Individuals per generation (default 16). */
  population?: number;
  /** Calibration windows: the statistics and the fitness (default 8). */
  calibSamples?: number;
  /** Tokens per window (default min(128, context length)). */
  seqLen?: number;
  /** Deepest tree (a leaf is depth 1; default 6). */
  maxDepth?: number;
  /** The inputs formulas may read (default all but bias). */
  inputs?: readonly InputName[];
  backend?: Backend;
  batch?: number;
  signal?: AbortSignal;
  onProgress?: (p: SearchProgress) => void;
}

export interface SearchProgress {
  evaluated: number;
  budget: number;
  generation: number;
  bestKl?: number;
  bestFormula?: string;
  label: string;
}

export type FormulaStatus = 'ok' | 'non-finite' | 'error';

export interface FormulaRecord {
  formula: string;
  status: FormulaStatus;
  /** Mean calibration KL(dense || pruned), nats (ok only). */
  kl?: number;
  top1Agreement?: number;
  /** Why it failed. */
  message?: string;
  /** The generation it was first evaluated in (-1: a baseline). */
  generation: number;
}

export interface SearchResult {
  best: FormulaRecord;
  /** The best formula the search made itself (not a seed formula nor a baseline), if any ran without failing. */
  bestDiscovered?: FormulaRecord;
  /** The best formulas found, lowest KL first (at most 10). */
  top: FormulaRecord[];
  baselines: { magnitude: FormulaRecord; wanda: FormulaRecord };
  budget: number;
  /** Distinct formulas evaluated (not counting the baselines). */
  evaluated: number;
  failures: {
    nonFinite: number;
    errors: number;
    /** Formulas that ran but pruned worse than magnitude (higher KL). */
    worseThanMagnitude: number;
    /** A few of each kind. */
    examples: FormulaRecord[];
  };
  /** After each generation: the best so far (the learning curve). */
  generations: { generation: number; evaluated: number; bestKl: number; bestFormula: string }[];
  /** Every formula evaluated, in order. */
  history: FormulaRecord[];
  settings: {
    model: string;
    calibration: string;
    sparsity: number;
    selection: 'row';
    seed: number;
    population: number;
    windows: number;
    seqLen: number;
    maxDepth: number;
    inputs: InputName[];
    statistics: string;
  };
  notes: string[];
  seconds: { setup: number; search: number; total: number };
}

const DEFAULTS = { sparsity: 0.5, seed: 0, population: 16, calibSamples: 8, maxDepth: 6 };
const ELITES = 2;
const TOURNAMENT = 3;

/** Every check that needs no file read: a bad budget is refused before anything is loaded or written. */
export function checkSearchOptions(o: SearchFormulaOptions): void {
  if (!Number.isInteger(o.budget) || o.budget < 1)
    throw new ArgumentRangeError(`--budget must be a positive integer (the number of formulas to evaluate), got ${String(o.budget)}`);
  if (o.sparsity !== undefined && (checkSparsity(o.sparsity, '--sparsity') === 0)) throw new ArgumentRangeError('--sparsity must be above 0 for a search');
  const population = o.population ?? DEFAULTS.population;
  if (!Number.isInteger(population) || population < 2 || population > 10000) throw new ArgumentRangeError(`--population must be an integer in [2, 10000], got ${String(o.population)}`);
  const depth = o.maxDepth ?? DEFAULTS.maxDepth;
  if (!Number.isInteger(depth) || depth < 2 || depth > 12) throw new ArgumentRangeError(`--max-depth must be an integer in [2, 12], got ${String(o.maxDepth)}`);
  if (o.calibSamples !== undefined && (!Number.isInteger(o.calibSamples) || o.calibSamples < 1)) throw new ArgumentRangeError(`--calib-samples must be a positive integer, got ${String(o.calibSamples)}`);
  if (!o.calib === !o.calibTokens) throw new ArgumentRangeError('give the calibration data: --calib FILE or --calib-tokens IDS.json (one of them)');
  const inputs = o.inputs ?? [];
  const unknown = inputs.filter((x) => !(INPUTS as readonly string[]).includes(x));
  if (unknown.length > 0) throw new ArgumentRangeError(`--inputs: unknown ${unknown.join(', ')} (known: ${INPUTS.join(', ')})`);
  if (o.inputs && !o.inputs.includes('W')) throw new ArgumentRangeError('--inputs must include W (every baseline reads it)');
}

/** Lowest KL first; equal KLs (a rescaled copy ranks the same): the shorter formula, then by text. */
const byKl = (a: FormulaRecord, b: FormulaRecord) =>
  (a.kl ?? Infinity) - (b.kl ?? Infinity) || a.formula.length - b.formula.length || (a.formula < b.formula ? -1 : a.formula > b.formula ? 1 : 0);

export async function searchFormula(o: SearchFormulaOptions): Promise<SearchResult> {
  checkSearchOptions(o);
  const t0 = process.hrtime.bigint();
  const since = () => Number(process.hrtime.bigint() - t0) / 1e9;
  const sparsity = o.sparsity ?? DEFAULTS.sparsity;
  const seed = o.seed ?? DEFAULTS.seed;
  const populationSize = o.population ?? DEFAULTS.population;
  const maxDepth = o.maxDepth ?? DEFAULTS.maxDepth;
  const inputs = INPUTS.filter((x) => (o.inputs ?? DEFAULT_ALPHABET.inputs).includes(x));
  const alphabet: TreeAlphabet = { ...DEFAULT_ALPHABET, inputs };
  const model = await loadModel(o.model, { tokenizer: o.tokenizer });
  let fitness: FormulaFitness | undefined;
  try {
    const seqLen = o.seqLen ?? Math.min(128, model.config.contextLength);
    const windows: CalibrationSet = (
      await drawCalibration(model, { calib: o.calib, calibTokens: o.calibTokens, calibSamples: o.calibSamples ?? DEFAULTS.calibSamples, seqLen, seed, signal: o.signal })
    ).set;
    o.onProgress?.({ evaluated: 0, budget: o.budget, generation: 0, label: 'dense statistics and logits' });
    fitness = await FormulaFitness.create({ model, windows, inputs, sparsity, backend: o.backend, batch: o.batch, signal: o.signal });
    const setup = since();
    const search = new Search(fitness, o, alphabet, maxDepth, populationSize, seed);
    const result = await search.run();
    const total = since();
    return {
      ...result,
      settings: {
        model: path.resolve(o.model),
        calibration: path.resolve((o.calib ?? o.calibTokens)!),
        sparsity,
        selection: 'row',
        seed,
        population: populationSize,
        windows: windows.samples,
        seqLen,
        maxDepth,
        inputs,
        statistics: "the dense model's, gathered once (every block scored on dense activations, as `sweep --stats once`)",
      },
      seconds: { setup, search: total - setup, total },
    };
  } finally {
    fitness?.release();
    model.close();
  }
}

/** The evolutionary loop and its bookkeeping. */
class Search {
  private readonly rng: SeededRandom;
  private readonly cache = new Map<string, FormulaRecord>();
  private readonly history: FormulaRecord[] = [];
  private readonly notes: string[] = [];
  private evaluated = 0;
  private generation = 0;

  constructor(
    private readonly fitness: FormulaFitness,
    private readonly o: SearchFormulaOptions,
    private readonly alphabet: TreeAlphabet,
    private readonly maxDepth: number,
    private readonly size: number,
    seed: number,
  ) {
    this.rng = new SeededRandom(seed);
  }

  /** Measures a formula once; the baselines do not count against the budget. */
  private async measure(tree: FormulaNode, counted: boolean): Promise<FormulaRecord> {
    const text = formulaText(tree);
    const known = this.cache.get(text);
    if (known) return known;
    const record: FormulaRecord = { formula: text, status: 'ok', generation: counted ? this.generation : -1 };
    try {
      const f = await this.fitness.evaluate(compileTree(tree));
      if (Number.isFinite(f.kl)) Object.assign(record, { kl: f.kl, top1Agreement: f.top1Agreement });
      else Object.assign(record, { status: 'non-finite', message: `the pruned model's KL is ${String(f.kl)}` });
    } catch (e) {
      this.o.signal?.throwIfAborted();
      if (!(e instanceof ShearsError || e instanceof FormulaError || e instanceof ArgumentRangeError)) throw e;
      Object.assign(record, { status: e instanceof NonFiniteError ? 'non-finite' : 'error', message: e.message.split('\n')[0] });
    }
    this.cache.set(text, record);
    if (counted) {
      this.evaluated++;
      this.history.push(record);
      const best = this.best();
      this.o.onProgress?.({
        evaluated: this.evaluated,
        budget: this.o.budget,
        generation: this.generation,
        bestKl: best?.kl,
        bestFormula: best?.formula,
        label: `generation ${this.generation}, ${this.evaluated}/${this.o.budget} formulas, best KL ${best?.kl?.toFixed(5) ?? '-'}`,
      });
    }
    return record;
  }

  /** Every formula that pruned without failing, the baselines included, lowest KL first. */
  private ranked(): FormulaRecord[] {
    return [...this.cache.values()].filter((r) => r.status === 'ok').sort(byKl);
  }

  private best(): FormulaRecord | undefined {
    return this.ranked()[0];
  }

  private tournament(pop: FormulaNode[], records: FormulaRecord[]): FormulaNode {
    let winner = this.rng.int(0, pop.length - 1);
    for (let k = 1; k < TOURNAMENT; k++) {
      const c = this.rng.int(0, pop.length - 1);
      if (byKl(records[c], records[winner]) < 0) winner = c;
    }
    return pop[winner];
  }

  /**
   * A child by subtree crossover (60%), subtree mutation (15%), point mutation (10%),
   * scaling by a power of an input (10%) or a new random tree (5%), simplified
   * (./simplify.ts); undefined when over the depth limit.
   */
  private offspring(pop: FormulaNode[], records: FormulaRecord[]): FormulaNode | undefined {
    const r = this.rng.next();
    const parent = () => this.tournament(pop, records);
    let child: FormulaNode | undefined;
    if (r < 0.6) child = crossover(this.rng, parent(), parent(), this.maxDepth);
    else if (r < 0.75) child = mutate(this.rng, parent(), this.alphabet, this.maxDepth);
    else if (r < 0.85) child = pointMutate(this.rng, parent(), this.alphabet);
    else if (r < 0.95) child = scaleMutate(this.rng, parent(), this.alphabet, this.maxDepth);
    else child = randomTree(this.rng, this.alphabet, this.rng.int(2, 4), this.rng.next() < 0.5);
    return child && simplify(child);
  }

  private get spent(): boolean {
    return this.evaluated >= this.o.budget;
  }

  async run(): Promise<Omit<SearchResult, 'settings' | 'seconds'>> {
    const magnitude = await this.measure(parseFormula('abs(W)'), false);
    const wanda = await this.measure(parseFormula('abs(W) * xnorm'), false);
    const reads = (f: string) => compileTree(parseFormula(f)).inputs.every((x) => this.alphabet.inputs.includes(x));
    // Generation 0: the known formulas, then random trees (ramped half-and-half).
    let pop: FormulaNode[] = SEED_FORMULAS.filter((s) => reads(s.formula)).map((s) => parseFormula(s.formula));
    const texts = new Set(pop.map(formulaText));
    for (let tries = 0; pop.length < this.size && tries < this.size * 50; tries++) {
      const t = simplify(randomTree(this.rng, this.alphabet, 2 + (tries % 3), tries % 2 === 0));
      if (!texts.has(formulaText(t))) {
        texts.add(formulaText(t));
        pop.push(t);
      }
    }
    pop = pop.slice(0, this.size);
    const curve: SearchResult['generations'] = [];
    let records: FormulaRecord[] = [];
    let stale = 0;
    for (;;) {
      this.o.signal?.throwIfAborted();
      const before = this.evaluated;
      records = [];
      for (const t of pop) {
        // Past the budget only the cached formulas keep their place in the population.
        if (this.spent && !this.cache.has(formulaText(t))) continue;
        records.push(await this.measure(t, true));
      }
      pop = pop.filter((t) => this.cache.has(formulaText(t)));
      const best = this.best();
      if (best) curve.push({ generation: this.generation, evaluated: this.evaluated, bestKl: best.kl!, bestFormula: best.formula });
      if (this.spent) break;
      stale = this.evaluated === before ? stale + 1 : 0;
      if (stale >= 10) {
        this.notes.push(`stopped after ${this.evaluated} of ${this.o.budget} formulas: ten generations in a row brought no new formula (the space under depth ${this.maxDepth} is explored)`);
        break;
      }
      // The next generation: the elites, then children (a few tries each, distinct texts).
      const order = records.map((_, i) => i).sort((a, b) => byKl(records[a], records[b]));
      const next = order.slice(0, ELITES).map((i) => pop[i]);
      const seen = new Set(next.map(formulaText));
      for (let tries = 0; next.length < this.size && tries < this.size * 20; tries++) {
        const child = this.offspring(pop, records);
        if (!child || seen.has(formulaText(child))) continue;
        seen.add(formulaText(child));
        next.push(child);
      }
      pop = next;
      this.generation++;
    }
    const ranked = this.ranked();
    const best = ranked[0] ?? magnitude;
    if (best.generation < 0) this.notes.push(`no searched formula beat the baselines: the best is ${best.formula}, a baseline`);
    const failed = (s: FormulaStatus) => this.history.filter((r) => r.status === s);
    const worse = this.history.filter((r) => r.status === 'ok' && magnitude.kl !== undefined && r.kl! > magnitude.kl).sort(byKl);
    const seeds = new Set(SEED_FORMULAS.map((f) => formulaText(parseFormula(f.formula))));
    const bestDiscovered = ranked.find((r) => r.generation >= 0 && !seeds.has(r.formula));
    return {
      best,
      ...(bestDiscovered ? { bestDiscovered } : {}),
      top: ranked.slice(0, 10),
      baselines: { magnitude, wanda },
      budget: this.o.budget,
      evaluated: this.evaluated,
      failures: {
        nonFinite: failed('non-finite').length,
        errors: failed('error').length,
        worseThanMagnitude: worse.length,
        examples: [...failed('non-finite').slice(0, 3), ...failed('error').slice(0, 3), ...worse.slice(-3)],
      },
      generations: curve,
      history: this.history,
      notes: this.notes,
    };
  }
}
